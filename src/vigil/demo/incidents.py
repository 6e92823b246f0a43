"""The security stories in the demo: what a watchful admin, or a detection rule, should find.

Each story is placed at a time of day that suits it (an attack at night, a clean-up in the
afternoon) on a day chosen by its share of the window, so every window has all of them. The
stories happen again in the last hours (``latest_incidents``): detections leave alone events
that arrive more than a day after they happened, so only these raise alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random

from vigil.accounts.management import change_details
from vigil.core.permissions import Role
from vigil.demo.people import BROWSERS, FAR_AWAY_PLACES, Member, Place
from vigil.demo.rhythm import Session, Window, at_hour
from vigil.events.schemas import Action, EventIn, ResourceType, Status

# Detections treat events up to a day older than their arrival as live (detect.LIVE_WINDOW);
# the latest stories end before now and start no earlier than this, with room to spare.
LATEST = timedelta(hours=22)
# Credential stuffing comes from a hosting network, with a scripting library's user agent.
ATTACKER = Place("hosting provider", "45.155.205", "RU")
ATTACKER_AGENT = "python-requests/2.31.0"
GUESSED_NAMES = ("admin", "root", "test", "support", "devops")


@dataclass(slots=True)
class Incidents:
    """Sessions to play out with everyone else's, and events that stand on their own."""

    sessions: list[Session]
    events: list[EventIn]


def incidents(members: list[Member], window: Window, rng: Random) -> Incidents:
    """Every story, placed in ``window``."""
    escalation_session, escalation_events = role_escalation(members, window, rng)
    return Incidents(
        sessions=[
            bulk_cleanup(members, window, rng),
            foreign_sign_in(members, window, rng),
            weekend_firefight(members, window, rng),
            *escalation_session,
        ],
        events=[*password_spray(members, window, rng), *escalation_events],
    )


def latest_incidents(members: list[Member], window: Window, rng: Random) -> Incidents:
    """Every story again, each at its time of day within the last hours of ``window``, and
    guessing at one account from several addresses just before its end: a server that runs
    the detections raises an alert of every kind for them."""
    latest = Window(start=max(window.start, window.end - LATEST), end=window.end)
    again = incidents(members, latest, rng)
    sprayed = {e.user_id for e in again.events if e.action is Action.LOGIN_FAILED}
    spared = [m for m in members if m.user_id not in sprayed] or members
    return Incidents(
        sessions=again.sessions,
        events=[*again.events, *distributed_guessing(rng.choice(spared), latest, rng)],
    )


def distributed_guessing(target: Member, window: Window, rng: Random) -> list[EventIn]:
    """A dozen failed sign-ins against ``target`` from four addresses of a hosting network,
    ending shortly before the end of ``window``: too few from each address for a per-address
    count to notice."""
    addresses = [ATTACKER.address(host) for host in rng.sample(range(20, 240), 4)]
    moment = max(window.start, window.end - timedelta(minutes=rng.uniform(30, 45)))
    events = []
    for attempt in range(12):
        moment += timedelta(seconds=rng.uniform(60, 110))
        events.append(_wrong_password(target, moment, addresses[attempt % len(addresses)]))
    return events


def _wrong_password(target: Member, moment: datetime, address: str) -> EventIn:
    """A failed sign-in to ``target``'s account from the attacker's ``address``."""
    return target.did(
        at=moment,
        action=Action.LOGIN_FAILED,
        resource_type=ResourceType.USER,
        resource_id=target.user_id,
        details={"reason": "invalid password", "attempted_email": target.email},
        status=Status.FAILED,
        address=address,
        user_agent=ATTACKER_AGENT,
    )


def password_spray(members: list[Member], window: Window, rng: Random) -> list[EventIn]:
    """A burst of failed sign-ins from one address against several accounts, at night."""
    start = window.days_ago(
        _day(window, 0.4), hour=rng.uniform(1.5, 4.5), lasting=timedelta(minutes=6)
    )
    address = ATTACKER.address(rng.randint(20, 240))
    domain = members[0].email.split("@")[1]
    targets: list[Member | str] = [
        *rng.sample(members, min(len(members), 6)),
        *(f"{name}@{domain}" for name in rng.sample(GUESSED_NAMES, 2)),
    ]
    events = []
    moment = start
    for attempt in range(rng.randint(14, 20)):
        moment += timedelta(seconds=rng.uniform(6, 16))
        target = targets[attempt % len(targets)]
        if isinstance(target, str):  # no such account: recorded without a user, as Vigil does
            events.append(
                EventIn(
                    action=Action.LOGIN_FAILED,
                    resource_type=ResourceType.USER,
                    timestamp=moment,
                    ip_address=address,
                    user_agent=ATTACKER_AGENT,
                    details={"reason": "unknown email", "attempted_email": target},
                    status=Status.FAILED,
                )
            )
            continue
        events.append(_wrong_password(target, moment, address))
    return events


def bulk_cleanup(members: list[Member], window: Window, rng: Random) -> Session:
    """Someone tidying up in the afternoon: twenty-odd benchmark runs gone within two minutes."""
    who = _someone(members, rng, Role.DEVELOPER, Role.TESTER)
    start = window.weekday_before(
        window.days_ago(
            _day(window, 0.6), hour=rng.uniform(15.0, 16.5), lasting=timedelta(minutes=30)
        )
    )
    return Session(
        member=who,
        start=start,
        end=start + timedelta(minutes=25),
        actions=4,
        address=who.person.address,
        user_agent=who.person.browser,
        clear_out=rng.randint(18, 24),
    )


def foreign_sign_in(members: list[Member], window: Window, rng: Random) -> Session:
    """A member signing in from a country they never work from, in the small hours."""
    who = rng.choice([m for m in members if m.person.place.country] or members)
    place = rng.choice([p for p in FAR_AWAY_PLACES if p.country != who.person.place.country])
    start = window.days_ago(
        _day(window, 0.15), hour=rng.uniform(2.5, 5.0), lasting=timedelta(minutes=45)
    )
    return Session(
        member=who,
        start=start,
        end=start + timedelta(minutes=rng.uniform(15, 40)),
        actions=rng.randint(3, 6),
        address=place.address(rng.randint(20, 240)),
        user_agent=rng.choice([b for b in BROWSERS if b != who.person.browser]),
    )


def weekend_firefight(members: list[Member], window: Window, rng: Random) -> Session:
    """An on-call engineer scaling endpoints and clusters late on a weekend night."""
    who = _someone(members, rng, Role.DEVOPS, Role.DEVELOPER)
    hour = rng.uniform(22.25, 23.0)
    lasting = timedelta(hours=1)
    weekend_day = window.latest_weekend_day()
    if weekend_day is not None:
        start = window.fit(at_hour(weekend_day, hour), lasting=lasting)
    else:  # a window of a few weekdays: a weeknight will have to do
        start = window.days_ago(1, hour=hour, lasting=lasting)
    return Session(
        member=who,
        start=start,
        end=start + timedelta(minutes=50),
        actions=rng.randint(10, 14),
        address=who.person.address,
        user_agent=who.person.browser,
    )


def role_escalation(
    members: list[Member], window: Window, rng: Random
) -> tuple[list[Session], list[EventIn]]:
    """A developer made ADMIN late one evening; another admin puts it back next morning."""
    admins = [m for m in members if m.role is Role.ADMIN]
    developers = [m for m in members if m.role is Role.DEVELOPER] or [
        m for m in members if m.role not in (Role.ADMIN, Role.SUPER_ADMIN)
    ]
    if not admins or not developers:
        return [], []
    actor, target = rng.choice(admins), rng.choice(developers)
    start = window.days_ago(
        _day(window, 0.25), hour=rng.uniform(22.0, 23.0), lasting=timedelta(minutes=20)
    )
    late_session = Session(
        member=actor,
        start=start,
        end=start + timedelta(minutes=18),
        actions=1,
        address=actor.person.address,
        user_agent=actor.person.browser,
    )
    role_change = {"role": (target.role.value, Role.ADMIN.value)}
    events = [_user_update(actor, target, start + timedelta(minutes=6), role_change)]
    next_morning = at_hour(start.date() + timedelta(days=1), rng.uniform(9.0, 10.0))
    if window.contains(next_morning):
        reviewer = rng.choice([a for a in admins if a is not actor] or admins)
        undo = {"role": (Role.ADMIN.value, target.role.value)}
        events.append(_user_update(reviewer, target, next_morning, undo))
    return [late_session], events


def _user_update(
    actor: Member, target: Member, at: datetime, changed: dict[str, tuple[str, str]]
) -> EventIn:
    return actor.did(
        at=at,
        action=Action.UPDATE,
        resource_type=ResourceType.USER,
        resource_id=target.user_id,
        details=change_details(changed),
    )


def _day(window: Window, share: float) -> int:
    """How many days ago a story happens: ``share`` of the way back through the window."""
    return max(1, round(window.length_in_days * share))


def _someone(members: list[Member], rng: Random, *roles: Role) -> Member:
    """A member with the first of ``roles`` anyone has, or anyone at all."""
    for role in roles:
        found = [m for m in members if m.role is role]
        if found:
            return rng.choice(found)
    return rng.choice(members)
