"""The command line, run as a script would run it, against both databases."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Stack
from tests.helpers import eventually, make_event
from tests.nodes import VIGIL
from vigil.accounts.tables import api_keys, users
from vigil.testing.postgres import free_port


def run_vigil(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "VIGIL_DATABASE_URL": stack.settings.database_url,
        "VIGIL_DATA_DIR": str(stack.settings.data_dir),
        **env,
    }
    return subprocess.run(
        [VIGIL, *args], capture_output=True, text=True, env=environment, timeout=120, check=False
    )


def test_init_creates_a_tenant_once(stack: Stack) -> None:
    name = f"Acme {uuid.uuid4().hex[:6]}"
    email = f"root-{uuid.uuid4().hex[:6]}@acme.example"
    made = run_vigil(
        stack,
        "init",
        "--tenant",
        name,
        "--admin-email",
        email,
        "--admin-password",
        "correct horse battery",
    )
    assert made.returncode == 0, made.stderr
    with stack.engine.connect() as conn:
        admin = conn.execute(select(users).where(users.c.email == email)).mappings().one()
    assert admin["role"] == "ADMIN"
    assert "correct horse" not in (admin["password_hash"] or "")
    again = run_vigil(stack, "init", "--tenant", name, "--admin-email", "other-" + email)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_init_generates_and_prints_a_password(stack: Stack) -> None:
    made = run_vigil(
        stack,
        "init",
        "--tenant",
        f"T {uuid.uuid4().hex[:6]}",
        "--admin-email",
        f"a-{uuid.uuid4().hex[:6]}@x.example",
    )
    assert made.returncode == 0, made.stderr
    password = made.stdout.strip()
    assert len(password) >= 12
    assert password not in made.stderr


def test_init_refuses_a_short_password(stack: Stack) -> None:
    made = run_vigil(
        stack,
        "init",
        "--tenant",
        "Shorty",
        "--admin-email",
        "s@x.example",
        "--admin-password",
        "short",
    )
    assert made.returncode == 1
    assert "at least 12 characters" in made.stderr


def test_apikey_create_prints_only_the_key(stack: Stack) -> None:
    name = f"Keys {uuid.uuid4().hex[:6]}"
    run_vigil(
        stack, "init", "--tenant", name, "--admin-email", f"k-{uuid.uuid4().hex[:6]}@x.example"
    )
    made = run_vigil(
        stack,
        "apikey",
        "create",
        "--tenant",
        name,
        "--name",
        "ingest",
        "--scopes",
        "EVENTS_WRITE,USER_VIEW",
    )
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert len(lines) == 1
    key = lines[0]
    assert key.startswith("vk_")
    with stack.engine.connect() as conn:
        stored = conn.execute(select(api_keys.c.key_hash, api_keys.c.scopes)).all()
    assert all(key not in row.key_hash for row in stored)
    client = httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"})
    with client:
        assert client.post("/audit-logs/", json=make_event()).status_code == 201
        created = client.get("/audit-logs/", params={"resource_type": "API_KEY"}).json()["items"]
    assert created[0]["details"]["name"] == "ingest"
    assert key not in str(created)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "No Such Tenant", "--name", "x", "--scopes", "USER_VIEW"], "not found"),
        (["--tenant", "whatever", "--name", "x", "--scopes", "USER_VIEW,ROOT"], "ROOT"),
    ],
)
def test_apikey_create_errors(stack: Stack, args: list[str], message: str) -> None:
    made = run_vigil(stack, "apikey", "create", *args)
    assert made.returncode == 1
    assert message in made.stderr
    assert made.stdout == ""


def test_serve_bootstraps_an_empty_database(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "VIGIL_DATA_DIR": str(tmp_path / "var"), "VIGIL_PORT": str(port)}
    env.pop("VIGIL_DATABASE_URL", None)
    server = subprocess.Popen(
        [VIGIL, "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        eventually(up, what="vigil serve to answer /healthz", timeout=60, interval=0.2)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert (tmp_path / "var" / "vigil.db").exists()
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0
    assert "admin@example.com" in output
    assert "password:" in output


def test_init_refuses_a_malformed_email(stack: Stack) -> None:
    made = run_vigil(stack, "init", "--tenant", "Bad Email", "--admin-email", "not an email")
    assert made.returncode == 1
    assert "--admin-email" in made.stderr


def test_serve_refuses_a_weak_bootstrap_password(tmp_path: Path) -> None:
    env = {**os.environ, "VIGIL_DATA_DIR": str(tmp_path / "var"), "VIGIL_ADMIN_PASSWORD": "short"}
    env.pop("VIGIL_DATABASE_URL", None)
    made = subprocess.run([VIGIL, "serve", "--port", str(free_port())], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert made.returncode == 1
    assert "VIGIL_ADMIN_PASSWORD must be at least 12 characters" in made.stderr


def test_reset_link_prints_a_working_link(stack: Stack) -> None:
    name = f"Links {uuid.uuid4().hex[:6]}"
    email = f"links-{uuid.uuid4().hex[:6]}@x.example"
    run_vigil(stack, "init", "--tenant", name, "--admin-email", email)
    made = run_vigil(
        stack,
        "user",
        "reset-link",
        email,
        "--tenant",
        name,
        VIGIL_PUBLIC_URL="https://vigil.example",
    )
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith("https://vigil.example/ui/reset-password?token=vr_")
    token = link.split("token=")[1]
    with httpx.Client(base_url=stack.base_url) as client:
        done = client.post(
            "/auth/password-reset/confirm",
            json={"token": token, "new_password": "a fresh long password"},
        )
        assert done.status_code == 200
        assert (
            client.post(
                "/auth/login", json={"email": email, "password": "a fresh long password"}
            ).status_code
            == 200
        )
    missing = run_vigil(stack, "user", "reset-link", "nobody@x.example", "--tenant", name)
    assert missing.returncode == 1
    assert "no active user" in missing.stderr
