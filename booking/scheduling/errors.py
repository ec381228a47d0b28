"""The booking domain's one error type: a translated message for people and a stable code for programs."""

from django.utils.translation import gettext_lazy as _

from booking.errors import DomainError

DEFAULT_MESSAGES = {
    "slot_unavailable": _("Sorry, that time has just been taken. Please choose another one."),
    "outside_availability": _("That time is not offered for this service."),
    "too_late": _("That time is too soon to book; please choose a later one."),
    "too_far": _("That time is too far ahead to book yet."),
    "not_allowed": _("You are not allowed to do that."),
    "policy_window": _("It is too late to change this appointment online. Please contact the clinic."),
    "max_reschedules": _("This appointment cannot be rescheduled again. Please contact the clinic."),
    "invalid_state": _("This appointment can no longer be changed this way."),
    "invalid_request": _("The booking details are not valid."),
    "modality_not_offered": _("This service is not offered that way (in person or online)."),
    "patient_overlap": _("You already have a session at that time."),
    "pack_rules": _("This session's pack does not allow that change."),
    "reason_required": _("Please say why the session moves: the patient reads it."),
    "discharged": _(
        "Your treatment with this professional has ended. To book with them again, please contact the clinic."
    ),
}


class BookingError(DomainError):
    """A booking rule said no. Views show ``message``; the API returns ``code`` with a 4xx status."""

    messages = DEFAULT_MESSAGES
