"""schemathesis against a real ``vigil serve``: what the API answers is what its document says.

Cases are generated from ``/openapi.json`` (examples, boundary values, then random inputs,
valid and invalid) for every operation, a bounded number each, with a fixed seed. Every
answer must be no server error, a documented status, with a documented content type and
headers, a body matching its schema, and a 405 naming the path's methods in ``Allow``.
Requests carry an API key with every permission; the routes for signed-in people carry a
session token instead (``POST /auth/logout`` keeps the key, so the session lives on).
No case is left out: dates from year 1 to 9999 included, since no timeline outgrows 1,000
points.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import eventually
from tests.nodes import VIGIL, Node

ST = str(Path(sys.executable).with_name("st"))
ADMIN_PASSWORD = "schemathesis admin passphrase"
CASES_PER_OPERATION = 10
SEED = 20250115
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
)
CONFIG = """
headers = { Authorization = "Bearer ${VIGIL_TEST_KEY}" }

# The live feed's answer never ends; tests/integration/test_live_feed.py covers it.
[[operations]]
include-path = "/audit-logs/stream"
enabled = false

[[operations]]
include-path-regex = "^/(auth/password|auth/2fa/.+|notifications.*)$"
headers = { Authorization = "Bearer ${VIGIL_TEST_SESSION}" }
"""


def test_every_answer_is_one_the_document_promises(tmp_path: Path) -> None:
    node = Node(
        f"sqlite:///{tmp_path / 'vigil.db'}",
        tmp_path,
        secret_key="f" * 48,
        admin_password=ADMIN_PASSWORD,
    )
    with (tmp_path / "serve.log").open("w") as log:
        # Not Node.start: a long run's log must go to a file, never fill a pipe.
        server = subprocess.Popen([VIGIL, "serve"], env=node.env, stdout=log, stderr=log)
        try:
            eventually(lambda: _healthy(node.base), what="vigil serve to start", timeout=60)
            key = node.cli(
                "apikey", "create", "--tenant", "Default", "--name", "schemathesis",
                "--scopes", "EVENTS_WRITE,USER_VIEW,USER_MANAGE",
            )  # fmt: skip
            signed_in = httpx.post(
                f"{node.base}/auth/login",
                json={"email": "admin@example.com", "password": ADMIN_PASSWORD},
            )
            assert signed_in.status_code == 200, signed_in.text
            output = _schemathesis(tmp_path, node.base, key, signed_in.json()["token"])
            # The run left the key working (no allowlist or revocation locked it out).
            me = httpx.get(f"{node.base}/auth/me", headers={"Authorization": f"Bearer {key}"})
            assert me.status_code == 200, me.text
        finally:
            server.terminate()
            server.wait(timeout=30)
    tested = re.search(r"Tested: (\d+)", output)
    generated = re.search(r"(\d+) generated", output)
    assert tested, output
    assert generated, output
    print(f"schemathesis: {generated[1]} cases over {tested[1]} operations, no failures")
    assert int(tested[1]) >= 40
    assert int(generated[1]) >= 40 * CASES_PER_OPERATION


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def _schemathesis(workdir: Path, base: str, key: str, session: str) -> str:
    """Run ``st`` in ``workdir`` (it keeps files where it runs); its output, once it passed."""
    (workdir / "schemathesis.toml").write_text(CONFIG)
    done = subprocess.run(
        [
            ST, "run", f"{base}/openapi.json",
            "--checks", ",".join(CHECKS),
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(CASES_PER_OPERATION),
            "--seed", str(SEED),
            "--generation-database", "none",
            "--request-timeout", "30",
            "--no-color",
        ],
        cwd=workdir,
        env={
            "VIGIL_TEST_KEY": key,
            "VIGIL_TEST_SESSION": session,
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    server_log = (workdir / "serve.log").read_text()[-4000:]
    assert done.returncode == 0, f"{done.stdout[-20000:]}\n--- server log ---\n{server_log}"
    return done.stdout
