"""The after-commit spine (DESIGN §2): every committed event reaches every registered
consumer exactly once, in commit order per tenant, whoever wrote it.

- ``events.sequence`` numbers each tenant's events as they commit (``seq``, no gaps).
- ``consumers`` defines what a consumer is and the registry they are listed in.
- ``service`` keeps each consumer's cursor per tenant: the ``seq`` it has finished with,
  moved in the same transaction as the consumer's own writes.
- ``recent`` keeps what this process just committed, so its runners need not read it back.
- ``runner`` runs one consumer on a thread of its own; ``wakeup`` tells the runners that
  something committed (PostgreSQL ``LISTEN/NOTIFY``; SQLite's ``data_version``), and
  ``dispatcher`` puts them together for the app.
"""
