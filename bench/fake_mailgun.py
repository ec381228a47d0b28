"""A fake Mailgun HTTP API on 127.0.0.1, for the reminders benchmark and the Mailgun tests.

It answers the two calls the platform makes:

- ``POST /v3/<domain>/messages`` (anymail's Mailgun backend): records the request's fields, files and recipients
  and answers ``{"id": "<the message's Message-ID>", "message": "Queued. Thank you."}`` as Mailgun does;
- ``GET /v3/<domain>/events?message-id=…&event=accepted`` (``booking.notifications.provider``): one "accepted"
  event when a message with that Message-ID was received, none otherwise.

Like Mailgun, it never refuses a second message with the same Message-ID: duplicates are the sender's to avoid.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlsplit


@dataclass
class Received:
    """One ``messages`` call: its path, form fields (in order) and attached files (name, content type, bytes)."""

    path: str
    fields: list[tuple[str, str]]
    files: list[tuple[str, str, bytes]] = field(default_factory=list)
    auth: str = ""

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]


class FakeMailgun(ThreadingHTTPServer):
    """Mailgun's sending and events endpoints on a free port of 127.0.0.1; use as a context manager."""

    daemon_threads = True

    def __init__(self, *, keep_requests: bool = False):
        super().__init__(("127.0.0.1", 0), _MailgunHandler)
        self.keep_requests = keep_requests
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.reset()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v3"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()

    def reset(self) -> None:
        with self.lock:
            self.recipients: list[str] = []
            self.message_ids: set[str] = set()
            self.requests_received: list[Received] = []
            self.event_queries = 0
            self.first_at: float | None = None
            self.last_at: float | None = None
            self.requests = 0

    def received(self) -> int:
        with self.lock:
            return len(self.recipients)

    def record(self, received: Received) -> str:
        recipients = [email.utils.parseaddr(value)[1].lower() for value in received.values("to")]
        given = received.values("h:Message-Id")  # anymail title-cases header names
        with self.lock:
            now = time.monotonic()
            self.first_at = self.first_at or now
            self.last_at = now
            self.requests += 1
            self.recipients.extend(recipients)
            message_id = given[0] if given else f"<{next(self.ids)}.{int(now * 1000)}@fake-mailgun.invalid>"
            self.message_ids.add(message_id.strip("<>"))
            if self.keep_requests:
                self.requests_received.append(received)
            return message_id

    def accepted(self, message_id: str) -> bool:
        with self.lock:
            self.event_queries += 1
            return message_id.strip("<>") in self.message_ids


def parse_form(content_type: str, body: bytes) -> tuple[list[tuple[str, str]], list[tuple[str, str, bytes]]]:
    """anymail's Mailgun request: urlencoded, or multipart with attachments. (fields, files)."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return parse_qsl(body.decode(), keep_blank_values=True), []
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    fields, files = [], []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename():
            files.append((part.get_filename(), part.get_content_type(), part.get_payload(decode=True)))
        elif name:
            fields.append((name, part.get_content()))
    return fields, files


class _MailgunHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fields, files = parse_form(self.headers.get("Content-Type", ""), body)
        received = Received(self.path, fields, files, self.headers.get("Authorization", ""))
        self._json({"id": self.server.record(received), "message": "Queued. Thank you."})

    def do_GET(self):
        url = urlsplit(self.path)
        if not url.path.endswith("/events"):
            self._json({"message": "not found"}, status=404)
            return
        query = parse_qs(url.query)
        message_id = (query.get("message-id") or [""])[0]
        items = [{"event": "accepted", "message": {"headers": {"message-id": message_id}}}]
        self._json({"items": items if message_id and self.server.accepted(message_id) else [], "paging": {}})

    def _json(self, payload: dict, *, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # one line per message would drown the figures
        pass
