"""The typed rows say exactly what their tables hold.

Rows cross features as ``TypedDict``s, made from query results without a per-key copy, so
nothing at run time notices a column added, renamed, dropped or made nullable without its
row type: these tests do.
"""

from __future__ import annotations

import types
from typing import Any, get_args, get_type_hints

from sqlalchemy import Table

from vigil.events.tables import EventRow, PreparedEventRow, events
from vigil.events.windows import WindowEvent
from vigil.tenants.tables import TenantRow, tenants


def keys_of(row_type: Any) -> set[str]:
    """Every key a ``TypedDict`` declares, its bases' included."""
    return set(row_type.__required_keys__ | row_type.__optional_keys__)


def may_be_none(row_type: Any) -> set[str]:
    """The keys whose declared type admits None."""
    return {
        key
        for key, hint in get_type_hints(row_type).items()
        if isinstance(hint, types.UnionType) and type(None) in get_args(hint)
    }


def assert_matches(row_type: Any, table: Table, *, only: set[str] | None = None) -> None:
    """``row_type`` has a key for each column of ``table`` (or of ``only``, a part of it),
    and a key may be None exactly where its column is nullable."""
    columns = set(table.c.keys()) if only is None else only
    assert keys_of(row_type) == columns
    assert may_be_none(row_type) == {name for name in columns if table.c[name].nullable}


def test_a_tenant_row_holds_every_column_of_tenants() -> None:
    assert_matches(TenantRow, tenants)


def test_an_event_row_holds_every_column_of_events() -> None:
    assert_matches(EventRow, events)


def test_a_prepared_event_lacks_only_what_storing_it_adds() -> None:
    stored_with = {"tenant_id", "received_at", "seq"}
    assert_matches(PreparedEventRow, events, only=set(events.c.keys()) - stored_with)


def test_the_evidence_a_rule_keeps_is_columns_of_events() -> None:
    assert_matches(WindowEvent, events, only={"id", "user_id", "user_email", "details"})
