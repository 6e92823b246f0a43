"""Analytics over the stored activity: summaries and timelines (and, later, usage patterns)."""
