"""The packs domain's one error type: a translated message for people and a stable code for programs."""

from django.utils.translation import gettext_lazy as _

DEFAULT_MESSAGES = {
    "not_allowed": _("You are not allowed to do that."),
    "not_active": _("This pack is not active yet or no longer active."),
    "expired": _("This pack has expired."),
    "service_not_in_pack": _("This pack does not include that service."),
    "professional_not_in_pack": _("This pack cannot be used with that professional."),
    "no_sessions_left": _("There are no sessions left in this pack for that service."),
    "other_patient": _("This pack belongs to another patient."),
    "invalid_state": _("This pack can no longer be changed this way."),
    "invalid_quantity": _("The number of sessions is not valid."),
    "below_zero": _("That change would leave fewer than zero sessions in the pack."),
    "reason_required": _("Please give a reason."),
    "already_reserved": _("This session already uses a pack session."),
    "not_reserved": _("This session was not booked with a pack."),
    "already_settled": _("This session's pack credit has already been settled."),
    "session_not_open": _("Only an upcoming, open session can be booked with a pack."),
    "invalid_request": _("The pack details are not valid."),
}


class PackError(Exception):
    """A packs rule said no. Views show ``message``; the API returns ``code`` with a 4xx status."""

    def __init__(self, code: str, message=None):
        self.code = code
        self.message = message if message is not None else DEFAULT_MESSAGES.get(code, DEFAULT_MESSAGES["not_allowed"])
        super().__init__(f"{code}: {self.message}")
