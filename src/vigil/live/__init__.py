"""The live feed: committed events streamed to subscribers as they happen."""
