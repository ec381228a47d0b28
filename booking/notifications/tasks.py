"""The one job that sends every notification: every minute, whatever is due (see ``dispatch``).

Nothing is queued per message: the rows are the queue, so a worker killed mid-run loses nothing (its claimed
rows come back after the lease) and two workers never send one row twice.
"""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .dispatch import dispatch_due
from .services import plan_daily_agendas


@db_periodic_task(crontab(minute="*"))
def dispatch_due_notifications() -> dict[str, int]:
    return dispatch_due()


@db_task()
def dispatch_soon() -> dict[str, int]:
    """Right after a change planned messages due now (a confirmation): the patient need not wait for the minute.

    Only a shortcut: if it is lost (a killed consumer), the periodic run sends the same rows, and claiming keeps
    the two from sending one row twice."""
    return dispatch_due(budget_seconds=10)


@db_periodic_task(crontab(minute="0"))
def plan_professionals_daily_agendas() -> int:
    """Every hour: from 07:00 in the clinic's zone, today's agenda of the professionals who asked for it. Hourly,
    not once at 07:00, so an agenda missed while the system was down still goes out that morning."""
    return plan_daily_agendas()
