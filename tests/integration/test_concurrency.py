"""Concurrent producers: every acknowledged event stored exactly once."""

from __future__ import annotations

import threading
import uuid

import httpx

from tests.conftest import Tenant
from tests.helpers import list_all, make_event

THREADS = 8
ROUNDS = 25


def test_eight_threads_ingesting_lose_and_double_nothing(tenant: Tenant) -> None:
    acknowledged: list[list[str]] = [[] for _ in range(THREADS)]
    errors: list[str] = []
    key = tenant.writer.headers["Authorization"]

    def produce(worker: int) -> None:
        with httpx.Client(
            base_url=tenant.stack.base_url, headers={"Authorization": key}, timeout=60
        ) as client:
            for round_no in range(ROUNDS):
                tag = f"w{worker}-r{round_no}"
                if round_no % 2:
                    answer = client.post("/audit-logs/", json=make_event(resource_id=tag))
                    if answer.status_code != 201:
                        errors.append(answer.text)
                        continue
                    acknowledged[worker].append(answer.json()["id"])
                else:
                    # Producer ids, some retried: retries must not double anything.
                    events = [
                        make_event(id=str(uuid.uuid4()), resource_id=f"{tag}-{n}")
                        for n in range(20)
                    ]
                    for _attempt in range(2):
                        answer = client.post("/audit-logs/batch", json={"events": events})
                        if answer.status_code != 201:
                            errors.append(answer.text)
                    acknowledged[worker].extend(e["id"] for e in events)

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = [event_id for ids in acknowledged for event_id in ids]
    stored = [e["id"] for e in list_all(tenant.reader)]
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert set(stored) == set(expected), "an acknowledged event is missing"
    assert len(expected) == THREADS * (12 + 13 * 20)
    assert tenant.reader.get("/audit-logs/").json()["total"] == len(expected)
