"""``/analytics/…``: team usage analytics over a period of whole UTC days, as JSON or as a
CSV download recorded like any export (``analytics.team``, ``analytics.resources``)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from vigil.accounts.caller_audit import CallerAuditDep
from vigil.accounts.deps import Caller
from vigil.analytics import team
from vigil.analytics.period import DEFAULT_DAYS, MAX_DAYS, Period, parse_period
from vigil.analytics.resources import ResourceActivity, resource_activity
from vigil.analytics.team_schemas import (
    CSV_NOTE,
    FeaturesOut,
    OverviewOut,
    PeakTimesOut,
    ResourcesOut,
    UsersOut,
    with_csv,
)
from vigil.core.clock import utcnow
from vigil.core.deps import EngineDep, SnapshotConnDep
from vigil.core.http import FastJSONResponse
from vigil.db.engine import write_transaction
from vigil.events.export_csv import FORMULA_TRIGGERS
from vigil.events.schemas import Action, ResourceType
from vigil.events.wire import format_time
from vigil.people.routes import summary_json
from vigil.people.service import PersonSummary
from vigil.tenants.service import get_tenant

router = APIRouter(tags=["analytics"])

_DATE: Final = (
    "ISO 8601 date or datetime; the period is the whole UTC days from start_date's to"
    f" end_date's (default: the {DEFAULT_DAYS} days ending today; at most {MAX_DAYS})"
)


class AnalyticsQuery(BaseModel):
    """The period, and the answer's format."""

    start_date: str | None = Field(default=None, max_length=64, description=_DATE)
    end_date: str | None = Field(default=None, max_length=64, description=_DATE)
    format: Literal["json", "csv"] = Field(
        default="json", description="csv: a download, recorded as an EXPORT event"
    )

    def period(self) -> Period:
        """The validated period; ``InvalidInput`` naming the parameter otherwise."""
        return parse_period(self.start_date, self.end_date, now=utcnow())


class UsersQuery(AnalyticsQuery):
    """``GET /analytics/users``."""

    kind: Literal["power", "inactive"] = Field(
        description="power: the most active people; inactive: no sign-in for `days` days"
    )
    days: int = Field(
        default=30, ge=1, le=3650, description="inactive: days without a sign-in (default 30)"
    )
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000, description="inactive: paging")


class ResourcesQuery(AnalyticsQuery):
    """``GET /analytics/resources``."""

    resource_type: ResourceType = Field(description="PROJECT, MODEL, ENDPOINT, CLUSTER, …")
    limit: int = Field(default=10, ge=1, le=100, description="Resources in each ranking")


def _cell(value: Any) -> Any:
    """A CSV cell: times in ISO 8601, text that a spreadsheet would run as a formula
    guarded with a leading apostrophe (OWASP, "CSV Injection")."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return "" if value is None else value


def _csv(
    engine: Any,
    audit: Any,
    *,
    report: str,
    period: Period,
    header: list[str],
    rows: list[list[Any]],
) -> Response:
    """``rows`` as a CSV download, recorded as an EXPORT event of the caller."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    with write_transaction(engine) as conn:
        audit.record(
            conn,
            action=Action.EXPORT,
            resource_type=ResourceType.AUDIT_LOG,
            resource_id=f"analytics/{report}",
            details={
                "format": "csv",
                "report": f"analytics/{report}",
                "period": period.as_json(),
                "rows": len(rows),
                "requested_by": audit.principal.label(),
            },
        )
    start = period.start.strftime("%Y%m%d")
    end = period.end.strftime("%Y%m%d")
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="vigil-{report}-{start}-{end}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/analytics/overview",
    response_model=OverviewOut,
    responses=with_csv(CSV_NOTE),
    summary="Active users, actions, changes and sign-ins",
)
def overview(
    principal: Caller,
    conn: SnapshotConnDep,
    engine: EngineDep,
    audit: CallerAuditDep,
    query: Annotated[AnalyticsQuery, Query()],
) -> Response:
    """Active users (distinct people with any event), total actions, resource changes
    (CREATE, UPDATE, DELETE), sign-ins and failed sign-ins in the period, each with the
    previous period of the same length and the change in percent."""
    period = query.period()
    figures = team.overview(conn, tenant_id=principal.tenant_id, period=period)
    if query.format == "csv":
        rows = [
            [name, f["value"], f["previous"], f["change_percent"]] for name, f in figures.items()
        ]
        header = ["figure", "value", "previous", "change_percent"]
        return _csv(engine, audit, report="overview", period=period, header=header, rows=rows)
    return FastJSONResponse(
        {"period": period.as_json(), "previous": period.previous().as_json(), **figures}
    )


@router.get(
    "/analytics/peak-times",
    response_model=PeakTimesOut,
    responses=with_csv(CSV_NOTE),
    summary="Events by weekday and hour",
)
def peak_times(
    principal: Caller,
    conn: SnapshotConnDep,
    engine: EngineDep,
    audit: CallerAuditDep,
    query: Annotated[AnalyticsQuery, Query()],
) -> Response:
    """A 7 by 24 matrix of the period's events by weekday (Monday = 0) and hour in the
    tenant's time zone, and the busiest hours of the week."""
    period = query.period()
    zone = get_tenant(conn, tenant_id=principal.tenant_id)["timezone"]
    found = team.peak_times(conn, tenant_id=principal.tenant_id, period=period, timezone=zone)
    if query.format == "csv":
        rows = [
            [day, hour, n] for day, row in enumerate(found["matrix"]) for hour, n in enumerate(row)
        ]
        header = ["weekday", "hour", "events"]
        return _csv(engine, audit, report="peak-times", period=period, header=header, rows=rows)
    return FastJSONResponse({"period": period.as_json(), **found})


@router.get(
    "/analytics/features",
    response_model=FeaturesOut,
    responses=with_csv(CSV_NOTE),
    summary="Popular features",
)
def features(
    principal: Caller,
    conn: SnapshotConnDep,
    engine: EngineDep,
    audit: CallerAuditDep,
    query: Annotated[AnalyticsQuery, Query()],
) -> Response:
    """Events per resource type and action, and per resource type with the people who
    used it and their share of the period's active users."""
    period = query.period()
    found = team.features(conn, tenant_id=principal.tenant_id, period=period)
    if query.format == "csv":
        rows = [
            [f["resource_type"], action, n, f["users"], f["share_percent"]]
            for f in found["by_resource_type"]
            for action, n in f["by_action"].items()
        ]
        header = ["resource_type", "action", "events", "type_users", "type_share_percent"]
        return _csv(engine, audit, report="features", period=period, header=header, rows=rows)
    return FastJSONResponse({"period": period.as_json(), **found})


def _person_cells(person: PersonSummary) -> list[Any]:
    account = person["account"]
    return [
        person["id"],
        person["label"],
        person["name"] or "",
        account["email"] if account else "",
        account["role"] if account else "",
        person["last_seen"],
        person["last_sign_in"],
    ]


_PERSON_HEADER: Final = [
    "person_id", "label", "name", "account_email", "role", "last_seen", "last_sign_in",
]  # fmt: skip


@router.get(
    "/analytics/users",
    response_model=UsersOut,
    responses=with_csv(CSV_NOTE),
    summary="Power users or inactive users",
)
def users(
    principal: Caller,
    conn: SnapshotConnDep,
    engine: EngineDep,
    audit: CallerAuditDep,
    query: Annotated[UsersQuery, Query()],
) -> Response:
    """``kind=power``: the people with the most events in the period, with their top
    features and when they were last active. ``kind=inactive``: people and accounts with
    no sign-in in the last ``days`` days (never included), with when they were last seen;
    the period does not apply."""
    period, now = query.period(), utcnow()
    if query.kind == "power":
        top = team.power_users(
            conn, tenant_id=principal.tenant_id, period=period, limit=query.limit, now=now
        )
        if query.format == "csv":
            rows = [
                [*_person_cells(u["person"]), u["events"],
                 "; ".join(f"{f['resource_type']} {f['action']} ({f['events']})"
                           for f in u["top_features"])]
                for u in top
            ]  # fmt: skip
            header = [*_PERSON_HEADER, "events", "top_features"]
            return _csv(
                engine, audit, report="power-users", period=period, header=header, rows=rows
            )
        items = [
            {
                **summary_json(u["person"]),
                "period_events": u["events"],
                "top_features": u["top_features"],
            }
            for u in top
        ]
        return FastJSONResponse({"period": period.as_json(), "kind": "power", "items": items})
    found, total = team.inactive_users(
        conn,
        tenant_id=principal.tenant_id,
        days=query.days,
        limit=query.limit,
        offset=query.offset,
        now=now,
    )
    if query.format == "csv":
        rows = [_person_cells(p) for p in found]
        return _csv(
            engine, audit, report="inactive-users", period=period, header=_PERSON_HEADER, rows=rows
        )
    return FastJSONResponse(
        {
            "kind": "inactive",
            "days": query.days,
            "items": [summary_json(p) for p in found],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


def _resource_json(r: ResourceActivity) -> dict[str, Any]:
    last = r["last_actor"]
    return {**r, "last_actor": last and {**last, "timestamp": format_time(last["timestamp"])}}


@router.get(
    "/analytics/resources",
    response_model=ResourcesOut,
    responses=with_csv(CSV_NOTE),
    summary="Most changed, accessed and active resources",
)
def resources(
    principal: Caller,
    conn: SnapshotConnDep,
    engine: EngineDep,
    audit: CallerAuditDep,
    query: Annotated[ResourcesQuery, Query()],
) -> Response:
    """The resources of one type ranked as most changed (CREATE, UPDATE, DELETE), most
    accessed (events of any action) and most active (distinct actors) in the period, with
    their events per action and their last actor."""
    period = query.period()
    ranked = resource_activity(
        conn,
        tenant_id=principal.tenant_id,
        resource_type=query.resource_type.value,
        period=period,
        limit=query.limit,
    )
    if query.format == "csv":
        rows = [
            [ranking, rank, r["resource_id"], r["events"], r["changes"], r["actors"],
             "; ".join(f"{a} {n}" for a, n in r["by_action"].items()),
             (r["last_actor"] or {}).get("user_id") or (r["last_actor"] or {}).get("user_email"),
             (r["last_actor"] or {}).get("timestamp")]
            for ranking, listed in ranked.items()
            for rank, r in enumerate(listed, start=1)
        ]  # fmt: skip
        header = [
            "ranking", "rank", "resource_id", "events", "changes", "actors", "by_action",
            "last_actor", "last_at",
        ]  # fmt: skip
        report = f"resources-{query.resource_type.value.lower()}"
        return _csv(engine, audit, report=report, period=period, header=header, rows=rows)
    return FastJSONResponse(
        {
            "period": period.as_json(),
            "resource_type": query.resource_type.value,
            **{name: [_resource_json(r) for r in listed] for name, listed in ranked.items()},
        }
    )
