"""Failure alerts to a local Slack-format HTTP receiver and a local SMTP server (aiosmtpd):
delivery, de-duplication with a digest, recorded errors, the test message."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import wait_until
from tests.dashboard import flows

pytestmark = pytest.mark.integration


class SlackReceiver:
    """Collects the JSON bodies POSTed to it, like a Slack incoming webhook."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T/B/X"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    receiver = SlackReceiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_storm_of_failures_sends_one_alert_and_one_digest_per_channel(
    hatchet: Any,
    start_worker: Callable[..., Any],
    slack: SlackReceiver,
    smtp: tuple[Mailbox, int],
) -> None:
    box, port = smtp
    hatchet.alerts.set_slack(slack.url)
    hatchet.alerts.set_email("127.0.0.1", "hatchnb@example.org", ["ops@example.org"], port=port)
    hatchet.alerts.configure(window_seconds=3)
    boom = flows.declare(hatchet)["boom"]
    start_worker(boom, slots=20)
    refs = boom.run_many_no_wait([boom.create_bulk_run_item({}) for _ in range(40)])
    wait_until(lambda: all(str(r.status()) == "FAILED" for r in refs), 30, "40 failures")

    wait_until(lambda: len(slack.messages) >= 2 and len(box.messages) >= 2, 20, "digest")
    texts = slack.texts()
    assert "a run of boom failed" in texts[0] and "ValueError: boom" in texts[0]
    # the first alert names one run; the others are counted in digests, none is lost
    digested = sum(int(t.split("*hatchnb: ")[1].split(" ")[0]) for t in texts[1:])
    assert 1 + digested == 40
    assert len(texts) <= 3  # one alert, then at most a digest per 3 s window
    subjects = [m["Subject"] for m in box.messages]
    assert subjects[0] == "hatchnb: a run of boom failed"
    assert all("more failure(s) of boom" in s for s in subjects[1:])
    # a receiver sees the message before the sender records it as sent
    wait_until(
        lambda: all(d.status == "SENT" for d in hatchet.alerts.deliveries()),
        10,
        "every delivery recorded as sent",
    )


def test_send_errors_are_recorded_and_visible(
    hatchet: Any, start_worker: Callable[..., Any]
) -> None:
    hatchet.alerts.set_slack(f"http://127.0.0.1:{_free_port()}/nobody-listens")
    results = hatchet.alerts.test()
    assert [(d.channel, d.status) for d in results] == [("slack", "ERROR")]
    assert "Connection refused" in (results[0].last_error or "")
    boom = flows.declare(hatchet)["boom"]
    start_worker(boom)
    ref = boom.run_no_wait({})
    wait_until(lambda: str(ref.status()) == "FAILED", 20, "failure")

    def failed_delivery() -> Any:
        found = [d for d in hatchet.alerts.deliveries() if d.kind == "failure"]
        return found and found[0].status == "ERROR" and found[0]

    delivery = wait_until(failed_delivery, 15, "recorded delivery error")
    assert delivery.run_id == str(ref) and delivery.attempts == 1
    assert "Connection refused" in delivery.last_error


def test_settings_round_trip_and_test_message(
    hatchet: Any, slack: SlackReceiver, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    assert hatchet.alerts.get() is None
    hatchet.alerts.set_slack(slack.url)
    settings = hatchet.alerts.set_email(
        "127.0.0.1", "a@example.org", ["b@example.org", "c@example.org"], port=port
    )
    assert settings.channels == ["slack", "email"]
    assert settings.email is not None and settings.email.recipients == (
        "b@example.org",
        "c@example.org",
    )
    results = hatchet.alerts.test()
    assert [(d.channel, d.status) for d in results] == [("slack", "SENT"), ("email", "SENT")]
    assert slack.texts() == ["*hatchnb: test alert*\nThis is a test message from hatchnb alerts."]
    assert box.messages[0]["To"] == "b@example.org, c@example.org"
    with pytest.raises(ValueError):
        hatchet.alerts.configure(window_seconds=0)
