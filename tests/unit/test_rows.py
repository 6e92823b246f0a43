"""The typed rows say exactly what their tables hold.

Rows cross features as ``TypedDict``s, made from query results without a per-key copy, so
nothing at run time notices a column added, renamed, dropped or made nullable without its
row type: these tests do.
"""

from __future__ import annotations

import types
from typing import Any, get_args, get_type_hints

from sqlalchemy import Table

from vigil.accounts.login import UserIdentity
from vigil.accounts.sessions import SessionUserRow
from vigil.accounts.tables import (
    ApiKeyRow,
    NewUserRow,
    PasswordResetRow,
    SessionRow,
    UserRow,
    api_keys,
    password_resets,
    sessions,
    users,
)
from vigil.accounts.users import RoleAndGrants, UserKey
from vigil.detections.tables import AlertChange, AlertRow, alerts
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


def test_a_user_row_holds_every_column_of_users() -> None:
    assert_whole_row(UserRow, users)


def test_a_new_user_lacks_only_what_the_database_fills_in() -> None:
    filled_in = {"failed_logins", "locked_until", "totp_secret", "totp_enabled", "totp_last_step"}
    assert_whole_row(NewUserRow, users, but=frozenset(filled_in))
    assert all(
        users.c[name].server_default is not None or users.c[name].nullable for name in filled_in
    )


def test_the_parts_of_a_user_that_others_pass_are_columns_of_users() -> None:
    for part in (RoleAndGrants, UserKey, UserIdentity):
        assert_part_of(part, users)


def test_a_session_user_is_a_user_row_with_its_session_and_tenant_settings() -> None:
    joined = {
        "session_id": sessions.c.id,
        "expires_at": sessions.c.expires_at,
        "ip_allowlist": tenants.c.ip_allowlist,
        "require_2fa_for_admins": tenants.c.require_2fa_for_admins,
    }
    assert keys_of(SessionUserRow) == keys_of(UserRow) | set(joined)
    nullable = {key for key, column in joined.items() if column.nullable}
    assert may_be_none(SessionUserRow) == may_be_none(UserRow) | nullable


def test_a_session_row_holds_every_column_of_sessions() -> None:
    assert_whole_row(SessionRow, sessions)


def test_an_api_key_row_holds_every_column_of_api_keys() -> None:
    assert_whole_row(ApiKeyRow, api_keys)


def test_a_password_reset_row_holds_every_column_of_password_resets() -> None:
    assert_whole_row(PasswordResetRow, password_resets)
