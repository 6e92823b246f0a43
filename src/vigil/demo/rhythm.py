"""When people work: the window of time the demo fills, and the sessions in each day of it.

The rhythm is in UTC: mornings from about 08:00, an afternoon until about 19:00, busier at the
start of the week, quiet at weekends, and once in a while someone working late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from random import Random

from vigil.core.permissions import Role
from vigil.demo.people import PLATFORM_CLI, Member

DAY = timedelta(days=1)
# How busy each weekday is, Monday first: it scales both the chance of an afternoon
# session and the pace of work in every session.
WEEKDAY_BUSYNESS = (1.1, 1.15, 1.1, 1.0, 0.8)
ABSENCE_CHANCE = 0.08  # leave, illness, a day of meetings: no activity at all
WEEKEND_CHANCE = 0.07
EVENING_CHANCE = 0.12
LATE_NIGHT_CHANCE = 0.02
ACTIONS_PER_HOUR = 7.5
# Share of a role's actions sent from the platform's command line rather than a browser.
CLI_SHARE = {Role.DEVOPS: 0.4}
USUAL_CLI_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class Window:
    """The stretch of time the demo fills: ``days`` days ending now."""

    start: datetime
    end: datetime

    @classmethod
    def ending(cls, now: datetime, *, days: int) -> Window:
        """The ``days`` days up to ``now``."""
        return cls(start=now - days * DAY, end=now)

    @property
    def length_in_days(self) -> int:
        """How many whole days the window spans."""
        return (self.end - self.start) // DAY

    def dates(self) -> list[date]:
        """Every UTC date the window touches, oldest first (the first and last partly)."""
        first, last = self.start.date(), self.end.date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` is inside the window."""
        return self.start <= moment <= self.end

    def days_ago(self, days: int, *, hour: float, lasting: timedelta = timedelta(0)) -> datetime:
        """``hour`` o'clock UTC ``days`` days before today, moved by whole days to fit."""
        day = self.end.date() - timedelta(days=days)
        return self.fit(at_hour(day, hour), lasting=lasting)

    def fit(self, moment: datetime, *, lasting: timedelta = timedelta(0)) -> datetime:
        """``moment`` moved by whole days until it and ``lasting`` after it are in the window.

        The time of day is kept, so a story set at night stays at night, unless the
        window is too short to hold it (then it ends just now).
        """
        while moment + lasting > self.end:
            moment -= DAY
        while moment < self.start:
            moment += DAY
        return min(moment, self.end - lasting)

    def weekday_before(self, moment: datetime) -> datetime:
        """``moment``, moved back to the Friday before if it falls at a weekend and can be."""
        while moment.weekday() >= 5 and moment - DAY >= self.start:
            moment -= DAY
        return moment

    def latest_weekend_day(self) -> date | None:
        """The most recent Saturday or Sunday before today, if the window has one."""
        for day in reversed(self.dates()[:-1]):
            if day.weekday() >= 5 and self.contains(at_hour(day, 12)):
                return day
        return None


@dataclass(frozen=True, slots=True)
class Session:
    """A stretch of someone's work, from sign-in to sign-out."""

    member: Member
    start: datetime
    end: datetime
    actions: int
    address: str
    user_agent: str
    mistyped_password: bool = False  # a failed sign-in just before: a typo, not an attack
    signs_out: bool = True  # otherwise the session simply expires
    clear_out: int = 0  # benchmark runs deleted all at once, early in the session

    def agent_for_action(self, rng: Random) -> str:
        """The browser of the session, or now and then the platform's command line."""
        share = CLI_SHARE.get(self.member.role, USUAL_CLI_SHARE)
        return PLATFORM_CLI if rng.random() < share else self.user_agent


def at_hour(day: date, hour: float) -> datetime:
    """``hour`` (fractional) o'clock UTC on ``day``."""
    return datetime.combine(day, time(tzinfo=UTC)) + timedelta(hours=hour)


def hours_into(day: date, moment: datetime) -> float:
    """How many hours after the start of ``day`` (UTC) ``moment`` is."""
    return (moment - at_hour(day, 0)) / timedelta(hours=1)


def working_sessions(member: Member, day: date, rng: Random) -> list[Session]:
    """The sessions ``member`` works on ``day``: none, one or a few, by weekday and habit."""
    if day.weekday() >= 5:
        if rng.random() < WEEKEND_CHANCE:
            start = rng.uniform(10.0, 17.0)
            return [_session(member, day, start, start + rng.uniform(0.4, 1.5), rng, busy=0.6)]
        return []
    if rng.random() < ABSENCE_CHANCE:
        return []
    busy = WEEKDAY_BUSYNESS[day.weekday()]
    start = member.person.day_starts + rng.gauss(0, 0.3)
    sessions = [_session(member, day, start, min(12.75, start + rng.uniform(1.5, 3.5)), rng, busy)]
    if rng.random() < 0.75 * busy:
        start = rng.uniform(13.0, 14.25)
        end = min(start + rng.uniform(2.0, 4.5), 18.75 + rng.uniform(0.0, 0.5))
        sessions.append(_session(member, day, start, end, rng, busy))
    for chance, earliest, latest, longest in (
        (EVENING_CHANCE * busy, 17.0, 18.5, 1.25),
        (LATE_NIGHT_CHANCE, 21.0, 23.5, 0.9),
    ):
        if rng.random() < chance:
            # Never two sessions at once: a late one starts after the last one ended.
            free_from = hours_into(day, sessions[-1].end) + rng.uniform(0.2, 0.6)
            start = max(rng.uniform(earliest, latest), free_from)
            end = start + rng.uniform(0.3, longest)
            sessions.append(_session(member, day, start, end, rng, busy))
    return sessions


def _session(
    member: Member, day: date, start_hour: float, end_hour: float, rng: Random, busy: float
) -> Session:
    """A session from ``start_hour`` to ``end_hour`` at the member's pace, from their desk."""
    hours = max(end_hour - start_hour, 0.1)
    expected = hours * ACTIONS_PER_HOUR * member.person.pace * busy
    return Session(
        member=member,
        start=at_hour(day, start_hour),
        end=at_hour(day, start_hour + hours),
        actions=max(1, round(rng.gauss(expected, expected * 0.3))),
        address=member.person.address,
        user_agent=member.person.browser,
        mistyped_password=rng.random() < 0.04,
        signs_out=rng.random() < 0.8,
    )
