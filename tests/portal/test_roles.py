"""Role groups: editors edit pages, reception and clinic administrators run the clinic, patients stay out."""

import pytest
from django.contrib.auth.models import Group

from portal.accounts import roles
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp


def member_of(group_name, **user_fields):
    user = VerifiedUserFactory(**user_fields)
    user.groups.add(Group.objects.get(name=group_name))
    activate_totp(user)
    return user


@pytest.mark.django_db
def test_migrate_created_every_role_group():
    names = set(Group.objects.values_list("name", flat=True))

    assert set(roles.ADMIN_GROUPS + roles.PORTAL_GROUPS) <= names


@pytest.mark.django_db
def test_ensure_role_groups_is_idempotent():
    roles.ensure_role_groups()
    counts = {g.name: g.permissions.count() for g in Group.objects.all()}
    page_permissions = Group.objects.get(name=roles.EDITORS).page_permissions.count()

    roles.ensure_role_groups()

    assert {g.name: g.permissions.count() for g in Group.objects.all()} == counts
    assert Group.objects.get(name=roles.EDITORS).page_permissions.count() == page_permissions
    assert Group.objects.filter(name=roles.EDITORS).count() == 1


@pytest.mark.django_db
def test_editor_opens_the_page_explorer_but_not_the_clinic(client, home_page):
    editor = member_of(roles.EDITORS, email="editor@example.com")
    client.force_login(editor)

    assert client.get("/admin/pages/").status_code == 200
    assert editor.has_perm("wagtailadmin.access_admin")
    assert not editor.has_perm("scheduling.view_service")
    assert not editor.has_perm("scheduling.change_professional")
    assert home_page.permissions_for_user(editor).can_publish()
    assert home_page.permissions_for_user(editor).can_add_subpage()


@pytest.mark.django_db
def test_receptionist_runs_the_catalog_but_cannot_publish_pages(home_page):
    receptionist = member_of(roles.RECEPTIONISTS, email="reception@example.com")

    for model in ["service", "location", "room", "professional", "dateoverride"]:
        for action in ["view", "add", "change"]:
            assert receptionist.has_perm(f"scheduling.{action}_{model}"), f"{action}_{model}"
    assert receptionist.has_perm("scheduling.delete_dateoverride")
    assert not receptionist.has_perm("scheduling.delete_service")
    assert receptionist.has_perm("wagtailadmin.access_admin")
    assert not home_page.permissions_for_user(receptionist).can_publish()
    assert not home_page.permissions_for_user(receptionist).can_edit()


@pytest.mark.django_db
def test_clinic_administrator_has_every_scheduling_permission_and_sees_users():
    administrator = member_of(roles.CLINIC_ADMINISTRATORS, email="boss@example.com")

    assert administrator.has_perm("scheduling.delete_service")
    assert administrator.has_perm("scheduling.add_professional")
    assert administrator.has_perm("accounts.view_user")
    assert not administrator.has_perm("accounts.delete_user")


@pytest.mark.parametrize("group_name", list(roles.PORTAL_GROUPS), ids=["professionals", "patients", "company-owners"])
@pytest.mark.django_db
def test_portal_groups_have_no_admin_access(group_name):
    assert not Group.objects.get(name=group_name).permissions.exists()


@pytest.mark.django_db
def test_patient_gets_no_admin_access(client):
    patient = PatientFactory(user=VerifiedUserFactory(email="p@example.com")).user
    client.force_login(patient)

    assert not patient.has_perm("wagtailadmin.access_admin")
    response = client.get("/admin/pages/")
    assert response.status_code == 302
    assert not response["Location"].startswith("/admin/pages")


@pytest.mark.django_db
def test_user_roles():
    patient = PatientFactory(user=VerifiedUserFactory(email="p@example.com")).user
    staff = member_of(roles.RECEPTIONISTS, email="r@example.com", is_staff=True)

    assert roles.user_roles(patient) == {roles.ROLE_PATIENT}
    assert roles.user_roles(staff) == {roles.ROLE_RECEPTIONIST, roles.ROLE_STAFF}


@pytest.mark.django_db
def test_receptionist_takes_payments_but_neither_refunds_nor_edits_discount_codes():
    receptionist = member_of(roles.RECEPTIONISTS, email="desk@example.com")

    for permission in ["view_invoice", "add_invoice", "change_invoice", "add_payment", "view_coupon"]:
        assert receptionist.has_perm(f"billing.{permission}"), permission
    for permission in ["add_refund", "add_coupon", "change_coupon", "delete_coupon", "delete_invoice"]:
        assert not receptionist.has_perm(f"billing.{permission}"), permission


@pytest.mark.django_db
def test_clinic_administrator_has_every_billing_permission():
    administrator = member_of(roles.CLINIC_ADMINISTRATORS, email="finance@example.com")

    for permission in ["add_refund", "add_coupon", "change_coupon", "delete_coupon", "change_billingsettings"]:
        assert administrator.has_perm(f"billing.{permission}"), permission


@pytest.mark.django_db
def test_editors_have_no_billing_permissions():
    editor = member_of(roles.EDITORS, email="writer@example.com")

    assert not editor.has_perm("billing.view_invoice")
    assert not editor.has_perm("billing.view_coupon")
