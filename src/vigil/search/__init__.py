"""The search index: each tenant's distinct searchable values, and the events holding them."""
