"""Country of an IP address from geoip2fast's bundled data: offline, nothing downloaded."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any


class Geolocator:
    """Looks up the country of normalised IP addresses; off, every country is None.

    One per app (``create_app`` builds it from ``VIGIL_GEOIP_ENABLED``) or CLI command,
    passed to whatever prepares events. The data (a few MB) is loaded on first use or by
    ``warm_up``; lookups are cached, since producers send the same addresses again and again.
    """

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._reader: Any = None
        self._lock = threading.Lock()
        self.country_of = lru_cache(maxsize=65536)(self._lookup)

    def warm_up(self) -> None:
        """Load the data now (about a tenth of a second) rather than on the first event."""
        if self.enabled:
            self._get_reader()

    def _get_reader(self) -> Any:
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    from geoip2fast import GeoIP2Fast

                    # The IPv6 file covers IPv4 too.
                    self._reader = GeoIP2Fast(geoip2fast_data_file="geoip2fast-ipv6.dat.gz")
        return self._reader

    def _lookup(self, ip_address: str) -> str | None:
        """ISO 3166 alpha-2 code for a normalised address, or None when unknown or private."""
        if not self.enabled:
            return None
        code = self._get_reader().lookup(ip_address).country_code
        if not code or len(code) != 2 or not code.isalpha():
            return None
        return str(code).upper()


# For events that carry no address (system actions): never loads anything.
NO_GEOLOCATION = Geolocator(enabled=False)
