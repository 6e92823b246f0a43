"""What each kind of event is about: its resource and a ``details`` object a platform would send."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from bench.world import User, World

# Resource types of CREATE/UPDATE/DELETE, by how often a platform touches them.
CHANGED_TYPES = ("PROJECT", "MODEL", "ENDPOINT", "CLUSTER", "BENCHMARK", "USER", "SETTINGS",
                 "API_KEY")  # fmt: skip
CHANGED_WEIGHTS = (22, 25, 22, 6, 12, 8, 3, 2)
SYSTEM_SHARE = 0.03  # of resource changes, made by the platform itself (autoscaler, cleanup)
ERRORS = ("permission denied", "quota exceeded", "validation failed", "resource busy")
GUESSED_EMAILS = ("admin@company.com", "root@company.com", "test@company.com", "it@company.com")
DELETE_REASONS = ("No longer needed", "Replaced by a newer version", "Cost reduction",
                  "Created by mistake", "Project finished")  # fmt: skip
ROLES = ("DEVELOPER", "TESTER", "DEVOPS", "ADMIN")
SETTINGS: tuple[tuple[str, Any, Any], ...] = (
    ("session_timeout_minutes", 30, 60), ("mfa_required", False, True),
    ("retention_days", 90, 180), ("allowed_ip_ranges", [], ["10.0.0.0/8"]),
)  # fmt: skip
NAME_KEYS = {"PROJECT": "project_name", "MODEL": "model_name", "ENDPOINT": "endpoint_name",
             "CLUSTER": "cluster_name", "BENCHMARK": "benchmark_name"}  # fmt: skip


@dataclass(slots=True)
class Body:
    """The resource an event is about and its details; ``system`` when no person acted."""

    resource_type: str
    resource_id: str | None
    details: dict[str, Any] | None
    system: bool = False


def for_action(rng: random.Random, world: World, action: str, actor: User) -> Body:
    """The resource and details of one ``action`` by ``actor``."""
    if action in ("CREATE", "UPDATE", "DELETE"):
        kind = rng.choices(CHANGED_TYPES, weights=CHANGED_WEIGHTS)[0]
        if kind == "USER":
            return _user_change(rng, world, action, actor)
        if kind == "SETTINGS":
            name, old, new = rng.choice(SETTINGS)
            body = {"setting": name, "old_value": old, "new_value": new}
            return Body("SETTINGS", f"settings-{name.split('_')[0]}", body)
        if kind == "API_KEY":
            key_id = f"key-{rng.getrandbits(40):010x}"
            body = {"name": rng.choice(("ci-deploy", "sdk-prod", "grafana", "backfill")),
                    "scopes": ["EVENTS_WRITE"]}  # fmt: skip
            return Body("API_KEY", key_id, body)
        return _resource_change(rng, world, action, kind)
    if action == "LOGIN":
        method = rng.choice(("email_password", "sso_okta", "sso_google", "email_password"))
        body = {"login_method": method, "mfa": rng.random() < 0.7, "tenant_name": "Acme Corp"}
        return Body("USER", actor.user_id, body)
    if action == "LOGOUT":
        body = {"session_minutes": rng.randint(2, 600), "reason": rng.choice(("user", "timeout"))}
        return Body("USER", actor.user_id, body)
    if action == "LOGIN_FAILED":  # a typo; bursts from one address are made elsewhere
        body = {"reason": "Invalid credentials", "attempted_email": actor.email, "attempt": 1}
        return Body("USER", actor.user_id, body)
    if action == "PASSWORD_RESET":
        body = {"method": "email_link", "initiated_by": rng.choice(("self", "self", "admin"))}
        return Body("USER", actor.user_id, body)
    filters: dict[str, Any] = {"action": [rng.choice(("LOGIN_FAILED", "DELETE", "UPDATE"))],
               "start_date": "2026-10-01"}  # fmt: skip
    body = {"format": rng.choice(("csv", "csv", "json")), "rows": rng.randint(10, 50_000),
            "filters": filters}  # fmt: skip
    return Body("AUDIT_LOG", None, body)


def _user_change(rng: random.Random, world: World, action: str, actor: User) -> Body:
    target = world.users.pick(rng)
    if action == "UPDATE":
        field = rng.choice(("role", "role", "name", "status"))
        if field == "role":
            old, new = rng.sample(ROLES, 2)
        elif field == "name":
            old, new = target.email.split("@")[0], target.email.split("@")[0].title()
        else:
            old, new = "ACTIVE", "SUSPENDED"
        body: dict[str, Any] = {
            "changed_fields": [field],
            "old_value": {field: old},
            "new_value": {field: new},
            "reason": rng.choice(("Team change", "Requested by manager", "Security review")),
        }
    elif action == "CREATE":
        body = {"email": target.email, "role": target.role, "invited_by": actor.email}
    else:
        body = {"email": target.email, "reason": rng.choice(("Left the company", "Duplicate"))}
    return Body("USER", target.user_id, body)


def _resource_change(rng: random.Random, world: World, action: str, kind: str) -> Body:
    resource = world.resources[kind].pick(rng)
    body: dict[str, Any] = {NAME_KEYS[kind]: resource.name}
    if action == "DELETE":
        body["reason"] = rng.choice(DELETE_REASONS)
        return Body(kind, resource.resource_id, body, system=rng.random() < SYSTEM_SHARE)
    if kind == "PROJECT":
        body["description"] = f"{resource.name.replace('-', ' ').capitalize()} workloads"
        body["visibility"] = rng.choice(("private", "team", "organisation"))
    elif kind == "MODEL":
        body["framework"] = rng.choice(("pytorch", "vllm", "onnx", "transformers"))
        body["version"] = f"{rng.randint(0, 3)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"
        body["project_id"] = world.resources["PROJECT"].pick(rng).resource_id
    elif kind == "ENDPOINT":
        replicas = rng.randint(1, 8)
        body["model_id"] = world.resources["MODEL"].pick(rng).resource_id
        if action == "UPDATE":
            body["changed_fields"] = ["replicas"]
            body["old_value"], body["new_value"] = replicas, replicas + rng.choice((-1, 1, 2))
        else:
            body["replicas"] = replicas
        body["instance_type"] = rng.choice(("gpu-a10g", "gpu-l4", "gpu-h100", "cpu-large"))
    elif kind == "CLUSTER":
        body["provider"] = rng.choice(("aws", "gcp", "azure", "on-prem"))
        body["region"] = rng.choice(("eu-west-1", "us-east-1", "europe-west4", "ap-south-1"))
        body["node_count"] = rng.randint(2, 64)
    else:
        body["dataset"] = rng.choice(("mmlu", "gsm8k", "humaneval", "internal-qa-v3"))
        body["max_tokens"] = rng.choice((256, 512, 1024))
        body["metrics"] = {
            "accuracy": round(rng.random(), 4),
            "p95_latency_ms": rng.randint(80, 900),
        }
    system = action == "UPDATE" and kind == "ENDPOINT" and rng.random() < SYSTEM_SHARE * 4
    return Body(kind, resource.resource_id, body, system=system)
