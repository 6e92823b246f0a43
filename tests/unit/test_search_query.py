"""The search query language: what each form means, where each error points, and properties
over generated queries (canonical text reads back, arbitrary text never breaks the parser)."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.events.countries import COUNTRY_CODES
from vigil.events.schemas import Action, ResourceType, Status, normalise_email
from vigil.events.search_query import (
    MAX_TERMS,
    MAX_VALUE_LENGTH,
    Field,
    FieldTerm,
    Network,
    SearchQuery,
    SearchQueryError,
    Term,
    TextTerm,
    UserValue,
    parse_search_query,
)

pytestmark = pytest.mark.unit


def terms(text: str) -> tuple[Term, ...]:
    return parse_search_query(text).terms


def positions(text: str) -> list[int]:
    return [term.position for term in terms(text)]


# Examples: what each form means


def test_the_example_of_the_issue() -> None:
    text = 'action:DELETE,UPDATE resource:ENDPOINT -user:deploy-bot ip:10.0.0.0/8 "production-api"'
    assert terms(text) == (
        FieldTerm(Field.ACTION, (Action.DELETE, Action.UPDATE)),
        FieldTerm(Field.RESOURCE, (ResourceType.ENDPOINT,)),
        FieldTerm(Field.USER, (UserValue("deploy-bot"),), negated=True),
        FieldTerm(Field.IP, (IPv4Network("10.0.0.0/8"),)),
        TextTerm("production-api"),
    )
    assert positions(text) == [0, 21, 39, 56, 70]


@pytest.mark.parametrize("text", ["", "   ", "\n\t \u3000\u00a0"])
def test_an_empty_or_blank_query_has_no_terms(text: str) -> None:
    assert parse_search_query(text) == SearchQuery(())
    assert parse_search_query(text).describe() == ""


def test_field_names_and_enum_values_in_any_case() -> None:
    assert terms("Action:delete RESOURCE:Api_Key sTaTuS:failed") == (
        FieldTerm(Field.ACTION, (Action.DELETE,)),
        FieldTerm(Field.RESOURCE, (ResourceType.API_KEY,)),
        FieldTerm(Field.STATUS, (Status.FAILED,)),
    )


def test_alternatives_keep_their_order_and_drop_repeats() -> None:
    assert terms("action:login,DELETE,Login status:SUCCESS,FAILED") == (
        FieldTerm(Field.ACTION, (Action.LOGIN, Action.DELETE)),
        FieldTerm(Field.STATUS, (Status.SUCCESS, Status.FAILED)),
    )


def test_a_minus_excludes_words_phrases_and_fields_and_the_term_starts_at_it() -> None:
    text = '-noise -"two words" -resource_id:abc --x'
    assert terms(text) == (
        TextTerm("noise", negated=True),
        TextTerm("two words", negated=True),
        FieldTerm(Field.RESOURCE_ID, ("abc",), negated=True),
        TextTerm("-x", negated=True),
    )
    assert positions(text) == [0, 7, 20, 37]


def test_a_minus_inside_a_word_or_value_is_text() -> None:
    assert terms("deploy-bot user:-x") == (
        TextTerm("deploy-bot"),
        FieldTerm(Field.USER, (UserValue("-x"),)),
    )


def test_a_quoted_phrase_is_one_term_with_its_whitespace() -> None:
    assert terms('"  invalid \t credentials\n again " after') == (
        TextTerm("  invalid \t credentials\n again "),
        TextTerm("after"),
    )


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"C:\temp"', "C:\\temp"),
        (r'"\n is not a newline"', "\\n is not a newline"),
        (r'"ends with \\"', "ends with \\"),
        (r'"\\\""', '\\"'),
    ],
)
def test_escapes_in_quotes_are_only_backslash_quote_and_backslash_backslash(
    text: str, phrase: str
) -> None:
    assert terms(text) == (TextTerm(phrase),)


def test_field_values_may_be_quoted_and_a_comma_in_quotes_is_text() -> None:
    text = 'details.reason:"invalid credentials" user:"a b" resource_id:"a,b",c'
    assert terms(text) == (
        FieldTerm(Field.DETAILS, ("invalid credentials",), path=("reason",)),
        FieldTerm(Field.USER, (UserValue("a b"),)),
        FieldTerm(Field.RESOURCE_ID, ("a,b", "c")),
    )
    assert positions(text) == [0, 37, 48]


def test_any_unicode_whitespace_separates_terms() -> None:
    text = "a\tb\nc\u3000d\u00a0e\u2029f"
    assert terms(text) == tuple(TextTerm(word) for word in "abcdef")
    assert positions(text) == [0, 2, 4, 6, 8, 10]


@pytest.mark.parametrize(
    "word",
    ["C:\\temp", "https://example.com", "10:30", "details:reason", "acton:DELETE", "a\\b", ":x"],
)
def test_a_word_whose_name_before_the_colon_is_no_field_is_free_text(word: str) -> None:
    assert terms(word) == (TextTerm(word),)


def test_the_first_colon_ends_the_field_name() -> None:
    assert terms("ip:2001:db8::/32 details.time:10:30") == (
        FieldTerm(Field.IP, (IPv6Network("2001:db8::/32"),)),
        FieldTerm(Field.DETAILS, ("10:30",), path=("time",)),
    )


def test_details_paths_keep_the_case_of_their_keys() -> None:
    assert terms("DETAILS.Request.Headers.X-Id:Abc details.n:1") == (
        FieldTerm(Field.DETAILS, ("Abc",), path=("Request", "Headers", "X-Id")),
        FieldTerm(Field.DETAILS, ("1",), path=("n",)),
    )


@pytest.mark.parametrize(
    ("value", "network"),
    [
        ("10.0.0.0/8", IPv4Network("10.0.0.0/8")),
        ("192.168.1.100", IPv4Network("192.168.1.100/32")),
        ("2001:db8::/32", IPv6Network("2001:db8::/32")),
        ("2001:DB8::1", IPv6Network("2001:db8::1/128")),
        ("::ffff:10.0.0.1", IPv4Network("10.0.0.1/32")),
        ("::ffff:10.0.0.0/104", IPv4Network("10.0.0.0/8")),
        ("::ffff:0:0/96", IPv4Network("0.0.0.0/0")),
        ('" 10.0.0.1 "', IPv4Network("10.0.0.1/32")),
    ],
)
def test_ip_takes_addresses_and_networks_with_mapped_ipv6_as_ipv4(
    value: str, network: Network
) -> None:
    assert terms(f"ip:{value}") == (FieldTerm(Field.IP, (network,)),)


def test_country_is_two_letters_in_upper_case() -> None:
    assert terms("country:de,Fr") == (FieldTerm(Field.COUNTRY, ("DE", "FR")),)


def test_country_is_a_known_code() -> None:
    with pytest.raises(SearchQueryError, match="'UK' is not an ISO 3166-1 alpha-2 code") as error:
        parse_search_query("country:UK")
    assert error.value.position == 8


def test_email_is_normalised() -> None:
    assert terms('email:Alice@Company.COM,"  bob@x.org "') == (
        FieldTerm(Field.EMAIL, ("alice@company.com", "bob@x.org")),
    )


def test_user_keeps_the_text_and_adds_the_email_when_it_is_one() -> None:
    assert terms('user:Alice@Company.com,user-def-456,"  padded "') == (
        FieldTerm(
            Field.USER,
            (
                UserValue("Alice@Company.com", "alice@company.com"),
                UserValue("user-def-456"),
                UserValue("padded"),
            ),
        ),
    )


def test_resource_ids_details_values_and_text_are_kept_as_typed() -> None:
    assert terms('resource_id:" Project-1 " details.note:MiXeD Deploy') == (
        FieldTerm(Field.RESOURCE_ID, (" Project-1 ",)),
        FieldTerm(Field.DETAILS, ("MiXeD",), path=("note",)),
        TextTerm("Deploy"),
    )


def test_twenty_terms_and_values_of_the_longest_length_are_accepted() -> None:
    assert len(terms(" ".join(["a"] * MAX_TERMS))) == MAX_TERMS
    longest = "x" * MAX_VALUE_LENGTH
    assert terms(f"{longest} resource_id:{longest}") == (
        TextTerm(longest),
        FieldTerm(Field.RESOURCE_ID, (longest,)),
    )


def test_describe_writes_the_canonical_text() -> None:
    query = parse_search_query(
        'Action:delete,update -user:"a b" ip:::ffff:10.0.0.1 C:\\temp "x\\"y" -"-z" '
        "details.Reason:a,b country:fr"
    )
    assert query.describe() == (
        'action:DELETE,UPDATE -user:"a b" ip:10.0.0.1 "C:\\\\temp" "x\\"y" -"-z" '
        "details.Reason:a,b country:FR"
    )


# Examples: where each error points

QUOTE_INSIDE = "quotes must surround a whole word or value; put a space before and after them"
ALL_ACTIONS = "CREATE, UPDATE, DELETE, LOGIN, LOGIN_FAILED, LOGOUT, PASSWORD_RESET, EXPORT"


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ('a "unclosed phrase', "unclosed quote", 2),
        ('user:"a b', "unclosed quote", 5),
        ('"ends in an escaped quote\\"', "unclosed quote", 0),
        ('a "" b', "empty phrase", 2),
        ("a - b", "nothing after '-'", 2),
        ("a -", "nothing after '-'", 2),
        ("x action:", "no value after 'action:'", 2),
        ("-details.a.b:", "no value after 'details.a.b:'", 0),
        ("action:DELETE,,UPDATE", "empty value for action", 14),
        ("action:DELETE,", "empty value for action", 14),
        ("action:,DELETE", "empty value for action", 7),
        ('user:""', "empty value for user", 5),
        ('resource_id:a,""', "empty value for resource_id", 14),
        ('user:"  "', "empty value for user", 5),
        ("action:DELET", f"unknown value 'DELET' for action; allowed: {ALL_ACTIONS}", 7),
        ("x -action:DELETE,nope", f"unknown value 'nope' for action; allowed: {ALL_ACTIONS}", 17),
        (
            "resource:PROJECTS",
            "unknown value 'PROJECTS' for resource; allowed: USER, PROJECT, MODEL, ENDPOINT, "
            "CLUSTER, BENCHMARK, SETTINGS, API_KEY, AUDIT_LOG, ALERT, ALERT_RULE",
            9,
        ),
        ("status:OK", "unknown value 'OK' for status; allowed: SUCCESS, FAILED", 7),
        ("ip:10.0.0.1/8", "'10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?", 3),
        (
            "ip:::ffff:10.0.0.1/104",
            "'::ffff:10.0.0.1/104' has host bits set; did you mean 10.0.0.0/8?",
            3,
        ),
        ("ip:fe80::1%eth0", "'fe80::1%eth0': IPv6 zone ids (after '%') are not accepted", 3),
        (
            "ip:10.0.0.0/255.0.0.0",
            "'10.0.0.0/255.0.0.0' is not an IP address or a network in CIDR form "
            "(such as 10.0.0.0/8)",
            3,
        ),
        (
            "ip:1.2.3.4,999.1.1.1",
            "'999.1.1.1' is not an IP address or a network in CIDR form (such as 10.0.0.0/8)",
            11,
        ),
        (
            "country:DEU",
            "'DEU' is not a two-letter country code (ISO 3166-1 alpha-2, like DE)",
            8,
        ),
        ("country:4x", "'4x' is not a two-letter country code (ISO 3166-1 alpha-2, like DE)", 8),
        ("email:bob", "'bob' is not a valid email address", 6),
        (
            "a details..b:x",
            "'details..b' has an empty key; write details.key or details.key.subkey",
            2,
        ),
        (
            "details.:x",
            "'details.' has an empty key; write details.key or details.key.subkey",
            0,
        ),
        (
            "-details.a.:x",
            "'details.a.' has an empty key; write details.key or details.key.subkey",
            1,
        ),
        ('foo"bar"', QUOTE_INSIDE, 3),
        ('"a"b', QUOTE_INSIDE, 3),
        ('"a""b"', QUOTE_INSIDE, 3),
        ('user:a"b"', QUOTE_INSIDE, 6),
        ('x:"y z"', QUOTE_INSIDE, 2),
        (" ".join(["a"] * 21), f"more than {MAX_TERMS} terms", 40),
        ("x" * 201, f"text longer than {MAX_VALUE_LENGTH} characters", 0),
        (f'a "{"y" * 201}"', f"text longer than {MAX_VALUE_LENGTH} characters", 2),
        (f"user:a,{'u' * 201}", f"value longer than {MAX_VALUE_LENGTH} characters", 7),
        (f"details.{'k' * 200}:v", f"key path longer than {MAX_VALUE_LENGTH} characters", 0),
        ("a\x00b", "NUL characters are not allowed", 1),
        ('"in a \x00 phrase"', "NUL characters are not allowed", 6),
    ],
)
def test_each_error_says_what_is_wrong_and_where(text: str, message: str, position: int) -> None:
    with pytest.raises(SearchQueryError) as raised:
        parse_search_query(text)
    assert (raised.value.message, raised.value.position) == (message, position)
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)


def test_the_first_error_from_the_left_is_reported() -> None:
    with pytest.raises(SearchQueryError) as raised:
        parse_search_query('status:OK "unclosed')
    assert raised.value.position == 7


# Properties over generated queries

TEXT = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=MAX_VALUE_LENGTH)
KEY = st.text(
    st.characters(exclude_characters='\x00.:"', exclude_categories=("Z", "Cc")),
    min_size=1,
    max_size=10,
).filter(lambda key: not any(char.isspace() for char in key))


def _email_or_none(text: str) -> str | None:
    try:
        return normalise_email(text)
    except ValueError:
        return None


def _is_stored_form(network: Network) -> bool:
    return not (isinstance(network, IPv6Network) and network.network_address.ipv4_mapped)


NETWORKS = st.one_of(
    st.tuples(st.ip_addresses(v=4), st.integers(0, 32)),
    st.tuples(st.ip_addresses(v=6), st.integers(0, 128)),
).map(lambda pair: ip_network(pair, strict=False))


def _values(elements: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(elements, min_size=1, max_size=4, unique=True).map(tuple)


USERS = TEXT.map(str.strip).filter(bool).map(lambda text: UserValue(text, _email_or_none(text)))
VALUES = {
    Field.ACTION: _values(st.sampled_from(Action)),
    Field.RESOURCE: _values(st.sampled_from(ResourceType)),
    Field.STATUS: _values(st.sampled_from(Status)),
    Field.RESOURCE_ID: _values(TEXT),
    Field.USER: st.lists(USERS, min_size=1, max_size=4, unique_by=lambda user: user.text).map(
        tuple
    ),
    Field.EMAIL: _values(st.emails().map(normalise_email).filter(lambda e: len(e) <= 200)),
    Field.IP: _values(NETWORKS.filter(_is_stored_form)),
    Field.COUNTRY: _values(st.sampled_from(sorted(COUNTRY_CODES))),
    Field.DETAILS: _values(TEXT),
}
FIELD_TERMS = st.sampled_from(Field).flatmap(
    lambda field: st.builds(
        FieldTerm,
        st.just(field),
        VALUES[field],
        negated=st.booleans(),
        path=st.lists(KEY, min_size=1, max_size=3).map(tuple)
        if field is Field.DETAILS
        else st.just(()),
    )
)
TERMS = st.one_of(st.builds(TextTerm, TEXT, negated=st.booleans()), FIELD_TERMS)


@settings(max_examples=200, deadline=None)
@given(st.lists(TERMS, max_size=MAX_TERMS).map(lambda found: SearchQuery(tuple(found))))
def test_the_canonical_text_of_a_query_reads_back_as_the_same_query(query: SearchQuery) -> None:
    assert parse_search_query(query.describe()) == query


# Arbitrary text, and text made of the pieces the grammar turns on.
ODD_TEXT = st.one_of(
    st.text(),
    st.lists(
        st.sampled_from(
            [*'ab:,-."\\ \t\n\x00', "ip:", "action:", "user:", "details.", "::ffff:", "10.0.0.0/8"]
        )
    ).map("".join),
)


# A deadline, since a parser that loops forever would otherwise hang the run instead of failing.
@settings(max_examples=200, deadline=timedelta(seconds=1))
@given(ODD_TEXT)
def test_any_text_parses_or_fails_with_a_position_in_it(text: str) -> None:
    outcome = _parse_or_error(text)
    if isinstance(outcome, SearchQueryError):
        assert 0 <= outcome.position <= len(text)
        assert outcome.message
    else:
        assert parse_search_query(outcome.describe()) == outcome


def _parse_or_error(text: str) -> SearchQuery | SearchQueryError:
    """Anything but a ``SearchQueryError`` escapes, and fails the test."""
    try:
        return parse_search_query(text)
    except SearchQueryError as error:
        return error


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_a_quoted_phrase_reads_back_as_exactly_its_text(text: str) -> None:
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert terms(quoted) == (TextTerm(text),)


WORD = st.text(
    st.characters(exclude_characters='\x00:"', exclude_categories=("Z", "Cc")),
    min_size=1,
    max_size=30,
).filter(lambda word: not word.startswith("-") and not any(c.isspace() for c in word))
SPACE = st.text(st.sampled_from(" \t\n\r\u3000\u00a0\u2028"), min_size=1, max_size=3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(SPACE, WORD), max_size=MAX_TERMS), SPACE)
def test_plain_words_are_free_text_terms_in_order(
    spaced: list[tuple[str, str]], trailing: str
) -> None:
    text = "".join(space + word for space, word in spaced) + trailing
    starts, offset = [], 0
    for space, word in spaced:
        starts.append(offset + len(space))
        offset += len(space) + len(word)
    assert terms(text) == tuple(TextTerm(word) for _, word in spaced)
    assert positions(text) == starts
