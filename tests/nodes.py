"""``vigil serve`` in a process of its own, as another node (or a restarted one) would run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.helpers import eventually
from vigil.testing.postgres import free_port

VIGIL = str(Path(sys.executable).with_name("vigil"))


class Node:
    """A ``vigil serve`` process on ``url``; started, killed and restarted at will."""

    def __init__(
        self,
        url: str,
        workdir: Path,
        *,
        secret_key: str,
        admin_password: str | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "VIGIL_DATABASE_URL": url,
            "VIGIL_DATA_DIR": str(workdir),
            "VIGIL_SECRET_KEY": secret_key,
            "VIGIL_PORT": str(self.port),
            "VIGIL_LOG_LEVEL": "warning",
            **({"VIGIL_ADMIN_PASSWORD": admin_password} if admin_password else {}),
        }
        self.log_path = log_path  # where its standard output (its JSON log) goes, if kept
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start the process and wait until it answers ``/healthz``."""
        stdout = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                [VIGIL, "serve"], env=self.env, stdout=stdout, stderr=subprocess.PIPE, text=True
            )
        finally:
            if not isinstance(stdout, int):
                stdout.close()  # the child has its own copy

        def healthy() -> bool:
            process = self.process
            assert process is not None
            if process.poll() is not None:
                pytest.fail(
                    f"vigil serve exited: {process.stderr.read() if process.stderr else ''}"
                )
            try:
                return httpx.get(f"{self.base}/healthz").status_code == 200
            except httpx.TransportError:
                return False

        eventually(healthy, what=f"vigil serve to answer at {self.base}", timeout=60)

    def kill(self) -> None:
        """``kill -9``: no shutdown, no last pass, nothing flushed."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop the process the way an operator would (SIGTERM)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.communicate(timeout=30)

    def cli(self, *args: str) -> str:
        """Run a ``vigil`` command against the node's database; its standard output."""
        done = subprocess.run(
            [VIGIL, *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


@contextmanager
def running_node(url: str, workdir: Path, *, secret_key: str) -> Iterator[str]:
    """A started node for the block; its base URL."""
    node = Node(url, workdir, secret_key=secret_key)
    node.start()
    try:
        yield node.base
    finally:
        node.stop()
