"""Apply Alembic migrations from code, safely when several nodes start at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same on every node.
MIGRATION_LOCK_KEY = 0x56494749


def alembic_config() -> Config:
    """Alembic configuration pointing at Vigil's packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema up to date; a no-op when it already is."""
    upgrade_to(engine, "head")


def upgrade_to(engine: Engine, revision: str) -> None:
    """Bring the schema up to ``revision`` (``"head"``, or ``"0009"`` for a test that needs a
    database as an older Vigil left it)."""
    config = alembic_config()
    with engine.connect() as conn:
        conn.execution_options(vigil_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # Serialise concurrent `vigil serve` starts on one database.
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            config.attributes["connection"] = conn
            command.upgrade(config, revision)


def is_up_to_date(engine: Engine) -> bool:
    """Whether the database schema is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current == head
