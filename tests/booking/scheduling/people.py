"""Users in the clinic's real role groups, for permission tests (the groups come from ``portal.accounts.roles``)."""

from portal.accounts.roles import RECEPTIONISTS, ensure_role_groups
from tests.factories.accounts import VerifiedUserFactory, activate_totp


def receptionist_user(email: str = "reception@clinic.example", **extra):
    """A member of the Receptionists group (view/add/change appointment), neither superuser nor staff flag.

    The permission comes from the group alone, as in production. The group may enter the admin, which demands an
    authenticator app, so the user has one. ``extra`` goes to the user factory.
    """
    groups = ensure_role_groups()
    user = VerifiedUserFactory(email=email, **extra)
    user.groups.add(groups[RECEPTIONISTS])
    activate_totp(user)
    return user
