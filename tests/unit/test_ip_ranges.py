"""Address keys sort as addresses do, a network is exactly its range of keys, and the filter
values parse as people write them."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.events.countries import COUNTRY_CODES, normalise_country
from vigil.events.geo_table import CountryTable
from vigil.events.ip_ranges import ip_key_of, key_range, network_text, parse_network

ipv4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
ipv6 = st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))
addresses = st.one_of(ipv4, ipv6)


@given(addresses, addresses)
def test_keys_sort_as_the_addresses_they_map_to(a: str, b: str) -> None:
    def as_ipv6(text: str) -> int:
        address = ipaddress.ip_address(text)
        return int(address) | (0xFFFF << 32) if address.version == 4 else int(address)

    assert (ip_key_of(a) < ip_key_of(b)) == (as_ipv6(a) < as_ipv6(b))
    assert len(ip_key_of(a)) == 16


@given(addresses, st.integers(0, 128))
def test_a_network_is_exactly_its_range_of_keys(address: str, prefix: int) -> None:
    parsed = ipaddress.ip_address(address)
    network = ipaddress.ip_network((parsed, min(prefix, parsed.max_prefixlen)), strict=False)
    first, last = key_range(network)
    assert first == ip_key_of(str(network.network_address))
    assert last == ip_key_of(str(network.broadcast_address))
    assert first <= ip_key_of(address) <= last


def test_ipv4_and_its_mapped_form_share_a_key() -> None:
    assert ip_key_of("10.1.2.7") == ip_key_of("::ffff:10.1.2.7") == ip_key_of("::ffff:a01:207")
    assert ip_key_of("10.1.2.7").hex() == "00000000000000000000ffff0a010207"


@pytest.mark.parametrize(
    ("text", "network"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        (" 10.1.2.7 ", "10.1.2.7/32"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:10.1.2.7", "10.1.2.7/32"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
        ("::fffe:0:0/95", "::fffe:0:0/95"),  # wider than IPv4: stays IPv6
        ("2001:DB8::/32", "2001:db8::/32"),
        ("10.0.0.0/08", "10.0.0.0/8"),
    ],
)
def test_networks_are_normalised(text: str, network: str) -> None:
    assert str(parse_network(text)) == network


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("10.1.2.7/24", "bits set after the prefix; the network is 10.1.2.0/24"),
        ("fe80::1%eth0", "zone ids"),
        ("10.0.0.0/255.0.0.0", "prefix length after / must be a number"),
        ("10.0.0.0/-1", "prefix length after / must be a number"),
        ("10.0.0.0/33", "out of range"),
        ("2001:db8::/129", "out of range"),
        ("10.0.0", "not an IPv4 or IPv6 address or CIDR network"),
        ("", "not an IPv4 or IPv6 address or CIDR network"),
    ],
)
def test_bad_networks_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_network(text)


def test_a_network_of_one_is_written_as_its_address() -> None:
    assert network_text(parse_network("10.1.2.7")) == "10.1.2.7"
    assert network_text(parse_network("2001:db8::/32")) == "2001:db8::/32"


def test_country_codes_are_upper_cased_and_checked() -> None:
    assert normalise_country(" de ") == "DE"
    with pytest.raises(ValueError, match="ISO 3166-1"):
        normalise_country("UK")


def test_every_country_the_geoip_data_gives_can_be_filtered_on() -> None:
    table = CountryTable.read()
    named = {code for code in table._codes if len(code) == 2 and code.isalpha()}
    assert {code.upper() for code in named} <= COUNTRY_CODES
