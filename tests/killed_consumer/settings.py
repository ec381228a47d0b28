"""Settings of the huey consumer that tests/test_killed_consumer.py starts, kills and starts again.

The test suite's settings, except that huey really queues on Redis (the production consumer block), email goes
to files a slow backend writes, and the outbox lease comes from the environment so one test can shorten it.
"""

import os

from website.settings import base
from website.settings.test import *  # noqa: F403

HUEY = base.HUEY
EMAIL_BACKEND = "tests.killed_consumer.email_backend.SlowFileBackend"
OUTBOX_CLAIM_LEASE_SECONDS = int(os.environ["OUTBOX_CLAIM_LEASE_SECONDS"])
