"""Fixtures for the site shell's tests: fake listing selectors, a full page body, settings."""

import json
import sys
import types
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from wagtail.embeds.embeds import get_embed_hash
from wagtail.embeds.models import Embed

from tests.factories.images import ImageFactory
from tests.factories.scheduling import ServiceCategoryFactory, ServiceFactory
from tests.factories.website import StandardPageFactory

VIDEO_URL = "https://www.youtube.com/watch?v=clinic-video"


@pytest.fixture
def image(db):
    return ImageFactory(title="Sala de espera")


@pytest.fixture
def fake_selectors(monkeypatch, image):
    """Stand-ins for the clinic and blog selectors the listing blocks call.

    Installed in ``sys.modules`` so the blocks' real import path is exercised; ``calls``
    records the keyword arguments each selector received.
    """
    calls = []

    def service_listing(*, category=None, limit=None):
        calls.append(("service_listing", {"category": category, "limit": limit}))
        service = SimpleNamespace(
            description="Terapia individual para adultos.", duration_minutes=50, price=Decimal("35000"), currency="CLP"
        )
        return [SimpleNamespace(title="Psicoterapia adultos", url="/servicios/psicoterapia/", service=service)]

    def professional_listing(*, service=None, category=None, limit=None):
        calls.append(("professional_listing", {"service": service, "category": category, "limit": limit}))
        professional = SimpleNamespace(display_name="Ana Pérez", title="Psicóloga clínica", photo=image)
        return [SimpleNamespace(title="Ana Pérez", url="/equipo/ana-perez/", professional=professional)]

    def latest_posts(limit=3):
        calls.append(("latest_posts", {"limit": limit}))
        return [
            SimpleNamespace(
                title="Dormir mejor",
                url="/blog/dormir-mejor/",
                date=date(2026, 3, 2),
                excerpt="<p>Cinco hábitos simples.</p>",
                featured_image=None,
            )
        ]

    clinic_module = types.ModuleType("website.clinic.selectors")
    clinic_module.service_listing = service_listing
    clinic_module.professional_listing = professional_listing
    blog_module = types.ModuleType("blog.selectors")
    blog_module.latest_posts = latest_posts
    monkeypatch.setitem(sys.modules, "website.clinic.selectors", clinic_module)
    monkeypatch.setitem(sys.modules, "blog.selectors", blog_module)
    return SimpleNamespace(calls=calls)


@pytest.fixture
def cached_video_embed(db):
    """The embed of VIDEO_URL already in Wagtail's embed cache, so rendering never fetches it."""
    return Embed.objects.create(
        url=VIDEO_URL,
        hash=get_embed_hash(VIDEO_URL),
        type="video",
        html='<iframe title="Video de bienvenida" src="https://www.youtube-nocookie.com/embed/x"></iframe>',
        provider_name="YouTube",
        width=640,
        height=360,
    )


@pytest.fixture
def full_body(db, image, cached_video_embed, home_page):
    """A StreamField body (raw JSON) with one block of every type in BaseStreamBlock."""
    category = ServiceCategoryFactory(name="Psicología", slug="psicologia")
    service = ServiceFactory(name="Psicoterapia", slug="psicoterapia", category=category)
    return json.dumps(
        [
            {"type": "heading", "value": {"text": "Cómo trabajamos", "level": "h2"}},
            {"type": "paragraph", "value": "<p>Acompañamos con <b>cercanía</b>.</p>"},
            {
                "type": "image",
                "value": {
                    "image": {"image": image.pk, "decorative": False, "alt_text": "Sala luminosa con sillones"},
                    "caption": "Nuestra sala de espera",
                    "attribution": "Foto: Clínica",
                },
            },
            {"type": "quote", "value": {"text": "Me sentí escuchada.", "attribution": "Una paciente"}},
            {
                "type": "call_to_action",
                "value": {
                    "title": "Agenda tu primera sesión",
                    "text": "Te orientamos.",
                    "button_label": "Agendar ahora",
                    "page": home_page.pk,
                    "url": "",
                },
            },
            {
                "type": "faq",
                "value": {
                    "heading": "Preguntas frecuentes",
                    "items": [
                        {"question": "¿Cuánto dura una sesión?", "answer": "<p>Cincuenta minutos.</p>"},
                        {"question": "¿Atienden online?", "answer": "<p>Sí, por videollamada.</p>"},
                    ],
                },
            },
            {"type": "embed", "value": {"embed": VIDEO_URL, "caption": "Conoce la clínica"}},
            {"type": "services_list", "value": {"heading": "Servicios", "category": category.pk, "limit": 6}},
            {"type": "professionals_grid", "value": {"heading": "Equipo", "service": service.pk, "limit": None}},
            {"type": "latest_posts", "value": {"heading": "Del blog", "number_of_posts": 2}},
        ]
    )


@pytest.fixture
def standard_page(home_page):
    return StandardPageFactory(parent=home_page, title="Quiénes somos", slug="quienes-somos")


@pytest.fixture
def site_settings(home_page):
    """The default site's SiteSettings filled in like a real clinic's."""
    return fill_in_site_settings()


def fill_in_site_settings():
    """``site_settings`` for fixtures of a wider scope, which cannot request it."""
    from wagtail.models import Site

    from website.models import SiteSettings

    settings_row = SiteSettings.for_site(Site.objects.get(is_default_site=True))
    settings_row.clinic_name = "Clínica Aurora"
    settings_row.email = "hola@aurora.example"
    settings_row.phone = "+56 2 2345 6789"
    settings_row.whatsapp = "+56 9 8765 4321"
    settings_row.address = "Av. Providencia 1234\nProvidencia, Santiago"
    settings_row.opening_hours = "Lunes a viernes, 9:00 a 20:00"
    settings_row.instagram_url = "https://instagram.com/aurora"
    settings_row.linkedin_url = "https://www.linkedin.com/company/aurora"
    settings_row.save()
    return settings_row
