"""The fast ingest decoder never accepts what the exact path refuses, and stores what it stores.

Bodies are generated with valid, odd and invalid values side by side (timestamps in other
forms, addresses with zones, secrets in nested details and in values, unknown fields,
numbers msgspec cannot hold, number tokens in every form, repeated keys, whitespace and
escapes around colons, …). For each, the fast path either hands over to the exact path
(pydantic, with details read by ``events.exact``) or produces exactly the rows it produces;
and the public decoder answers what the exact path answers.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.core.errors import VigilError
from vigil.events import decode
from vigil.events.geo import Geolocator
from vigil.events.prepare import PreparedEvent, prepare_event
from vigil.events.schemas import EventIn

NOW = datetime.now(UTC)
GEO = Geolocator(enabled=True)

TIMES = [
    "2025-01-15T14:30:00Z", "2025-01-15T14:30:00.123456Z", "2025-01-15T14:30:00.1234567Z",
    "2025-01-15T14:30:00.5+05:30", "2025-01-15T14:30:00-00:00", "2025-01-15T14:30:00+23:59",
    "2025-01-15t14:30:00z", "2025-01-15 14:30:00Z", "2025-01-15T14:30Z", "2025-01-15",
    "2025-01-15T14:30:00", "2025-01-15T24:00:00Z", "2025-01-15T14:30:60Z",
    "2025-02-30T10:00:00Z", "2025-01-15T14:30:00+24:00", "2025-01-15T14:30:00+05:75",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2999-01-01T00:00:00Z",
    "20250115T143000Z", "2025-01-15T14:30:00+0530", "\uff11\uff12\uff13\uff14-01-15T14:30:00Z",
]  # fmt: skip
ADDRESSES = [
    "192.168.1.100", " 10.0.0.1 ", "::ffff:1.2.3.4", "2001:db8::1", "fe80::1%eth0",
    "999.1.1.1", "81.2.69.160", "1.2.3", "", "2001:DB8::A",
]  # fmt: skip
EMAILS = ["Alice@Company.com", "a@b", "no-at-sign", "two@@ats", "sp ace@x.com", "x\x01@y.z", ""]
IDS = [
    "6f1c8e2a-3b4d-4c5e-8f6a-7b8c9d0e1f2a", "6F1C8E2A3B4D4C5E8F6A7B8C9D0E1F2A",
    "{6f1c8e2a-3b4d-4c5e-8f6a-7b8c9d0e1f2a}", "urn:uuid:6f1c8e2a-3b4d-4c5e-8f6a-7b8c9d0e1f2a",
    "not-a-uuid", 12,
]  # fmt: skip
TEXTS = st.one_of(
    st.sampled_from(["project-abc-123", "", "a" * 255, "a" * 256, "nul\x00here", "école"]),
    st.text(max_size=20),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
DETAILS = st.recursive(
    st.dictionaries(
        st.sampled_from(["name", "password", "api_key", "max_tokens", "note", "x"]), SCALARS
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "token", "nested", "b"]), inner, max_size=3),
    ),
    max_leaves=12,
)


FIELDS: dict[str, tuple[Any, Any]] = {
    # name: (usual values, odd values)
    "action": (st.sampled_from(["CREATE", "LOGIN_FAILED", "DELETE"]),
               st.sampled_from(["create", "NOPE", 1])),
    "resource_type": (st.sampled_from(["PROJECT", "USER"]), st.sampled_from(["project", "X"])),
    "id": (st.uuids().map(str), st.sampled_from(IDS)),
    "resource_id": (st.sampled_from(["project-abc-123", "école"]), TEXTS),
    "user_id": (st.sampled_from(["user-1", "u" * 255]), TEXTS),
    "user_email": (st.just("alice@company.com"), st.sampled_from(EMAILS)),
    "timestamp": (st.sampled_from(TIMES[:2]), st.sampled_from(TIMES)),
    "ip_address": (st.sampled_from(ADDRESSES[:4]), st.sampled_from(ADDRESSES)),
    "user_agent": (st.just("Mozilla/5.0"), st.sampled_from(["x" * 1025, "ua\x00", ""])),
    "details": (DETAILS, st.one_of(st.just([1]), st.just("text"), DETAILS)),
    "status": (st.sampled_from(["SUCCESS", "FAILED"]), st.just("OK")),
}  # fmt: skip


@st.composite
def event(draw: st.DrawFn) -> dict[str, Any]:
    """A usual event with at most one field odd (or absent, or null, or unknown): where
    the two paths could part ways, with nothing else to hide it."""
    odd = draw(st.sampled_from([*FIELDS, "unknown", None, None]))
    fields: dict[str, Any] = {}
    for name, (usual, unusual) in FIELDS.items():
        if name == odd:
            fields[name] = draw(st.one_of(unusual, st.just(None), st.just(...)))
        elif name in ("action", "resource_type") or draw(st.booleans()):
            fields[name] = draw(usual)
    if odd == "unknown":
        fields["unexpected"] = 1
    return {key: value for key, value in fields.items() if value is not ...}


def comparable(events: list[PreparedEvent]) -> list[dict[str, Any]]:
    """Rows as stored, but for ids the server made up (they differ every time)."""
    return [
        {k: v for k, v in e.row.items() if k != "id" or e.producer_id} | {"given": e.producer_id}
        for e in events
    ]


def slow(body: bytes) -> list[PreparedEvent] | str:
    try:
        return decode.decode_batch_exactly(body, now=NOW, geo=GEO)
    except VigilError as error:
        return f"{error.status_code} {error.message}"


def fast_only(body: bytes) -> list[PreparedEvent] | None:
    """The fast path alone; None where it hands over to the exact path."""
    try:
        wire = decode._BATCH.decode(body)
        return decode._fast(body, wire.events, NOW, GEO, wrapper_keys=1)
    except (msgspec.MsgspecError, decode._Unsure):
        return None


def public(body: bytes) -> list[PreparedEvent] | str:
    try:
        return decode.decode_batch(body, now=NOW, geo=GEO)
    except VigilError as error:
        return f"{error.status_code} {error.message}"


def same(a: list[PreparedEvent] | str, b: list[PreparedEvent] | str) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return comparable(a) == comparable(b)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event(), min_size=1, max_size=4))
def test_fast_path_agrees_with_pydantic(events: list[dict[str, Any]]) -> None:
    body = json.dumps({"events": events}).encode()
    expected = slow(body)
    fast = fast_only(body)
    if fast is not None:
        assert not isinstance(expected, str), f"fast path accepted what pydantic refuses: {body!r}"
        assert comparable(fast) == comparable(expected), body
    assert same(public(body), expected), body


ONE = b'{"events": [{"action": "CREATE", "resource_type": "PROJECT", %s}]}'


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"[]",
        b"{}",
        b'{"events": []}',
        b'{"events": [' + b"{}," * 1000 + b"{}]}",
        b'{"events": [{"action": "CREATE", "resource_type": "PROJECT"}], "x": 1}',
        ONE % b'"details": {"n": NaN}',
        ONE % b'"details": {"n": 1e400}',
        ONE % b'"details": {"s": "\\ud800"}',
        ONE % b'"details": {"a": 1, "a": 2}',
        ONE % b'"details": {"a": 1, "b": {"a": 2, "a": 3}}',
        b'{"events": [{"action": "CREATE", "resource_type": "PROJECT"}], "events": []}',
        ONE % b'"details": {"a\\u003ab": 1, "a\\u003ab": 2}',
        ONE % b'"details": {"t": "12:00"}, "resource_id": "a:b"',
        ONE % b'"details": {"n": 0.1000000000000000000001, "m": -0}',
        ONE % b'"timestamp": "2025-01-15"',
        ONE % b'"resource_id": "nul\\u0000"',
        b'{"events": [{"action": "CREATE", "resource_type": "PROJECT"}',
        b'{"events": [{"action": "LOGIN_FAILED", "resource_type": "USER", "status": "SUCCESS"}]}',
        ONE % b'"details": ' + b"[" * 20 + b"1" + b"]" * 20,
        ONE % (b'"details": {"big": "' + b"x" * 70_000 + b'"}'),
        ONE % b'"id": "%s"' % str(uuid.uuid4()).upper().encode(),
    ],
)  # fmt: skip
def test_odd_bodies_get_pydantic_answers(body: bytes) -> None:
    expected = slow(body)
    fast = fast_only(body)
    if fast is not None:
        assert not isinstance(expected, str)
        assert comparable(fast) == comparable(expected)
    assert same(public(body), expected)


ODD_VALUES = [
    (name, value)
    for name, values in {
        "timestamp": TIMES,
        "ip_address": ADDRESSES,
        "user_email": EMAILS,
        "id": IDS,
        "resource_id": ["", "a" * 256, "nul\x00here", 7],
        "user_id": ["", "a" * 256, "nul\x00here"],
        "user_agent": ["x" * 1025, "ua\x00", ""],
        "details": [[1], "text", {"password": "hunter2", "deep": {"token": "t", "n": 1.5}}],
        "status": ["OK", "SUCCESS", None],
    }.items()
    for value in values
]


@pytest.mark.parametrize(("name", "value"), ODD_VALUES)
def test_every_odd_value_alone(name: str, value: Any) -> None:
    for action in ("CREATE", "LOGIN_FAILED"):
        body = json.dumps(
            {"events": [{"action": action, "resource_type": "USER", name: value}]}
        ).encode()
        expected = slow(body)
        fast = fast_only(body)
        if fast is not None:
            assert not isinstance(expected, str), f"accepted what pydantic refuses: {body!r}"
            assert comparable(fast) == comparable(expected)
        assert same(public(body), expected)


def test_a_single_event_body_too() -> None:
    body = b'{"action": "LOGIN", "resource_type": "USER", "ip_address": "81.2.69.160"}'
    prepared = decode.decode_event(body, now=NOW, geo=GEO)
    assert prepared.row["country"] == "GB"
    assert prepared.row["timestamp"] == NOW
    with pytest.raises(VigilError, match="action"):
        decode.decode_event(b'{"action": "NOPE", "resource_type": "USER"}', now=NOW, geo=GEO)
    expected = prepare_event(EventIn.model_validate_json(body), now=NOW, geo=GEO)
    assert comparable([prepared]) == comparable([expected])
    assert comparable([prepared]) == comparable(
        [decode.decode_event_exactly(body, now=NOW, geo=GEO)]
    )


# Raw JSON, written token by token: what json.dumps never writes (a key twice, 1E+2, -0,
# spaces before a colon, a colon escaped as \u003a) and secrets inside values.
NUMBER_TOKENS = st.sampled_from(
    ["0.1234567890123456789", "19.990000000000000001", "1E+2", "1e5", "-0", "-0.0", "0",
     "12", "1.50", "123456789012345678901234567890", "-9223372036854775809", "2.5e-3", "1e400"]
)  # fmt: skip
STRING_TOKENS = st.sampled_from(
    ['"plain"', '"12:30"', '"a\\u003ab"', '"a\\":b"', '"x -0 y"', '"caf\\u00e9"',
     '"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"',
     '"postgresql://app:s3cret@db.internal/prod"', '"https://example.com/a@b"',
     '"AKIAIOSFODNN7EXAMPLE"', '"ghp_' + "a" * 36 + '"', '"xoxb-1234567890-abcdefghij"',
     '"-----BEGIN RSA PRIVATE KEY-----\\nMIIEow\\n-----END RSA PRIVATE KEY-----"',
     '"organization"', '"bearer of news"']
)  # fmt: skip
COLONS = st.sampled_from([":", ": ", " :", "\n:\t"])
KEYS = st.sampled_from(["a", "b", "note", "password", "a:b", "url"])


@st.composite
def raw_value(draw: st.DrawFn, depth: int = 0) -> str:
    kinds = ["number", "string", "literal"] + (["object", "array"] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "number":
        return draw(NUMBER_TOKENS)
    if kind == "string":
        return draw(STRING_TOKENS)
    if kind == "literal":
        return draw(st.sampled_from(["true", "false", "null"]))
    if kind == "array":
        return "[" + ",".join(draw(st.lists(raw_value(depth + 1), max_size=3))) + "]"
    return raw_object(draw, depth + 1)


def raw_object(draw: st.DrawFn, depth: int) -> str:
    keys = draw(st.lists(KEYS, max_size=4))  # may repeat
    members = [f'"{key}"{draw(COLONS)}{draw(raw_value(depth))}' for key in keys]
    return "{" + ", ".join(members) + "}"


@st.composite
def raw_event(draw: st.DrawFn) -> str:
    members = ['"action":"CREATE"', '"resource_type":"PROJECT"']
    if draw(st.booleans()):
        members.append(f'"details"{draw(COLONS)}{raw_object(draw, 0)}')
    if draw(st.booleans()):
        members.append('"timestamp":"2025-01-15T14:30:00+05:30"')
    if draw(st.booleans()):
        members.append('"user_agent":null')
    if draw(st.integers(0, 9)) == 0:  # a field named twice
        members.append(draw(st.sampled_from(['"action":"DELETE"', '"user_agent":"x"'])))
    return "{" + ",".join(draw(st.permutations(members))) + "}"


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(raw_event(), min_size=1, max_size=3))
def test_raw_bodies_fast_path_agrees_with_exact_path(events: list[str]) -> None:
    body = ('{"events": [' + ",".join(events) + "]}").encode()
    expected = slow(body)
    fast = fast_only(body)
    if fast is not None:
        assert not isinstance(expected, str), f"fast path accepted what is refused: {body!r}"
        assert comparable(fast) == comparable(expected), body
    assert same(public(body), expected), body


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ('{"p": 0.1234567890123456789}', '{"p":0.1234567890123456789}'),
        ('{"price": 19.990000000000000001}', '{"price":19.990000000000000001}'),
        ('{"n": 1E+2, "m": 1e5, "z": -0, "y": -0.0}', '{"n":1E+2,"m":1e5,"z":-0,"y":-0.0}'),
        ('{"big": 123456789012345678901234567890}', '{"big":123456789012345678901234567890}'),
        ('{"deep": [{"x": 1.10}]}', '{"deep":[{"x":1.10}]}'),
    ],
)
def test_number_tokens_are_stored_as_written(sent: str, stored: str) -> None:
    for body in (ONE % f'"details": {sent}'.encode(), ONE % f'"details":{sent}'.encode()):
        assert [e.row["details"] for e in decode.decode_batch(body, now=NOW, geo=GEO)] == [stored]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"action": "CREATE", "resource_type": "USER", "action": "DELETE"}', "action"),
        (b'{"action": "CREATE", "resource_type": "USER", "details": {"a": 1, "a": 2}}',
         "details.a"),
        (b'{"action": "CREATE", "resource_type": "USER", "details": {"x": [{"k": 1, "k" : 1}]}}',
         "details.x[0].k"),
    ],
)  # fmt: skip
def test_a_repeated_key_is_refused_by_name(body: bytes, field: str) -> None:
    with pytest.raises(VigilError) as single:
        decode.decode_event(body, now=NOW, geo=GEO)
    assert single.value.status_code == 422
    assert single.value.message.startswith(f"{field}: this key appears twice")
    with pytest.raises(VigilError) as batch:
        decode.decode_batch(b'{"events": [{"action": "LOGIN", "resource_type": "USER"}, %s]}'
                            % body, now=NOW, geo=GEO)  # fmt: skip
    assert batch.value.message.startswith(f"events[1].{field}: this key appears twice")
