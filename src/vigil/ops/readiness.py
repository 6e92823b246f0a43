"""Whether this node should be sent traffic: the database answers and its schema is the one
this version of Vigil runs on, with no migration in progress.

One connection from the pool and one small query (on PostgreSQL it also looks, in
``pg_locks``, for the advisory lock ``vigil.db.migrate.upgrade_to_head`` holds while it
migrates). A schema newer than this version knows counts as ready: during a rolling
upgrade the nodes still on the old version keep serving once the new one has migrated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from vigil.db.migrate import MIGRATION_LOCK_KEY, alembic_config

log = logging.getLogger(__name__)

_REVISION = text("SELECT version_num FROM alembic_version")
# An advisory lock on a bigint key shows in pg_locks as classid (high 32 bits), objid (low
# 32 bits) and objsubid 1, in the database it was taken in.
_MIGRATING = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND objsubid = 1)"
)


@dataclass(frozen=True, slots=True)
class Readiness:
    """The answer of ``/readyz``: ready or not, and why, as ``status`` and ``database``
    (``ok``, ``unreachable``, ``migrating`` or ``not migrated``)."""

    ready: bool
    database: str

    def as_json(self) -> dict[str, str]:
        """The JSON body of the answer."""
        return {"status": "ok" if self.ready else "unavailable", "database": self.database}


@lru_cache(maxsize=1)
def _revisions() -> tuple[str | None, frozenset[str]]:
    script = ScriptDirectory.from_config(alembic_config())
    return script.get_current_head(), frozenset(r.revision for r in script.walk_revisions())


def check_readiness(engine: Engine) -> Readiness:
    """Whether the node is ready; never raises (a failure is the answer)."""
    head, known = _revisions()
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                params = {"high": MIGRATION_LOCK_KEY >> 32, "low": MIGRATION_LOCK_KEY & 0xFFFFFFFF}
                if conn.execute(_MIGRATING, params).scalar_one():
                    return Readiness(False, "migrating")
            try:
                revision = conn.execute(_REVISION).scalar_one_or_none()
            except DBAPIError as error:
                if error.connection_invalidated:
                    raise
                return Readiness(False, "not migrated")  # no alembic_version yet
    except Exception as error:
        log.warning("readiness: database unreachable: %s", type(error).__name__)
        return Readiness(False, "unreachable")
    if revision != head and (revision is None or revision in known):
        return Readiness(False, "not migrated")
    return Readiness(True, "ok")
