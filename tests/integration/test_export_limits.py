"""Exports under pressure, with real slow HTTP clients: the export limit, and readers that stall.

Every answer is either a whole export or a 429 with ``Retry-After``, never a 200 that breaks;
a client that stops reading is cut off and its export recorded as interrupted.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import Stack, Tenant
from tests.helpers import eventually, ingest, make_event
from vigil.app import create_app
from vigil.events.export import MAX_CONCURRENT_EXPORTS
from vigil.testing.server import live_server

CLIENTS = 8
STALL_SECONDS = 1.0
# Some 13 MB: more than the sockets on both ends can buffer (a few MB), so an export cannot
# finish while its client waits.
ROWS = 10_000


def client_for(base_url: str, api_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
    )


def seed(tenant: Tenant) -> None:
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124"
    # Recent, so that no server's retention purge takes them away in the middle of a test.
    start = datetime.now(UTC) - timedelta(hours=1)
    events = [
        make_event(
            timestamp=(start + timedelta(milliseconds=n)).isoformat(),
            user_agent=agent,
            details={"n": n, "note": "x" * 1000},
        )
        for n in range(ROWS)
    ]
    ingest(tenant.writer, events)


def api_key_of(client: httpx.Client) -> str:
    return client.headers["Authorization"].removeprefix("Bearer ")


def export_records(tenant: Tenant) -> list[dict[str, object]]:
    answer = tenant.reader.get("/audit-logs/", params={"action": "EXPORT", "limit": 100})
    items: list[dict[str, object]] = answer.json()["items"]
    return items


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes


def test_concurrent_slow_exports_are_whole_or_refused(tenant: Tenant) -> None:
    seed(tenant)
    all_answered = threading.Barrier(CLIENTS, timeout=60)
    answers: list[Answer | BaseException] = []
    lock = threading.Lock()

    def slow_export() -> None:
        client = client_for(tenant.stack.base_url, api_key_of(tenant.reader))
        try:
            params = {"format": "csv", "action": "CREATE"}
            with client.stream("GET", "/audit-logs/export", params=params) as answer:
                # Nobody reads a byte of the body until every client has its status.
                all_answered.wait()
                body = bytearray()
                for piece in answer.iter_raw(16384):
                    body += piece
                    time.sleep(0.002)
                result: Answer | BaseException = Answer(
                    answer.status_code, answer.headers, bytes(body)
                )
        except BaseException as error:  # collected, and failed on below
            result = error
        finally:
            client.close()
        with lock:
            answers.append(result)

    threads = [threading.Thread(target=slow_export) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [a for a in answers if isinstance(a, BaseException)], answers
    done = [a for a in answers if isinstance(a, Answer)]
    assert len(done) == CLIENTS

    whole = [a for a in done if a.status == 200]
    refused = [a for a in done if a.status == 429]
    assert len(whole) == MAX_CONCURRENT_EXPORTS
    assert len(refused) == CLIENTS - MAX_CONCURRENT_EXPORTS
    for answer in refused:
        assert int(answer.headers["retry-after"]) > 0
        assert f"try again in {answer.headers['retry-after']} seconds" in answer.body.decode()
    for answer in whole:
        assert answer.body.endswith(b"\r\n")
        rows = list(csv.reader(io.StringIO(answer.body.decode())))
        assert len(rows) == ROWS + 1

    records = export_records(tenant)
    assert len(records) == MAX_CONCURRENT_EXPORTS  # a refused export is no export
    assert {(r["status"], r["details"]["rows"]) for r in records} == {("SUCCESS", ROWS)}  # type: ignore[index]
    # Every slot came back: as many exports as the limit can run at once again.
    assert all(
        tenant.reader.get("/audit-logs/export", params={"action": "LOGOUT"}).status_code == 200
        for _ in range(MAX_CONCURRENT_EXPORTS + 1)
    )


@pytest.fixture
def quick_cut_server(stack: Stack) -> Iterator[str]:
    """A second Vigil server on the same database that cuts a stalled export after a second."""
    settings = stack.settings.model_copy(update={"export_stall_seconds": STALL_SECONDS})
    with live_server(create_app(settings, engine=stack.engine)) as base_url:
        yield base_url


def test_a_stalled_reader_is_cut_and_its_export_recorded_interrupted(
    tenant: Tenant, quick_cut_server: str
) -> None:
    seed(tenant)
    client = client_for(quick_cut_server, api_key_of(tenant.reader))
    try:
        with client.stream("GET", "/audit-logs/export", params={"format": "ndjson"}) as answer:
            assert answer.status_code == 200
            pieces = answer.iter_raw(4096)
            received = len(next(pieces))
            # The client stops reading; the server gives up on it.
            records = eventually(
                lambda: export_records(tenant),
                what="the stalled export's EXPORT event",
                timeout=30,
                interval=0.2,
            )
            record = records[0]
            assert record["status"] == "FAILED"
            details = record["details"]
            assert details["error"] == "export interrupted"  # type: ignore[index]
            assert details["reason"] == "the client stopped reading"  # type: ignore[index]
            assert details["rows"] < ROWS  # type: ignore[index,operator]
            # Reading again, the client gets what was already on its way, then the
            # connection ends before the export does.
            with pytest.raises(httpx.RemoteProtocolError):
                received += sum(len(piece) for piece in pieces)
    finally:
        client.close()
    assert received > 0
    # Its slot is free again: the next export runs whole.
    again = tenant.reader.get("/audit-logs/export", params={"format": "ndjson", "action": "CREATE"})
    assert again.status_code == 200
    assert len(again.content.splitlines()) == ROWS
