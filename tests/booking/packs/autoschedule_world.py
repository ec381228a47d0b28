"""A small clinic for the auto-scheduling tests: one location in America/Santiago (open on public holidays, so the
expected dates do not depend on the holiday calendar), two professionals working Monday to Friday 09:00-13:00
there, two services, and a patient with a pack bought just before ``NOW``.

Ana offers psychology only; Bruno offers psychology and nutrition, so a plan of both services spreads over both.
Chile's clocks go back on 2027-04-04 (-03 → -04) and forward on 2027-09-05 (-04 → -03); the plans here cross one
of those nights, and a session at 09:00 local stays at 09:00 local.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from tests.factories.accounts import PatientFactory
from tests.factories.packs import active_purchase, package_with
from tests.factories.scheduling import LocationFactory, ProfessionalFactory, ServiceFactory, WeeklyAvailabilityFactory

SANTIAGO = ZoneInfo("America/Santiago")
# A Friday, two weeks before the clocks go back.
NOW = datetime(2027, 3, 19, 10, 0, tzinfo=SANTIAGO)
# A Friday, a week before the clocks go forward.
NOW_AUGUST = datetime(2027, 8, 27, 10, 0, tzinfo=SANTIAGO)


def build_world(*, professionals_hours: tuple[time, time] = (time(9), time(13))) -> SimpleNamespace:
    psychology = ServiceFactory(
        name="Psicoterapia", duration_minutes=50, buffer_after_minutes=10, booking_horizon_days=365
    )
    nutrition = ServiceFactory(
        name="Control nutricional", duration_minutes=45, buffer_after_minutes=0, booking_horizon_days=365
    )
    location = LocationFactory(name="Providencia", observes_public_holidays=False)
    ana = ProfessionalFactory(display_name="Ana", services=[psychology], locations=[location])
    bruno = ProfessionalFactory(display_name="Bruno", services=[psychology, nutrition], locations=[location])
    start, end = professionals_hours
    for professional in (ana, bruno):
        for weekday in range(5):
            WeeklyAvailabilityFactory(
                professional=professional, location=location, weekday=weekday, start_time=start, end_time=end
            )
    return SimpleNamespace(
        psychology=psychology,
        nutrition=nutrition,
        location=location,
        ana=ana,
        bruno=bruno,
        patient=PatientFactory(),
    )


def buy(
    world,
    items: dict,
    *,
    pool: int | None = None,
    now: datetime = NOW,
    validity_days: int = 180,
    allowed=(),
    patient=None,
):
    """An active purchase of ``items`` ({service: sessions}) for the world's patient, bought a day before ``now``."""
    package = package_with(items, pool=pool, validity_days=validity_days)
    if allowed:
        package.allowed_professionals.set(allowed)
    return active_purchase(package, patient=patient or world.patient, purchased_at=now - timedelta(days=1))


def local(moment: datetime) -> datetime:
    return moment.astimezone(SANTIAGO)
