"""Database access: engine, shared metadata, column types and migrations."""
