"""Imports every feature's tables, so the shared metadata is complete."""

from vigil.accounts.tables import api_keys, tenants, users
from vigil.events.tables import events

__all__ = ["api_keys", "events", "tenants", "users"]
