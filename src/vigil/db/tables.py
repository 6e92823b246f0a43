"""Imports every feature's tables, so the shared metadata is complete."""

from vigil.accounts.tables import api_keys, users
from vigil.analytics.rollup_tables import (
    activity_days,
    activity_hours,
    resource_actors,
    resource_days,
    resource_totals,
)
from vigil.detections.tables import alert_rules, alerts
from vigil.events.tables import event_sequences, events
from vigil.live.tables import live_signals
from vigil.notifications.tables import inbox, notification_settings, outbox
from vigil.people.tables import people, person_countries, person_days, person_identifiers
from vigil.search.tables import search_bitmaps, search_blocks, search_postings, search_terms
from vigil.spine.tables import consumer_cursors
from vigil.tenants.tables import tenants

__all__ = [
    "activity_days",
    "activity_hours",
    "alert_rules",
    "alerts",
    "api_keys",
    "consumer_cursors",
    "event_sequences",
    "events",
    "inbox",
    "live_signals",
    "notification_settings",
    "outbox",
    "people",
    "person_countries",
    "person_days",
    "person_identifiers",
    "resource_actors",
    "resource_days",
    "resource_totals",
    "search_bitmaps",
    "search_blocks",
    "search_postings",
    "search_terms",
    "tenants",
    "users",
]
