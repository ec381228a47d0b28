"""Fixtures for the clinic catalog's admin tests: logged-in clients with and without permissions.

Staff users get an activated TOTP authenticator because the admin requires two-factor
authentication for staff.
"""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from tests.booking.scheduling.people import receptionist_user
from tests.factories.scheduling import StaffUserFactory


@pytest.fixture
def staff_without_permissions_client(db):
    """Staff who may enter the admin but hold no catalog permission."""
    user = StaffUserFactory(email="nobody@clinic.example")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def catalog_editor_client(db):
    """Staff in a group that may view and change (but not add or delete) every catalog model."""
    group = Group.objects.create(name="Catalog editors")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin"),
        *Permission.objects.filter(content_type__app_label="scheduling", codename__regex=r"^(view|change)_"),
    )
    user = StaffUserFactory(email="editor@clinic.example")
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def receptionist(db):
    """A Receptionists group member (not superuser, no staff flag): see ``tests.booking.scheduling.people``."""
    return receptionist_user()
