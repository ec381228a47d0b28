"""Rewrite every clinical note under the newest key of RECORDS_ENCRYPTION_KEYS (then the old key may go)."""

from django.core.management.base import BaseCommand

from portal.records.notes import reencrypt_all


class Command(BaseCommand):
    help = "Re-encrypt every session note and amendment with the first (newest) key of RECORDS_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        count = reencrypt_all()
        self.stdout.write(f"Re-encrypted {count} notes and amendments under the newest key.")
