"""Who may use the booking endpoints and which appointments a user can see.

Authentication itself comes from ``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``: a token
(``Authorization: Token <key>``, issued with ``manage.py api_token``) or the browser's session with CSRF. Nothing
here depends on how a user logged in. Acting on other people's appointments is a model permission (e.g. the
Receptionists group's), never the ``is_staff`` flag, as in ``booking.scheduling.services``.
"""

from allauth.account.utils import has_verified_email
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from booking.scheduling.models import Appointment

VIEW_ANY_APPOINTMENT = "scheduling.view_appointment"
CHANGE_ANY_APPOINTMENT = "scheduling.change_appointment"


class HasVerifiedEmail(BasePermission):
    """Bookings are tied to an email we can reach: reminders, receipts and cancellations go there."""

    message = _("Please confirm your email address before booking; we sent you a link when you signed up.")
    code = "email_not_verified"

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and has_verified_email(user, user.email))


def is_scheduling_staff(user, permission: str = VIEW_ANY_APPOINTMENT) -> bool:
    """Whether ``user`` holds ``permission`` on every appointment (through a group or their own permissions)."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(permission))


def appointments_visible_to(user) -> QuerySet[Appointment]:
    """The appointments ``user`` may see: their own as patient or professional, or every one for scheduling staff.

    Views look appointments up in this queryset, so somebody else's reference is simply not found (404) and
    nobody learns that it exists.
    """
    appointments = Appointment.objects.select_related("service", "professional", "location", "patient")
    if not user.is_authenticated:
        return appointments.none()
    if is_scheduling_staff(user):
        return appointments
    return appointments.filter(Q(patient__user=user) | Q(professional__user=user))


def may_change(user, appointment: Appointment) -> bool:
    """Patients change their own bookings; otherwise only staff allowed to change appointments.

    The booking services apply the policy (windows, reschedule limit); this decides who may ask at all.
    """
    return appointment.patient.user_id == user.pk or is_scheduling_staff(user, CHANGE_ANY_APPOINTMENT)
