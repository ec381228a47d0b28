"""Wagtail permission policies of scheduling models whose admin screens follow another model's permissions.

Date overrides ("special hours") are part of a professional's schedule, like the weekly hours. Whoever may manage
the weekly hours may manage the special hours too, so the receptionists who keep the schedules find the screen
without a separate grant; ``scheduling.*_dateoverride`` permissions given by hand work as well.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from wagtail.permission_policies import ModelPermissionPolicy

from .models import DateOverride, WeeklyAvailability

# Removing one date's special hours is an edit of the schedule, as removing a weekly row is on the professional's
# form (which needs only "change"): so "delete" falls back to changing the weekly hours.
WEEKLY_HOURS_ACTION = {"view": "view", "add": "add", "change": "change", "delete": "change"}


class DateOverridePermissionPolicy(ModelPermissionPolicy):
    """A DateOverride permission, or the matching WeeklyAvailability one (see ``WEEKLY_HOURS_ACTION``)."""

    def __init__(self):
        super().__init__(DateOverride)

    @staticmethod
    def _weekly_hours_permission(action) -> str | None:
        weekly_action = WEEKLY_HOURS_ACTION.get(action)
        return f"scheduling.{weekly_action}_weeklyavailability" if weekly_action else None

    def user_has_permission(self, user, action):
        if super().user_has_permission(user, action):
            return True
        fallback = self._weekly_hours_permission(action)
        return bool(fallback and user.has_perm(fallback))

    def users_with_any_permission(self, actions):
        weekly_codenames = {
            f"{WEEKLY_HOURS_ACTION[action]}_weeklyavailability" for action in actions if action in WEEKLY_HOURS_ACTION
        }
        permissions = Permission.objects.filter(
            Q(content_type=self._content_type, codename__in=self._get_permission_codenames(actions))
            | Q(content_type=ContentType.objects.get_for_model(WeeklyAvailability), codename__in=weekly_codenames)
        )
        holders = Q(is_superuser=True) | Q(user_permissions__in=permissions) | Q(groups__permissions__in=permissions)
        return get_user_model().objects.filter(holders & Q(is_active=True)).distinct()
