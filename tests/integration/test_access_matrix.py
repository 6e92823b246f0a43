"""Every route, called with every permission, answers as access.toml says it should."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.conftest import Stack
from vigil.accounts import service as accounts
from vigil.accounts.access import (
    access_rules,
    check_every_route_has_a_rule,
    route_keys,
    served_routes,
)
from vigil.accounts.deps import authorize
from vigil.app import create_app
from vigil.core.permissions import Permission
from vigil.db.engine import write_transaction
from vigil.events import fast_path
from vigil.tenants import service as tenants
from vigil.web.access import console_user

PERMISSION_SETS = {
    "none": frozenset[Permission](),
    **{p.value: frozenset({p}) for p in Permission},
    "all": frozenset(Permission),
}


def test_every_route_has_exactly_one_rule(stack: Stack) -> None:
    app = create_app(stack.settings, engine=stack.engine)
    assert route_keys(app) == set(access_rules()), "access.toml and the routes disagree"


def is_console(key: str) -> bool:
    path = key.split(" ", 1)[1]
    return path == "/" or path.startswith("/ui/")


# The API's routes; the console's answer with pages and are checked in test_console_access.
API_ROUTES = sorted(key for key in access_rules() if not is_console(key))


def test_every_guarded_route_goes_through_authorize(stack: Stack) -> None:
    app = create_app(stack.settings, engine=stack.engine)
    # The ingest routes admit their caller themselves (admit_request with their rule), since
    # the fast path calls them without FastAPI's dependencies; the matrix below checks them.
    self_admitting = {f"{method} {path}" for method, path in fast_path.ROUTES}
    for key, route in served_routes(app):
        dependant = getattr(route, "dependant", None)
        calls = {d.call for d in dependant.dependencies} if dependant else set()
        guard = console_user if is_console(key) else authorize
        guarded = guard in calls or key in self_admitting
        assert guarded == (not access_rules()[key].public), key


@pytest.fixture(scope="module")
def clients(stack: Stack) -> dict[str, httpx.Client]:
    with write_transaction(stack.engine) as conn:
        tenant = tenants.create_tenant(
            conn, name=f"matrix-{uuid.uuid4().hex[:8]}", retention_days=90
        )
        keys = {
            label: accounts.create_api_key(conn, tenant_id=tenant["id"], name=label, scopes=scopes)[
                0
            ]
            for label, scopes in PERMISSION_SETS.items()
        }
    made = {
        label: httpx.Client(
            base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        for label, key in keys.items()
    }
    made["anonymous"] = httpx.Client(base_url=stack.base_url, timeout=30)
    return made


def concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", lambda _match: str(uuid.uuid4()), path)


@pytest.mark.parametrize("route", API_ROUTES)
def test_route_answers_each_permission_as_the_rules_say(
    clients: dict[str, httpx.Client], route: str
) -> None:
    method, path = route.split(" ", 1)
    rule = access_rules()[route]
    for label, client in clients.items():
        body = {} if method in ("POST", "PATCH", "PUT") else None
        with client.stream(method, concrete(path), json=body) as answer:
            # A live stream's answer never ends: its status and headers are the answer.
            if not answer.headers.get("content-type", "").startswith("text/event-stream"):
                answer.read()
        if rule.public:
            assert answer.status_code not in (401, 403), (label, answer.text)
        elif label == "anonymous":
            assert answer.status_code == 401, (label, answer.text)
        elif rule.session_only:  # every client here but the anonymous one holds an API key
            assert answer.status_code == 403, (label, answer.text)
            assert "not an API key" in answer.json()["detail"]
        elif not rule.any_of or PERMISSION_SETS[label] & rule.any_of:
            assert answer.status_code not in (401, 403), (label, answer.text)
        else:
            assert answer.status_code == 403, (label, answer.text)
            assert rule.describe() in answer.json()["detail"]


def test_a_route_without_a_rule_stops_the_app(stack: Stack) -> None:
    app = create_app(stack.settings, engine=stack.engine)

    @app.get("/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="GET /forgotten"):
        check_every_route_has_a_rule(app)
