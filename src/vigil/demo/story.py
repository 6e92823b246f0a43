"""The demo timeline: everyone's sessions and the incidents, played out in time order.

Sessions are cut into beats (sign-in, each action, sign-out), and the beats of everyone are
played in time order against one ``Platform``, so whatever someone updates or deletes exists
at that moment, whoever created it. Same seed, same people, same moment: same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, auto
from random import Random

from vigil.core.permissions import Role
from vigil.demo.incidents import incidents, latest_incidents
from vigil.demo.people import Member
from vigil.demo.platform import Change, Platform
from vigil.demo.rhythm import Session, Window, working_sessions
from vigil.events.schemas import Action, EventIn, ResourceType, Status

ADMIN_DESK_SHARE = 0.03  # of an admin's actions: settings and audit log exports
API_KEY_SHARE = 0.01  # of DevOps' and admins' actions: keys for automations
CLEAR_OUT_REASON = "cleanup of stale benchmark runs"


class Step(Enum):
    """What happens at a beat of a session."""

    MISTYPE = auto()
    SIGN_IN = auto()
    WORK = auto()
    CLEAR_OUT = auto()
    SIGN_OUT = auto()


@dataclass(frozen=True, slots=True)
class Beat:
    """One moment of a session."""

    at: datetime
    step: Step
    session: Session


def timeline(members: list[Member], *, days: int, now: datetime, seed: int) -> list[EventIn]:
    """Every event of the demo for ``days`` days up to ``now``, oldest first."""
    rng = Random(seed)
    whole = Window.ending(now, days=days)
    joined = onboarding(members, whole)
    # Nobody acts before their account exists: the work starts once everyone has joined.
    window = Window(
        start=max((e.timestamp or whole.start for e in joined), default=whole.start), end=now
    )
    platform = Platform(rng)
    sessions = [
        session
        for day in window.dates()
        for member in members
        for session in working_sessions(member, day, rng)
    ]
    stories = incidents(members, window, rng)
    latest = latest_incidents(members, window, rng)
    played = [*sessions, *stories.sessions, *latest.sessions]
    beats = [beat for s in played for beat in beats_of(s, rng)]
    beats.sort(key=lambda beat: beat.at)
    events = [*joined, *stories.events, *latest.events]
    for beat in beats:
        if window.contains(beat.at):
            events.extend(play(beat, platform, window, rng))
    # A clear-out's later deletions can outrun ``now``; nothing is ever in the future.
    happened = [e for e in events if e.timestamp is not None and e.timestamp <= now]
    return sorted(happened, key=lambda e: e.timestamp or now)


def beats_of(session: Session, rng: Random) -> list[Beat]:
    """A session's moments: perhaps a typo, the sign-in, each action, perhaps the sign-out."""
    beats = [Beat(session.start, Step.SIGN_IN, session)]
    if session.mistyped_password:
        beats.append(Beat(session.start - _seconds(rng, 20, 90), Step.MISTYPE, session))
    span = max((session.end - session.start).total_seconds(), 60.0)
    beats.extend(
        Beat(session.start + _seconds(rng, 30, span), Step.WORK, session)
        for _ in range(session.actions)
    )
    if session.clear_out:
        beats.append(Beat(session.start + timedelta(minutes=3), Step.CLEAR_OUT, session))
    if session.signs_out:
        beats.append(Beat(session.end + _seconds(rng, 5, 60), Step.SIGN_OUT, session))
    return beats


def play(beat: Beat, platform: Platform, window: Window, rng: Random) -> list[EventIn]:
    """The events of one beat, in the member's name, from the session's address."""
    session, member, at = beat.session, beat.session.member, beat.at
    match beat.step:
        case Step.MISTYPE:
            details = {"reason": "invalid password", "attempted_email": member.email}
            return [_account_event(session, at, Action.LOGIN_FAILED, details)]
        case Step.SIGN_IN:
            return [_account_event(session, at, Action.LOGIN, {"login_method": "email_password"})]
        case Step.SIGN_OUT:
            return [_account_event(session, at, Action.LOGOUT, None)]
        case Step.CLEAR_OUT:
            moments = _spaced(at, session.clear_out, rng)
            changes = platform.clear_out(session.clear_out, reason=CLEAR_OUT_REASON)
            pairs = zip(moments, changes, strict=True)
            return [_change_event(session, when, c, session.user_agent) for when, c in pairs]
        case Step.WORK:
            agent = session.agent_for_action(rng)
            if member.role is Role.ADMIN and rng.random() < ADMIN_DESK_SHARE:
                return [_admin_desk(session, at, platform, window, rng)]
            if member.role in (Role.ADMIN, Role.DEVOPS) and rng.random() < API_KEY_SHARE:
                return [_change_event(session, at, platform.change_api_key(), agent)]
            return [_change_event(session, at, platform.act(member.role), agent)]
    raise AssertionError(beat.step)  # every step is matched above


def onboarding(members: list[Member], window: Window) -> list[EventIn]:
    """CREATE on USER for the accounts this run made, as an admin adding them would record.

    The first admin's own account comes from the command line, with no actor, as
    ``vigil init`` records its admin; that admin then adds everyone else.
    """
    created = sorted((m for m in members if m.created), key=lambda m: m.role is not Role.ADMIN)
    admin = next((m for m in members if m.role is Role.ADMIN), None)
    events = []
    for index, member in enumerate(created):
        at = window.start + timedelta(seconds=10 * (index + 1))
        details = {"email": member.email, "name": member.person.name, "role": member.role.value}
        if admin is None or admin is member:
            events.append(
                EventIn(
                    action=Action.CREATE,
                    resource_type=ResourceType.USER,
                    resource_id=member.user_id,
                    timestamp=at,
                    details={**details, "via": "cli"},
                )
            )
        else:
            events.append(
                admin.did(
                    at=at,
                    action=Action.CREATE,
                    resource_type=ResourceType.USER,
                    resource_id=member.user_id,
                    details=details,
                )
            )
    return events


def _admin_desk(
    session: Session, at: datetime, platform: Platform, window: Window, rng: Random
) -> EventIn:
    """An admin's chores: changing a setting, or exporting part of the audit log."""
    if rng.random() < 0.35:
        return _change_event(session, at, platform.adjust_settings(), session.user_agent)
    filters = rng.choice(
        (
            {},
            {"action": ["DELETE"]},
            {"action": ["LOGIN_FAILED"]},
            {"resource_type": ["ENDPOINT", "CLUSTER"]},
            {"status": "FAILED"},
        )
    )
    since = max(at - timedelta(days=rng.choice((1, 7, 30))), window.start)
    details = {
        "format": rng.choice(("csv", "csv", "json", "ndjson")),
        "filters": {**filters, "start_date": since.date().isoformat()},
        "rows": rng.randint(40, 4000),
        "requested_by": session.member.email,
    }
    return session.member.did(
        at=at,
        action=Action.EXPORT,
        resource_type=ResourceType.AUDIT_LOG,
        resource_id=None,
        details=details,
        address=session.address,
        user_agent=session.user_agent,
    )


def _account_event(
    session: Session, at: datetime, action: Action, details: dict[str, str] | None
) -> EventIn:
    member = session.member
    return member.did(
        at=at,
        action=action,
        resource_type=ResourceType.USER,
        resource_id=member.user_id,
        details=details,
        status=Status.FAILED if action is Action.LOGIN_FAILED else Status.SUCCESS,
        address=session.address,
        user_agent=session.user_agent,
    )


def _change_event(session: Session, at: datetime, change: Change, agent: str) -> EventIn:
    return session.member.did(
        at=at,
        action=change.action,
        resource_type=change.resource_type,
        resource_id=change.resource_id,
        details=change.details,
        status=change.status,
        address=session.address,
        user_agent=agent,
    )


def _spaced(start: datetime, count: int, rng: Random) -> list[datetime]:
    """``count`` moments a few seconds apart, as someone clicking through a list."""
    moments, moment = [], start
    for _ in range(count):
        moment += _seconds(rng, 4, 7)
        moments.append(moment)
    return moments


def _seconds(rng: Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=rng.uniform(low, high))
