"""Rules as a tenant has them, and alerts: raised, de-duplicated, listed, acknowledged.

Callers own the transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Column, Connection, bindparam, case, func, select, update, values
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from vigil.core.clock import new_id
from vigil.core.errors import Conflict, NotFound
from vigil.detections.findings import Finding
from vigil.detections.rules import BUILTIN_RULES, STORED_RULE, Rule, Severity
from vigil.detections.tables import AlertChange, AlertRow, alert_row, alert_rules, alerts

OPEN, ACKNOWLEDGED, RESOLVED = "OPEN", "ACKNOWLEDGED", "RESOLVED"
STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)


# --- rules ---


def tenant_rules(conn: Connection, *, tenant_id: uuid.UUID) -> list[Rule]:
    """Every rule of the tenant: the built-in presets (as the tenant set them), then its own."""
    stored = {
        name: Rule.model_validate_json(definition, context=STORED_RULE)
        for name, definition in conn.execute(
            select(alert_rules.c.name, alert_rules.c.definition).where(
                alert_rules.c.tenant_id == tenant_id
            )
        )
    }
    builtin = [stored.pop(name, preset) for name, preset in BUILTIN_RULES.items()]
    return builtin + sorted(stored.values(), key=lambda rule: rule.name)


def get_rule(conn: Connection, *, tenant_id: uuid.UUID, name: str) -> Rule:
    """One rule by name."""
    for rule in tenant_rules(conn, tenant_id=tenant_id):
        if rule.name == name:
            return rule
    raise NotFound(f"rule {name!r} not found")


def save_rule(conn: Connection, *, tenant_id: uuid.UUID, rule: Rule, now: datetime) -> None:
    """Store a rule (a new one of the tenant's own, or its settings for an existing one)."""
    definition = rule.model_dump_json()
    changed = conn.execute(
        update(alert_rules)
        .where(alert_rules.c.tenant_id == tenant_id, alert_rules.c.name == rule.name)
        .values(definition=definition, updated_at=now)
    ).rowcount
    if changed:
        return
    try:
        conn.execute(
            alert_rules.insert(),
            {
                "tenant_id": tenant_id,
                "name": rule.name,
                "definition": definition,
                "created_at": now,
                "updated_at": now,
            },
        )
    except IntegrityError:  # stored by someone else a moment ago
        raise Conflict(f"rule {rule.name} was changed at the same moment; try again") from None


def delete_rule(conn: Connection, *, tenant_id: uuid.UUID, name: str) -> Rule:
    """Remove one of the tenant's own rules; a built-in one can only be turned off."""
    rule = get_rule(conn, tenant_id=tenant_id, name=name)
    if rule.builtin:
        raise Conflict(f"{name} is built in: turn it off with enabled=false instead")
    conn.execute(
        alert_rules.delete().where(alert_rules.c.tenant_id == tenant_id, alert_rules.c.name == name)
    )
    return rule


# --- alerts ---


@dataclass(frozen=True, slots=True)
class Raised:
    """An alert after a finding: its row, and whether it is new or now more severe (either
    way, people are told)."""

    alert: AlertRow
    tell: bool


def raise_alerts(
    conn: Connection, *, tenant_id: uuid.UUID, findings: list[Finding], now: datetime
) -> list[tuple[Finding, Raised]]:
    """Open an alert for each finding, or update the one already open for its rule and
    subject; a few statements for the whole pass, however many findings (a night of
    off-hours activity finds one per user).

    The unique ``open_key`` decides between nodes: whoever inserts first opens the alert;
    the other's insert does nothing and it updates instead. Open alerts are locked while
    updated, so two nodes take turns instead of losing a count.
    """
    keyed: dict[str, Finding] = {}
    for finding in findings:
        key = _open_key(finding)
        keyed[key] = _merge(keyed[key], finding) if key in keyed else finding
    # Keys in one order on every node, so two nodes locking the same alerts cannot deadlock.
    keys = sorted(keyed)
    existing = _open_alerts(conn, tenant_id, keys)
    fresh = {
        key: _new_alert(tenant_id, key, keyed[key], now) for key in keys if key not in existing
    }
    opened = _insert_unless_open(conn, list(fresh.values()))
    lost = [key for key in fresh if key not in opened]  # another node opened these first
    if lost:
        existing.update(_open_alerts(conn, tenant_id, lost))
    results: list[tuple[Finding, Raised]] = []
    updates = []
    for key in keys:
        if key in opened:
            results.append((keyed[key], Raised(alert=fresh[key], tell=True)))
            continue
        raised = _updated(existing[key], keyed[key], now)
        updates.append(raised.alert)
        results.append((keyed[key], raised))
    if updates:
        _update_all(conn, updates)
    return results


_UPDATED: Final = (
    "severity",
    "summary",
    "last_seen",
    "first_seen",
    "count",
    "evidence",
    "updated_at",
)


def _update_all(conn: Connection, updated: list[AlertRow]) -> None:
    """Write many alerts' new state: a night of off-hours activity updates thousands at once.

    PostgreSQL takes a few hundred per statement (UPDATE … FROM VALUES), sparing a round
    trip each; SQLite, in process, runs the one statement for every row.
    """
    if conn.dialect.name != "postgresql":
        conn.execute(
            update(alerts)
            .where(alerts.c.tenant_id == bindparam("t"), alerts.c.id == bindparam("i"))
            .values({name: bindparam(name) for name in _UPDATED}),
            [{"t": a["tenant_id"], "i": a["id"], **{n: a[n] for n in _UPDATED}} for a in updated],
        )
        return
    columns = [alerts.c.tenant_id, alerts.c.id, *(alerts.c[name] for name in _UPDATED)]
    for start in range(0, len(updated), 300):
        chunk: Sequence[Mapping[str, Any]] = updated[start : start + 300]  # read by column name
        rows = [tuple(alert[column.name] for column in columns) for alert in chunk]
        new = values(*(Column(f"new_{c.name}", c.type) for c in columns), name="new_state").data(
            rows
        )
        conn.execute(
            update(alerts)
            .where(alerts.c.tenant_id == new.c.new_tenant_id, alerts.c.id == new.c.new_id)
            .values({name: new.c[f"new_{name}"] for name in _UPDATED})
        )


def _open_key(finding: Finding) -> str:
    return f"{finding.rule.name}|{finding.dedup}"[:480]


def _merge(first: Finding, second: Finding) -> Finding:
    """Two findings of one pass about the same thing, as one."""
    later = second if second.last_seen >= first.last_seen else first
    evidence = list(dict.fromkeys([*second.evidence, *first.evidence]))
    count = first.count + second.count if first.cumulative else max(first.count, second.count)
    severity = max(first.severity, second.severity, key=lambda s: s.rank)
    return replace(
        later,
        first_seen=min(first.first_seen, second.first_seen),
        count=count,
        evidence=evidence,
        severity=severity,
    )


def _open_alerts(conn: Connection, tenant_id: uuid.UUID, keys: list[str]) -> dict[str, AlertRow]:
    found: dict[str, AlertRow] = {}
    for start in range(0, len(keys), 500):
        query = (
            select(alerts)
            .where(
                alerts.c.tenant_id == tenant_id, alerts.c.open_key.in_(keys[start : start + 500])
            )
            .with_for_update()
        )
        found.update((row["open_key"], alert_row(row)) for row in conn.execute(query).mappings())
    return found


def _new_alert(tenant_id: uuid.UUID, key: str, finding: Finding, now: datetime) -> AlertRow:
    return {
        "tenant_id": tenant_id,
        "id": new_id(),
        "rule": finding.rule.name,
        "severity": finding.severity.value,
        "status": OPEN,
        "subject": finding.subject[:400],
        "summary": finding.summary,
        "first_seen": finding.first_seen,
        "last_seen": finding.last_seen,
        "count": finding.count,
        "evidence": json.dumps([str(i) for i in finding.evidence[: finding.evidence_limit]]),
        "note": None,
        "created_at": now,
        "updated_at": now,
        "open_key": key,
    }


def _insert_unless_open(conn: Connection, rows: list[AlertRow]) -> set[str]:
    """Insert the alerts whose key no other open alert holds; the keys inserted."""
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(alerts)
    opened: set[str] = set()
    for start in range(0, len(rows), 200):
        # RETURNING, not rowcount: psycopg reports no count for INSERT … ON CONFLICT DO NOTHING.
        statement = (
            insert.values(rows[start : start + 200])
            .on_conflict_do_nothing(index_elements=["tenant_id", "open_key"])
            .returning(alerts.c.open_key)
        )
        opened.update(conn.execute(statement).scalars())
    return opened


def _updated(existing: AlertRow, finding: Finding, now: datetime) -> Raised:
    old_ids = json.loads(existing["evidence"])
    known = set(old_ids)
    new_ids = [str(i) for i in finding.evidence if str(i) not in known]
    if finding.cumulative and len(old_ids) >= finding.evidence_limit:
        evidence = existing["evidence"]  # full: the first events stay the evidence
    else:
        evidence = json.dumps((new_ids + old_ids)[: finding.evidence_limit])
    severity = max(Severity(existing["severity"]), finding.severity, key=lambda s: s.rank)
    changes: AlertChange = {
        "severity": severity.value,
        "summary": finding.summary,
        "last_seen": max(existing["last_seen"], finding.last_seen),
        "first_seen": min(existing["first_seen"], finding.first_seen),
        # A threshold finding counts the window afresh; the others add what is new.
        "count": existing["count"] + len(new_ids)
        if finding.cumulative
        else max(existing["count"], finding.count),
        "evidence": evidence,
        "updated_at": now,
    }
    worse = Severity(existing["severity"]).rank < severity.rank
    return Raised(alert={**existing, **changes}, tell=worse)


@dataclass(frozen=True, slots=True)
class AlertFilters:
    """Which alerts a listing shows."""

    status: str | None = None
    severity: Severity | None = None
    rule: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def list_alerts(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    filters: AlertFilters,
    limit: int,
    offset: int,
) -> tuple[list[AlertRow], int]:
    """Open ones first, then by severity and recency; and how many match in all."""
    where = [alerts.c.tenant_id == tenant_id]
    if filters.status:
        where.append(alerts.c.status == filters.status)
    if filters.severity:
        where.append(alerts.c.severity == filters.severity.value)
    if filters.rule:
        where.append(alerts.c.rule == filters.rule)
    if filters.start:
        where.append(alerts.c.last_seen >= filters.start)
    if filters.end:
        where.append(alerts.c.first_seen < filters.end)
    status_order = case(
        {status: rank for rank, status in enumerate(STATUSES)}, value=alerts.c.status
    )
    severity_order = case(
        {severity.value: severity.rank for severity in Severity}, value=alerts.c.severity
    )
    query = (
        select(alerts)
        .where(*where)
        .order_by(status_order, severity_order.desc(), alerts.c.last_seen.desc(), alerts.c.id)
        .limit(limit)
        .offset(offset)
    )
    rows = [alert_row(row) for row in conn.execute(query).mappings()]
    total = conn.execute(select(func.count()).select_from(alerts).where(*where)).scalar_one()
    return rows, int(total)


def get_alert(
    conn: Connection, *, tenant_id: uuid.UUID, alert_id: uuid.UUID, lock: bool = False
) -> AlertRow:
    """One alert of the tenant; ``lock`` holds it until the transaction ends (to change it)."""
    query = select(alerts).where(alerts.c.tenant_id == tenant_id, alerts.c.id == alert_id)
    found = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if found is None:
        raise NotFound(f"alert {alert_id} not found")
    return alert_row(found)


def change_alert(
    conn: Connection,
    *,
    alert: AlertRow,
    status: str | None,
    note: str | None,
    now: datetime,
) -> AlertRow:
    """Acknowledge, resolve or reopen, with a note; resolving frees the rule and subject for
    a new alert."""
    changes: AlertChange = {"updated_at": now}
    if note is not None:
        changes["note"] = note
    if status is not None and status != alert["status"]:
        if alert["status"] == RESOLVED:
            raise Conflict("a resolved alert stays resolved; a new match opens a new alert")
        changes["status"] = status
        if status == RESOLVED:
            changes["open_key"] = None
    conn.execute(
        update(alerts)
        .where(alerts.c.tenant_id == alert["tenant_id"], alerts.c.id == alert["id"])
        .values(changes)
    )
    return {**alert, **changes}
