"""A ``vigil serve`` subprocess on loopback, with its tenant and API key made by the real CLI.

The server runs in its own process so the load generator never shares its GIL, and psutil
can read the server's CPU time and memory on their own.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from vigil.db.engine import build_engine
from vigil.tenants.service import get_tenant_by_name
from vigil.testing.postgres import free_port

TENANT = "bench"
ADMIN_EMAIL = "admin@bench.example"
ADMIN_PASSWORD = "bench-admin-password-1"
CLI = (sys.executable, "-m", "vigil.cli.main")


@dataclass(frozen=True, slots=True)
class Tenant:
    """The benchmark tenant: its id (for raw inserts) and an API key to call the API with."""

    tenant_id: uuid.UUID
    api_key: str


@dataclass(frozen=True, slots=True)
class Server:
    """A running server: where it listens and its process, for CPU and memory readings."""

    host: str
    port: int
    process: psutil.Process


def _environment(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env |= {
        "VIGIL_DATABASE_URL": database_url,
        "VIGIL_DATA_DIR": str(data_dir),
        # No per-request access log: it would time the log handler, not Vigil.
        "VIGIL_LOG_LEVEL": "warning",
    }
    return env


def create_tenant(database_url: str, data_dir: Path) -> Tenant:
    """Migrate, create the tenant and a read/write key with the CLI, and look up the tenant id."""
    env = _environment(database_url, data_dir)
    init = ("init", "--tenant", TENANT, "--admin-email", ADMIN_EMAIL,
            "--admin-password", ADMIN_PASSWORD)  # fmt: skip
    subprocess.run([*CLI, *init], env=env, check=True, capture_output=True, timeout=120)
    key = ("apikey", "create", "--tenant", TENANT, "--name", "bench",
           "--scopes", "EVENTS_WRITE,USER_VIEW")  # fmt: skip
    made = subprocess.run([*CLI, *key], env=env, check=True, capture_output=True, timeout=120)
    engine = build_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            tenant = get_tenant_by_name(conn, name=TENANT)
    finally:
        engine.dispose()
    assert tenant is not None
    return Tenant(tenant_id=tenant["id"], api_key=made.stdout.decode().strip())


@contextmanager
def running_server(
    database_url: str, data_dir: Path, *, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """Start ``vigil serve`` (it migrates first) with ``env`` added to its environment,
    wait until healthy, stop it afterwards."""
    port = free_port()
    log_path = data_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=_environment(database_url, data_dir) | dict(env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop it
        )
        try:
            _wait_healthy(process, port, log_path)
            yield Server(host="127.0.0.1", port=port, process=psutil.Process(process.pid))
        finally:
            _stop(process)


def _wait_healthy(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"vigil serve exited with {process.returncode}:\n{tail}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise RuntimeError(f"vigil serve did not become healthy on port {port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # lets the group-commit writer drain
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
