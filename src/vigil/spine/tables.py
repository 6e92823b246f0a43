"""How far each after-commit consumer has read each tenant's commit sequence."""

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from vigil.db.metadata import metadata
from vigil.db.types import UTCDateTime, UUIDType

consumer_cursors = Table(
    "consumer_cursors",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("consumer", String(64), nullable=False),
    # The ``seq`` of the last event this consumer has finished with; 0 before the first.
    # It moves in the same transaction as the consumer's own writes (exactly once).
    Column("position", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Passes that failed in a row, and the last one's error, for whoever looks at lag.
    Column("failures", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    PrimaryKeyConstraint("tenant_id", "consumer"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)
