"""The demo company's AI platform: resources created, changed and deleted as time goes by.

State is kept so the story holds together: an update or a deletion names a resource that
exists at that moment, with the values it had, and a deleted resource is never seen again.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any

from vigil.accounts.management import change_details
from vigil.core.permissions import Role
from vigil.demo.catalog import REGIONS, Resource, edit, new_resource
from vigil.events.schemas import Action, ResourceType, Status

# What each role mostly works on (relative weights).
FOCUS: dict[Role, dict[ResourceType, int]] = {
    Role.DEVELOPER: {
        ResourceType.MODEL: 35, ResourceType.BENCHMARK: 25, ResourceType.ENDPOINT: 20,
        ResourceType.PROJECT: 15, ResourceType.CLUSTER: 5,
    },
    Role.TESTER: {
        ResourceType.BENCHMARK: 60, ResourceType.MODEL: 15, ResourceType.ENDPOINT: 15,
        ResourceType.PROJECT: 10,
    },
    Role.DEVOPS: {
        ResourceType.ENDPOINT: 45, ResourceType.CLUSTER: 35, ResourceType.MODEL: 10,
        ResourceType.PROJECT: 10,
    },
    Role.ADMIN: {
        ResourceType.PROJECT: 40, ResourceType.ENDPOINT: 15, ResourceType.CLUSTER: 15,
        ResourceType.MODEL: 15, ResourceType.BENCHMARK: 15,
    },
}  # fmt: skip
FOCUS[Role.SUPER_ADMIN] = FOCUS[Role.ADMIN]
# How many of each kind a team this size keeps around; creation and deletion drift towards it.
TYPICAL_COUNT = {
    ResourceType.PROJECT: 10, ResourceType.MODEL: 25, ResourceType.ENDPOINT: 16,
    ResourceType.CLUSTER: 5, ResourceType.BENCHMARK: 50,
}  # fmt: skip
# Benchmarks are runs: started often, finished once, rarely deleted one by one.
ACTION_MIX = {
    ResourceType.BENCHMARK: {Action.CREATE: 35, Action.UPDATE: 57, Action.DELETE: 8},
}
USUAL_MIX = {Action.CREATE: 13, Action.UPDATE: 77, Action.DELETE: 10}
FAILURE_RATE = 0.04
# Why an action fails, by what it touches: capacity for what runs on GPUs, else the usual.
CAPACITY_FAILURES = (
    "quota exceeded: GPU quota for this project",
    "insufficient capacity in the requested region",
)
GPU_KINDS = frozenset({ResourceType.ENDPOINT, ResourceType.CLUSTER})
SCALING_FIELDS = frozenset({"replicas", "max_replicas", "node_count", "gpu_type"})
OTHER_FAILURES = {
    Action.CREATE: ("validation failed: name already in use", "permission denied: requires editor"),
    Action.UPDATE: (
        "permission denied: requires project owner",
        "conflict: resource was modified concurrently",
    ),
    Action.DELETE: (
        "resource is in use by other resources",
        "permission denied: requires project owner",
    ),
}
# The organisation's settings an admin changes now and then, with the values they take.
SETTINGS_ID = "org-settings"
ORGANISATION_SETTINGS: dict[str, tuple[Any, ...]] = {
    "session_timeout_minutes": (480, 240, 120, 60),
    "sso_enforced": (False, True),
    "default_region": REGIONS,
    "max_endpoints_per_project": (10, 20, 30),
    "gpu_hours_quota_per_month": (1000, 2000, 5000),
}
AUTOMATIONS = ("ci-deploy", "nightly-benchmarks", "grafana-exporter", "airflow", "terraform")
AUTOMATION_SCOPES = ("models:read", "models:write", "endpoints:write", "benchmarks:write")


@dataclass(frozen=True, slots=True)
class Change:
    """One thing someone did to the platform, as an event will tell it."""

    action: Action
    resource_type: ResourceType
    resource_id: str
    details: dict[str, Any]
    status: Status = Status.SUCCESS


class Platform:
    """The live resources, changed one action at a time."""

    def __init__(self, rng: Random) -> None:
        self._rng = rng
        self._live: dict[ResourceType, list[Resource]] = {kind: [] for kind in TYPICAL_COUNT}
        self._settings = {name: values[0] for name, values in ORGANISATION_SETTINGS.items()}
        self._api_keys: list[Resource] = []
        self._stock()

    def act(self, role: Role) -> Change:
        """Something a person in ``role`` might do next: create, update or delete."""
        focus = FOCUS[role]
        kind = self._rng.choices(list(focus), weights=list(focus.values()))[0]
        action = self._choose_action(kind)
        if action is Action.CREATE:
            return self._create(kind)
        live = self._live[kind]
        if action is Action.UPDATE:
            return self._update(self._rng.choice(live))
        # What gets deleted has usually been around a while: the older half, never the newest.
        return self._delete(self._rng.choice(live[: len(live) // 2]))

    def clear_out(self, count: int, *, reason: str) -> list[Change]:
        """Delete ``count`` benchmark runs at once, oldest first (the bulk-deletion story)."""
        runs = self._live[ResourceType.BENCHMARK]
        while len(runs) < count:  # older runs, from before the timeline began
            runs.insert(0, self._new(ResourceType.BENCHMARK))
        doomed, self._live[ResourceType.BENCHMARK] = runs[:count], runs[count:]
        return [
            Change(Action.DELETE, r.kind, r.id, {"name": r.attributes["name"], "reason": reason})
            for r in doomed
        ]

    def adjust_settings(self) -> Change:
        """An admin changing one of the organisation's settings."""
        name = self._rng.choice(list(ORGANISATION_SETTINGS))
        old = self._settings[name]
        new = self._rng.choice([v for v in ORGANISATION_SETTINGS[name] if v != old])
        self._settings[name] = new
        details = change_details({name: (old, new)})
        return Change(Action.UPDATE, ResourceType.SETTINGS, SETTINGS_ID, details)

    def change_api_key(self) -> Change:
        """A key made for an automation, or the oldest one revoked once there are a few."""
        rng = self._rng
        if len(self._api_keys) >= 3 and rng.random() < 0.5:
            key = self._api_keys.pop(0)
            return Change(Action.DELETE, key.kind, key.id, dict(key.attributes))
        prefix = f"ak_{rng.getrandbits(24):06x}"
        attributes = {
            "name": rng.choice(AUTOMATIONS),
            "scopes": ",".join(sorted(rng.sample(AUTOMATION_SCOPES, rng.randint(1, 3)))),
            "prefix": prefix,
        }
        key = Resource(ResourceType.API_KEY, f"key-{prefix[3:]}", attributes)
        self._api_keys.append(key)
        return Change(Action.CREATE, key.kind, key.id, dict(attributes))

    def _stock(self) -> None:
        # What existed before the timeline begins, about two thirds of the usual number of
        # each kind; models first, for the endpoints and benchmarks to use.
        for kind in sorted(TYPICAL_COUNT, key=lambda kind: kind is not ResourceType.MODEL):
            for _ in range(TYPICAL_COUNT[kind] * 2 // 3):
                self._live[kind].append(self._new(kind))

    def _new(self, kind: ResourceType) -> Resource:
        return new_resource(kind, self._rng, models=self._live[ResourceType.MODEL])

    def _choose_action(self, kind: ResourceType) -> Action:
        count, typical = len(self._live[kind]), TYPICAL_COUNT[kind]
        if count < 2:
            return Action.CREATE
        mix = dict(ACTION_MIX.get(kind, USUAL_MIX))
        if count < typical * 0.6:  # running low: people make more than they remove
            mix[Action.CREATE] *= 2
            mix[Action.DELETE] //= 2
        elif count > typical * 1.4:  # growing too big: time to tidy up
            mix[Action.CREATE] //= 2
            mix[Action.DELETE] *= 3
        return self._rng.choices(list(mix), weights=list(mix.values()))[0]

    def _create(self, kind: ResourceType) -> Change:
        resource = self._new(kind)
        details = dict(resource.attributes)
        if self._fails():
            details |= self._error(Action.CREATE, scaling=kind in GPU_KINDS)
            return Change(Action.CREATE, kind, resource.id, details, Status.FAILED)
        self._live[kind].append(resource)
        return Change(Action.CREATE, kind, resource.id, details)

    def _update(self, resource: Resource) -> Change:
        new_values = edit(resource, self._rng)
        changed = {f: (resource.attributes.get(f), v) for f, v in new_values.items()}
        details = change_details(changed)
        if self._fails():
            details |= self._error(Action.UPDATE, scaling=bool(SCALING_FIELDS & set(new_values)))
            return Change(Action.UPDATE, resource.kind, resource.id, details, Status.FAILED)
        resource.attributes.update(new_values)
        return Change(Action.UPDATE, resource.kind, resource.id, details)

    def _delete(self, resource: Resource) -> Change:
        details: dict[str, Any] = {"name": resource.attributes["name"]}
        if self._fails():
            details |= self._error(Action.DELETE, scaling=False)
            return Change(Action.DELETE, resource.kind, resource.id, details, Status.FAILED)
        self._live[resource.kind].remove(resource)
        return Change(Action.DELETE, resource.kind, resource.id, details)

    def _fails(self) -> bool:
        return self._rng.random() < FAILURE_RATE

    def _error(self, action: Action, *, scaling: bool) -> dict[str, Any]:
        return {"error": self._rng.choice(CAPACITY_FAILURES if scaling else OTHER_FAILURES[action])}
