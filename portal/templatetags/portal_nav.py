"""``{% portal_nav %}``: the portal's section links for the logged-in user (see ``portal.navigation``)."""

from django import template

from portal import navigation
from portal.accounts import roles

register = template.Library()


@register.inclusion_tag("portal/includes/nav.html", takes_context=True)
def portal_nav(context):
    request = context["request"]
    user_roles = roles.user_roles(request.user)
    if not user_roles & {roles.ROLE_STAFF, roles.ROLE_PROFESSIONAL}:
        user_roles.add(roles.ROLE_PATIENT)
    return {"sections": navigation.sections_for(user_roles, request.path)}
