"""The compact GeoIP table answers exactly what geoip2fast itself answers."""

from __future__ import annotations

import ipaddress
import random

import pytest
from geoip2fast import GeoIP2Fast

from vigil.events.geo_table import DATA_FILE, CountryTable

pytestmark = pytest.mark.unit


def _library_country(reader: GeoIP2Fast, ip: str) -> str | None:
    code = reader.lookup(ip).country_code
    return code.upper() if code and len(code) == 2 and code.isalpha() else None


def _addresses() -> list[str]:
    rnd = random.Random(7)
    found = [str(ipaddress.IPv4Address(rnd.getrandbits(32))) for _ in range(20_000)]
    found += [
        str(ipaddress.IPv6Address((0x2000 << 112) | rnd.getrandbits(115))) for _ in range(8_000)
    ]
    found += [str(ipaddress.IPv6Address(rnd.getrandbits(128))) for _ in range(2_000)]
    return [
        *found,
        "8.8.8.8", "1.1.1.1", "10.0.0.1", "127.0.0.1", "192.168.1.1", "0.0.0.0",  # noqa: S104
        "255.255.255.255", "::", "::1", "2001:4860:4860::8888", "2a00:1450:4001:81c::200e",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1",
    ]  # fmt: skip


def test_every_answer_matches_the_library() -> None:
    table = CountryTable.load()  # through the child process, as the server does
    reader = GeoIP2Fast(geoip2fast_data_file=DATA_FILE.name)
    addresses = _addresses()
    differ = [(ip, table.country_of(ip), _library_country(reader, ip)) for ip in addresses]
    differ = [d for d in differ if d[1] != d[2]]
    assert differ == [], differ[:10]
    assert table.country_of("8.8.8.8") == "US"
    assert table.country_of("10.0.0.1") is None  # private
    assert table.country_of("not an address") is None
    assert sum(table.country_of(ip) is not None for ip in addresses) > 10_000


def test_the_table_survives_its_round_trip_and_refuses_a_cut_one() -> None:
    table = CountryTable.read()
    data = table.to_bytes()
    again = CountryTable.from_bytes(data)
    assert len(again) == len(table) > 700_000
    assert again.country_of("2001:4860:4860::8888") == table.country_of("2001:4860:4860::8888")
    with pytest.raises(ValueError, match="cut short"):
        CountryTable.from_bytes(data[: len(data) // 2])
