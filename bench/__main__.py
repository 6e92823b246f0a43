"""``python -m bench``: every benchmark on SQLite and on a throwaway PostgreSQL, then a report.

Each backend gets its own scratch directory and servers, removed at the end even after an
error or Ctrl-C (SIGTERM is turned into the same clean unwinding).
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from bench import alerts, analytics, export, ingest, live, machine, queries, report, summary
from bench.backends import Backend, PostgresBackend, SQLiteBackend
from bench.context import Context, Sizes
from bench.dataset import default_end
from bench.load import load_events
from bench.server import create_tenant, running_server
from bench.stats import memory_mb
from bench.world import build_world
from vigil.testing.postgres import throwaway_cluster

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
PARTS = ("ingest", "queries", "summary", "analytics", "export", "alerts", "live")
# A production-like PostgreSQL: durable commits (fsync on), memory for a 1M-row table,
# and no checkpoint storms in the middle of a bulk load.
POSTGRES_SETTINGS = ("-c shared_buffers=1GB", "-c max_wal_size=4GB", "-c effective_cache_size=8GB")

console = Console(stderr=True, highlight=False)


def _log(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}")


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--events", type=int, default=None, help="events in the query/export dataset (1,000,000)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        type=_parts,
        default=None,
        help="run only these benchmarks, comma-separated, of "
        + ", ".join(PARTS)
        + " (ingest: 1 and 2; queries: 3 and 7; summary: 5; analytics: 8; export: 4;"
        + " alerts: 6; live: 9)",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated activity")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    return parser.parse_args(argv)


def _parts(text: str) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = chosen - set(PARTS)
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(PARTS)} (not {text!r})")
    return chosen


def run_backend(
    name: str, sizes: Sizes, seed: int, *, only: frozenset[str] | None
) -> dict[str, Any]:
    """Every benchmark (or ``only`` those named) on one backend, in its own scratch space."""

    def wanted(part: str) -> bool:
        return only is None or part in only

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vigil-bench-")))
        backend: Backend
        if name == "sqlite":
            backend = SQLiteBackend(workdir)
        else:
            _log("starting a throwaway PostgreSQL cluster")
            cluster = stack.enter_context(throwaway_cluster(fsync=True, extra=POSTGRES_SETTINGS))
            backend = PostgresBackend(cluster)
        ctx = Context(backend=backend, workdir=workdir, world=build_world(seed), seed=seed,
                      end=default_end(), sizes=sizes)  # fmt: skip
        result: dict[str, Any] = {}
        if wanted("ingest"):
            result["ingest"] = ingest.run(ctx, _log)
        if wanted("live"):  # a database of its own, before the loaded one
            result["live"] = live.run(ctx, _log)
        if only is not None and not only - {"ingest", "live"}:
            return result

        url = backend.new_database("query")
        tenant = create_tenant(url, workdir)
        _log(f"loading {sizes.query_events:,} events for the query and export benchmarks")
        searched = only is None or bool(only & {"queries", "export", "alerts"})
        result["load"] = load_events(ctx, url, tenant.tenant_id, search_index=searched)
        conn = backend.connect(url)
        result["version"] = backend.version(conn)
        result["load"]["size_mb"] = backend.size_mb(conn)
        conn.close()
        if wanted("queries") or wanted("summary") or wanted("analytics"):
            with running_server(url, workdir) as server:
                if wanted("queries"):
                    result["queries"] = queries.run(ctx, server, tenant, url, _log)
                if wanted("summary"):
                    result["summary"] = summary.run(ctx, server, tenant, url, _log)
                if wanted("analytics"):
                    result["analytics"] = analytics.run(ctx, server, tenant, url, _log)
                if wanted("queries"):
                    result["queries"]["server_memory_after_mb"] = memory_mb(server.process)
        if wanted("export"):
            # A fresh server, so the export's memory is its own, not the query caches'.
            with running_server(url, workdir) as server:
                result["export"] = export.run(ctx, server, tenant, url, _log)
        if wanted("alerts"):
            # Last: its background load adds events the other benchmarks must not see.
            with running_server(url, workdir) as server:
                result["alerts"] = alerts.run(ctx, server, tenant, url, _log)
        return result


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    """Run the chosen benchmarks, print the tables and write the JSON."""
    args = _arguments(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    # Even when started in the background, where SIGINT arrives ignored: always stop cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sizes = Sizes.quick(query_events=args.events) if args.quick else Sizes()
    if args.events and not args.quick:
        sizes = Sizes(query_events=args.events)
    names = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results: dict[str, Any] = {
        "machine": machine.describe(),
        "command": "python -m bench " + " ".join(argv),
        "seed": args.seed,
        "sizes": asdict(sizes),
        "backends": {},
    }
    _log(
        f"CPU calibration: {results['machine']['cpu_calibration_ms']} ms for"
        f' {machine.CALIBRATION_LOOPS:,} loops of Python (BENCHMARKS.md, "Where and how")'
    )
    started = time.perf_counter()
    try:
        for name in names:
            _log(f"[bold]{name}[/]")
            results["backends"][name] = run_backend(name, sizes, args.seed, only=args.only)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; servers and scratch files were removed[/]")
        return 130
    results["seconds"] = round(time.perf_counter() - started)
    report.show(results, Console(width=150))
    report.write(results, args.output)
    _log(f"results written to {args.output} ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
