"""The demo clinic's three packs, and one patient's pack half used. DEMO ONLY.

Packs are looked up by slug and created only when missing (items with them), so running the seed again creates
nothing and an editor's changes stay.

The demo purchase goes through the same services as the clinic would (``website/demo/sessions.py`` says why): the
receptionist sells the "8 psychology" pack to Joaquín at the desk five weeks ago (``purchase_pack`` paid at the
clinic) and records his transfer (``billing.record_offline_payment``, so the invoice shows paid); four weekly
sessions were booked from the pack (``book_from_pack``) and completed (``scheduling.mark_completed``, which
consumes their credits), and one more is booked ahead. Every step is dated with an explicit ``now=`` in the past,
at the moment it would have happened, so the services' rules (notice, expiry, "only once it started") hold. It
runs after the demo month, whose free times it takes into account, and only if the patient has no purchase of
that pack yet.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model

from booking.billing import services as billing
from booking.billing.models import PaymentMethod
from booking.packs import services as packs
from booking.packs.models import CreditMode, Package, PackageItem, PackagePurchase
from booking.scheduling import services as scheduling
from booking.scheduling.models import (
    Appointment,
    AppointmentModality,
    AppointmentSource,
    Location,
    Professional,
    Service,
)
from booking.scheduling.models.appointments import BLOCKING_STATUSES
from booking.scheduling.selectors import find_slots
from portal.accounts.models import Patient

PACKS = [
    {
        "slug": "pack-psicoterapia-8",
        "name": "Pack 8 sesiones de psicoterapia",
        "description": "Ocho sesiones de psicoterapia individual para adultos, para usar en seis meses.",
        "price": Decimal("288000"),
        "validity_days": 180,
        "credit_mode": CreditMode.PER_SERVICE,
        "pool_sessions": None,
        "items": [("psicoterapia-adultos", 8)],
    },
    {
        "slug": "pack-controles-nutricionales-4",
        "name": "Pack 4 controles nutricionales",
        "description": "Cuatro controles para seguir tu plan de alimentación, para usar en cuatro meses.",
        "price": Decimal("79000"),
        "validity_days": 120,
        "credit_mode": CreditMode.PER_SERVICE,
        "pool_sessions": None,
        "items": [("control-nutricional", 4)],
    },
    {
        "slug": "pack-bienestar-9",
        "name": "Pack bienestar: psicología y nutrición",
        "description": (
            "Nueve sesiones para repartir como quieras entre psicoterapia y nutrición (pensado para 6 de "
            "psicoterapia y 3 de nutrición), para usar en seis meses."
        ),
        "price": Decimal("275000"),
        "validity_days": 180,
        "credit_mode": CreditMode.SHARED_POOL,
        "pool_sessions": 9,
        "items": [("psicoterapia-adultos", None), ("consulta-nutricional", None), ("control-nutricional", None)],
    },
]

# The half-used purchase: who, which pack, with whom and where, and when (days from today).
PACK_PATIENT = "paciente6@demo.clinic"
PACK_SLUG = "pack-psicoterapia-8"
PACK_PROFESSIONAL = "catalina-munoz"
PACK_LOCATION = "providencia"
PACK_HOUR = 12
PURCHASED_DAYS_AGO = 35
COMPLETED_DAYS = (-28, -21, -14, -7)
UPCOMING_DAY = 3
SEARCH_DAYS = 7  # how far past its planned day a session may move to find a free time
RECEPTIONIST = "recepcion@demo.clinic"
FIRST_NOTE = "Compré el pack en recepción; prefiero la hora de almuerzo."


def create_demo_packs(services: dict) -> list[Package]:
    """The three packs, with their items; ``services`` maps the demo's service slugs to services."""
    packs_created = []
    for order, data in enumerate(PACKS):
        defaults = {key: value for key, value in data.items() if key not in ("slug", "items")}
        package, created = Package.objects.get_or_create(slug=data["slug"], defaults={**defaults, "sort_order": order})
        if created:
            PackageItem.objects.bulk_create(
                PackageItem(package=package, service=services[slug], sessions=sessions, sort_order=position)
                for position, (slug, sessions) in enumerate(data["items"])
            )
        packs_created.append(package)
    return packs_created


def create_demo_pack_purchase(*, now: datetime.datetime) -> PackagePurchase | None:
    """Joaquín's "8 psychology" pack, bought five weeks before ``now``: four sessions done, one ahead.

    Returns the purchase made now, or None when it exists already (idempotent) or the demo lacks what it needs.
    """
    package = Package.objects.filter(slug=PACK_SLUG).first()
    patient = Patient.objects.filter(user__email=PACK_PATIENT).select_related("user").first()
    receptionist = get_user_model().objects.filter(email=RECEPTIONIST).first()
    if package is None or patient is None or receptionist is None:
        return None
    if PackagePurchase.objects.filter(patient=patient, package=package).exists():
        return None
    return _HalfUsedPack(package=package, patient=patient, receptionist=receptionist, now=now).build()


class _HalfUsedPack:
    def __init__(self, *, package: Package, patient: Patient, receptionist, now: datetime.datetime):
        self.package, self.patient, self.receptionist, self.now = package, patient, receptionist, now
        self.zone = ZoneInfo(settings.TIME_ZONE)
        self.today = now.astimezone(self.zone).date()
        self.service = Service.objects.get(slug="psicoterapia-adultos")
        self.professional = Professional.objects.select_related("user").get(slug=PACK_PROFESSIONAL)
        self.location = Location.objects.get(slug=PACK_LOCATION)
        self.busy_days = {
            start.astimezone(self.zone).date()
            for start in Appointment.objects.filter(patient=patient, status__in=BLOCKING_STATUSES).values_list(
                "start", flat=True
            )
        }

    def at_day(self, day: int, hour: int) -> datetime.datetime:
        local = datetime.datetime.combine(self.today + datetime.timedelta(days=day), datetime.time(hour))
        return local.replace(tzinfo=self.zone)

    def build(self) -> PackagePurchase:
        bought_at = self.at_day(-PURCHASED_DAYS_AGO, 11)
        purchase = packs.purchase_pack(
            package=self.package,
            patient=self.patient,
            actor=self.receptionist,
            pay_at_clinic=True,
            source=AppointmentSource.ADMIN,
            now=bought_at,
        )
        invoice = purchase.invoice_line.invoice
        invoice.refresh_from_db()
        paid_at = bought_at + datetime.timedelta(minutes=10)
        billing.record_offline_payment(
            invoice=invoice,
            method=PaymentMethod.TRANSFER,
            amount=invoice.balance_due,
            actor=self.receptionist,
            external_reference=f"Transferencia {invoice.display_number}",
            received_at=paid_at,
            now=paid_at,
        )
        for number, day in enumerate(COMPLETED_DAYS):
            appointment = self.book(purchase, day=day, note=FIRST_NOTE if number == 0 else "")
            if appointment is not None:
                closed_at = min(appointment.end + datetime.timedelta(minutes=5), self.now)
                scheduling.mark_completed(
                    appointment=appointment, actor=self.professional.user or self.receptionist, now=closed_at
                )
        self.book(purchase, day=UPCOMING_DAY)
        return purchase

    def book(self, purchase: PackagePurchase, *, day: int, note: str = "") -> Appointment | None:
        """The session nearest ``PACK_HOUR`` on the first day from ``day`` with a free time and nothing else of the
        patient's, booked by the patient three days ahead (never before the purchase nor after ``now``)."""
        first_day = self.today + datetime.timedelta(days=day)
        booked_at = max(min(self.at_day(day - 3, 20), self.now - datetime.timedelta(hours=1)), purchase.purchased_at)
        slots = find_slots(
            service=self.service,
            professionals=[self.professional],
            location=self.location,
            start_day=first_day,
            end_day=first_day + datetime.timedelta(days=SEARCH_DAYS - 1),
            now=booked_at,
        )
        free = [slot for slot in slots if slot.start.astimezone(self.zone).date() not in self.busy_days]
        if not free:
            return None

        def preference(slot):
            local = slot.start.astimezone(self.zone)
            return (local.date(), abs(local.hour * 60 + local.minute - PACK_HOUR * 60))

        slot = min(free, key=preference)
        appointment = packs.book_from_pack(
            purchase=purchase,
            professional=self.professional,
            service=self.service,
            start=slot.start,
            location=self.location,
            modality=AppointmentModality.IN_PERSON,
            source=AppointmentSource.PORTAL,
            actor=self.patient.user,
            note=note,
            now=booked_at,
        )
        self.busy_days.add(slot.start.astimezone(self.zone).date())
        return appointment
