"""Role groups: who may do what in the Wagtail admin and in the portal.

Roles are plain Django groups so that clinic administrators can see and adjust them in
Wagtail's Groups screen. ``ensure_role_groups()`` (re)creates the baseline; it only ever
*adds* permissions, so anything an administrator granted by hand survives a deploy.

It runs after every ``migrate`` (``post_migrate``, see ``signals.py``) rather than in a data
migration because Django and Wagtail create their permission rows in ``post_migrate`` too:
a data migration on a fresh database would find them missing. The demo seed may call it too.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, connections, transaction

EDITORS = "Editors"
RECEPTIONISTS = "Receptionists"
CLINIC_ADMINISTRATORS = "Clinic administrators"
PROFESSIONALS = "Professionals"
PATIENTS = "Patients"
COMPANY_OWNERS = "Company owners"

ADMIN_GROUPS = (EDITORS, RECEPTIONISTS, CLINIC_ADMINISTRATORS)
PORTAL_GROUPS = (PROFESSIONALS, PATIENTS, COMPANY_OWNERS)

# Role names returned by ``user_roles()``: stable identifiers for templates and code.
ROLE_PATIENT = "patient"
ROLE_PROFESSIONAL = "professional"
ROLE_STAFF = "staff"
ROLE_EDITOR = "editor"
ROLE_RECEPTIONIST = "receptionist"
ROLE_CLINIC_ADMINISTRATOR = "clinic_administrator"
ROLE_COMPANY_OWNER = "company_owner"

_ROLE_BY_GROUP = {
    EDITORS: ROLE_EDITOR,
    RECEPTIONISTS: ROLE_RECEPTIONIST,
    CLINIC_ADMINISTRATORS: ROLE_CLINIC_ADMINISTRATOR,
    PROFESSIONALS: ROLE_PROFESSIONAL,
    PATIENTS: ROLE_PATIENT,
    COMPANY_OWNERS: ROLE_COMPANY_OWNER,
}

RECEPTION_MODELS = (
    "service",
    "location",
    "room",
    "professional",
    "appointment",
    "timeoff",
    "weeklyavailability",
    "dateoverride",
)
RECEPTION_ACTIONS = ("view", "add", "change")
# Reception takes payments at the desk, voids and notes tax folios (``change_invoice``) and sees the codes;
# refunds and editing discount codes are the clinic administrators'.
RECEPTION_BILLING_PERMISSIONS = (
    "view_invoice",
    "add_invoice",
    "change_invoice",
    "view_payment",
    "add_payment",
    "view_refund",
    "view_coupon",
)
# Reception sees the packs and what each patient has left; editing packs and adjusting credits are the clinic
# administrators'.
RECEPTION_PACK_PERMISSIONS = ("view_package", "view_packagepurchase", "view_packcreditentry")
# Reception sees every email the clinic sent and sends one again ("resend" is ``change_notification``); editors
# write the rules by session number; the clinic administrators have every notifications permission.
RECEPTION_NOTIFICATION_PERMISSIONS = ("view_notification", "change_notification", "view_sessionnumberrule")
EDITOR_NOTIFICATION_PERMISSIONS = tuple(
    f"{action}_sessionnumberrule" for action in ("view", "add", "change", "delete")
)
EDITOR_NEWS_PERMISSIONS = tuple(f"{action}_professionalnews" for action in ("view", "add", "change", "delete"))
EDITOR_PAGE_PERMISSIONS = ("add_page", "change_page", "publish_page", "lock_page", "unlock_page")
EDITOR_MEDIA_ACTIONS = ("add", "change", "choose", "delete")

# Tables that must exist before the groups can be built (a partial ``migrate`` may lack them).
_REQUIRED_TABLES = {"auth_group", "auth_permission", "wagtailcore_page", "wagtailcore_collection"}
_APPS_WITH_PERMISSIONS = (
    "wagtailadmin",
    "wagtailcore",
    "wagtailimages",
    "wagtaildocs",
    "accounts",
    "scheduling",
    "billing",
    "packs",
    "notifications",
    "records",
)


def _permissions(app_label: str, codenames) -> list[Permission]:
    return list(Permission.objects.filter(content_type__app_label=app_label, codename__in=list(codenames)))


def _create_missing_permissions(using: str) -> None:
    """Make sure the permission rows exist even when called before their apps' ``post_migrate``."""
    for label in _APPS_WITH_PERMISSIONS:
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using)


def database_is_ready(using: str = DEFAULT_DB_ALIAS) -> bool:
    return set(connections[using].introspection.table_names()) >= _REQUIRED_TABLES


def ensure_role_groups(using: str = DEFAULT_DB_ALIAS) -> dict[str, Group]:
    """Create the role groups with their baseline permissions. Safe to run any number of times."""
    from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission, Page

    _create_missing_permissions(using)
    with transaction.atomic(using=using):
        groups = {
            name: Group.objects.using(using).get_or_create(name=name)[0] for name in ADMIN_GROUPS + PORTAL_GROUPS
        }
        admin_access = _permissions("wagtailadmin", ["access_admin"])
        for name in ADMIN_GROUPS:
            groups[name].permissions.add(*admin_access)

        editors = groups[EDITORS]
        root_page = Page.get_first_root_node()
        if root_page is not None:
            for permission in _permissions("wagtailcore", EDITOR_PAGE_PERMISSIONS):
                GroupPagePermission.objects.get_or_create(group=editors, page=root_page, permission=permission)
        root_collection = Collection.get_first_root_node()
        if root_collection is not None:
            media_permissions = _permissions(
                "wagtailimages", [f"{action}_image" for action in EDITOR_MEDIA_ACTIONS]
            ) + _permissions("wagtaildocs", [f"{action}_document" for action in EDITOR_MEDIA_ACTIONS])
            for permission in media_permissions:
                GroupCollectionPermission.objects.get_or_create(
                    group=editors, collection=root_collection, permission=permission
                )

        groups[RECEPTIONISTS].permissions.add(
            *_permissions(
                "scheduling",
                [f"{action}_{model}" for model in RECEPTION_MODELS for action in RECEPTION_ACTIONS],
            )
        )

        # Receptionists also remove a date's special hours when a professional's plans change.
        groups[RECEPTIONISTS].permissions.add(*_permissions("scheduling", ["delete_dateoverride"]))
        groups[RECEPTIONISTS].permissions.add(*_permissions("billing", RECEPTION_BILLING_PERMISSIONS))
        groups[RECEPTIONISTS].permissions.add(*_permissions("packs", RECEPTION_PACK_PERMISSIONS))
        groups[RECEPTIONISTS].permissions.add(*_permissions("notifications", RECEPTION_NOTIFICATION_PERMISSIONS))
        # the front desk sees who was discharged or referred (never the clinical texts): it books them for the patient
        groups[RECEPTIONISTS].permissions.add(*_permissions("records", ["view_discharge", "view_referral"]))
        editors.permissions.add(*_permissions("notifications", EDITOR_NOTIFICATION_PERMISSIONS))
        editors.permissions.add(*_permissions("website", EDITOR_NEWS_PERMISSIONS))

        administrators = groups[CLINIC_ADMINISTRATORS]
        administrators.permissions.add(*Permission.objects.filter(content_type__app_label="scheduling"))
        administrators.permissions.add(*Permission.objects.filter(content_type__app_label="billing"))
        administrators.permissions.add(*Permission.objects.filter(content_type__app_label="packs"))
        administrators.permissions.add(*Permission.objects.filter(content_type__app_label="notifications"))
        # Documents shared with patients: the clinic administrators only (clinical content; professionals will share
        # from their own portal).
        administrators.permissions.add(*Permission.objects.filter(content_type__app_label="records"))
        administrators.permissions.add(*_permissions("accounts", ["view_user"]))
    return groups


def is_professional(user) -> bool:
    """True when a ``scheduling.Professional`` is linked to the user (OneToOne ``user.professional``)."""
    if not getattr(user, "is_authenticated", False):
        return False
    try:
        return user.professional is not None
    except AttributeError:  # RelatedObjectDoesNotExist is an AttributeError too
        return False


def user_roles(user) -> set[str]:
    """The roles a user holds, from their profiles, staff flag and groups (one query for the groups)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    roles = {_ROLE_BY_GROUP[name] for name in user.groups.values_list("name", flat=True) if name in _ROLE_BY_GROUP}
    if user.is_staff:
        roles.add(ROLE_STAFF)
    if is_professional(user):
        roles.add(ROLE_PROFESSIONAL)
    if hasattr(user, "patient"):
        roles.add(ROLE_PATIENT)
    return roles
