"""Signal receivers of the accounts app, connected in ``AccountsConfig.ready()``."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS

from .roles import database_is_ready, ensure_role_groups


def create_role_groups(sender, using=DEFAULT_DB_ALIAS, **kwargs):
    """After ``migrate``: (re)create the role groups once the permission rows exist (see roles.py)."""
    if database_is_ready(using):
        ensure_role_groups(using=using)
