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
    "package_inactive": _("This pack is no longer sold."),
    "package_not_offered": _("This pack is not offered online; please ask the clinic."),
    "pay_at_clinic_not_allowed": _("This pack must be paid online."),
    "limit_reached": _("You have already bought this pack as many times as allowed."),
    "cancel_not_allowed": _("This pack cannot be cancelled online; please contact the clinic."),
    "session_not_cancellable": _("One of the pack's upcoming sessions can no longer be cancelled."),
    "refund_refused": _("The refund could not be prepared, so nothing was cancelled."),
    "changed_meanwhile": _("The pack's sessions changed meanwhile; please look at the pack again and retry."),
}


class PackError(Exception):
    """A packs rule said no. Views show ``message``; the API returns ``code`` with a 4xx status."""

    def __init__(self, code: str, message=None):
        self.code = code
        self.message = message if message is not None else DEFAULT_MESSAGES.get(code, DEFAULT_MESSAGES["not_allowed"])
        super().__init__(f"{code}: {self.message}")
