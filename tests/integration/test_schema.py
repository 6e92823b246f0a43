"""The schema: migrations match the tables, and every key is ready to shard by tenant."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from tests.conftest import Stack
from vigil.db import tables  # noqa: F401
from vigil.db.metadata import metadata
from vigil.db.migrate import is_up_to_date, upgrade_to_head

# Installation-wide lookups: the tenants themselves, and which tenant an email signs in to.
GLOBAL_TABLES = {"tenants", "user_emails", "alembic_version"}
TRIGRAM_INDEX = "ix_search_terms_text_trgm"


def test_migrations_produce_exactly_the_declared_schema(stack: Stack) -> None:
    def declared(item: Any, name: str | None, kind: str, reflected: bool, _other: Any) -> bool:
        # SQLite's trigram index is an FTS5 table (and its shadow tables) the migration
        # makes; PostgreSQL's is the GIN index the tables declare.
        if kind == "table" and (name or "").startswith("search_terms_fts"):
            return False
        # An index declared for one database only (``Index.ddl_if``), which autogenerate
        # does not look at: the events by resource, whose key differs between the two.
        only_on = getattr(getattr(item, "_ddl_if", None), "dialect", None)
        if kind == "index" and not reflected and only_on not in (None, dialect):
            return False
        return not (kind == "index" and name == TRIGRAM_INDEX and stack.backend == "sqlite")

    dialect = stack.engine.dialect.name
    with stack.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": declared})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrating_twice_is_harmless(stack: Stack) -> None:
    upgrade_to_head(stack.engine)
    assert is_up_to_date(stack.engine)


def test_every_key_of_tenant_data_starts_with_tenant(stack: Stack) -> None:
    inspector = inspect(stack.engine)
    for table in inspector.get_table_names():
        if table in GLOBAL_TABLES or table.startswith("search_terms_fts"):
            continue  # (the FTS5 tables belong to SQLite, keyed by its own row ids)
        primary = inspector.get_pk_constraint(table)["constrained_columns"]
        assert primary[0] == "tenant_id", table
        for unique in inspector.get_unique_constraints(table):
            assert "tenant_id" in unique["column_names"], (table, unique)
        for foreign in inspector.get_foreign_keys(table):
            if foreign["referred_table"] != "tenants":
                assert "tenant_id" in foreign["constrained_columns"], (table, foreign)


def test_event_indexes_follow_the_filters(stack: Stack) -> None:
    indexes = {tuple(ix["column_names"]) for ix in inspect(stack.engine).get_indexes("events")}
    for wanted in [
        ("tenant_id", "timestamp", "id"),
        ("tenant_id", "user_id", "timestamp", "id"),
        ("tenant_id", "action", "timestamp", "id"),
        ("tenant_id", "ip_key", "timestamp", "id"),
    ]:
        assert wanted in indexes
    by_resource = ("tenant_id", "resource_type", "resource_id", "timestamp", "id")
    if stack.backend == "sqlite":  # with the actor, for resource analytics
        by_resource += ("user_id", "user_email")
    assert by_resource in indexes


def test_bulk_insert_writes_every_event_column() -> None:
    from vigil.events.bulk import INSERT_COLUMNS
    from vigil.events.tables import events

    assert sorted(INSERT_COLUMNS) == sorted(column.name for column in events.columns)
