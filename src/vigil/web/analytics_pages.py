"""The Analytics page: team usage over a period, drawn from the same functions the
``/analytics/…`` API answers with, and with a CSV download of every table from it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from vigil.analytics import team
from vigil.analytics.period import Period, parse_period
from vigil.analytics.resources import resource_activity
from vigil.core.clock import utcnow
from vigil.core.deps import SnapshotConnDep
from vigil.core.errors import InvalidInput
from vigil.events.schemas import ResourceType
from vigil.people.sightings import day_of
from vigil.tenants.service import get_tenant
from vigil.web import charts
from vigil.web.access import ConsoleDep
from vigil.web.rendering import render

router = APIRouter(prefix="/ui", include_in_schema=False)

QUICK_DAYS: Final = {"7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days"}
DEFAULT_QUICK: Final = "30"
# The types a platform's resources have; Vigil's own (users, keys, settings…) are there too.
RESOURCE_TYPES: Final = [t.value for t in ResourceType]
FIGURES: Final = (
    ("active_users", "Active users"),
    ("total_actions", "Total actions"),
    ("resource_changes", "Resource changes"),
    ("sign_ins", "Sign-ins"),
    ("failed_sign_ins", "Failed sign-ins"),
)
POWER_USERS: Final = 10
INACTIVE_DAYS: Final = 30
INACTIVE_SHOWN: Final = 20


def _choices(request: Request) -> tuple[str, str, str, str]:
    """(quick range, from date, to date, resource type) as the page's query gives them."""
    params = request.query_params
    start = (params.get("from") or "").strip()[:40]
    end = (params.get("to") or "").strip()[:40]
    quick = (params.get("range") or "").strip()
    if quick not in QUICK_DAYS:
        quick = "" if (start or end) else DEFAULT_QUICK
    resource_type = (params.get("type") or "PROJECT").strip().upper()
    if resource_type not in RESOURCE_TYPES:
        resource_type = "PROJECT"
    return quick, start, end, resource_type


def _period(quick: str, start: str, end: str) -> Period:
    if quick:
        today = day_of(utcnow())
        return Period(today - int(quick) + 1, today)
    try:
        return parse_period(start or None, end or None, now=utcnow())
    except InvalidInput as error:  # the form's names for the API's
        field = {"start_date": "From", "end_date": "To"}.get(error.field, error.field)
        raise InvalidInput(field, error.reason) from None


@router.get("/analytics")
def analytics(request: Request, me: ConsoleDep, conn: SnapshotConnDep) -> Response:
    """Overview tiles, the peak-usage heatmap, popular features, power and inactive users,
    and resource activity for one type, over the chosen period."""
    quick, start, end, resource_type = _choices(request)
    base: dict[str, Any] = {
        "me": me,
        "section": "analytics",
        "quick": quick,
        "quick_days": QUICK_DAYS,
        "start": start,
        "end": end,
        "resource_type": resource_type,
        "resource_types": RESOURCE_TYPES,
    }
    try:
        period = _period(quick, start, end)
    except InvalidInput as error:
        return render(
            request,
            "analytics/analytics.html",
            {**base, "period_error": f"{error.field}: {error.reason}"},
            status_code=422,
        )
    tenant_id, now = me.principal.tenant_id, utcnow()
    zone = get_tenant(conn, tenant_id=tenant_id)["timezone"]
    peak = team.peak_times(conn, tenant_id=tenant_id, period=period, timezone=zone)
    features = team.features(conn, tenant_id=tenant_id, period=period)
    inactive, inactive_total = team.inactive_users(
        conn, tenant_id=tenant_id, days=INACTIVE_DAYS, limit=INACTIVE_SHOWN, offset=0, now=now
    )
    api_period = {
        "start_date": period.start.date().isoformat(),
        "end_date": (period.end - timedelta(days=1)).date().isoformat(),
    }

    def csv_link(path: str, **params: str) -> str:
        return f"{path}?{urlencode({**api_period, **params, 'format': 'csv'})}"

    return render(
        request,
        "analytics/analytics.html",
        {
            **base,
            "period": period,
            "period_last": api_period["end_date"],
            "figures": FIGURES,
            "overview": team.overview(conn, tenant_id=tenant_id, period=period),
            "peak": peak,
            "heatmap": charts.heatmap(peak["matrix"], zone),
            "features": features,
            "feature_shares": charts.shares(
                {f["resource_type"]: f["events"] for f in features["by_resource_type"]}
            ),
            "power": team.power_users(
                conn, tenant_id=tenant_id, period=period, limit=POWER_USERS, now=now
            ),
            "inactive": inactive,
            "inactive_total": inactive_total,
            "inactive_days": INACTIVE_DAYS,
            "resources": resource_activity(
                conn, tenant_id=tenant_id, resource_type=resource_type, period=period, limit=10
            ),
            "csv": {
                "overview": csv_link("/analytics/overview"),
                "peak": csv_link("/analytics/peak-times"),
                "features": csv_link("/analytics/features"),
                "power": csv_link("/analytics/users", kind="power", limit=str(POWER_USERS)),
                "inactive": csv_link("/analytics/users", kind="inactive", limit="1000"),
                "resources": csv_link("/analytics/resources", resource_type=resource_type),
            },
        },
    )
