"""Free text finds what people read: decoded values, any case in any script, never JSON."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant
from tests.helpers import ingest, list_all, make_event
from vigil.accounts import service as accounts
from vigil.core.permissions import Role
from vigil.db.engine import write_transaction

TRICKY = {"note": 'say "hi" now', "path": "C:\\temp\\new", "memo": "line1\nline2"}


def found(tenant: Tenant, q: str, **params: Any) -> set[str]:
    return {e["id"] for e in list_all(tenant.reader, q=q, **params)}


@pytest.fixture
def events(tenant: Tenant) -> dict[str, str]:
    """Stored events by name: their ids."""
    named = {
        "tricky": make_event(details=TRICKY, resource_id="doc-1"),
        "french": make_event(details={"school": "École des Mines"}, user_email="e@example.com"),
        "danish": make_event(resource_id="Østergård-farm", user_agent="Mozilla/5.0 Ärger"),
        "numbers": make_event(details={"rows": 1e2, "exact": 0.1000, "flag": True, "none": None}),
        "keys": make_event(details={"launch_plan": "quiet", "owner": "wanda"}),
        "plain": make_event(details={"a": "b"}, user_id="u-plain"),
        "german": make_event(details={"street": "Hauptstraße 1"}),
    }
    ids = ingest(tenant.writer, list(named.values()))
    return dict(zip(named, ids, strict=True))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('say "hi"', {"tricky"}),  # a quote as decoded, not as \"
        ("C:\\temp", {"tricky"}),  # one backslash, as the producer meant it
        ("line1\nline2", {"tricky"}),
        ("école", {"french"}),  # Unicode case folding on both databases
        ("ÉCOLE DES", {"french"}),
        ("østergård", {"danish"}),
        ("ärger", {"danish"}),
        ("STRASSE", {"german"}),  # full folding: ß is ss
        ("doc-1", {"tricky"}),
        ("wanda", {"keys"}),
        ("u-plain", {"plain"}),
        ("true", {"numbers"}),
    ],
)
def test_free_text_matches_what_people_read(
    tenant: Tenant, events: dict[str, str], q: str, expected: set[str]
) -> None:
    assert found(tenant, q) == {events[name] for name in expected}


def test_numbers_match_as_written(tenant: Tenant, events: dict[str, str]) -> None:
    raw = b'{"action": "UPDATE", "resource_type": "MODEL", "details": {"big": 1E+2, "t": 0.1000}}'
    answer = tenant.writer.post(
        "/audit-logs/", content=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 201, answer.text
    written = answer.json()["id"]
    assert found(tenant, "1E+2") == {written}
    assert found(tenant, "0.1000") == {written}


@pytest.mark.parametrize(
    "q", [":", "{", "}", '"\\""', '":"', ",", "[", "\\", "launch_plan", "owner", "null"]
)
def test_json_syntax_and_key_names_never_match(
    tenant: Tenant, events: dict[str, str], q: str
) -> None:
    # The positive control: the same search mechanism does find a value of that event.
    assert found(tenant, "quiet") == {events["keys"]}
    hits = found(tenant, q)
    assert events["keys"] not in hits
    assert events["plain"] not in hits


def test_a_term_never_spans_two_values(tenant: Tenant, events: dict[str, str]) -> None:
    assert found(tenant, "wanda") == {events["keys"]}
    assert found(tenant, "quiet wanda") == {events["keys"]}  # two terms, both present
    assert found(tenant, '"quietwanda"') == set()
    assert found(tenant, '"quiet wanda"') == set()


def test_user_search_folds_unicode_case(tenant: Tenant) -> None:
    with write_transaction(tenant.stack.engine) as conn:
        accounts.create_user(
            conn,
            tenant_id=tenant.id,
            email="elodie@example.com",
            name="Élodie Østergård",
            role=Role.DEVELOPER,
            password=None,
        )
    names = {u["name"] for u in tenant.admin.get("/users", params={"q": "élodie"}).json()["items"]}
    assert names == {"Élodie Østergård"}
    answer = tenant.admin.get("/users", params={"q": "ØSTERGÅRD"})
    assert [u["name"] for u in answer.json()["items"]] == ["Élodie Østergård"]
