"""The buffer of this process's recent commits hands out only unbroken runs of a tenant's
commit sequence, so a consumer never skips an event it does not hold, and lets rows go once
every consumer has passed them."""

from __future__ import annotations

import uuid
from typing import Any, cast

from vigil.events.tables import EventRow
from vigil.spine.recent import ROW_BYTES, RecentCommits

A, B = uuid.uuid4(), uuid.uuid4()


def rows(tenant: uuid.UUID, *seqs: int, details: str | None = None) -> list[EventRow]:
    return [
        cast(EventRow, {"tenant_id": tenant, "seq": seq, "details": details, "user_agent": None})
        for seq in seqs
    ]


def seqs(found: list[Any]) -> list[int]:
    return [row["seq"] for row in found]


def test_an_unbroken_run_from_the_cursor() -> None:
    recent = RecentCommits()
    recent.add(rows(A, 1, 2, 3) + rows(B, 1))
    recent.add(rows(A, 4))
    assert seqs(recent.after(tenant_id=A, after_seq=0, limit=10)) == [1, 2, 3, 4]
    assert seqs(recent.after(tenant_id=A, after_seq=2, limit=1)) == [3]
    assert seqs(recent.after(tenant_id=A, after_seq=1, limit=2)) == [2, 3]
    assert seqs(recent.after(tenant_id=B, after_seq=0, limit=10)) == [1]


def test_a_gap_ends_the_run_and_a_missing_start_gives_nothing() -> None:
    recent = RecentCommits()
    recent.add(rows(A, 5, 6))
    recent.add(rows(A, 8))  # 7 was written by another process
    assert seqs(recent.after(tenant_id=A, after_seq=4, limit=10)) == [5, 6]
    assert recent.after(tenant_id=A, after_seq=6, limit=10) == []
    assert seqs(recent.after(tenant_id=A, after_seq=7, limit=10)) == [8]
    assert recent.after(tenant_id=A, after_seq=0, limit=10) == []  # 1 to 4 are not held
    assert recent.after(tenant_id=B, after_seq=0, limit=10) == []


def test_rows_go_once_every_reader_has_passed_them() -> None:
    recent = RecentCommits(readers=["detections", "rollups"])
    recent.add(rows(A, 1, 2))
    recent.add(rows(A, 3))
    recent.passed(reader="detections", tenant_id=A, seq=3)
    assert seqs(recent.after(tenant_id=A, after_seq=0, limit=10)) == [1, 2, 3]
    recent.passed(reader="rollups", tenant_id=A, seq=2)
    assert recent.after(tenant_id=A, after_seq=0, limit=10) == []
    assert seqs(recent.after(tenant_id=A, after_seq=2, limit=10)) == [3]


def test_the_oldest_rows_go_first_beyond_capacity() -> None:
    recent = RecentCommits(capacity_bytes=3 * ROW_BYTES)
    recent.add(rows(A, 1, 2))
    recent.add(rows(B, 1, 2))
    assert recent.after(tenant_id=A, after_seq=0, limit=10) == []
    assert recent.after(tenant_id=A, after_seq=1, limit=10) == []
    assert seqs(recent.after(tenant_id=B, after_seq=0, limit=10)) == [1, 2]


def test_a_tenant_whose_consumer_lags_is_let_go_rather_than_kept_forever() -> None:
    recent = RecentCommits(readers=["detections"], capacity_bytes=10 * ROW_BYTES)
    recent.add(rows(A, 1))  # a tenant whose consumer is stuck
    for seq in range(1, 50):  # another tenant, consumed as it commits
        recent.add(rows(B, seq))
        recent.passed(reader="detections", tenant_id=B, seq=seq)
    assert recent.after(tenant_id=A, after_seq=0, limit=10) == []  # let go at the bound
    recent.add(rows(B, 50))
    assert seqs(recent.after(tenant_id=B, after_seq=49, limit=10)) == [50]


def test_large_details_count_against_capacity() -> None:
    recent = RecentCommits(capacity_bytes=100_000)
    recent.add(rows(A, 1, 2, details="x" * 60_000))  # two big events: over the bound
    recent.add(rows(B, 1))
    assert recent.after(tenant_id=A, after_seq=0, limit=10) == []
    assert seqs(recent.after(tenant_id=B, after_seq=0, limit=10)) == [1]


def test_runs_nobody_passed_go_after_a_while() -> None:
    recent = RecentCommits(readers=["detections"], max_age_seconds=0.0)
    recent.add(rows(A, 1))  # consumed by another node: never passed here
    recent.add(rows(B, 1))
    assert recent.after(tenant_id=A, after_seq=0, limit=10) == []
