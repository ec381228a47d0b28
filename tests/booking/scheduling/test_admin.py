"""The "Clinic" menu in the Wagtail admin: lists, forms, permissions and query counts."""

import json
from decimal import Decimal

import pytest
from django.db.models import ProtectedError
from django.db.models.signals import pre_delete
from django.urls import reverse
from django.utils.html import escape
from wagtail.models import ReferenceIndex
from wagtail.test.utils.form_data import inline_formset, nested_form_data

from booking.scheduling.models import Location, Professional, Room, Service, ServiceCategory
from tests.factories.accounts import UserFactory
from tests.factories.images import ImageFactory
from tests.factories.scheduling import (
    LocationFactory,
    ProfessionalFactory,
    ProfessionalServiceFactory,
    RoomFactory,
    ServiceCategoryFactory,
    ServiceFactory,
)

VIEWSETS = ["service", "servicecategory", "location", "professional"]


def shown_errors(response, form, field):
    """The error codes on ``field`` of ``form``, after checking each message is shown on the page.

    Codes rather than texts keep the tests valid in every language the admin is shown in.
    """
    html = response.content.decode()
    errors = form.errors.as_data().get(field, [])
    for error in errors:
        for message in error.messages:
            assert escape(message) in html
    return [error.code for error in errors]


def offered_service_forms(response):
    return response.context["form"].formsets["offered_services"].forms


def _url(model_name, view, *args):
    return reverse(f"{model_name}:{view}", args=args)


@pytest.fixture
def catalog(db):
    """One row of every catalog model, linked together."""
    category = ServiceCategoryFactory(name="Psicología", slug="psicologia")
    service = ServiceFactory(name="Psicoterapia adultos", category=category, price=Decimal("35000"))
    location = LocationFactory(name="Sede Providencia")
    RoomFactory(location=location, name="Box 1")
    professional = ProfessionalFactory(display_name="Ana Pérez", services=[service], locations=[location])
    return {
        "service": service,
        "servicecategory": category,
        "location": location,
        "professional": professional,
    }


def service_form_data(**overrides):
    category = overrides.pop("category", None) or ServiceCategoryFactory()
    data = {
        "name": "Evaluación nutricional",
        "slug": "evaluacion-nutricional",
        "category": category.pk,
        "description": "Primera consulta.",
        "modality": "both",
        "duration_minutes": "60",
        "buffer_before_minutes": "0",
        "buffer_after_minutes": "10",
        "price": "40000",
        "currency": "CLP",
        "payment_mode": "later",
        "available_in_packs": "on",
        "min_notice_minutes": "720",
        "booking_horizon_days": "60",
        "cancellation_window_hours": "24",
        "reschedule_window_hours": "24",
        "max_reschedules": "2",
        "active": "on",
        "sort_order": "0",
    }
    data.update(overrides)
    return data


def professional_form_data(offered_services=(), **overrides):
    data = nested_form_data(
        {
            "display_name": "Beatriz Soto",
            "slug": "beatriz-soto",
            "title": "Nutricionista",
            "rut": "",
            "bio": "",
            "video_url": "",
            "accepting_new_patients": "on",
            "active": "on",
            "availability_self_service": "none",
            "sort_order": "0",
            "offered_services": inline_formset(list(offered_services)),
            "degrees": inline_formset([]),
            "experience": inline_formset([]),
            "weekly_availability": inline_formset([]),
        }
    )
    data.update(overrides)
    return data


# --- Rendering for a superuser ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("model_name", VIEWSETS, ids=VIEWSETS)
def test_superuser_sees_list_add_and_edit_views(superuser_client, catalog, model_name):
    obj = catalog[model_name]

    listing = superuser_client.get(_url(model_name, "index"))
    add = superuser_client.get(_url(model_name, "add"))
    edit = superuser_client.get(_url(model_name, "edit", obj.pk))

    assert listing.status_code == 200
    assert str(obj) in listing.content.decode()
    assert add.status_code == 200
    assert edit.status_code == 200
    assert str(obj) in edit.content.decode()


def clinic_menu_urls(response):
    """The links in the admin sidebar's "Clinic" submenu, read from the sidebar's JSON props."""
    html = response.content.decode()
    start = html.index('<script id="wagtail-sidebar-props" type="application/json">')
    start = html.index(">", start) + 1
    props = json.loads(html[start : html.index("</script>", start)])
    main_menu = next(module for module in props["modules"] if module["_type"] == "wagtail.sidebar.MainMenuModule")
    for item in main_menu["_args"][0]:
        if item["_type"] == "wagtail.sidebar.SubMenuItem" and item["_args"][0]["name"] == "clinic":
            return [child["_args"][0]["url"] for child in item["_args"][1]]
    return None


@pytest.mark.django_db
def test_clinic_menu_groups_the_catalog_screens(superuser_client):
    response = superuser_client.get(reverse("wagtailadmin_home"))

    assert clinic_menu_urls(response) == [
        reverse("clinic_appointments:index"),
        _url("professional", "index"),
        _url("timeoff", "index"),
        _url("dateoverride", "index"),
        _url("service", "index"),
        _url("servicecategory", "index"),
        _url("location", "index"),
        reverse("clinic_api_tokens:index"),
    ]


@pytest.mark.django_db
def test_clinic_menu_is_hidden_from_staff_without_catalog_permissions(staff_without_permissions_client):
    response = staff_without_permissions_client.get(reverse("wagtailadmin_home"))

    assert response.status_code == 200
    assert clinic_menu_urls(response) is None


@pytest.mark.django_db
def test_service_list_shows_the_useful_columns(superuser_client, catalog):
    response = superuser_client.get(_url("service", "index"))

    html = response.content.decode()
    assert "Psicoterapia adultos" in html
    assert "Psicología" in html
    assert "$35.000" in html
    assert "In person or online" in html or "Presencial" in html or "online" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("active=false", "Terapia antigua", "Psicoterapia adultos"),
        ("modality=online", "Terapia antigua", "Psicoterapia adultos"),
        ("q=antigua", "Terapia antigua", "Psicoterapia adultos"),
    ],
    ids=["active", "modality", "search"],
)
def test_service_list_filters_and_search(superuser_client, catalog, query, shown, hidden):
    ServiceFactory(name="Terapia antigua", active=False, modality="online")

    response = superuser_client.get(_url("service", "index") + "?" + query)

    html = response.content.decode()
    assert shown in html
    assert hidden not in html


@pytest.mark.django_db
@pytest.mark.parametrize("filter_name", ["service", "location"], ids=["by-service", "by-location"])
def test_professional_list_filters_by_service_and_location(superuser_client, catalog, filter_name):
    ProfessionalFactory(display_name="Carla Ruiz")
    value = catalog[filter_name].pk

    response = superuser_client.get(_url("professional", "index") + f"?{filter_name}={value}")

    html = response.content.decode()
    assert "Ana Pérez" in html
    assert "Carla Ruiz" not in html


# --- Permissions -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("model_name", VIEWSETS, ids=VIEWSETS)
def test_staff_without_catalog_permissions_is_refused(staff_without_permissions_client, catalog, model_name):
    for response in (
        staff_without_permissions_client.get(_url(model_name, "index")),
        staff_without_permissions_client.get(_url(model_name, "add")),
        staff_without_permissions_client.get(_url(model_name, "edit", catalog[model_name].pk)),
    ):
        assert response.status_code in (302, 403)
        if response.status_code == 302:
            assert "/admin/clinic/" not in response["Location"]


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_log_in(client, catalog):
    response = client.get(_url("service", "index"))

    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("model_name", VIEWSETS, ids=VIEWSETS)
def test_view_and_change_permissions_allow_lists_and_edits_but_not_adding(catalog_editor_client, catalog, model_name):
    listing = catalog_editor_client.get(_url(model_name, "index"))
    edit = catalog_editor_client.get(_url(model_name, "edit", catalog[model_name].pk))
    add = catalog_editor_client.get(_url(model_name, "add"))

    assert listing.status_code == 200
    assert str(catalog[model_name]) in listing.content.decode()
    assert _url(model_name, "add") not in listing.content.decode()
    assert edit.status_code == 200
    assert add.status_code in (302, 403)


@pytest.mark.django_db
def test_catalog_editor_cannot_create_a_service_by_posting(catalog_editor_client, catalog):
    response = catalog_editor_client.post(
        _url("service", "add"), service_form_data(category=catalog["servicecategory"])
    )

    assert response.status_code in (302, 403)
    assert not Service.objects.filter(slug="evaluacion-nutricional").exists()


@pytest.mark.django_db
def test_user_chooser_needs_permission_to_manage_professionals(staff_without_permissions_client, superuser_client):
    UserFactory(email="ana@clinic.example")
    chooser_url = reverse("clinic_user_chooser:choose")

    refused = staff_without_permissions_client.get(chooser_url)
    allowed = superuser_client.get(chooser_url + "?q=ana@clinic")

    assert refused.status_code in (302, 403)
    assert allowed.status_code == 200
    assert "ana@clinic.example" in allowed.json()["html"]


# --- Forms -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_superuser_creates_a_service(superuser_client):
    response = superuser_client.post(_url("service", "add"), service_form_data())

    assert response.status_code == 302
    service = Service.objects.get(slug="evaluacion-nutricional")
    assert service.price == Decimal("40000")
    assert service.duration_minutes == 60


@pytest.mark.django_db
def test_negative_price_is_refused_with_a_message(superuser_client):
    response = superuser_client.post(_url("service", "add"), service_form_data(price="-100"))

    assert response.status_code == 200
    assert shown_errors(response, response.context["form"], "price") == ["min_value"]
    assert not Service.objects.filter(slug="evaluacion-nutricional").exists()


@pytest.mark.django_db
def test_location_is_created_with_its_rooms_inline(superuser_client):
    data = nested_form_data(
        {
            "name": "Sede Ñuñoa",
            "slug": "sede-nunoa",
            "address": "Irarrázaval 3000",
            "city": "Santiago",
            "region": "",
            "phone": "",
            "email": "",
            "directions": "",
            "time_zone": "America/Santiago",
            "active": "on",
            "sort_order": "0",
            "rooms": inline_formset([{"name": "Box 1", "active": "on"}, {"name": "Box 2", "active": "on"}]),
        }
    )

    response = superuser_client.post(_url("location", "add"), data)

    assert response.status_code == 302
    location = Location.objects.get(slug="sede-nunoa")
    assert sorted(location.rooms.values_list("name", flat=True)) == ["Box 1", "Box 2"]


@pytest.mark.django_db
def test_duplicate_room_names_in_one_location_are_refused(superuser_client):
    data = nested_form_data(
        {
            "name": "Sede Ñuñoa",
            "slug": "sede-nunoa",
            "address": "Irarrázaval 3000",
            "time_zone": "America/Santiago",
            "sort_order": "0",
            "rooms": inline_formset([{"name": "Box 1"}, {"name": "Box 1"}]),
        }
    )

    response = superuser_client.post(_url("location", "add"), data)

    assert response.status_code == 200
    assert not Location.objects.filter(slug="sede-nunoa").exists()


@pytest.mark.django_db
def test_professional_is_created_with_services_locations_degrees_and_account(superuser_client):
    service = ServiceFactory(price=Decimal("35000"))
    location = LocationFactory()
    account = UserFactory(email="beatriz@clinic.example")
    photo = ImageFactory()
    data = professional_form_data(
        offered_services=[{"service": service.pk, "price_override": "30000", "duration_override_minutes": ""}],
        rut="12345678-5",
        user=account.pk,
        photo=photo.pk,
        locations=[location.pk],
        availability_self_service="time_off",
    )
    data.update(
        nested_form_data(
            {"degrees": inline_formset([{"title": "Magíster en Nutrición", "institution": "PUC", "year": "2019"}])}
        )
    )

    response = superuser_client.post(_url("professional", "add"), data)

    assert response.status_code == 302, response.context["form"].errors if response.context else response
    professional = Professional.objects.get(slug="beatriz-soto")
    assert professional.rut == "12.345.678-5"
    assert professional.user == account
    assert professional.photo == photo
    assert list(professional.locations.all()) == [location]
    assert professional.may_change_time_off and not professional.may_change_weekly_hours
    offer = professional.offered_services.get()
    assert offer.price == Decimal("30000")
    assert offer.duration_minutes == service.duration_minutes
    assert professional.degrees.get().title == "Magíster en Nutrición"


@pytest.mark.django_db
def test_rut_with_wrong_check_digit_is_refused_with_a_message(superuser_client):
    response = superuser_client.post(_url("professional", "add"), professional_form_data(rut="12.345.678-9"))

    assert response.status_code == 200
    assert shown_errors(response, response.context["form"], "rut") == ["rut_checksum"]
    assert not Professional.objects.filter(slug="beatriz-soto").exists()


@pytest.mark.django_db
def test_rut_already_used_in_another_format_is_refused(superuser_client):
    ProfessionalFactory(rut="12.345.678-5")

    response = superuser_client.post(_url("professional", "add"), professional_form_data(rut="123456785"))

    assert response.status_code == 200
    assert shown_errors(response, response.context["form"], "rut") == ["unique"]
    assert not Professional.objects.filter(slug="beatriz-soto").exists()


@pytest.mark.django_db
def test_same_service_twice_is_refused_with_a_message(superuser_client):
    service = ServiceFactory(name="Psicoterapia adultos")
    row = {"service": service.pk, "price_override": "", "duration_override_minutes": ""}

    response = superuser_client.post(_url("professional", "add"), professional_form_data(offered_services=[row, row]))

    assert response.status_code == 200
    first, second = offered_service_forms(response)
    assert first.errors == {}
    assert shown_errors(response, second, "service") == ["duplicate_service"]
    assert not Professional.objects.filter(slug="beatriz-soto").exists()


@pytest.mark.django_db
def test_negative_own_price_is_refused(superuser_client):
    service = ServiceFactory()
    row = {"service": service.pk, "price_override": "-1", "duration_override_minutes": ""}

    response = superuser_client.post(_url("professional", "add"), professional_form_data(offered_services=[row]))

    assert response.status_code == 200
    assert shown_errors(response, offered_service_forms(response)[0], "price_override") == ["min_value"]
    assert not Professional.objects.filter(slug="beatriz-soto").exists()


@pytest.mark.django_db
def test_deleting_a_category_still_used_by_services_is_refused(superuser_client, catalog):
    category = catalog["servicecategory"]
    delete_url = _url("servicecategory", "delete", category.pk)

    confirm = superuser_client.get(delete_url)
    refused = superuser_client.post(delete_url)

    assert confirm.status_code == 200
    assert confirm.context["is_protected"]
    assert refused.status_code in (302, 403)  # Wagtail sends refused admin requests to the dashboard
    assert ServiceCategory.objects.filter(pk=category.pk).exists()


@pytest.mark.django_db
def test_deleting_a_row_protected_by_a_reference_wagtail_does_not_know_gives_a_message(superuser_client, catalog):
    """Bookings and other plain models are not in Wagtail's reference index; the database still protects."""
    category = catalog["servicecategory"]
    ReferenceIndex.objects.all().delete()

    response = superuser_client.post(_url("servicecategory", "delete", category.pk), follow=True)

    assert response.status_code == 200
    assert ServiceCategory.objects.filter(pk=category.pk).exists()
    assert [message.level_tag for message in response.context["messages"]] == ["error"]


@pytest.mark.django_db
def test_removing_a_room_that_is_still_used_is_refused_with_a_message(superuser_client, catalog):
    location = catalog["location"]
    room = location.rooms.get()

    def protect(sender, instance, **kwargs):
        raise ProtectedError("used by an appointment", {instance})

    data = nested_form_data(
        {
            "name": "Sede renombrada",
            "slug": location.slug,
            "address": location.address,
            "time_zone": location.time_zone,
            "sort_order": "0",
            "active": "on",
            "rooms": inline_formset([{"id": room.pk, "name": room.name, "DELETE": "on"}], initial=1),
        }
    )
    pre_delete.connect(protect, sender=Room)
    try:
        response = superuser_client.post(_url("location", "edit", location.pk), data)
    finally:
        pre_delete.disconnect(protect, sender=Room)

    assert response.status_code == 200
    assert [error.code for error in response.context["form"].non_field_errors().as_data()] == ["protected"]
    location.refresh_from_db()
    assert location.name == "Sede Providencia"
    assert location.rooms.filter(pk=room.pk).exists()


@pytest.mark.django_db
def test_deleting_a_service_a_professional_offers_removes_it_from_their_services(superuser_client, catalog):
    """Offers cascade with the service; the professional stays."""
    service = catalog["service"]

    response = superuser_client.post(_url("service", "delete", service.pk))

    assert response.status_code == 302
    assert not Service.objects.filter(pk=service.pk).exists()
    assert catalog["professional"].offered_services.count() == 0


# --- Query counts ----------------------------------------------------------------------------


def _make_rows(model_name, count):
    if model_name in ("service", "servicecategory"):
        for _ in range(count):
            ServiceFactory(category=ServiceCategoryFactory())
    elif model_name == "location":
        for _ in range(count):
            RoomFactory(location=LocationFactory())
    else:
        location = LocationFactory()
        for _ in range(count):
            professional = ProfessionalFactory(locations=[location], photo=ImageFactory())
            ProfessionalServiceFactory(professional=professional)
            ProfessionalServiceFactory(professional=professional)


def _count_queries(client, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("model_name", VIEWSETS, ids=VIEWSETS)
def test_list_views_run_the_same_number_of_queries_for_3_or_30_rows(
    superuser_client, model_name, django_assert_max_num_queries
):
    path = _url(model_name, "index")
    _make_rows(model_name, 3)
    superuser_client.get(path)  # warm per-session caches
    few = _count_queries(superuser_client, path)

    _make_rows(model_name, 27)
    with django_assert_max_num_queries(few):
        response = superuser_client.get(path)

    assert response.status_code == 200
    assert response.context["page_obj"].paginator.count >= 30


@pytest.mark.django_db
def test_professional_form_offers_image_and_account_choosers_and_location_checkboxes(superuser_client, catalog):
    response = superuser_client.get(_url("professional", "edit", catalog["professional"].pk))

    form = response.context["form"]
    html = response.content.decode()
    assert "ImageChooser" in type(form.fields["photo"].widget).__name__
    assert type(form.fields["user"].widget).__name__ == "UserChooserWidget"
    assert f'type="checkbox" name="locations" value="{catalog["location"].pk}"' in html
    assert set(form.formsets) == {"offered_services", "degrees", "experience", "weekly_availability"}


@pytest.mark.django_db
def test_user_chooser_returns_the_chosen_account(superuser_client):
    account = UserFactory(email="ana@clinic.example", first_name="Ana", last_name="Pérez")

    response = superuser_client.get(reverse("clinic_user_chooser:chosen", args=(account.pk,)))

    assert response.status_code == 200
    assert response.json()["result"] == {
        "id": str(account.pk),
        "title": "Ana Pérez",
        "edit_url": reverse("wagtailusers_users:edit", args=(account.pk,)),
    }


@pytest.mark.django_db
def test_catalog_editor_cannot_create_pages(catalog_editor_client, home_page):
    from tests.factories.clinic import ServiceIndexPageFactory

    service_index = ServiceIndexPageFactory(parent=home_page)

    response = catalog_editor_client.get(
        reverse("wagtailadmin_pages:add", args=("clinic", "servicepage", service_index.pk))
    )

    assert response.status_code in (302, 403)
