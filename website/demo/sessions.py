"""The demo clinic's month behind and month ahead, booked through the services. DEMO ONLY.

Why through the services and not as rows: the calendars, the portals, the invoices and the audit trail then show
what the product really does (rooms assigned, buffers kept, invoices numbered and settled, events written), and a
rule the services enforce (no overlapping bookings, room capacity, minimum notice) can never be broken by the demo.

Time: every session is booked at the moment its patient would have booked it (``now=`` days before, in the past
for past sessions, so the minimum notice and the booking horizon hold and the events carry believable times),
then paid, closed, cancelled or moved at its own moment, never later than the real ``now``. The plan is data
(``content.SESSION_SERIES``): each series puts a session near "today + N days" at the preferred hour, on the
first day from there that the professional works at that place and the patient has nothing else.

Online payments: no network. A Stripe payment is recorded the way a paid checkout reaches us: the pending
``Payment`` that ``start_checkout`` leaves behind, then ``billing.services.confirm_checkout`` with a
``CheckoutState`` saying "paid" (the path of the webhook and of the success page), so ``confirm_payment``
settles the invoice and confirms the held session exactly as in production. Only the pending row is written
here: creating it is the one step of ``start_checkout`` that needs the provider's answer first.
Refunds of such payments would need Stripe, so the demo cancels a session paid by transfer (refunded at the desk).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model

from booking.billing import providers
from booking.billing import services as billing
from booking.billing.models import Invoice, Payment, PaymentMethod, PaymentStatus
from booking.scheduling import services as scheduling
from booking.scheduling.models import (
    Appointment,
    AppointmentModality,
    AppointmentSource,
    Location,
    PaymentMode,
    Professional,
    Service,
)
from booking.scheduling.models.appointments import BLOCKING_STATUSES
from booking.scheduling.selectors import find_slots
from portal.accounts.models import Patient

from . import content

# Patients the first versions of the seed already gave sessions to: theirs do not say whether the month exists.
EARLY_PATIENTS = {"paciente1@demo.clinic", "paciente2@demo.clinic"}
RECEPTIONIST = "recepcion@demo.clinic"
SEARCH_DAYS = 7  # how far past its planned day a session may move to find a free time
DESK_METHODS = (PaymentMethod.TRANSFER, PaymentMethod.CASH, PaymentMethod.CARD_TERMINAL)


@dataclass(frozen=True)
class Visit:
    """One planned session: ``day`` days from today (local), around ``hour``, at ``place``."""

    patient: str
    professional: str
    service: str
    place: str
    hour: int
    day: int
    number: int  # its position in the series (0 = the first)
    note: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.patient, self.service, self.day)


def planned_visits() -> list[Visit]:
    return [
        Visit(patient, professional, service, place, hour, day, number, note if number == 0 else "")
        for patient, professional, service, place, hour, days, note in content.SESSION_SERIES
        for number, day in enumerate(days)
    ]


def month_exists() -> bool:
    """Whether the month was built already: the patients added with it have sessions."""
    newer = {visit.patient for visit in planned_visits()} - EARLY_PATIENTS
    return Appointment.objects.filter(patient__user__email__in=newer).exists()


class DemoMonth:
    """Books the planned sessions relative to ``now``; see the module docstring."""

    def __init__(self, *, now: datetime.datetime):
        self.now = now
        self.zone = ZoneInfo(settings.TIME_ZONE)
        self.today = now.astimezone(self.zone).date()
        User = get_user_model()
        emails = {visit.patient for visit in planned_visits()} | {RECEPTIONIST}
        self.users = {user.email: user for user in User.objects.filter(email__in=emails)}
        patients = Patient.objects.filter(user__email__in=emails).select_related("user")
        self.patients = {patient.user.email: patient for patient in patients}
        self.receptionist = self.users[RECEPTIONIST]
        self.professionals = {p.slug: p for p in Professional.objects.select_related("user")}
        self.services = {service.slug: service for service in Service.objects.all()}
        self.locations = {location.slug: location for location in Location.objects.all()}
        # Local days each patient already has a session on: one session a day per patient, never two at once.
        self.busy_days: dict[str, set[datetime.date]] = {email: set() for email in emails}
        for email, start in Appointment.objects.filter(
            patient__user__email__in=emails, status__in=BLOCKING_STATUSES
        ).values_list("patient__user__email", "start"):
            self.busy_days[email].add(start.astimezone(self.zone).date())
        self.desk_turn = 0

    # Planning ------------------------------------------------------------------------------------------------

    def booked_at(self, visit: Visit) -> datetime.datetime:
        """When the patient booked: a few days ahead of the session, and never after ``now``."""
        lead = 3 + visit.number % 5
        target = datetime.datetime.combine(self.today + datetime.timedelta(days=visit.day), datetime.time(0))
        planned = (target - datetime.timedelta(days=lead, hours=5)).replace(tzinfo=self.zone)
        recent = self.now - datetime.timedelta(days=1 + visit.number % 4, hours=visit.hour % 5)
        return min(planned, recent)

    def find_time(self, visit: Visit, *, at: datetime.datetime, exclude=None, after: datetime.date | None = None):
        """The free slot nearest the visit's hour on its first possible day, or None."""
        service, professional = self.services[visit.service], self.professionals[visit.professional]
        location = None if visit.place == content.ONLINE else self.locations[visit.place]
        first_day = after or self.today + datetime.timedelta(days=visit.day)
        slots = find_slots(
            service=service,
            professionals=[professional],
            location=location,
            start_day=first_day,
            end_day=first_day + datetime.timedelta(days=SEARCH_DAYS - 1),
            now=at,
            exclude_appointment_id=exclude,
        )
        zone = location.tzinfo if location is not None else self.zone
        taken = self.busy_days[visit.patient]

        def preference(slot):
            local = slot.start.astimezone(zone)
            return (local.date(), abs(local.hour * 60 + local.minute - visit.hour * 60), local.time())

        free = [slot for slot in slots if slot.start.astimezone(zone).date() not in taken]
        return (min(free, key=preference), location) if free else (None, location)

    # Building ------------------------------------------------------------------------------------------------

    def build(self) -> list[Appointment]:
        visits = sorted(planned_visits(), key=lambda visit: (self.booked_at(visit), visit.key))
        return [appointment for visit in visits if (appointment := self.book(visit)) is not None]

    def book(self, visit: Visit) -> Appointment | None:
        at = self.booked_at(visit)
        slot, location = self.find_time(visit, at=at)
        if slot is None:
            return None
        service = self.services[visit.service]
        patient_user = self.users[visit.patient]
        paid_at_booking = service.payment_mode == PaymentMode.ONLINE_AT_BOOKING
        by_reception = visit.number == 0 and not paid_at_booking
        appointment, invoice = billing.book_with_invoice(
            patient=self.patients[visit.patient],
            professional=self.professionals[visit.professional],
            service=service,
            start=slot.start,
            location=location,
            modality=AppointmentModality.ONLINE if location is None else AppointmentModality.IN_PERSON,
            source=AppointmentSource.ADMIN if by_reception else AppointmentSource.PORTAL,
            actor=self.receptionist if by_reception else patient_user,
            note=visit.note,
            coupon_code=content.SESSION_COUPONS.get(visit.key, ""),
            now=at,
        )
        self.busy_days[visit.patient].add(slot.start.astimezone(self.zone).date())
        if paid_at_booking:
            pay_online(invoice, at=at + datetime.timedelta(minutes=3))
        outcome = content.SESSION_OUTCOMES.get(visit.key)
        if outcome == "cancelled":
            self.pay_and_cancel(appointment, invoice, at=at)
        elif outcome == "rescheduled":
            self.reschedule(visit, appointment)
        elif appointment.end <= self.now:
            self.close(visit, appointment, invoice, booked_at=at, paid=paid_at_booking, outcome=outcome)
        elif not paid_at_booking and service.payment_mode == PaymentMode.LATER and visit.number % 3 == 2:
            pay_online(invoice, at=min(at + datetime.timedelta(hours=20), self.now))
        return appointment

    def close(
        self,
        visit: Visit,
        appointment: Appointment,
        invoice: Invoice,
        *,
        booked_at: datetime.datetime,
        paid: bool,
        outcome: str | None,
    ):
        """A past session: the professional (or reception) marks it; it is paid at the desk, or was paid online."""
        professional = self.professionals[visit.professional]
        actor = professional.user or self.receptionist
        if outcome == "no_show":
            at = appointment.start + datetime.timedelta(minutes=20)
            scheduling.mark_no_show(appointment=appointment, who="patient", actor=actor, now=at)
            return  # charged in full by the policy, still owed
        service = self.services[visit.service]
        if not paid and service.payment_mode == PaymentMode.LATER and visit.number % 4 == 3:
            pay_online(invoice, at=max(appointment.start - datetime.timedelta(hours=18), booked_at))
            paid = True
        at = min(appointment.end + datetime.timedelta(minutes=5), self.now)
        scheduling.mark_completed(appointment=appointment, actor=actor, now=at)
        if not paid:
            method = DESK_METHODS[self.desk_turn % len(DESK_METHODS)]
            self.desk_turn += 1
            invoice.refresh_from_db()
            billing.record_offline_payment(
                invoice=invoice,
                method=method,
                amount=invoice.balance_due,
                actor=self.receptionist,
                external_reference=f"Comprobante {invoice.display_number}" if method != PaymentMethod.CASH else "",
                received_at=at,
                now=at,
            )

    def pay_and_cancel(self, appointment: Appointment, invoice: Invoice, *, at: datetime.datetime):
        """Paid ahead by transfer, then cancelled by the patient in time: the transfer is given back."""
        paid_at = at + datetime.timedelta(hours=2)
        invoice.refresh_from_db()
        billing.record_offline_payment(
            invoice=invoice,
            method=PaymentMethod.TRANSFER,
            amount=invoice.balance_due,
            actor=self.receptionist,
            external_reference=f"Transferencia {invoice.display_number}",
            received_at=paid_at,
            now=paid_at,
        )
        cancelled_at = max(min(self.now - datetime.timedelta(minutes=40), appointment.start), paid_at)
        patient_user = appointment.patient.user
        billing.cancel_booking(
            appointment=appointment,
            actor=patient_user,
            reason="Me salió un viaje de trabajo esa semana.",
            now=cancelled_at,
        )

    def reschedule(self, visit: Visit, appointment: Appointment):
        """The patient moves the session to a later day of the same week or the next."""
        at = self.now - datetime.timedelta(minutes=25)
        local_day = appointment.start.astimezone(self.zone).date()
        self.busy_days[visit.patient].discard(local_day)
        slot, _location = self.find_time(
            visit, at=at, exclude=appointment.pk, after=local_day + datetime.timedelta(days=1)
        )
        if slot is None:
            self.busy_days[visit.patient].add(local_day)
            return
        scheduling.reschedule_appointment(
            appointment=appointment, start=slot.start, actor=appointment.patient.user, now=at
        )
        self.busy_days[visit.patient].add(slot.start.astimezone(self.zone).date())


def pay_online(invoice: Invoice, *, at: datetime.datetime) -> Payment:
    """Record a paid Stripe checkout for what ``invoice`` owes, without calling Stripe (see the module docstring)."""
    invoice.refresh_from_db()
    provider = providers.get_provider("stripe")
    amount = invoice.balance_due
    session_id = f"cs_demo_{invoice.reference}"
    payment = Payment.objects.create(
        invoice=invoice,
        method=PaymentMethod.ONLINE,
        provider=provider.identifier,
        amount=amount,
        currency=invoice.currency,
        status=PaymentStatus.PENDING,
        provider_reference=session_id,
        expires_at=at + provider.checkout_min_lifetime,
        recorded_by=invoice.patient.user,
    )
    checkout = providers.CheckoutState(
        provider=provider.identifier,
        reference=session_id,
        is_open=False,
        is_paid=True,
        amount=amount,
        currency=invoice.currency,
        payment_reference=f"pi_demo_{invoice.reference}",
        payment_id=payment.pk,
        invoice_reference=invoice.reference,
    )
    return billing.confirm_checkout(checkout, now=at)


def build_demo_month(*, now: datetime.datetime) -> list[Appointment]:
    """Book the demo's sessions around ``now`` unless they exist; returns those booked now (idempotent)."""
    if month_exists():
        return []
    return DemoMonth(now=now).build()
