from decimal import Decimal

import factory

from booking.scheduling.models import (
    Location,
    Professional,
    ProfessionalService,
    Room,
    Service,
    ServiceCategory,
)

from .accounts import UserFactory


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

    user = factory.SubFactory(UserFactory)
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
