"""The shared StreamField blocks on their own: validation, previews, and the selector bridge."""

import sys

import pytest
from bs4 import BeautifulSoup
from django.core.exceptions import ValidationError
from django.utils import translation
from wagtail.embeds.blocks import EmbedBlock

from website import blocks

EXPECTED_BLOCKS = [
    "heading",
    "paragraph",
    "image",
    "quote",
    "call_to_action",
    "faq",
    "embed",
    "services_list",
    "professionals_grid",
    "latest_posts",
    "booking_box",
]


def test_base_stream_block_offers_every_shared_block():
    assert list(blocks.BaseStreamBlock.base_blocks) == EXPECTED_BLOCKS


def test_embed_block_wraps_wagtails_embed_block():
    assert isinstance(blocks.MediaEmbedBlock().child_blocks["embed"], EmbedBlock)


@pytest.mark.parametrize("name", EXPECTED_BLOCKS, ids=EXPECTED_BLOCKS)
def test_every_block_has_editor_metadata(name):
    block = blocks.BaseStreamBlock().child_blocks[name]

    assert block.meta.icon and block.meta.icon != "placeholder"
    assert block.meta.template == f"blocks/{block.meta.template.split('/')[-1]}"
    assert block.meta.description
    assert type(block).__doc__


@pytest.mark.parametrize(
    ("name", "expected_text"),
    [
        ("heading", "Cómo trabajamos"),
        ("paragraph", "Psicoterapia individual"),
        ("quote", "Me sentí escuchada desde la primera sesión."),
        ("call_to_action", "Agendar"),
        ("faq", "¿Cuánto dura una sesión?"),
    ],
    ids=["heading", "paragraph", "quote", "call_to_action", "faq"],
)
def test_preview_values_render(name, expected_text):
    block = blocks.BaseStreamBlock().child_blocks[name]

    html = block.render(block.get_preview_value())

    assert expected_text in BeautifulSoup(html, "html.parser").get_text()


@pytest.mark.parametrize(("level", "tag"), [("h2", "h2"), ("h3", "h3"), ("h4", "h4")], ids=["h2", "h3", "h4"])
def test_heading_renders_at_the_chosen_level(level, tag):
    block = blocks.HeadingBlock()

    html = block.render(block.to_python({"text": "Tarifas", "level": level}))

    assert BeautifulSoup(html, "html.parser").find(tag).get_text() == "Tarifas"


def test_faq_is_an_accordion_that_works_without_javascript():
    block = blocks.FAQBlock()

    soup = BeautifulSoup(block.render(block.get_preview_value()), "html.parser")

    assert len(soup.find_all("details")) == 2
    assert soup.find("details").find("summary").get_text() == "¿Cuánto dura una sesión?"


@pytest.mark.parametrize(
    "value",
    [
        {"title": "T", "text": "", "button_label": "Ir", "page": None, "url": ""},
        {"title": "T", "text": "", "button_label": "Ir", "page": "both", "url": "https://example.com/"},
    ],
    ids=["no-target", "two-targets"],
)
@pytest.mark.django_db
def test_call_to_action_needs_exactly_one_target(value, home_page):
    block = blocks.CallToActionBlock()
    if value["page"] == "both":
        value = {**value, "page": home_page.pk}

    with pytest.raises(ValidationError):
        block.clean(block.to_python(value))


@pytest.mark.django_db
def test_call_to_action_accepts_an_external_url():
    block = blocks.CallToActionBlock()

    cleaned = block.clean(
        block.to_python({"title": "T", "text": "", "button_label": "Ir", "page": None, "url": "https://example.com/"})
    )

    assert cleaned["url"] == "https://example.com/"


def test_listing_blocks_show_a_friendly_note_when_there_is_nothing_to_list(monkeypatch):
    monkeypatch.setattr("website.clinic.selectors.service_listing", lambda **kwargs: [])
    block = blocks.ServicesListBlock()

    with translation.override("en"):
        html = block.render(block.to_python({"heading": "Servicios", "category": None, "limit": None}))

    assert "Services will be listed here soon." in html


@pytest.mark.parametrize(
    ("block_class", "selector", "value"),
    [
        (blocks.ServicesListBlock, "website.clinic.selectors.service_listing", {"category": None, "limit": None}),
        (
            blocks.ProfessionalsGridBlock,
            "website.clinic.selectors.professional_listing",
            {"service": None, "limit": None},
        ),
        (blocks.LatestPostsBlock, "blog.selectors.latest_posts", {"number_of_posts": 3}),
    ],
    ids=["services", "professionals", "posts"],
)
def test_a_failing_selector_fails_the_render_instead_of_listing_nothing(monkeypatch, block_class, selector, value):
    """A broken listing must show up as an error (and in the error reports), not as an empty section."""

    def broken(**kwargs):
        raise RuntimeError("selector is broken")

    monkeypatch.setattr(selector, broken)
    block = block_class()

    with pytest.raises(RuntimeError, match="selector is broken"):
        block.render(block.to_python({"heading": "", **value}))


def test_a_missing_selector_module_fails_the_render_instead_of_listing_nothing(monkeypatch):
    """The blocks once rendered an empty list while the clinic app was missing; now a lost module is an error."""
    monkeypatch.setitem(sys.modules, "website.clinic.selectors", None)  # importing it now raises
    block = blocks.ServicesListBlock()

    with pytest.raises(ModuleNotFoundError):
        block.render(block.to_python({"heading": "Servicios", "category": None, "limit": None}))


@pytest.mark.django_db
def test_catalog_chooser_block_stores_the_chosen_rows_primary_key():
    """The chooser blocks replaced a select block that stored the primary key: pages saved with it read the same."""
    from booking.scheduling.choosers import ServiceCategoryChooserBlock
    from tests.factories.scheduling import ServiceCategoryFactory

    category = ServiceCategoryFactory()
    block = ServiceCategoryChooserBlock(required=False)

    assert block.get_prep_value(category) == category.pk
    assert block.to_python(category.pk) == category
    assert block.to_python(None) is None
    assert block.get_form_state(category)["id"] == category.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("chooser", "factory"),
    [
        ("clinic_category_chooser", "ServiceCategoryFactory"),
        ("clinic_service_chooser", "ServiceFactory"),
        ("clinic_professional_chooser", "ProfessionalFactory"),
        ("clinic_location_chooser", "LocationFactory"),
    ],
    ids=["category", "service", "professional", "location"],
)
def test_the_blocks_chooser_modal_lists_the_catalog_rows(superuser_client, chooser, factory):
    from django.urls import reverse

    from tests.factories import scheduling as factories

    row = getattr(factories, factory)()

    response = superuser_client.get(reverse(f"{chooser}:choose"))

    assert response.status_code == 200
    assert str(row) in response.json()["html"]


@pytest.mark.django_db
def test_an_editor_picks_catalog_rows_for_a_booking_box_with_the_choosers(superuser_client, standard_page):
    """The edit form shows what a box names, and saving it stores each chosen row's primary key, as before."""
    from django.urls import reverse
    from wagtail.test.utils.form_data import nested_form_data, streamfield

    from tests.factories import scheduling as factories

    category = factories.ServiceCategoryFactory(name="Terapias")
    service = factories.ServiceFactory(name="Psicoterapia individual", category=category)
    professional = factories.ProfessionalFactory(display_name="Ana Rojas")
    location = factories.LocationFactory(name="Sede Providencia")
    edit_url = reverse("wagtailadmin_pages:edit", args=[standard_page.pk])
    box = {
        "heading": "",
        "intro": "",
        "category": category.pk,
        "service": service.pk,
        "professionals": {"count": 1, "0": {"value": professional.pk, "deleted": "", "order": 0}},
        "location": location.pk,
        "modality": "",
        "allow_changes": "on",
        "show_prices": "on",
        "layout": "full",
    }
    data = nested_form_data(
        {
            "title": standard_page.title,
            "slug": standard_page.slug,
            "intro": "",
            "body": streamfield([("booking_box", box)]),
        }
    )

    saved = superuser_client.post(edit_url, data)
    form = superuser_client.get(edit_url)

    assert saved.status_code == 302
    draft = type(standard_page).objects.get(pk=standard_page.pk).get_latest_revision().as_object()
    stored = draft.body.raw_data[0]["value"]
    assert (stored["category"], stored["service"], stored["location"]) == (category.pk, service.pk, location.pk)
    assert [item["value"] for item in stored["professionals"]] == [professional.pk]
    assert form.status_code == 200
    page = form.content.decode()
    for name in ("Terapias", "Psicoterapia individual", "Ana Rojas", "Sede Providencia"):
        assert name in page
