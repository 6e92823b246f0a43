"""The audit event: record, store, query and export."""
