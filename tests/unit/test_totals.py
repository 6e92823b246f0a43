"""Every list filter is either answered by the search index's bitmaps or sends a total to
read events: none is left out of a bitmap count by being forgotten."""

from vigil.events.totals import (
    ACTOR_FILTER,
    COUNTED_FILTERS,
    DESCRIPTIVE_FIELDS,
    UNCOUNTED_FILTERS,
    filter_fields,
)


def test_every_filter_is_counted_or_read() -> None:
    classified = set(COUNTED_FILTERS) | UNCOUNTED_FILTERS | DESCRIPTIVE_FIELDS | {ACTOR_FILTER}
    assert classified == filter_fields()
    assert not set(COUNTED_FILTERS) & UNCOUNTED_FILTERS
