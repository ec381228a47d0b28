"""The public site's main pages and a patient's portal, for the layout and accessibility tests in Chromium.

Built on the booking tests' clinic (``booking_clinic``: Ana Rojas, two services, a booking box on the home page,
the clock pinned): a page of each kind, and a patient with a session held for online payment, so the portal's
invoice list has an invoice to pay ("View and pay").
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import reverse

from booking.billing.models import Invoice
from portal.accounts.models import Patient
from tests.booking.billing.conftest import make_held_invoice  # noqa: F401  (a fixture)
from tests.factories.blog import BlogIndexPageFactory, BlogPageFactory
from tests.factories.clinic import (
    ProfessionalIndexPageFactory,
    ProfessionalPageFactory,
    ServiceIndexPageFactory,
    ServicePageFactory,
)
from tests.factories.resources import ResourceIndexPageFactory, ResourcePageFactory


@dataclass
class PublicSite:
    """The addresses of the main pages, and the patient who has an invoice to pay."""

    pages: dict[str, str]
    portal_pages: dict[str, str]
    patient: Patient
    invoice: Invoice


@pytest.fixture
def public_site(booking_clinic, home_page, make_patient, make_held_invoice) -> PublicSite:  # noqa: F811
    services = ServiceIndexPageFactory(parent=home_page, title="Servicios", slug="servicios")
    service = ServicePageFactory(
        parent=services,
        service=booking_clinic.at_clinic,
        slug=booking_clinic.at_clinic.slug,
        intro="<p>Sesiones individuales para adultos, en Providencia.</p>",
    )
    team = ProfessionalIndexPageFactory(parent=home_page, title="Equipo", slug="equipo")
    profile = ProfessionalPageFactory(parent=team, professional=booking_clinic.professional, slug="ana-rojas")
    blog = BlogIndexPageFactory(parent=home_page, slug="blog")
    post = BlogPageFactory(parent=blog, title="Dormir mejor", slug="dormir-mejor", excerpt="Cinco hábitos simples.")
    resources = ResourceIndexPageFactory(parent=home_page, title="Recursos", slug="recursos")
    resource = ResourcePageFactory(parent=resources, title="Guía de respiración", slug="guia-respiracion")
    ResourcePageFactory(parent=resources, title="Registro de emociones", slug="registro", patients_only=True)

    patient = make_patient("paula.soto@example.com", "Paula")
    invoice = make_held_invoice(patient=patient)
    return PublicSite(
        pages={
            "home": "/",
            "services": services.url,
            "service": service.url,
            "team": team.url,
            "profile": profile.url,
            "blog": blog.url,
            "post": post.url,
            "resources": resources.url,
            "resource": resource.url,
            "search": f"{reverse('website_search')}?q=terapia",
            "login": reverse("account_login"),
            "signup": reverse("account_signup"),
        },
        portal_pages={"portal": reverse("portal:home"), "invoices": reverse("portal:invoices")},
        patient=patient,
        invoice=invoice,
    )
