"""``vigil people check`` names what disagrees with the events, and ``vigil people
rebuild`` counts everyone again, with the same ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Stack
from tests.integration.test_cli import run_vigil
from tests.integration.test_rollup_counts import record, stack_with_tenant
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, EventIn, ResourceType
from vigil.people.tables import people


def test_check_names_a_wrong_person_and_rebuild_mends_it(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh, tenant_id = stack_with_tenant(stack, request, tmp_path)
    record(
        fresh,
        tenant_id,
        [
            EventIn(
                action=Action.UPDATE,
                resource_type=ResourceType.PROJECT,
                user_id=f"user-{n % 7}",
                user_email=f"person{n % 7}@example.com",
            )
            for n in range(700)
        ],
    )
    # No server runs here: the first rebuild counts everyone, with a progress bar.
    first = run_vigil(fresh, "people", "rebuild", "--tenant", "rollups")
    assert first.returncode == 0, first.stderr
    assert "Counting people" in first.stderr
    assert "people: 700 events counted" in first.stderr
    with fresh.engine.connect() as conn:
        before = dict(conn.execute(select(people.c.label, people.c.id)).all())
    assert sorted(before) == [f"user-{n}" for n in range(7)]

    with write_transaction(fresh.engine) as conn:  # damage a count, as a bad restore could
        conn.exec_driver_sql("UPDATE people SET events = events + 3 WHERE label = 'user-4'")
    check = run_vigil(fresh, "people", "check", "--tenant", "rollups")
    assert check.returncode == 1
    assert "rollups: 1 differences" in check.stderr
    assert f"person {before['user-4']}: stored 103 events" in check.stderr
    assert "events say 100 events" in check.stderr

    rebuilt = run_vigil(fresh, "people", "rebuild", "--tenant", "rollups")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "people: 700 events counted" in rebuilt.stderr
    again = run_vigil(fresh, "people", "check")
    assert again.returncode == 0, again.stderr
    assert "rollups: people agree with the events they have counted" in again.stderr
    with fresh.engine.connect() as conn:
        assert dict(conn.execute(select(people.c.label, people.c.id)).all()) == before
    record(fresh, tenant_id, [EventIn(action=Action.LOGIN, resource_type=ResourceType.USER)])
    behind = run_vigil(fresh, "people", "check", "--tenant", "rollups")
    assert "1 committed since not counted yet" in behind.stderr
    unknown = run_vigil(fresh, "people", "rebuild", "--tenant", "no-such-tenant")
    assert unknown.returncode == 1
    assert "tenant 'no-such-tenant' not found" in unknown.stderr
