"""A throwaway PostgreSQL cluster from the system's ``initdb``/``pg_ctl``, on loopback."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SEARCH_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
RUN_AS = "postgres"  # initdb refuses root; Debian's package creates this user


def find_pg_bin() -> Path:
    """The directory holding initdb and pg_ctl, newest version first."""
    for directory in [*SEARCH_DIRS, *(os.environ.get("PATH", "").split(os.pathsep))]:
        if directory and (Path(directory) / "initdb").exists():
            return Path(directory)
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")


def free_port() -> int:
    """A TCP port nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    """A running cluster; ``url(db)`` gives a SQLAlchemy URL for one of its databases."""

    port: int
    data_dir: Path
    bin_dir: Path

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create a database and return its URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin_dir / tool), *args], check=True, capture_output=True, timeout=60
        )


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", RUN_AS, "--", *command]


@contextmanager
def throwaway_cluster(*, fsync: bool = False, extra: tuple[str, ...] = ()) -> Iterator[Cluster]:
    """Start a fresh cluster in a temporary directory; stop and delete it afterwards."""
    bin_dir = find_pg_bin()
    root = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
    data_dir = root / "data"
    data_dir.mkdir()
    if os.geteuid() == 0:
        owner = pwd.getpwnam(RUN_AS)
        os.chown(root, owner.pw_uid, owner.pw_gid)
        os.chown(data_dir, owner.pw_uid, owner.pw_gid)
    port = free_port()
    log_file = root / "postgres.log"
    options = [
        f"-p {port}",
        f"-k {root}",
        "-c listen_addresses=127.0.0.1",
        f"-c fsync={'on' if fsync else 'off'}",
        "-c max_connections=200",
        *extra,
    ]
    try:
        subprocess.run(
            _as_postgres(
                [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres",
                 "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]
            ),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            _as_postgres(
                [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", " ".join(options),
                 "-l", str(log_file), "-w", "start"]
            ),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        _wait_ready(bin_dir, port)
        yield Cluster(port=port, data_dir=data_dir, bin_dir=bin_dir)
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "stop"]),
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(bin_dir: Path, port: int, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
            capture_output=True, check=False,
        )  # fmt: skip
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL did not become ready on port {port}")
