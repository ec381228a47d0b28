import time

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth import get_user_model

from portal.accounts.models import Patient

DEFAULT_PASSWORD = "correct-horse-battery-staple"
TOTP_PERIOD_SECONDS = 30


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class VerifiedUserFactory(UserFactory):
    """A user whose email allauth considers verified, so they can log in and use the portal."""

    @factory.post_generation
    def verified_email(obj, create, extracted, **kwargs):
        if create:
            verify_email(obj)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient
        django_get_or_create = ("user",)

    user = factory.SubFactory(VerifiedUserFactory)


def verify_email(user) -> EmailAddress:
    """Record the user's email as verified and primary (what allauth's confirmation would do)."""
    address, _created = EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return address


def activate_totp(user) -> str:
    """Give ``user`` an activated authenticator app; returns the secret to compute codes with ``totp_code``."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator app would show now (or at the Unix time ``at``)."""
    counter = int(time.time() if at is None else at) // TOTP_PERIOD_SECONDS
    return format_hotp_value(hotp_value(secret, counter))
