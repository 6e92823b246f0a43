"""Country of an IP address from geoip2fast's bundled data: offline, nothing downloaded."""

from __future__ import annotations

import threading
from functools import lru_cache

from vigil.events.geo_table import CountryTable


class Geolocator:
    """Looks up the country of normalised IP addresses; off, every country is None.

    One per app (``create_app`` builds it from ``VIGIL_GEOIP_ENABLED``) or CLI command,
    passed to whatever prepares events. The table (about 15 MB, ``events.geo_table``) is
    loaded on first use or by ``warm_up``; lookups are cached, since producers send the same
    addresses again and again.
    """

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._table: CountryTable | None = None
        self._lock = threading.Lock()
        self.country_of = lru_cache(maxsize=65536)(self._lookup)

    def warm_up(self) -> None:
        """Load the table now (about half a second) rather than on the first event."""
        if self.enabled:
            self._get_table()

    def _get_table(self) -> CountryTable:
        if self._table is None:
            with self._lock:
                if self._table is None:
                    self._table = CountryTable.load()
        return self._table

    def _lookup(self, ip_address: str) -> str | None:
        """ISO 3166 alpha-2 code for a normalised address, or None when unknown or private."""
        if not self.enabled:
            return None
        return self._get_table().country_of(ip_address)


# For events that carry no address (system actions): never loads anything.
NO_GEOLOCATION = Geolocator(enabled=False)
