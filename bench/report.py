"""The results: rich tables on the terminal, and JSON for BENCHMARKS.md and later comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

# Batch ingest: at least this share of the raw insert committing every 20,000 rows.
RATIO_TARGET = 0.6
SINGLE_TARGET = {"events_per_s": 2500, "p99_ms": 50.0}


def _mark(met: bool) -> str:
    return "[green]met[/]" if met else "[red]missed[/]"


def _batch_table(backends: dict[str, Any]) -> Table:
    table = Table(
        title="1. Batch ingest over HTTP (1000 events per request, 4 connections; "
        "the round of median ratio)"
    )
    for column in ("backend", "events/s", "raw, 1k-row txn", "ratio", "raw, 20k-row txn",
                   "ratio", "target", "verdict", "rounds' ratios", "server cores",
                   "raw, one txn", "consumers caught up, s"):  # fmt: skip
        table.add_column(column, justify="right" if column != "backend" else "left")
    for name, result in backends.items():
        batch = result["ingest"]["batch"]
        table.add_row(
            name, f"{batch['events_per_s']:,}", f"{batch['baseline_events_per_s']:,}",
            f"{batch['ratio']:.0%}", f"{batch['baseline_20k_events_per_s']:,}",
            f"{batch['ratio_20k']:.0%}", f"≥ {RATIO_TARGET:.0%} of 20k",
            _mark(batch["ratio_20k"] >= RATIO_TARGET),
            " ".join(f"{r['ratio_20k']:.0%}" for r in batch["rounds"]), str(batch["server_cores"]),
            f"{batch['one_transaction_events_per_s']:,}",
            " ".join(f"{r['catch_up']['seconds']:.1f}" for r in batch["rounds"]),
        )  # fmt: skip
    return table


def _single_table(backends: dict[str, Any]) -> Table:
    table = Table(title="2. Single-event POST, 16 concurrent clients, detections on")
    for column in ("backend", "events/s", "p50 ms", "p99 ms", "raw 1-row txn/s", "client cores",
                   "verdict"):  # fmt: skip
        table.add_column(column, justify="right" if column != "backend" else "left")
    for name, result in backends.items():
        single = result["ingest"]["single"]
        latency = single["latency_ms"]
        met = (
            single["events_per_s"] >= SINGLE_TARGET["events_per_s"]
            and latency["p99"] <= SINGLE_TARGET["p99_ms"]
        )
        table.add_row(
            name, f"{single['events_per_s']:,}", str(latency["p50"]), str(latency["p99"]),
            f"{single['baseline']['rows_per_s']:,}",
            f"{single['client_cores']} ({single['client_processes']} proc)", _mark(met),
        )  # fmt: skip
    return table


def _query_table(name: str, queries: dict[str, Any]) -> Table:
    title = f"3. GET /audit-logs/ at {queries['events']:,} events — {name} (p95 ms)"
    caption = (
        f"cursor page {queries['cursor_depth']:,} deep / first page, p50: "
        f"{queries['deep_cursor_vs_first_page_p50']} times"
    )
    table = Table(title=title, caption=caption)
    for column in ("shape", "no total: HTTP", "SQL", "with total: HTTP", "SQL", "verdict"):
        table.add_column(column, justify="right" if column != "shape" else "left")
    for shape in queries["shapes"]:
        bare, full = shape["no_total"], shape["with_total"]
        verdict = _mark(bare["met"] and full["met"]) if shape["targeted"] else "(contrast)"
        table.add_row(
            shape["name"], str(bare["http_ms"]["p95"]), str(bare["sql_ms"]["p95"]),
            str(full["http_ms"]["p95"]), str(full["sql_ms"]["p95"]), verdict,
        )  # fmt: skip
    return table


def _export_table(backends: dict[str, Any]) -> Table:
    table = Table(title="4. CSV export")
    for column in ("backend", "rows", "rows/s", "raw rows/s", "ratio", "RSS before MB",
                   "RSS peak MB", "of it heap MB", "verdict"):  # fmt: skip
        table.add_column(column, justify="right" if column != "backend" else "left")
    for name, result in backends.items():
        export = result["export"]
        for run in export["runs"]:
            met = (
                run["rows_per_s"] >= export["target_rows_per_s"]
                and run["rss_peak_mb"] <= export["target_peak_rss_mb"]
            )
            table.add_row(
                name, f"{run['rows']:,}", f"{run['rows_per_s']:,}",
                f"{run['baseline_rows_per_s']:,}", f"{run['ratio']:.0%}",
                str(run["rss_before_mb"]), str(run["rss_peak_mb"]), str(run["anon_peak_mb"]),
                _mark(met),
            )  # fmt: skip
    return table


def _shapes_table(backends: dict[str, Any], part: str, title: str) -> Table:
    """One row per backend and shape of ``part`` (``summary``, ``analytics``): p95 over
    HTTP and of the replayed SQL, against the part's target."""
    table = Table(title=title)
    for column in ("backend", "shape", "HTTP", "SQL", "target", "verdict"):
        table.add_column(column, justify="right" if column not in ("backend", "shape") else "left")
    for name, result in backends.items():
        found = result[part]
        for shape in found["shapes"]:
            table.add_row(
                name, shape["name"], str(shape["http_ms"]["p95"]), str(shape["sql_ms"]["p95"]),
                f"≤ {found['target_p95_ms']:.0f}", _mark(shape["met"]),
            )  # fmt: skip
    return table


def _alerts_table(backends: dict[str, Any]) -> Table:
    table = Table(title="6. Alert latency: event committed → alert stored (brute_force), ms")
    for column in ("backend", "when", "trials", "p50", "p95", "max", "target", "verdict"):
        table.add_column(column, justify="right" if column not in ("backend", "when") else "left")
    for name, result in backends.items():
        found = result["alerts"]
        for when in ("idle", "under_load", "other_process"):
            run = found[when]
            latency = run["latency_ms"]
            table.add_row(
                name, when.replace("_", " "), str(run["trials"]), str(latency["p50"]),
                str(latency["p95"]), str(latency["max"]), f"≤ {found['target_p95_ms']:.0f}",
                _mark(latency["p95"] <= found["target_p95_ms"]),
            )  # fmt: skip
    return table


def _live_table(backends: dict[str, Any]) -> Table:
    table = Table(title="9. Live feed: commit → subscriber, idle cost, ingest with subscribers")
    for column in ("backend", "measure", "value", "target", "verdict"):
        table.add_column(column, justify="left" if column in ("backend", "measure") else "right")
    for name, result in backends.items():
        live = result["live"]
        met = live["met"]
        one = live["one_node"]
        load = f"{one['events_per_s']:,} ev/s, {one['frames_per_s']:,} frames/s"
        rows = [
            (f"latency p50 / p99 ms, {load}",
             f"{one['latency_ms']['p50']} / {one['latency_ms']['p99']}", "≤ 500",
             met["latency_p99"]),
            ("memory per idle subscriber, KB", str(live["kb_per_idle_subscriber"]), "≤ 50",
             met["memory"]),
            ("CPU with idle subscribers, share of a core", f"{live['idle_core_share']:.1%}",
             "≤ 5%", met["idle_cpu"]),
            ("bulk ingest drop, watching the load's people",
             f"{live['ingest']['drop_watching_load']:.1%}", "≤ 15%", met["ingest"]),
            ("bulk ingest drop, watching people who never act",
             f"{live['ingest']['drop_absent']:.1%}", "—", True),
        ]  # fmt: skip
        server, readers = (
            live["ingest"].get(key) for key in ("server_cpu_ms_per_1000", "readers_cpu_ms_per_1000")
        )
        if server and readers:
            rows.append(
                (
                    "CPU ms per 1,000 events, server (none / never act / watching load)",
                    " / ".join(str(server[k]) for k in ("none", "absent", "watching_load")),
                    "—",
                    True,
                )
            )
            rows.append((
                "CPU ms per 1,000 events, subscribers' process (never act / watching load)",
                " / ".join(str(readers[k]) for k in ("absent", "watching_load")), "—", True,
            ))  # fmt: skip
        if "two_nodes" in live:
            two = live["two_nodes"]["latency_ms"]
            rows.append(("two nodes: latency p50 / p99 ms", f"{two['p50']} / {two['p99']}",
                         "≤ 1000", met["two_nodes_p99"]))  # fmt: skip
        for measure, value, target, ok in rows:
            table.add_row(name, measure, value, target, _mark(ok))
    return table


def show(results: dict[str, Any], console: Console) -> None:
    """Print a table per benchmark that every backend ran (``--only`` may leave some out)."""
    backends = results["backends"]
    if not backends:
        return

    def everywhere(part: str) -> bool:
        return all(part in result for result in backends.values())

    if everywhere("ingest"):
        console.print(_batch_table(backends))
        console.print(_single_table(backends))
    for name, result in backends.items():
        if "queries" in result:
            console.print(_query_table(name, result["queries"]))
    if everywhere("export"):
        console.print(_export_table(backends))
    if everywhere("summary"):
        title = "5. GET /audit-logs/summary (the console's widgets), p95 ms"
        console.print(_shapes_table(backends, "summary", title))
    if everywhere("analytics"):
        title = "8. Dashboard summary and team analytics over 90 days, p95 ms"
        console.print(_shapes_table(backends, "analytics", title))
    if everywhere("alerts"):
        console.print(_alerts_table(backends))
    if everywhere("live"):
        console.print(_live_table(backends))


def write(results: dict[str, Any], path: Path) -> None:
    """Save the results as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
