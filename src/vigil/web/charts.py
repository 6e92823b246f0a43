"""Geometry of the console's charts, drawn by the templates as inline SVG (no chart library)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigil.analytics.buckets import Bucket, Unit

WIDTH, HEIGHT = 800.0, 180.0
PLOT_TOP, PLOT_BOTTOM = 10.0, 150.0  # below the plot: the time labels


@dataclass(frozen=True, slots=True)
class Bar:
    """One bucket of the timeline."""

    x: float
    y: float
    width: float
    height: float
    start: datetime
    start_text: str  # ISO 8601 in UTC to the second (strftime would not pad years before 1000)
    count: int
    title: str  # the tooltip: when, and how many


@dataclass(frozen=True, slots=True)
class TimeLabel:
    """A time written under the axis."""

    x: float
    text: str
    anchor: str  # SVG text-anchor: the first label starts at its bar, so it is never cut off


@dataclass(frozen=True, slots=True)
class Timeline:
    """Bars over time, ready to draw."""

    bars: list[Bar]
    labels: list[TimeLabel]
    peak: int
    bucket: str
    width: float = WIDTH
    height: float = HEIGHT
    plot_bottom: float = PLOT_BOTTOM


def _moment(start: datetime, bucket: Bucket) -> str:
    """The tooltip's name for the bucket starting at ``start``."""
    if bucket.unit is Unit.HOUR:
        return start.strftime("%b %d, %H:00 UTC")
    if bucket.unit is Unit.DAY:
        return start.strftime("%a %b %d")
    if bucket.unit is Unit.WEEK:
        return f"Week of {start.strftime('%b %d')}, {start.year}"
    if bucket.unit is Unit.MONTH:
        return f"{start.strftime('%B')} {start.year}"
    if bucket.years == 1:
        return str(start.year)
    last_year = (start.year // bucket.years + 1) * bucket.years - 1
    return f"{start.year} to {last_year}"


def _tick(start: datetime, bucket: Bucket) -> str:
    """The axis label under the bucket starting at ``start``."""
    if bucket.unit is Unit.HOUR:
        return start.strftime("%H:00")
    if bucket.unit in (Unit.DAY, Unit.WEEK):
        return start.strftime("%b %d")
    if bucket.unit is Unit.MONTH:
        return f"{start.strftime('%b')} {start.year}"
    return str(start.year)


def timeline(points: list[tuple[datetime, int]], bucket: Bucket) -> Timeline:
    """Bars scaled to the busiest bucket, with a few time labels along the bottom."""
    peak = max((count for _start, count in points), default=0)
    slot = WIDTH / max(len(points), 1)
    gap = min(2.0, slot * 0.2)
    plot_height = PLOT_BOTTOM - PLOT_TOP
    bars = []
    for index, (start, count) in enumerate(points):
        height = plot_height * count / peak if peak else 0.0
        if count and height < 2:
            height = 2.0  # a bucket with any activity stays visible
        plural = "" if count == 1 else "s"
        bars.append(
            Bar(
                x=round(index * slot + gap / 2, 2),
                y=round(PLOT_BOTTOM - height, 2),
                width=round(max(slot - gap, 0.5), 2),
                height=round(height, 2),
                start=start,
                start_text=start.isoformat(timespec="seconds").replace("+00:00", "Z"),
                count=count,
                title=f"{_moment(start, bucket)}: {count:,} action{plural}",
            )
        )
    label_every = max(1, len(points) // 6)
    labels = [
        TimeLabel(
            x=round(index * slot + (slot / 2 if index else gap), 2),
            text=_tick(start, bucket),
            anchor="middle" if index else "start",
        )
        for index, (start, _count) in enumerate(points)
        if index % label_every == 0 and index * slot + slot / 2 < WIDTH - 30
    ]
    return Timeline(bars=bars, labels=labels, peak=peak, bucket=bucket.name)


@dataclass(frozen=True, slots=True)
class Share:
    """One row of a bar list: a name, its count, and its bar's length in percent."""

    name: str
    count: int
    percent: float


def shares(counts: dict[str, int]) -> list[Share]:
    """Rows for a bar list, longest bar for the largest count."""
    peak = max(counts.values(), default=0)
    return [
        Share(name=name, count=count, percent=round(100 * count / peak, 1) if peak else 0.0)
        for name, count in counts.items()
    ]


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CELL, GAP, LEFT, TOP = 30.0, 2.0, 40.0, 18.0  # the heatmap's grid, in SVG units


@dataclass(frozen=True, slots=True)
class HeatCell:
    """One hour of the week: where it is drawn, how dark, and what it says."""

    x: float
    y: float
    size: float
    shade: float  # fill opacity, 0.06 (none) to 1 (the busiest hour)
    weekday: int
    hour: int
    count: int
    title: str


@dataclass(frozen=True, slots=True)
class Heatmap:
    """Seven rows of 24 hours, ready to draw, with the labels of both axes."""

    cells: list[HeatCell]
    rows: list[tuple[float, str]]  # (y, weekday's short name)
    columns: list[tuple[float, str]]  # (x, hour) every third hour
    peak: int
    width: float
    height: float


def heatmap(matrix: list[list[int]], timezone: str) -> Heatmap:
    """Cells of ``matrix`` (weekday by hour, Monday first) shaded by their share of the
    busiest hour; each titled with its day, hour in ``timezone`` and count."""
    peak = max((n for row in matrix for n in row), default=0)
    cells = []
    for day, row in enumerate(matrix):
        for hour, count in enumerate(row):
            plural = "" if count == 1 else "s"
            cells.append(
                HeatCell(
                    x=LEFT + hour * (CELL + GAP),
                    y=TOP + day * (CELL + GAP),
                    size=CELL,
                    shade=round(0.06 + 0.94 * count / peak, 3) if peak and count else 0.06,
                    weekday=day,
                    hour=hour,
                    count=count,
                    title=f"{WEEKDAYS[day]} {hour:02d}:00 to {hour + 1:02d}:00 ({timezone}):"
                    f" {count:,} event{plural}",
                )
            )
    return Heatmap(
        cells=cells,
        rows=[
            (TOP + day * (CELL + GAP) + CELL * 0.65, name[:3]) for day, name in enumerate(WEEKDAYS)
        ],
        columns=[
            (LEFT + hour * (CELL + GAP) + CELL / 2, f"{hour:02d}") for hour in range(0, 24, 3)
        ],
        peak=peak,
        width=LEFT + 24 * (CELL + GAP),
        height=TOP + 7 * (CELL + GAP),
    )
