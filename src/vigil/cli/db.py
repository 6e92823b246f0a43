"""``vigil db backfill``: fill the columns migrations added empty, with a progress bar."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy import Engine

from vigil.cli.common import fail, load_settings, migrated_engine, stderr
from vigil.db.backfill import BackfillBusy, BackfillProgress, run_backfills
from vigil.db.engine import build_engine
from vigil.search.consumer import SearchIndexConsumer
from vigil.search.service import events_to_index
from vigil.spine.runner import ConsumerRunner

app = typer.Typer(help="Look after the database.", no_args_is_help=True)

INDEXER_CACHE_MIB = 64  # SQLite's page cache for a catch-up of the search index

BACKFILL_HELP = (
    "Columns added by an upgrade are filled for the events stored before it in short"
    " transactions, so Vigil keeps serving meanwhile; until its turn comes, an older event"
    " matches no ip_address filter, free text or details. term. Interrupted, a later run goes"
    " on where this one stopped."
)


@app.command("backfill", help=f"Fill the columns upgrades added, in stored events. {BACKFILL_HELP}")
def backfill(
    max_rows: Annotated[
        int | None,
        typer.Option("--max-rows", min=1, help="Fill at most this many rows per column, then stop"),
    ] = None,
) -> None:
    """Apply migrations, then fill what they left to fill."""
    engine = migrated_engine(load_settings())
    backfill_with_progress(engine, max_rows=max_rows)


def progress_columns() -> tuple[ProgressColumn, ...]:
    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RowsPerSecond(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )


@app.command(
    "index",
    help="Bring the search index up to every stored event. A running server does it too, as"
    " events commit; a search is exact meanwhile, only slower for events not indexed yet.",
)
def index() -> None:
    """Apply migrations, then index what the search index has not reached."""
    index_with_progress(migrated_engine(load_settings()))


def backfill_with_progress(engine: Engine, *, max_rows: int | None = None) -> None:
    """Run the pending backfills with a progress bar on stderr (rows done of those pending,
    rate, time left), then say what each did."""
    tasks: dict[str, TaskID] = {}
    with Progress(*progress_columns(), console=stderr) as progress:

        def show(step: BackfillProgress) -> None:
            if step.column not in tasks and step.total:
                tasks[step.column] = progress.add_task(f"Filling {step.column}", total=step.total)
            if step.column in tasks:
                progress.update(tasks[step.column], completed=step.done)

        try:
            results = run_backfills(engine, on_progress=show, max_rows=max_rows)
        except BackfillBusy:
            progress.stop()
            stderr.print(
                "Another Vigil process is filling these columns now (a server does it after"
                " it starts); its log says how far it has got."
            )
            return
        except KeyboardInterrupt:
            fail("interrupted; what was filled is kept, and a new run goes on from there", code=130)
    for result in results:
        if not (result.filled or result.left):
            stderr.print(f"{result.column}: nothing to fill")
            continue
        stderr.print(f"{result.column}: {result.filled:,} events filled in {result.seconds:.1f} s")
        if result.left:
            stderr.print(
                f"{result.column}: {result.left:,} events left; run [bold]vigil db backfill[/]"
                " again to go on"
            )


def index_with_progress(engine: Engine) -> None:
    """Bring the search index up to every committed event, with a progress bar on stderr.
    Safe beside a running server: each tenant's passes are taken by one process at a time."""
    behind = events_to_index(engine)
    if not behind:
        stderr.print("search index: up to date")
        return
    # A page cache of its own: a pass's postings and bitmaps land on pages all over their
    # tables, which 8 MiB could not keep between passes (a rebuild at 1M events: 161 s,
    # 137 s with 64 MiB).
    url = engine.url.render_as_string(hide_password=False)
    indexing = build_engine(url, pool_size=1, cache_mib=INDEXER_CACHE_MIB)
    # Faster without pauses; a server beside it still gets in between short passes.
    runner = ConsumerRunner(indexing, SearchIndexConsumer(), yield_to_writers=False)
    try:
        with Progress(*progress_columns(), console=stderr) as progress:
            task = progress.add_task("Indexing for search", total=behind)
            try:
                done = runner.catch_up(on_pass=lambda n: progress.advance(task, n))
            except KeyboardInterrupt:
                fail(
                    "interrupted; what was indexed is kept, and a new run goes on from there",
                    code=130,
                )
    finally:
        indexing.dispose()
    stderr.print(f"search index: {done:,} events indexed")


class RowsPerSecond(ProgressColumn):
    """The task's recent rate, in rows per second."""

    def render(self, task: Task) -> Text:
        """``12,345 rows/s``, or nothing before the rate is known."""
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s", style="progress.data.speed")
