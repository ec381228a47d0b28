"""The one job that sends every notification: every minute, whatever is due (see ``dispatch``).

Nothing is queued per message: the rows are the queue, so a worker killed mid-run loses nothing (its claimed
rows come back after the lease) and two workers never send one row twice.
"""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .dispatch import dispatch_due


@db_periodic_task(crontab(minute="*"))
def dispatch_due_notifications() -> dict[str, int]:
    return dispatch_due()
