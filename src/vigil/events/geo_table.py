"""geoip2fast's country table, held compactly: the same networks and answers in a third of
the memory.

geoip2fast (pinned in ``pyproject.toml``) ships its data as a pickle of Python lists and
keeps them as such: 788,735 networks as Python integers took 47 MB of the server's memory.
Here the table is read from the same file by a short-lived child process, which hands back
typed arrays (the first address of each network split into two 64-bit halves, its prefix
length and its country): about 15 MB, and the integers never enter the server's own heap
(freed there, they left 15 MB of fragments behind). A lookup is the library's: the last
network starting at or before the address, which holds it if the address is within the
network's prefix length; networks the data marks private or reserved (country index below
16) have no country.
"""

from __future__ import annotations

import gzip
import ipaddress
import pickle
import struct
import subprocess
import sys
from array import array
from bisect import bisect_left, bisect_right
from pathlib import Path

import geoip2fast

DATA_FILE = Path(geoip2fast.__file__).with_name("geoip2fast-ipv6.dat.gz")  # IPv4 too
_FORMATS = (120, 121)  # the data file versions geoip2fast itself reads
_FIRST_PUBLIC_COUNTRY = 16  # below: private, loopback, reserved (geoip2fast's own rule)
_LOW_BITS = (1 << 64) - 1
_MAX_IPV4 = (1 << 32) - 1


class CountryTable:
    """Countries of IPv4 and IPv6 networks, sorted by their first address."""

    def __init__(
        self, *, high: array[int], low: array[int], prefix: array[int], country: array[int],
        codes: list[str],
    ) -> None:  # fmt: skip
        self._high, self._low, self._prefix, self._country = high, low, prefix, country
        self._codes = codes

    @classmethod
    def load(cls, path: Path = DATA_FILE, *, timeout: float = 120.0) -> CountryTable:
        """Read geoip2fast's data file in a child process (about half a second).

        Raises ``subprocess.CalledProcessError`` (with the child's error) when the file
        cannot be read, ``subprocess.TimeoutExpired`` after ``timeout`` seconds.
        """
        # This interpreter, this module, the installed package's own data file.
        done = subprocess.run(
            [sys.executable, "-m", __name__, str(path)],
            capture_output=True,
            check=True,
            timeout=timeout,
        )
        return cls.from_bytes(done.stdout)

    @classmethod
    def read(cls, path: Path = DATA_FILE) -> CountryTable:
        """Read geoip2fast's data file (a country-only one, format 120 or 121) in this
        process. Raises ``ValueError`` for a file of another kind or version."""
        with gzip.open(path, "rb") as source:
            # The installed package's own data file, not input from anyone.
            version, info, _total, database = pickle.load(source)  # noqa: S301
        if version not in _FORMATS or not info.get("country") or info.get("asn"):
            raise ValueError(f"{path.name}: not a geoip2fast country table this code reads")
        _index, names, first_chunks, country_chunks, prefix_chunks = database
        high, low = array("Q"), array("Q")
        for chunk in first_chunks:
            high.extend(first >> 64 for first in chunk)
            low.extend(first & _LOW_BITS for first in chunk)
        prefix = array("B", (p for chunk in prefix_chunks for p in chunk))
        country = array("H", (c for chunk in country_chunks for c in chunk))
        codes = [str(name).split(":", 1)[0] for name in names]
        return cls(high=high, low=low, prefix=prefix, country=country, codes=codes)

    def to_bytes(self) -> bytes:
        """The table as ``from_bytes`` reads it: the network count, the four arrays in
        machine order, then the country codes separated by commas."""
        return b"".join((
            struct.pack("=I", len(self._high)),
            self._high.tobytes(), self._low.tobytes(), self._prefix.tobytes(),
            self._country.tobytes(), ",".join(self._codes).encode(),
        ))  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> CountryTable:
        """The table ``to_bytes`` wrote (on this machine). Raises ``ValueError`` when
        ``data`` is cut short."""
        (count,) = struct.unpack_from("=I", data)
        arrays = [array("Q"), array("Q"), array("B"), array("H")]
        offset = struct.calcsize("=I")
        for values in arrays:
            size = count * values.itemsize
            if offset + size > len(data):
                raise ValueError("the country table is cut short")
            values.frombytes(data[offset : offset + size])
            offset += size
        high, low, prefix, country = arrays
        codes = data[offset:].decode().split(",")
        return cls(high=high, low=low, prefix=prefix, country=country, codes=codes)

    def __len__(self) -> int:
        return len(self._high)

    def country_of(self, ip_address: str) -> str | None:
        """ISO 3166 alpha-2 code of the public network holding ``ip_address`` (IPv4 or IPv6
        text), or ``None``: not a valid address, not in any network, or private/reserved."""
        try:
            value = int(ipaddress.ip_address(ip_address))
        except ValueError:
            return None
        row = self._last_starting_at_or_before(value)
        if row < 0:
            return None
        first = (self._high[row] << 64) | self._low[row]
        width = 32 if value <= _MAX_IPV4 else 128
        if value - first >= 1 << (width - self._prefix[row]):
            return None
        index = self._country[row]
        if index < _FIRST_PUBLIC_COUNTRY:
            return None
        code = self._codes[index]
        return code.upper() if len(code) == 2 and code.isalpha() else None

    def _last_starting_at_or_before(self, value: int) -> int:
        high, low = value >> 64, value & _LOW_BITS
        start = bisect_left(self._high, high)
        end = bisect_right(self._high, high, lo=start)
        # Among networks with the same high half, the last whose low half is <= ours; with
        # none, the last network of a smaller high half.
        return bisect_right(self._low, low, lo=start, hi=end) - 1


if __name__ == "__main__":  # the child process of ``CountryTable.load``
    sys.stdout.buffer.write(CountryTable.read(Path(sys.argv[1])).to_bytes())
