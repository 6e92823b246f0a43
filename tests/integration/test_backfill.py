"""Events stored before ``ip_key`` and ``search_text`` existed get them from the backfill:
through ``vigil db backfill`` with its progress, in the background of a starting server, and
again after an interruption, never writing a row twice."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, literal_column, select, text

from tests.conftest import Stack, make_database_url
from tests.helpers import eventually, list_all, make_event
from tests.nodes import VIGIL
from vigil.accounts import service as accounts
from vigil.app import create_app
from vigil.core.clock import new_id, utcnow
from vigil.core.permissions import Permission
from vigil.db.backfill import BACKFILL_LOCK_KEY, BACKFILLS, BackfillProgress, run_backfills
from vigil.db.engine import build_engine, write_transaction
from vigil.db.migrate import upgrade_to, upgrade_to_head
from vigil.events import service
from vigil.events.filters import parse_filters
from vigil.events.ip_ranges import ip_key_of
from vigil.events.tables import event_sequences, events
from vigil.search.consumer import SearchIndexConsumer
from vigil.spine.runner import ConsumerRunner
from vigil.tenants import service as tenants
from vigil.testing.server import live_server

# What each old event came from, in turn; None: a system action, which has no address.
SOURCES = ["10.1.2.0", "10.1.2.255", "10.1.1.255", "10.1.3.0", "2001:db8::7", None]
IN_10_1_2_0_24 = {"10.1.2.0", "10.1.2.255"}
IP_KEY_ONLY = tuple(backfill for backfill in BACKFILLS if backfill.column == "ip_key")
# Two tenants, so the walk goes from one to the next.
EVENTS_PER_TENANT = (600, 60)


@dataclass
class OldDatabase:
    """A database migrated to head holding events stored when the schema was at 0009."""

    url: str
    engine: Engine
    tenant_ids: list[uuid.UUID]
    workdir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``vigil ARGS`` on this database, as an operator would run it."""
        env = {**os.environ, "VIGIL_DATABASE_URL": self.url, "VIGIL_DATA_DIR": str(self.workdir)}
        return subprocess.run(
            [VIGIL, *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )


@pytest.fixture
def old_database(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path, tmp_path: Path
) -> Iterator[OldDatabase]:
    url = make_database_url(stack.backend, request, tmp_root)
    engine = build_engine(url)
    upgrade_to(engine, "0009")
    now = utcnow()
    with write_transaction(engine) as conn:
        made = [
            tenants.create_tenant(conn, name=f"old-{n}", retention_days=0)["id"]
            for n in range(len(EVENTS_PER_TENANT))
        ]
        for tenant_id, count in zip(made, EVENTS_PER_TENANT, strict=True):
            conn.execute(
                events.insert(),
                [
                    {
                        "tenant_id": tenant_id,
                        "id": new_id(),
                        "timestamp": now - timedelta(minutes=count - n),
                        "action": "LOGIN",
                        "resource_type": "USER",
                        "ip_address": SOURCES[n % len(SOURCES)],
                        "user_email": f"old-{n}@example.com",
                        "details": '{"school":"\\u00c9cole n\\u00b0' + str(n) + '"}',
                        "status": "SUCCESS",
                        "received_at": now,
                        "seq": n + 1,
                    }
                    for n in range(count)
                ],
            )
            conn.execute(event_sequences.insert().values(tenant_id=tenant_id, last_seq=count))
    upgrade_to_head(engine)
    try:
        yield OldDatabase(url=url, engine=engine, tenant_ids=made, workdir=tmp_path)
    finally:
        engine.dispose()


def found_in_network(engine: Engine, tenant_id: uuid.UUID, network: str) -> int:
    """How many of the tenant's events an ``ip_address`` filter of ``network`` selects."""
    filters = parse_filters(ip_address=network)
    with engine.connect() as conn:
        return service.count_events(conn, tenant_id=tenant_id, filters=filters)


def keys(engine: Engine) -> dict[str | None, set[bytes | None]]:
    """The keys stored for each address."""
    stored: dict[str | None, set[bytes | None]] = {}
    with engine.connect() as conn:
        for address, key in conn.execute(select(events.c.ip_address, events.c.ip_key)):
            stored.setdefault(address, set()).add(None if key is None else bytes(key))
    return stored


def unfilled(engine: Engine) -> int:
    query = select(func.count()).where(events.c.ip_key.is_(None), events.c.ip_address.is_not(None))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def assert_newest_filled_first(engine: Engine) -> None:
    """In each tenant, every event with a key was committed after every one still without."""
    query = select(events.c.tenant_id, events.c.seq, events.c.ip_key.is_not(None)).where(
        events.c.ip_address.is_not(None)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    for tenant_id in {tenant for tenant, _seq, _keyed in rows}:
        keyed = [seq for tenant, seq, has_key in rows if tenant == tenant_id and has_key]
        waiting = [seq for tenant, seq, has_key in rows if tenant == tenant_id and not has_key]
        if keyed and waiting:
            assert min(keyed) > max(waiting)


def row_versions(engine: Engine, *, keyed_only: bool = False) -> dict[Any, Any]:
    """Each event's row version (PostgreSQL's ``xmin``, new for every write of the row),
    or only those of the events with a key."""
    query = select(events.c.id, literal_column("xmin::text"))
    if keyed_only:
        query = query.where(events.c.ip_key.is_not(None))
    with engine.connect() as conn:
        return dict(conn.execute(query).all())


def test_the_cli_fills_old_events_with_progress_and_goes_on_after_a_limit(
    old_database: OldDatabase, stack: Stack
) -> None:
    db = old_database
    with_address = sum(
        sum(1 for n in range(count) if SOURCES[n % len(SOURCES)]) for count in EVENTS_PER_TENANT
    )
    first_tenant = db.tenant_ids[0]
    assert found_in_network(db.engine, first_tenant, "10.1.2.0/24") == 0  # not filled yet

    limited = db.run("db", "backfill", "--max-rows", "150")
    assert limited.returncode == 0, limited.stderr
    assert "ip_key: 150 events filled" in limited.stderr
    assert f"ip_key: {with_address - 150:,} events left" in limited.stderr
    assert "vigil db backfill again" in limited.stderr
    assert unfilled(db.engine) == with_address - 150
    assert_newest_filled_first(db.engine)

    rest = db.run("db", "backfill")
    assert rest.returncode == 0, rest.stderr
    assert "Filling ip_key" in rest.stderr  # the progress bar, at its end
    assert f"{with_address - 150}/{with_address - 150}" in rest.stderr
    assert f"ip_key: {with_address - 150:,} events filled" in rest.stderr
    assert "left" not in rest.stderr.split("events filled")[-1]
    assert keys(db.engine) == {
        None: {None},
        **{address: {ip_key_of(address)} for address in SOURCES if address},
    }

    before = row_versions(db.engine) if stack.backend == "postgresql" else None
    again = db.run("migrate")
    assert again.returncode == 0, again.stderr
    assert "ip_key: nothing to fill" in again.stderr
    if before is not None:
        assert row_versions(db.engine) == before  # no row written again

    # What a person sees: the old events, through the API, by network.
    settings = stack.settings.model_copy(update={"database_url": db.url})
    with write_transaction(db.engine) as conn:
        key = accounts.create_api_key(
            conn, tenant_id=first_tenant, name="reader", scopes=frozenset({Permission.USER_VIEW})
        )[0]
    with (
        live_server(create_app(settings, engine=db.engine)) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as reader,
    ):
        listed = list_all(reader, ip_address="10.1.2.0/24")
        assert {event["ip_address"] for event in listed} == IN_10_1_2_0_24
        assert len(listed) == 200  # two addresses of every six, of 600 events
        assert len(list_all(reader, ip_address="2001:db8::/32")) == 100


def test_an_interrupted_backfill_goes_on_where_it_stopped(
    old_database: OldDatabase, stack: Stack
) -> None:
    db = old_database
    heard: list[BackfillProgress] = []
    (first,) = run_backfills(
        db.engine, backfills=IP_KEY_ONLY, on_progress=heard.append, should_stop=lambda: True
    )
    assert heard[0].done == 0
    assert heard[0].total == first.filled + first.left
    assert 0 < first.filled < heard[0].total  # one batch, then it stopped
    assert heard[-1].filled == first.filled
    assert unfilled(db.engine) == first.left
    assert_newest_filled_first(db.engine)
    on_pg = stack.backend == "postgresql"
    filled_first = row_versions(db.engine, keyed_only=True) if on_pg else {}

    resumed: list[BackfillProgress] = []
    (second,) = run_backfills(db.engine, backfills=IP_KEY_ONLY, on_progress=resumed.append)
    assert resumed[0].total == first.left
    assert [step.done for step in resumed] == sorted(step.done for step in resumed)
    assert (resumed[-1].done, second.filled, second.left) == (first.left, first.left, 0)
    assert unfilled(db.engine) == 0
    if on_pg:  # the rows the first run filled were not written again
        assert len(filled_first) == first.filled
        after = row_versions(db.engine, keyed_only=True)
        assert {row_id: after[row_id] for row_id in filled_first} == filled_first
    assert found_in_network(db.engine, db.tenant_ids[1], "10.1.2.0/24") == 20


def test_a_starting_server_fills_old_events_while_it_serves(
    old_database: OldDatabase, stack: Stack
) -> None:
    db = old_database
    tenant_id = db.tenant_ids[0]
    with write_transaction(db.engine) as conn:
        key = accounts.create_api_key(
            conn, tenant_id=tenant_id, name="both", scopes=frozenset(Permission)
        )[0]
    settings = stack.settings.model_copy(update={"database_url": db.url})
    with (
        live_server(create_app(settings, engine=db.engine)) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client,
    ):
        new = client.post("/audit-logs/", json=make_event(ip_address="10.1.2.9"))
        assert new.status_code == 201, new.text
        eventually(
            lambda: client.get("/audit-logs/", params={"ip_address": "10.1.2.0/24"}).json(),
            lambda page: page["total"] == 201,
            what="the old events in 10.1.2.0/24, and the new one",
        )
        # The other tenant's turn comes after this one's: the server goes on to it.
        eventually(lambda: unfilled(db.engine), lambda n: n == 0, what="every old event filled")


# SQLite has no advisory locks; a second run there only repeats the reads.
@pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
def test_one_process_at_a_time_fills_a_postgresql_database(old_database: OldDatabase) -> None:
    db = old_database
    with db.engine.connect() as other_process:
        other_process.execute(text("SELECT pg_advisory_lock(:k)"), {"k": BACKFILL_LOCK_KEY})
        busy = db.run("db", "backfill")
        assert busy.returncode == 0, busy.stderr
        assert "Another Vigil process is filling these columns now" in busy.stderr
        assert unfilled(db.engine) > 0
        other_process.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": BACKFILL_LOCK_KEY})
        other_process.commit()
    done = db.run("db", "backfill")
    assert done.returncode == 0, done.stderr
    assert unfilled(db.engine) == 0


def test_old_events_become_searchable_once_filled(old_database: OldDatabase) -> None:
    db = old_database
    tenant_id = db.tenant_ids[1]

    def searched(q: str) -> int:
        with db.engine.connect() as conn:
            return service.count_events(conn, tenant_id=tenant_id, filters=parse_filters(q=q))

    assert searched("école") == 0  # stored before search existed: not yet
    done = db.run("migrate")
    assert done.returncode == 0, done.stderr
    assert f"search_text: {sum(EVENTS_PER_TENANT)} events filled" in done.stderr
    assert "Indexing for search" in done.stderr  # the progress bar, at its end
    assert f"search index: {sum(EVENTS_PER_TENANT)} events indexed" in done.stderr
    assert searched("école") == EVENTS_PER_TENANT[1]
    assert searched('details.school:"ÉCOLE N°7"') == 1
    assert searched("old-7@") == 1


def test_the_index_fills_the_search_text_of_old_events_it_reaches(
    old_database: OldDatabase,
) -> None:
    db = old_database
    tenant_id = db.tenant_ids[1]
    ConsumerRunner(db.engine, SearchIndexConsumer()).catch_up()  # before any backfill

    def searched(q: str) -> int:
        with db.engine.connect() as conn:
            return service.count_events(conn, tenant_id=tenant_id, filters=parse_filters(q=q))

    assert searched("ÉCOLE") == EVENTS_PER_TENANT[1]  # found by the index
    assert searched("cole n") == EVENTS_PER_TENANT[1]  # and by reading the filled text
    assert searched("-école") == 0  # an exclusion agrees
    with db.engine.connect() as conn:
        empty = conn.execute(select(func.count()).where(events.c.search_text.is_(None)))
        assert empty.scalar_one() == 0
