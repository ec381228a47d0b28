"""Admin behaviour for the clinic pages."""

from django.shortcuts import redirect
from django.utils.translation import gettext as _
from wagtail import hooks
from wagtail.admin import messages

from .models import ProfessionalPage


@hooks.register("before_copy_page")
def refuse_copying_professional_pages(request, page):
    """A professional has one profile, so a copy (or an alias) of it could never be saved."""
    if issubclass(page.specific_class, ProfessionalPage):
        messages.error(
            request,
            _("A professional has only one profile page, so it cannot be copied. Create a new page instead."),
        )
        return redirect("wagtailadmin_explore", page.get_parent().id)
    return None
