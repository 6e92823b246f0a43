"""The typed rows say exactly what their tables hold.

Rows cross features as ``TypedDict``s, made from query results without a per-key copy, so
nothing at run time notices a column added, renamed, dropped or made nullable without its
row type: these tests do.
"""

from __future__ import annotations

import types
from typing import Any, get_args, get_type_hints

from sqlalchemy import Table

from vigil.detections.service import AlertChange
from vigil.detections.tables import AlertRow, alerts
from vigil.events.tables import EventRow, PreparedEventRow, events
from vigil.events.windows import WindowEvent
from vigil.notifications.service import DeliveryRow
from vigil.notifications.tables import InboxRow, OutboxRow, inbox, outbox
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


def assert_part_of(row_type: Any, table: Table) -> None:
    """Each key of ``row_type`` is a column of ``table``, and may be None exactly when the
    column is nullable."""
    keys = keys_of(row_type)
    assert keys <= set(table.c.keys()), keys - set(table.c.keys())
    assert may_be_none(row_type) == {name for name in keys if table.c[name].nullable}


def assert_whole_row(row_type: Any, table: Table, *, but: frozenset[str] = frozenset()) -> None:
    """``row_type`` has a key for every column of ``table`` (but those named), no other."""
    assert_part_of(row_type, table)
    assert keys_of(row_type) == set(table.c.keys()) - but


def test_a_tenant_row_holds_every_column_of_tenants() -> None:
    assert_whole_row(TenantRow, tenants)


def test_an_event_row_holds_every_column_of_events() -> None:
    assert_whole_row(EventRow, events)


def test_a_prepared_event_lacks_only_what_storing_it_adds() -> None:
    assert_whole_row(PreparedEventRow, events, but=frozenset({"tenant_id", "received_at", "seq"}))


def test_the_evidence_a_rule_keeps_is_columns_of_events() -> None:
    assert_part_of(WindowEvent, events)


def test_an_alert_row_holds_every_column_of_alerts() -> None:
    assert_whole_row(AlertRow, alerts)


def test_an_alert_change_sets_columns_of_alerts() -> None:
    assert_part_of(AlertChange, alerts)


def test_an_outbox_row_holds_every_column_of_outbox() -> None:
    assert_whole_row(OutboxRow, outbox)


def test_a_delivery_shows_columns_of_outbox() -> None:
    assert_part_of(DeliveryRow, outbox)


def test_an_inbox_row_holds_every_column_of_the_inbox() -> None:
    assert_whole_row(InboxRow, inbox)
