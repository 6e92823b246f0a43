"""The check that closes every run: no secret a test used is in a stored event or in the log.

``tests/conftest.py`` drives it from finalisers, so it cannot run early whatever order the
tests run in: each backend's events are read when that backend's server has stopped (after
every test that used it, while its database still exists), and the verdict, with the log, is
given when the session's last server has stopped. A finding fails the run, naming the backend
and the offending text.

So that the scan can never pass by reading nothing, each database gets a canary: an event
holding a made-up credential, which the scan must find (and alone forgives); and each server
is made to log a line, which the log scan must see.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import Engine, func, select

from vigil.events.tables import events
from vigil.spine.tables import consumer_cursors

# Whole credentials: a key, session or reset token is its prefix and 43 random characters.
CREDENTIAL = re.compile(r"\b(?:vk|vs|vr)_[A-Za-z0-9_-]{30,}")
CANARY_MAILBOX = "secret-scan@vigil.test"
SHOWN = 500  # characters of an offending event or line shown in the failure


def secrets_used() -> tuple[str, ...]:
    """The passwords and webhook secret the tests use (keys and tokens match ``CREDENTIAL``)."""
    # Imported here, not at the top: these modules import tests.conftest, which imports this.
    from tests.browser import conftest as browser_tests
    from tests.integration import (
        test_notifications,
        test_password_reset,
        test_sign_in,
        test_users,
    )

    return (
        test_sign_in.PASSWORD,
        test_sign_in.NEW_PASSWORD,
        test_users.PASSWORD,
        test_password_reset.OLD,
        test_password_reset.NEW,
        "correct horse battery",
        "hunter2hunter2",
        browser_tests.PASSWORD,
        test_notifications.WEBHOOK_SECRET,  # a Slack webhook's URL is a credential too
    )


def secrets_in(text: str, known: Iterable[str]) -> list[str]:
    """Every credential and known secret that ``text`` holds."""
    return [m.group(0) for m in CREDENTIAL.finditer(text)] + [s for s in known if s in text]


class LogRecorder(logging.Handler):
    """Everything the servers under test log, tracebacks included."""

    # The tests' own HTTP client logs what it sends and receives; that is not the server's.
    CLIENT_LOGGERS = ("httpx", "httpcore")

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(self.CLIENT_LOGGERS):
            self.lines.append(self.format(record))


@dataclass(frozen=True)
class Canary:
    """The planted event: its id and the made-up credential it holds."""

    event_id: str
    credential: str


@dataclass
class SecretScan:
    """The run's log, and what the scans found: problems fail the run, the summary is shown."""

    log: LogRecorder = field(default_factory=LogRecorder)
    canaries: int = 0
    problems: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    def plant_canary(self, admin: httpx.Client) -> Canary:
        """Through a running server: store an event holding a made-up secret (a passphrase,
        under a key redaction leaves alone: Vigil redacts a key's form, ``vk_…``, even in
        values), and have the server log a line (it logs each email it sends).
        """
        credential = "canary passphrase " + secrets.token_urlsafe(16)
        event = {
            "action": "CREATE",
            "resource_type": "PROJECT",
            "resource_id": "secret-scan-canary",
            "details": {"note": credential},
        }
        stored = admin.post("/audit-logs/", json=event)
        assert stored.status_code == 201, stored.text
        channels = {
            "email": {"enabled": True, "recipients": [CANARY_MAILBOX]},
            "slack": {"enabled": False},
            "in_app": {"enabled": False},
        }
        assert admin.put("/settings/notifications", json=channels).status_code == 200
        sent = admin.post("/settings/notifications/test").json()
        assert sent["results"]["email"] == "sent", sent
        self.canaries += 1
        return Canary(event_id=str(stored.json()["id"]), credential=credential)

    def scan_events(self, engine: Engine, *, backend: str, canary: Canary) -> None:
        """Every stored event: none but the canary may hold a secret, and the canary must be
        caught, and every event read."""
        known = secrets_used()
        found: list[str] = []
        scanned = 0
        caught = False
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(events)).scalar_one()
            for row in conn.execute(select(events).execution_options(yield_per=5000)):
                scanned += 1
                text = " ".join(str(value) for value in row)
                leaked = secrets_in(text, (*known, canary.credential))
                if str(row.id) == canary.event_id:
                    caught = leaked == [canary.credential]
                elif leaked:
                    found.append(f"  event {row.id} holds {', '.join(leaked)}: {text[:SHOWN]}")
            # A consumer's last error is kept beside its cursor: no secret may reach it either.
            for cursor in conn.execute(select(consumer_cursors)):
                leaked = secrets_in(str(cursor.last_error), known)
                if leaked:
                    found.append(f"  {cursor.consumer}'s last error holds {', '.join(leaked)}")
        self.summary.append(
            f"secret scan: {scanned} {backend} events read, canary "
            f"{'caught' if caught else 'MISSED'}, {len(found)} holding a secret"
        )
        if scanned != total or not caught:
            self.problems.append(
                f"the {backend} scan is blind: it read {scanned} of {total} events and "
                f"{'caught' if caught else 'missed'} the canary {canary.credential}"
            )
        if found:
            self.problems.append(
                f"{len(found)} stored {backend} event(s) hold a secret:\n" + "\n".join(found)
            )

    def scan_log(self) -> None:
        """Every captured line: none may hold a secret, and the line each server was made to
        log must be there."""
        lines = self.log.lines
        known = secrets_used()
        found = [
            f"  {', '.join(leaked)}: {line[:SHOWN]}"
            for line in lines
            if (leaked := secrets_in(line, known))
        ]
        seen = sum(" vigil." in line and CANARY_MAILBOX in line for line in lines)
        self.summary.append(
            f"secret scan: {len(lines)} log lines read, {seen} of {self.canaries} planted "
            f"lines seen, {len(found)} holding a secret"
        )
        if seen < self.canaries:
            self.problems.append(
                f"the log scan is blind: {seen} of the {self.canaries} lines the servers logged "
                f"for their email to {CANARY_MAILBOX} were captured"
            )
        if found:
            self.problems.append(f"{len(found)} log line(s) hold a secret:\n" + "\n".join(found))

    def verdict(self) -> None:
        """Fail the run if any scan found a secret or could not have found one."""
        if self.problems:
            pytest.fail("secret scan failed:\n" + "\n".join(self.problems), pytrace=False)
