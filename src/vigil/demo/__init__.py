"""Demo data: a believable company's people and a few weeks of their activity.

``people`` casts the staff, ``users`` gives them accounts, ``platform`` is the AI platform
whose resources they change, ``rhythm`` decides when they work, ``incidents`` adds the
security stories, and ``story`` weaves all of it into one timeline of events.
"""
