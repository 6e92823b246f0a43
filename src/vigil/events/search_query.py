"""The search query language (``q`` of the event list, search and export), parsed into typed
terms; what they select in SQL is decided elsewhere.

A query is up to 20 terms, all of which must match; each may start with ``-`` to exclude:

- ``field:value`` or ``field:a,b`` (either value) for ``action``, ``resource``, ``resource_id``,
  ``user`` (an id or an email), ``email``, ``ip`` (an address or a CIDR network), ``status``,
  ``country`` and ``details.key.subkey`` (a key path in the details JSON); field names in any
  case; a value may be quoted, ``details.reason:"invalid credentials"``;
- ``"a quoted phrase"``, one term of free text, spaces and all;
- any other word, free text as a whole: ``C:\\temp`` and ``10:30`` (no field before the colon).

The words themselves, quotes and escapes included, are read by ``events.search_tokens``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from vigil.events.countries import normalise_country
from vigil.events.schemas import Action, ResourceType, Status, normalise_email
from vigil.events.search_tokens import Piece, SearchQueryError, Word, split_words

__all__ = [
    "MAX_TERMS",
    "MAX_VALUE_LENGTH",
    "Field",
    "FieldTerm",
    "FieldValue",
    "Network",
    "SearchQuery",
    "SearchQueryError",
    "Term",
    "TextTerm",
    "UserValue",
    "parse_search_query",
]

MAX_TERMS = 20
MAX_VALUE_LENGTH = 200
_DETAILS_PREFIX = "details."


class Field(StrEnum):
    """A field a term can name; the value is its name in queries (``DETAILS`` takes a path)."""

    ACTION = "action"
    RESOURCE = "resource"  # the resource type
    RESOURCE_ID = "resource_id"
    USER = "user"
    EMAIL = "email"
    IP = "ip"
    STATUS = "status"
    COUNTRY = "country"
    DETAILS = "details"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class UserValue:
    """A ``user:`` value, matched against both the user id and the email: ``text`` as typed
    (surrounding whitespace trimmed), ``email`` its normalised form when it is an email."""

    text: str
    email: str | None = None


# Per field: ACTION Action, RESOURCE ResourceType, STATUS Status, USER UserValue, IP Network,
# COUNTRY an upper-case alpha-2 code, EMAIL a normalised email, RESOURCE_ID and DETAILS the
# text as typed.
FieldValue = Action | ResourceType | Status | UserValue | Network | str


@dataclass(frozen=True, slots=True)
class TextTerm:
    """Free text (a word or a quoted phrase) as typed, not case-folded. Positions are left out
    of equality: two queries are equal when they ask the same thing."""

    text: str
    negated: bool = False
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class FieldTerm:
    """``field:value[,value…]``: any of ``values`` (distinct, in the order typed) matches.
    ``path`` is the key path of a ``DETAILS`` term (``("a", "b")`` for ``details.a.b``)."""

    field: Field
    values: tuple[FieldValue, ...]
    negated: bool = False
    path: tuple[str, ...] = ()
    position: int = dataclasses.field(default=0, compare=False)

    @property
    def name(self) -> str:
        """The field as written in a query: ``action``, ``details.a.b``."""
        if self.field is Field.DETAILS:
            return _DETAILS_PREFIX + ".".join(self.path)
        return self.field.value


Term = TextTerm | FieldTerm


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Terms that must all match, in the order typed; no terms selects everything."""

    terms: tuple[Term, ...] = ()

    def describe(self) -> str:
        """The query in canonical text (lower-case field names, upper-case enum values,
        quotes only where needed), which parses back to an equal query; for the records of
        searches and exports."""
        return " ".join(_describe_term(term) for term in self.terms)


def parse_search_query(text: str) -> SearchQuery:
    """Parse ``q`` into a ``SearchQuery``; empty or blank text gives no terms. Raises
    ``SearchQueryError`` (a ``ValueError``) at the first problem from the left, with its
    position: unclosed quote, empty phrase, nothing after ``-``, no or an empty value, a
    quote inside a word, an unknown enum value, a bad address, country, email or key path,
    more than ``MAX_TERMS`` terms, a value over ``MAX_VALUE_LENGTH`` characters, a NUL."""
    terms: list[Term] = []
    for word in split_words(text):
        if len(terms) == MAX_TERMS:
            raise SearchQueryError(f"more than {MAX_TERMS} terms", word.position)
        terms.append(_parse_term(word))
    return SearchQuery(tuple(terms))


def _parse_term(word: Word) -> Term:
    pieces = list(word.pieces)
    negated = not pieces[0].quoted and pieces[0].text.startswith("-")
    if negated:
        rest = pieces[0].text[1:]
        if rest:
            pieces[0] = Piece(rest, quoted=False, position=pieces[0].position + 1)
        else:  # '-"phrase"'
            del pieces[0]
        if not pieces:
            raise SearchQueryError("nothing after '-'", word.position)
    first = pieces[0]
    name, colon, after = first.text.partition(":")
    if not first.quoted and colon:
        named = _field(name, first.position)
        if named is not None:
            value_pieces = pieces[1:]
            if after:
                value_start = first.position + len(name) + 1
                value_pieces.insert(0, Piece(after, quoted=False, position=value_start))
            return _field_term(*named, value_pieces, negated=negated, position=word.position)
    if len(pieces) > 1:
        raise _inside_word(pieces[1])
    if first.quoted and not first.text:
        raise SearchQueryError("empty phrase", first.position)
    if len(first.text) > MAX_VALUE_LENGTH:
        raise SearchQueryError(f"text longer than {MAX_VALUE_LENGTH} characters", first.position)
    return TextTerm(first.text, negated=negated, position=word.position)


def _field(name: str, position: int) -> tuple[Field, tuple[str, ...]] | None:
    """The field and key path ``name`` calls for, or None when it is no field at all."""
    if name[: len(_DETAILS_PREFIX)].lower() == _DETAILS_PREFIX:
        path = tuple(name[len(_DETAILS_PREFIX) :].split("."))
        if "" in path:
            raise SearchQueryError(
                f"{name!r} has an empty key; write details.key or details.key.subkey", position
            )
        if len(name) > MAX_VALUE_LENGTH:
            raise SearchQueryError(f"key path longer than {MAX_VALUE_LENGTH} characters", position)
        return Field.DETAILS, path
    try:
        field = Field(name.lower())
    except ValueError:
        return None
    # A bare "details:" names no key: free text, like any other unknown name.
    return None if field is Field.DETAILS else (field, ())


def _field_term(
    field: Field, path: tuple[str, ...], pieces: list[Piece], *, negated: bool, position: int
) -> FieldTerm:
    label = _DETAILS_PREFIX + ".".join(path) if path else field.value
    if not pieces:
        raise SearchQueryError(f"no value after '{label}:'", position)
    values: dict[FieldValue, None] = {}  # keeps the first of repeated values, in order
    for piece in _alternatives(pieces, label):
        if len(piece.text) > MAX_VALUE_LENGTH:
            raise SearchQueryError(
                f"value longer than {MAX_VALUE_LENGTH} characters", piece.position
            )
        try:
            values.setdefault(_parse_value(field, piece.text, label))
        except ValueError as error:
            raise SearchQueryError(str(error), piece.position) from None
    return FieldTerm(field, tuple(values), negated=negated, path=path, position=position)


def _alternatives(pieces: list[Piece], label: str) -> list[Piece]:
    """The comma-separated values of ``pieces``, each one whole piece; a comma inside quotes
    is text. Raises at an empty value and at a quote that does not surround a whole value."""
    found: list[Piece] = []
    current: list[Piece] = []
    start = pieces[0].position  # of the value being read

    def end_value() -> None:
        if not current or (current[0].quoted and not current[0].text):
            raise SearchQueryError(f"empty value for {label}", start)
        if len(current) > 1:
            raise _inside_word(current[1])
        found.append(current[0])
        current.clear()

    for piece in pieces:
        if piece.quoted:
            current.append(piece)
            continue
        offset = piece.position
        for index, part in enumerate(piece.text.split(",")):
            if index:
                end_value()
                start = offset
            if part:
                current.append(Piece(part, quoted=False, position=offset))
            offset += len(part) + 1
    end_value()
    return found


def _inside_word(piece: Piece) -> SearchQueryError:
    return SearchQueryError(
        "quotes must surround a whole word or value; put a space before and after them",
        piece.position,
    )


def _parse_value(field: Field, text: str, label: str) -> FieldValue:
    """One value of ``field``, typed; raises ``ValueError`` with the investigator's message."""
    match field:
        case Field.ACTION:
            return _choice(text, Action, label)
        case Field.RESOURCE:
            return _choice(text, ResourceType, label)
        case Field.STATUS:
            return _choice(text, Status, label)
        case Field.IP:
            return _network(text.strip())
        case Field.COUNTRY:
            return _country(text.strip())
        case Field.EMAIL:
            try:
                return normalise_email(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a valid email address") from None
        case Field.USER:
            return _user(text.strip(), label)
        case Field.RESOURCE_ID | Field.DETAILS:
            return text


E = TypeVar("E", Action, ResourceType, Status)


def _choice(text: str, enum: type[E], label: str) -> E:
    try:
        return enum(text.strip().upper())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValueError(f"unknown value {text!r} for {label}; allowed: {allowed}") from None


def _network(text: str) -> Network:
    """A single address becomes a /32 or /128; IPv4-mapped IPv6 becomes IPv4, as stored."""
    if "%" in text:  # a zone names a local interface, never a stored address (normalise_ip)
        raise ValueError(f"{text!r}: IPv6 zone ids (after '%') are not accepted")
    _, slash, bits = text.partition("/")
    # ipaddress also takes netmasks ("/255.0.0.0"); the language is CIDR only.
    if not slash or (bits.isascii() and bits.isdigit()):
        try:
            return _as_stored(ipaddress.ip_network(text))
        except ValueError:
            pass
        try:
            network = _as_stored(ipaddress.ip_network(text, strict=False))
        except ValueError:
            pass
        else:
            raise ValueError(f"{text!r} has host bits set; did you mean {network}?")
    raise ValueError(
        f"{text!r} is not an IP address or a network in CIDR form (such as 10.0.0.0/8)"
    )


def _as_stored(network: Network) -> Network:
    if isinstance(network, ipaddress.IPv6Network):
        # A mapped network address means a prefix of /96 or more: within the mapped range.
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def _country(text: str) -> str:
    if len(text) == 2 and text.isascii() and text.isalpha():
        return normalise_country(text)  # a known code, as the country filter takes
    raise ValueError(f"{text!r} is not a two-letter country code (ISO 3166-1 alpha-2, like DE)")


def _user(text: str, label: str) -> UserValue:
    if not text:
        raise ValueError(f"empty value for {label}")
    try:
        email: str | None = normalise_email(text)
    except ValueError:
        email = None
    return UserValue(text, email)


def _describe_term(term: Term) -> str:
    sign = "-" if term.negated else ""
    if isinstance(term, TextTerm):
        return sign + _word_or_phrase(term.text, plain=_is_plain_word(term.text))
    texts = (_value_text(value) for value in term.values)
    values = ",".join(_word_or_phrase(text, plain=_is_plain_value(text)) for text in texts)
    return f"{sign}{term.name}:{values}"


def _value_text(value: FieldValue) -> str:
    if isinstance(value, UserValue):
        return value.text
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        if value.prefixlen == value.max_prefixlen:
            return str(value.network_address)
        return str(value)
    return str(value)


def _is_plain_word(text: str) -> bool:
    """Whether ``text`` reads back as itself, unquoted, as free text (no field, no '-')."""
    return _is_plain_value(text) and ":" not in text and not text.startswith("-")


def _is_plain_value(text: str) -> bool:
    return bool(text) and not any(char.isspace() or char in '",' for char in text)


def _word_or_phrase(text: str, *, plain: bool) -> str:
    if plain:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
