"""The typed rows say exactly what their tables hold.

Rows cross features as ``TypedDict``s, made from query results without a per-key copy, so
nothing at run time notices a column added, renamed, dropped or made nullable without its
row type: these tests do.
"""

from __future__ import annotations

import types
from typing import Any, get_args, get_type_hints

from sqlalchemy import Table

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
