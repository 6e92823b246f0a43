"""The stored search text: values as people read them, folded, with nothing to match across."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vigil.db.folding import fold
from vigil.events.search_text import (
    SEGMENT,
    details_segment,
    event_search_text,
    search_terms_text,
)


def text_of(details: str | None = None, **fields: str) -> str:
    return event_search_text(
        user_email=fields.get("user_email"),
        user_id=fields.get("user_id"),
        resource_id=fields.get("resource_id"),
        user_agent=fields.get("user_agent"),
        details=details,
    )


def test_numbers_are_kept_as_written() -> None:
    stored = text_of('{"a":1E+2,"b":0.1000,"c":-0,"d":123456789012345678901234567890,"e":7}')
    for token in ("1e+2", "0.1000", "-0", "123456789012345678901234567890", "7"):
        assert f"\x1d{token}{SEGMENT}" in stored


def test_strings_are_decoded_and_json_syntax_is_absent() -> None:
    stored = text_of('{"note":"say \\"hi\\"","path":"C:\\\\temp","memo":"a\\nb","n":null}')
    assert 'say "hi"' in stored
    assert "c:\\temp" in stored
    assert "a\nb" in stored
    for syntax in ("{", "}", '":', "null", "note", "path", "memo"):
        assert syntax not in stored


def test_key_paths_are_out_of_reach_of_typed_text() -> None:
    stored = text_of('{"owner":{"name":"Wanda"},"tags":["x","y"]}')
    assert details_segment(("owner", "name"), "WANDA") in stored
    assert details_segment(("tags",), "y") in stored
    assert details_segment(("name",), "wanda") not in stored
    assert "owner" not in stored
    assert "name" not in stored


def test_separators_in_values_cannot_join_two_values() -> None:
    stored = text_of('{"a":"x\\u001fy"}', user_id="p\x1fq")
    assert "x y" in stored
    assert "p q" in stored
    assert stored.count(SEGMENT) == 3


@given(st.text(min_size=1, max_size=40), st.text(max_size=40))
def test_a_value_is_found_whole_and_written_in_another_case(value: str, other: str) -> None:
    stored = text_of(user_id=value, resource_id=other)
    assert search_terms_text(value) in stored
    assert search_terms_text(value.swapcase()) in stored or fold(value.swapcase()) != fold(value)


@given(st.text(alphabet=st.characters(max_codepoint=127), min_size=1, max_size=40))
def test_any_part_of_an_ascii_value_is_found_in_any_case(value: str) -> None:
    stored = text_of(user_agent=value)
    for start in range(len(value)):
        part = value[start : start + 4]
        assert search_terms_text(part.upper()) in stored


def test_folding_covers_more_than_ascii() -> None:
    assert fold("École") == fold("école")
    assert fold("ØSTERGÅRD") == "østergård"
    assert fold("Straße") == "strasse"
    assert fold("ﬁle") == "file"
