import datetime
from decimal import Decimal

import factory

from booking.scheduling.models import (
    Location,
    Professional,
    ProfessionalDegree,
    ProfessionalExperience,
    ProfessionalService,
    Room,
    Service,
    ServiceCategory,
)
from booking.scheduling.video import new_room_name

from .accounts import PatientFactory, UserFactory, activate_totp


class TwoFactorUserFactory(UserFactory):
    """A user with two-factor authentication set up, as the site requires of staff and professionals."""

    @factory.post_generation
    def totp(obj, create, extracted, **kwargs):
        if create:
            activate_totp(obj)


class StaffUserFactory(TwoFactorUserFactory):
    """A staff member with two-factor authentication set up, as the admin requires."""

    is_staff = True


class SuperuserFactory(StaffUserFactory):
    is_superuser = True


class ServiceCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceCategory
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    category = factory.SubFactory(ServiceCategoryFactory)
    duration_minutes = 50
    price = Decimal("35000")


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    name = factory.Sequence(lambda n: f"Sede {n}")
    slug = factory.Sequence(lambda n: f"sede-{n}")
    address = "Av. Providencia 1234"
    city = "Santiago"
    time_zone = "America/Santiago"


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: f"Box {n}")


class ProfessionalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Professional
        skip_postgeneration_save = True

    user = factory.SubFactory(TwoFactorUserFactory)
    display_name = factory.Sequence(lambda n: f"Profesional {n}")
    slug = factory.Sequence(lambda n: f"profesional-{n}")
    title = "Psicóloga clínica"

    @factory.post_generation
    def services(obj, create, extracted, **kwargs):
        if create and extracted:
            for service in extracted:
                ProfessionalService.objects.create(professional=obj, service=service)

    @factory.post_generation
    def locations(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.locations.set(extracted)
            obj.save()  # a ParentalManyToManyField is only written when the cluster is saved


class ProfessionalServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProfessionalService

    professional = factory.SubFactory(ProfessionalFactory)
    service = factory.SubFactory(ServiceFactory)


class ProfessionalDegreeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProfessionalDegree

    professional = factory.SubFactory(ProfessionalFactory)
    title = factory.Sequence(lambda n: f"Magíster {n}")
    institution = "Universidad de Chile"
    year = 2015


class ProfessionalExperienceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProfessionalExperience

    professional = factory.SubFactory(ProfessionalFactory)
    role = factory.Sequence(lambda n: f"Role {n}")
    organisation = "Hospital del Salvador"
    period = "2018 – 2022"


# --- schedules and appointments ------------------------------------------------------------------------------


class WeeklyAvailabilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "scheduling.WeeklyAvailability"

    professional = factory.SubFactory(ProfessionalFactory)
    location = None
    weekday = 0
    start_time = datetime.time(9)
    end_time = datetime.time(13)


class DateOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "scheduling.DateOverride"

    professional = factory.SubFactory(ProfessionalFactory)
    location = None
    date = datetime.date(2026, 12, 1)
    start_time = None
    end_time = None


class TimeOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "scheduling.TimeOff"

    professional = factory.SubFactory(ProfessionalFactory)
    start = datetime.datetime(2026, 12, 1, 12, tzinfo=datetime.UTC)
    end = datetime.datetime(2026, 12, 1, 16, tzinfo=datetime.UTC)


class AppointmentFactory(factory.django.DjangoModelFactory):
    """A confirmed online appointment; pass ``start`` and the rest follows (no buffers unless given)."""

    class Meta:
        model = "scheduling.Appointment"

    patient = factory.SubFactory(PatientFactory)
    professional = factory.SubFactory(ProfessionalFactory)
    service = factory.SubFactory(ServiceFactory)
    modality = "online"
    start = datetime.datetime(2026, 12, 1, 13, tzinfo=datetime.UTC)
    end = factory.LazyAttribute(lambda o: o.start + datetime.timedelta(minutes=50))
    blocked_start = factory.LazyAttribute(lambda o: o.start)
    blocked_end = factory.LazyAttribute(lambda o: o.end)
    status = "confirmed"
    price = Decimal("35000")
    source = "admin"
    # As booking does: an online session has its own room, an in-person one none.
    video_room = factory.LazyAttribute(lambda o: new_room_name() if o.modality == "online" else "")
