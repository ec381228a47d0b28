"""The dispatcher on huey: every minute, and right after a change planned a message due now.

Both run the same ``dispatch.dispatch_due``; the database (claims under ``select_for_update(skip_locked=True)``)
keeps two workers from sending a row twice, so the on-commit task and the periodic one may overlap freely. A task
lost with a killed worker loses nothing: the rows stay in the database and the next minute's run sends them (or
applies the crash rule to a row left in ``sending``, see ``dispatch``).
"""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .dispatch import dispatch_due


@db_task()
def dispatch_due_notifications_task() -> int:
    """Right after a commit that planned a message due now (no huey retries: the periodic run is the retry)."""
    return dispatch_due()


@db_periodic_task(crontab(minute="*"))
def dispatch_due_notifications_periodic() -> int:
    """Every minute: send what is due (reminders reach their time here)."""
    return dispatch_due()
