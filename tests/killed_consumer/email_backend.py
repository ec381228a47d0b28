"""An email backend that takes its time, so a test can kill the consumer while an email is being sent.

It drops a ``sending-<pid>`` marker, sleeps ``SLOW_EMAIL_SECONDS``, then writes each message to its own ``.eml``
file in ``SLOW_EMAIL_DIR`` (written under a temporary name and renamed: a file there is a whole message).
"""

import os
import time
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class SlowFileBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        directory = Path(os.environ["SLOW_EMAIL_DIR"])
        for message in email_messages:
            (directory / f"sending-{os.getpid()}").touch()
            time.sleep(float(os.environ.get("SLOW_EMAIL_SECONDS", "0")))
            name = uuid.uuid4().hex
            (directory / f"{name}.tmp").write_bytes(message.message().as_bytes())
            (directory / f"{name}.tmp").rename(directory / f"{name}.eml")
        return len(email_messages)
