"""Factories for the public clinic pages. Pages are created as children of ``parent`` (required)."""

import factory
from django.utils.text import slugify

from website.clinic.models import ProfessionalIndexPage, ProfessionalPage, ServiceIndexPage, ServicePage

from .scheduling import ProfessionalFactory, ServiceFactory


class ClinicPageFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    title = factory.Sequence(lambda n: f"Page {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.title))

    @classmethod
    def _create(cls, model_class, *args, parent=None, **kwargs):
        if parent is None:
            raise TypeError(f"{cls.__name__} needs parent=<the page to create it under>")
        return parent.add_child(instance=model_class(*args, **kwargs))


class ServiceIndexPageFactory(ClinicPageFactory):
    class Meta:
        model = ServiceIndexPage

    title = "Servicios"


class ServicePageFactory(ClinicPageFactory):
    class Meta:
        model = ServicePage

    service = factory.SubFactory(ServiceFactory)
    title = factory.LazyAttribute(lambda o: o.service.name)


class ProfessionalIndexPageFactory(ClinicPageFactory):
    class Meta:
        model = ProfessionalIndexPage

    title = "Equipo"


class ProfessionalPageFactory(ClinicPageFactory):
    class Meta:
        model = ProfessionalPage

    professional = factory.SubFactory(ProfessionalFactory)
    title = factory.LazyAttribute(lambda o: o.professional.display_name)
