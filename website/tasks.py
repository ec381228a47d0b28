"""Site-wide periodic tasks run by huey (found by djhuey's autodiscovery of ``tasks`` modules)."""

from huey import crontab
from huey.contrib.djhuey import periodic_task

from .heartbeat import beat


@periodic_task(crontab(minute="*"))
def heartbeat_task() -> None:
    """Every minute: tell /healthz that the consumer runs its periodic tasks (website/heartbeat.py)."""
    beat()
