"""Issue, rotate or revoke the API token of one user: ``manage.py api_token <email> [--rotate | --revoke]``.

A patient's program (or the clinic's own integration) calls the booking API with
``Authorization: Token <key>``. Staff run this command for them; the key is printed once and stored by Django REST
framework's ``authtoken`` app (one token per user, visible and deletable in the admin's "API tokens" screen).
The token acts exactly as the user would: the same permissions, and booking still needs a verified email.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print a user's API token, creating it if needed; --rotate replaces it, --revoke deletes it."

    def add_arguments(self, parser):
        parser.add_argument("email", help="the user's email address (case-insensitive)")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--revoke", action="store_true", help="delete the token: calls with it get 401")
        action.add_argument("--rotate", action="store_true", help="replace the token with a new key")

    def handle(self, *args, email, revoke, rotate, **options):
        user_model = get_user_model()
        try:
            user = user_model.objects.get(email__iexact=email.strip())
        except user_model.DoesNotExist:
            raise CommandError(f"No user with the email {email!r}.") from None
        except user_model.MultipleObjectsReturned:
            raise CommandError(f"Several users have the email {email!r}; fix the accounts first.") from None

        with transaction.atomic():
            if revoke:
                deleted, _ = Token.objects.filter(user=user).delete()
                self.stdout.write(f"Token of {user.email} revoked." if deleted else f"{user.email} had no token.")
                return
            if not user.is_active:
                raise CommandError(f"{user.email} is inactive: an API token would not work.")
            if rotate:
                Token.objects.filter(user=user).delete()
            token, created = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
        if created:
            self.stderr.write(f"New token for {user.email}; send it to them over a private channel.")
