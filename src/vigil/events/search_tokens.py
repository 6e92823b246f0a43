"""The words of a search query (``events.search_query``): a character-level state machine.

A word is a run of characters between whitespace (anything ``str.isspace`` calls whitespace,
newlines and tabs included). A double quote opens a quoted piece that runs to the next
unescaped double quote, whitespace and all; inside it ``\\"`` is a quote, ``\\\\`` a backslash,
and any other backslash is kept as it is, so ``"C:\\temp"`` reads as ``C:\\temp``. Outside
quotes a backslash is an ordinary character. What the pieces mean is the parser's business.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum, auto


class SearchQueryError(ValueError):
    """A search query that cannot be understood: ``message`` for the investigator, and
    ``position``, the 0-based offset in the query of the offending character or term."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Piece:
    """Part of a word: unquoted text as typed, or a quoted text with its escapes undone.
    ``position`` is that of its first character (the opening quote when quoted)."""

    text: str
    quoted: bool
    position: int


@dataclass(frozen=True, slots=True)
class Word:
    """One or more pieces with no whitespace between them (``user:"a b"`` is two)."""

    pieces: tuple[Piece, ...]

    @property
    def position(self) -> int:
        """The offset of the word's first character."""
        return self.pieces[0].position


class _State(Enum):
    BETWEEN = auto()  # outside any word
    BARE = auto()  # in a word, outside quotes
    QUOTED = auto()
    ESCAPE = auto()  # just after a backslash inside quotes


def split_words(text: str) -> Iterator[Word]:
    """The words of ``text`` in order, yielded as they are read (a caller that stops early
    never reads the rest); raises ``SearchQueryError`` for a NUL character (at the NUL) or a
    quote left open (at the opening quote)."""
    state = _State.BETWEEN
    pieces: list[Piece] = []
    chars: list[str] = []  # of the piece being read
    start = 0  # of the piece being read

    def end_piece(quoted: bool) -> None:
        if chars or quoted:
            pieces.append(Piece("".join(chars), quoted, start))
        chars.clear()

    for index, char in enumerate(text):
        if char == "\x00":  # PostgreSQL cannot hold NUL in text, so no event contains one
            raise SearchQueryError("NUL characters are not allowed", index)
        if state is _State.ESCAPE:
            if char not in '"\\':
                chars.append("\\")
            chars.append(char)
            state = _State.QUOTED
        elif state is _State.QUOTED:
            if char == "\\":
                state = _State.ESCAPE
            elif char == '"':
                end_piece(quoted=True)
                state = _State.BARE
            else:
                chars.append(char)
        elif char.isspace():
            if state is _State.BARE:
                end_piece(quoted=False)
                yield Word(tuple(pieces))
                pieces.clear()
            state = _State.BETWEEN
        elif char == '"':
            end_piece(quoted=False)
            start, state = index, _State.QUOTED
        else:
            if not chars:
                start = index
            chars.append(char)
            state = _State.BARE
    if state in (_State.QUOTED, _State.ESCAPE):
        raise SearchQueryError("unclosed quote", start)
    if state is _State.BARE:
        end_piece(quoted=False)
        yield Word(tuple(pieces))
