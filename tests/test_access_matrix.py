"""Every private URL requested by every role: the expected status, and nobody else's data in the body.

The people: patient A (who owns the appointment and the invoice), patient B, professional A (who sees A), professional
B, a receptionist (the Receptionists group: scheduling and billing permissions, two-factor enrolled), a clinic
administrator (every clinic permission, clinical records included) and an editor (the Editors group with the
``is_staff`` flag, two-factor enrolled: they publish pages and must never see a patient).
A URL a role may not see answers 404 (it does not reveal that the thing exists) or, for the anonymous visitor, the
login redirect (401 in the API). Whatever the status, a body that is not meant for the role never carries patient A's
name, email or RUT.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from booking.scheduling.models import TimeOff
from portal.accounts.roles import CLINIC_ADMINISTRATORS, EDITORS, RECEPTIONISTS, ensure_role_groups
from portal.records import notes
from portal.records.services import share_document
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.billing import InvoiceFactory
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory, ServiceFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
ROLES = [
    "anonymous",
    "patient_a",
    "patient_b",
    "professional_a",
    "professional_b",
    "receptionist",
    "administrator",
    "editor",
]
PATIENT_A = {"first_name": "Zoraida", "last_name": "Quintanilla", "email": "zoraida.q@example.com"}
RUT_A = "15.432.876-9"


@pytest.fixture(autouse=True)
def pinned_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(home_page):
    groups = ensure_role_groups()
    patient_a = PatientFactory(user=VerifiedUserFactory(**PATIENT_A), rut=RUT_A)
    patient_b = PatientFactory(user=VerifiedUserFactory(email="beto@example.com", first_name="Beto"))
    professional_a = ProfessionalFactory(user=VerifiedUserFactory(email="pro.a@example.com"))
    professional_b = ProfessionalFactory(user=VerifiedUserFactory(email="pro.b@example.com"))
    receptionist = VerifiedUserFactory(email="desk@example.com")
    receptionist.groups.add(groups[RECEPTIONISTS])
    administrator = VerifiedUserFactory(email="boss@example.com", is_staff=True)
    administrator.groups.add(groups[CLINIC_ADMINISTRATORS])
    editor = VerifiedUserFactory(email="editor@example.com", is_staff=True)
    editor.groups.add(groups[EDITORS])
    for user in (professional_a.user, professional_b.user, receptionist, administrator, editor):
        activate_totp(user)
    appointment = AppointmentFactory(
        patient=patient_a,
        professional=professional_a,
        service=ServiceFactory(name="Psicoterapia adultos"),
        start=datetime(2026, 12, 1, 13, tzinfo=UTC),
    )
    invoice = InvoiceFactory(patient=patient_a, appointment=appointment, number=7)
    document = share_document(
        appointment=appointment,
        upload=SimpleUploadedFile("plan.pdf", b"%PDF-1.4 a plan"),
        title="Plan de alimentación",
        kind="plan",
        actor=None,
    )
    users = {
        "anonymous": None,
        "patient_a": patient_a.user,
        "patient_b": patient_b.user,
        "professional_a": professional_a.user,
        "professional_b": professional_b.user,
        "receptionist": receptionist,
        "administrator": administrator,
        "editor": editor,
    }
    return {"users": users, "appointment": appointment, "invoice": invoice, "document": document}


LOGIN = "login"  # a redirect to the login page
# The professional's own pages: each professional sees theirs; nobody else has them.
PROFESSIONALS_ONLY = dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "professional_a": 200, "professional_b": 200}
# (name, url builder, {role: expected status}); roles not listed for a URL must never see patient A's data.
URLS = [
    (
        "appointment-ics",
        lambda w: reverse("portal:appointment_calendar", args=[w["appointment"].reference]),
        {
            "anonymous": LOGIN,
            "patient_a": 200,
            "patient_b": 404,
            "professional_a": 200,
            "professional_b": 404,
            "receptionist": 200,
            "administrator": 200,
            "editor": 404,
        },
    ),
    (
        "api-appointment",
        lambda w: f"/api/v1/appointments/{w['appointment'].reference}/",
        {
            "anonymous": 401,
            "patient_a": 200,
            "patient_b": 404,
            "professional_a": 200,
            "professional_b": 404,
            "receptionist": 200,
            "administrator": 200,
            "editor": 404,
        },
    ),
    (
        "portal-invoice",
        lambda w: reverse("portal:invoice_detail", args=[w["invoice"].reference]),
        dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "patient_a": 200},
    ),
    (
        "portal-receipt",
        lambda w: reverse("portal:invoice_receipt", args=[w["invoice"].reference]),
        dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "patient_a": 200, "receptionist": 200, "administrator": 200},
    ),
    (
        "checkout-cancel",
        lambda w: reverse("billing:checkout_cancel", args=[w["invoice"].reference]),
        dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "patient_a": 200},
    ),
    (
        "booking-done",
        lambda w: reverse("widget:done", args=[w["appointment"].reference]),
        dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "patient_a": 200},
    ),
    (
        "booking-pay",
        lambda w: reverse("widget:pay", args=[w["appointment"].reference]),
        # A confirmed session has nothing to pay: its patient is sent on to the "done" page.
        dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "patient_a": 302},
    ),
    ("portal-invoices", lambda w: reverse("portal:invoices"), dict.fromkeys(ROLES, 200) | {"anonymous": LOGIN}),
    ("portal-profile", lambda w: reverse("portal:profile"), dict.fromkeys(ROLES, 200) | {"anonymous": LOGIN}),
    ("portal-home", lambda w: reverse("portal:home"), dict.fromkeys(ROLES, 200) | {"anonymous": LOGIN}),
    ("portal-documents", lambda w: reverse("portal:documents"), dict.fromkeys(ROLES, 200) | {"anonymous": LOGIN}),
    ("portal-sessions", lambda w: reverse("portal:sessions"), dict.fromkeys(ROLES, 200) | {"anonymous": LOGIN}),
    ("portal-packs", lambda w: reverse("portal:packs"), dict.fromkeys(ROLES, 200) | {"anonymous": LOGIN}),
    ("portal-my-data", lambda w: reverse("portal:privacy"), dict.fromkeys(ROLES, 200) | {"anonymous": LOGIN}),
    *(
        (f"portal-{name}", lambda w, name=name: reverse(f"portal:{name}"), PROFESSIONALS_ONLY)
        for name in ("pro_today", "pro_agenda", "pro_patients", "pro_availability")
    ),
    (
        "portal-pro_agenda-week",
        lambda w: reverse("portal:pro_agenda") + "?week=2026-12-01",
        PROFESSIONALS_ONLY,
    ),
    (
        "portal-pro_session",
        lambda w: reverse("portal:pro_session", args=[w["appointment"].reference]),
        dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "professional_a": 200},
    ),
    (
        "portal-pro_agenda-month",
        lambda w: reverse("portal:pro_agenda") + "?month=2026-12",
        PROFESSIONALS_ONLY,
    ),
    (
        "portal-pro_move",
        lambda w: reverse("portal:pro_move", args=[w["appointment"].reference]),
        dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "professional_a": 200},
    ),
    (
        "portal-video",
        lambda w: reverse("portal:video", args=[w["appointment"].reference]),
        dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "patient_a": 200, "professional_a": 200},
    ),
    (
        "portal-pro_patient",
        lambda w: reverse("portal:pro_patient", args=[w["appointment"].patient_id]),
        dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "professional_a": 200},
    ),
    (
        "portal-my-data-json",
        lambda w: reverse("portal:privacy_export_json"),
        dict.fromkeys(ROLES, 200) | {"anonymous": LOGIN},
    ),
    *(
        (
            f"portal-{name}",
            lambda w, name=name: reverse(f"portal:{name}", args=[w["appointment"].reference]),
            dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "patient_a": 200},
        )
        for name in ("session_detail", "session_cancel", "session_reschedule")
    ),
    (
        "portal-document",
        lambda w: reverse("portal:document_download", args=[w["document"].reference]),
        dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "patient_a": 200},
    ),
    # The discharge and referral forms take only a POST (see the POST matrix below): a GET is refused for all.
    *(
        (
            f"portal-{name}",
            lambda w, name=name: reverse(f"portal:{name}", args=[w["appointment"].patient_id]),
            dict.fromkeys(ROLES, 405) | {"anonymous": LOGIN},
        )
        for name in ("pro_discharge", "pro_refer")
    ),
]
# Who may see patient A's details on each URL (everyone else's body must not carry them).
ENTITLED = {
    "appointment-ics": {"patient_a", "professional_a", "receptionist", "administrator"},
    "api-appointment": {"patient_a", "professional_a", "receptionist", "administrator"},
    "portal-invoice": {"patient_a"},
    "portal-receipt": {"patient_a", "receptionist", "administrator"},
    "checkout-cancel": {"patient_a"},
    "booking-done": {"patient_a"},
    "booking-pay": set(),
    "portal-invoices": {"patient_a"},
    "portal-profile": {"patient_a"},
    "portal-home": {"patient_a"},
    "portal-documents": {"patient_a"},
    "portal-sessions": {"patient_a"},
    "portal-packs": {"patient_a"},
    "portal-my-data": {"patient_a"},
    "portal-pro_today": set(),
    "portal-pro_agenda": set(),
    "portal-pro_patients": {"professional_a"},
    "portal-pro_availability": set(),
    "portal-pro_agenda-week": {"professional_a"},
    "portal-pro_session": {"professional_a"},
    "portal-pro_agenda-month": {"professional_a"},
    "portal-pro_move": {"professional_a"},
    "portal-pro_patient": {"professional_a"},
    "portal-video": {"patient_a", "professional_a"},
    "portal-my-data-json": {"patient_a"},
    "portal-session_detail": {"patient_a"},
    "portal-session_cancel": {"patient_a"},
    "portal-session_reschedule": {"patient_a"},
    "portal-document": {"patient_a"},
    "portal-pro_discharge": set(),
    "portal-pro_refer": set(),
}
CASES = [(name, build, role, expected[role]) for name, build, expected in URLS for role in ROLES]


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/pdf"):
        return content.decode("latin-1")
    return content.decode()


@pytest.mark.parametrize(
    ("name", "build", "role", "expected"), CASES, ids=[f"{name}-{role}" for name, _b, role, _e in CASES]
)
def test_every_role_on_every_private_url(world, name, build, role, expected):
    url = build(world)

    response = client_for(world["users"][role]).get(url)

    if expected == LOGIN:
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), response["Location"]
    else:
        assert response.status_code == expected, (url, response.status_code)
    if role not in ENTITLED[name]:
        body = body_of(response)
        for secret in (PATIENT_A["last_name"], PATIENT_A["email"], RUT_A, "15432876"):
            assert secret not in body, (url, role, secret)


# The availability changes are POSTs on the professional's own rows: only professional A may remove theirs.
AVAILABILITY_POST = dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "professional_a": 302}


@pytest.mark.parametrize("role", ROLES)
def test_every_role_posting_an_availability_change(world, role):
    professional = world["appointment"].professional
    professional.availability_self_service = "full"
    professional.save()
    time_off = TimeOff.objects.create(
        professional=professional, start=datetime(2026, 12, 20, 12, tzinfo=UTC), end=datetime(2026, 12, 21, tzinfo=UTC)
    )
    url = reverse("portal:pro_time_off_remove", args=[time_off.pk])

    response = client_for(world["users"][role]).post(url)

    if AVAILABILITY_POST[role] == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    else:
        assert response.status_code == AVAILABILITY_POST[role]
    assert TimeOff.objects.filter(pk=time_off.pk).exists() == (role != "professional_a")


# --- the private forms, posted by every role -------------------------------------------------------------------

# (name, url builder, {role: expected status}); 302 is the form's own redirect back to the patient's page.
POST_URLS = [
    *(
        (
            f"portal-{name}",
            lambda w, name=name: reverse(f"portal:{name}", args=[w["appointment"].patient_id]),
            dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "professional_a": 302},
        )
        for name in ("pro_discharge", "pro_refer")
    ),
    # the session's own forms: an empty form comes back to the session (or the move page) with a message
    *(
        (
            f"portal-{name}",
            lambda w, name=name: reverse(f"portal:{name}", args=[w["appointment"].reference]),
            dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "professional_a": 302},
        )
        for name in ("pro_mark", "pro_move", "pro_note_save", "pro_note_amend")
    ),
    # the editor's autosave answers JSON: an empty draft is a 400 with its reason
    (
        "portal-pro_note_autosave",
        lambda w: reverse("portal:pro_note_autosave", args=[w["appointment"].reference]),
        dict.fromkeys(ROLES, 404) | {"anonymous": LOGIN, "professional_a": 400},
    ),
]
POST_CASES = [(name, build, role, expected[role]) for name, build, expected in POST_URLS for role in ROLES]


@pytest.mark.parametrize(
    ("name", "build", "role", "expected"), POST_CASES, ids=[f"{name}-{role}" for name, _b, role, _e in POST_CASES]
)
def test_every_role_posting_to_every_private_form(world, name, build, role, expected):
    url = build(world)

    response = client_for(world["users"][role]).post(url, {})

    if expected == LOGIN:
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), response["Location"]
    else:
        assert response.status_code == expected, (url, response.status_code)
    if role == "professional_a":
        if expected == 302:
            back = ("/portal/pro/patients/", reverse("portal:pro_session", args=[world["appointment"].reference]))
            assert response["Location"].startswith(back), response["Location"]
    else:
        body = body_of(response)
        for secret in (PATIENT_A["last_name"], PATIENT_A["email"], RUT_A, "15432876"):
            assert secret not in body, (url, role, secret)


# --- two-factor enrolment, whatever the URL ---------------------------------------------------------------------

ENROL_URL = reverse("mfa_activate_totp")


@pytest.fixture
def unenrolled_receptionist(world):
    """A receptionist who logged in with a password and has not set up an authenticator app yet."""
    user = VerifiedUserFactory(email="new.desk@example.com")
    user.groups.add(ensure_role_groups()[RECEPTIONISTS])
    return user


def test_api_session_of_an_unenrolled_receptionist_is_refused_with_a_pointer_to_enrolment(
    world, unenrolled_receptionist
):
    url = f"/api/v1/appointments/{world['appointment'].reference}/"

    response = client_for(unenrolled_receptionist).get(url)

    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "mfa_required"
    assert "two-factor authentication" in body["detail"] and ENROL_URL in body["detail"]
    assert PATIENT_A["email"] not in response.content.decode()

    activate_totp(unenrolled_receptionist)
    assert client_for(unenrolled_receptionist).get(url).status_code == 200


def test_api_token_of_an_unenrolled_receptionist_is_refused(world, unenrolled_receptionist):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=unenrolled_receptionist)
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    url = f"/api/v1/appointments/{world['appointment'].reference}/"

    response = client.get(url)

    assert response.status_code == 403
    assert response.json()["error"] == "mfa_required"
    activate_totp(unenrolled_receptionist)
    assert client.get(url).status_code == 200


def test_a_patient_needs_no_two_factor_and_sees_only_their_own_appointments(world):
    patient_a, patient_b = world["users"]["patient_a"], world["users"]["patient_b"]
    url = f"/api/v1/appointments/{world['appointment'].reference}/"

    assert client_for(patient_a).get(url).status_code == 200
    other = client_for(patient_b).get(url)
    assert other.status_code == 404
    assert PATIENT_A["email"] not in other.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/booking/",
        "/billing/checkout/success/",
        "/portal/",
        "/admin/",
    ],
)
def test_an_unenrolled_receptionist_is_sent_to_enrolment_from_any_page(world, unenrolled_receptionist, url):
    response = client_for(unenrolled_receptionist).get(url)

    assert response.status_code == 302
    assert response["Location"] == ENROL_URL


@pytest.mark.parametrize("name", ["mfa_activate_totp", "account_logout", "account_email", "account_change_password"])
def test_an_unenrolled_receptionist_still_reaches_the_account_pages(world, unenrolled_receptionist, name):
    response = client_for(unenrolled_receptionist).get(reverse(name))

    assert response.get("Location") != ENROL_URL
    assert response.status_code in (200, 302)


# --- the clinical record in the admin: only staff holding records.read_clinical_notes ---------------------------


@pytest.mark.parametrize("page", ["records_clinical:patients", "records_clinical:record"])
@pytest.mark.parametrize("role", ROLES)
def test_only_the_clinics_authorised_staff_open_the_clinical_record(world, page, role):
    appointment = world["appointment"]
    notes.save_draft(appointment=appointment, author=appointment.professional.user, text="Refiere insomnio.")
    url = reverse(page, args=[appointment.patient_id] if page.endswith("record") else [])

    response = client_for(world["users"][role]).get(url)

    body = body_of(response)
    if role == "administrator":
        assert response.status_code == 200
        assert PATIENT_A["last_name"] in body
    else:
        # Wagtail's admin: its login for those without admin access, its dashboard for staff without the permission
        assert response.status_code == 302
        expected = (
            reverse("wagtailadmin_home") if role in ("receptionist", "editor") else reverse("wagtailadmin_login")
        )
        assert response["Location"].split("?")[0] == expected
        assert "insomnio" not in body and PATIENT_A["last_name"] not in body
