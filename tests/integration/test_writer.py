"""The group-commit writer: a batch the database refuses fails alone."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import Tenant
from tests.helpers import ingest, make_event
from vigil.core.clock import utcnow
from vigil.core.errors import ServiceUnavailable
from vigil.db.engine import write_transaction
from vigil.events.geo import NO_GEOLOCATION
from vigil.events.prepare import prepare_event
from vigil.events.schemas import EventIn
from vigil.events.service import PendingBatch, store_batches
from vigil.events.writer import EventWriter


def test_a_refused_batch_does_not_sink_the_others_in_its_group(tenant: Tenant) -> None:
    (existing,) = ingest(tenant.writer, [make_event()])
    good = prepare_event(
        EventIn.model_validate(make_event(resource_id="good")), now=utcnow(), geo=NO_GEOLOCATION
    )
    clash = prepare_event(
        EventIn.model_validate(make_event(resource_id="clash")), now=utcnow(), geo=NO_GEOLOCATION
    )
    # A server-made id colliding with a stored event: the database itself refuses the row.
    clash.row["id"] = uuid.UUID(existing)

    async def submit_together() -> list[object]:
        writer = EventWriter(tenant.stack.engine)
        await writer.start()
        try:
            return await asyncio.gather(
                writer.submit(PendingBatch(tenant_id=tenant.id, events=[good])),
                writer.submit(PendingBatch(tenant_id=tenant.id, events=[clash])),
                return_exceptions=True,
            )
        finally:
            await writer.stop()

    good_outcome, clash_outcome = asyncio.run(submit_together())
    assert isinstance(clash_outcome, ServiceUnavailable)
    assert "retry later" in clash_outcome.message
    assert good_outcome.created == [True]  # type: ignore[attr-defined]
    stored = tenant.reader.get("/audit-logs/", params={"resource_id": "good"}).json()
    assert stored["total"] == 1
    assert tenant.reader.get(f"/audit-logs/{existing}").json()["resource_id"] != "clash"


@pytest.mark.parametrize("count", [1, 3])
def test_writer_answers_every_submission(tenant: Tenant, count: int) -> None:
    async def submit_many() -> list[object]:
        writer = EventWriter(tenant.stack.engine)
        await writer.start()
        try:
            batches = [
                PendingBatch(
                    tenant_id=tenant.id,
                    events=[
                        prepare_event(
                            EventIn.model_validate(make_event()), now=utcnow(), geo=NO_GEOLOCATION
                        )
                    ],
                )
                for _ in range(count)
            ]
            return await asyncio.gather(*(writer.submit(b) for b in batches))
        finally:
            await writer.stop()

    outcomes = asyncio.run(submit_many())
    assert len(outcomes) == count
    assert tenant.reader.get("/audit-logs/").json()["total"] == count


def test_a_group_larger_than_one_statement_is_stored_whole(tenant: Tenant) -> None:
    now = utcnow()
    events = [
        prepare_event(
            EventIn.model_validate(make_event(resource_id=f"r-{n}")), now=now, geo=NO_GEOLOCATION
        )
        for n in range(2500)
    ]
    with write_transaction(tenant.stack.engine) as conn:
        (outcome,) = store_batches(
            conn, batches=[PendingBatch(tenant_id=tenant.id, events=events)], received_at=now
        )
    assert sum(outcome.created) == 2500
    assert tenant.reader.get("/audit-logs/").json()["total"] == 2500
    last = tenant.reader.get("/audit-logs/", params={"resource_id": "r-2499"}).json()
    assert last["total"] == 1


def _one_event_batch(tenant: Tenant, resource_id: str) -> PendingBatch:
    event = EventIn.model_validate(make_event(resource_id=resource_id))
    return PendingBatch(
        tenant_id=tenant.id, events=[prepare_event(event, now=utcnow(), geo=NO_GEOLOCATION)]
    )


def test_submissions_from_threads_and_the_loop_at_once_are_each_stored_once(
    tenant: Tenant,
) -> None:
    """Requests queued while a transaction inserts may join it (SQLite): none is lost or
    stored twice, and each answer is its own."""

    async def submit_everywhere() -> tuple[list[object], list[object]]:
        writer = EventWriter(tenant.stack.engine)
        await writer.start()
        try:
            on_loop = [writer.submit(_one_event_batch(tenant, f"loop-{n}")) for n in range(40)]
            threads = [
                asyncio.to_thread(writer.submit_from_thread, _one_event_batch(tenant, f"th-{n}"))
                for n in range(40)
            ]
            loop_outcomes = await asyncio.gather(*on_loop)
            thread_outcomes = await asyncio.gather(*threads)
            return loop_outcomes, thread_outcomes
        finally:
            await writer.stop()

    loop_outcomes, thread_outcomes = asyncio.run(submit_everywhere())
    answered = [o.rows[0]["resource_id"] for o in loop_outcomes + thread_outcomes]  # type: ignore[attr-defined]
    assert answered == [f"loop-{n}" for n in range(40)] + [f"th-{n}" for n in range(40)]
    listed = tenant.reader.get("/audit-logs/", params={"limit": 200}).json()
    assert listed["total"] == 80
    assert sorted(e["resource_id"] for e in listed["items"]) == sorted(answered)


def test_a_stopped_writer_refuses_new_work(tenant: Tenant) -> None:
    async def submit_after_stop() -> None:
        writer = EventWriter(tenant.stack.engine)
        await writer.start()
        (outcome,) = await asyncio.gather(writer.submit(_one_event_batch(tenant, "before")))
        assert outcome.created == [True]
        await writer.stop()
        with pytest.raises(ServiceUnavailable, match="not running"):
            await writer.submit(_one_event_batch(tenant, "after"))
        with pytest.raises(ServiceUnavailable, match="not running"):
            writer.submit_from_thread(_one_event_batch(tenant, "after"))

    asyncio.run(submit_after_stop())
    assert tenant.reader.get("/audit-logs/").json()["total"] == 1
