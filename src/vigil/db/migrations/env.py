"""Alembic environment: runs on the connection handed over by ``vigil.db.migrate``."""

from alembic import context

from vigil.db import tables  # noqa: F401  (registers every table on the metadata)
from vigil.db.metadata import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `vigil serve`, `vigil init` or `vigil migrate`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
