"""IP addresses as sortable keys, and CIDR networks as ranges of those keys.

An event's address is stored twice: as text (``ip_address``, what the API shows) and as a
16-byte key (``ip_key``, what the filters search). The key is the address as IPv6, in
network byte order (big-endian); an IPv4 address becomes its IPv4-mapped IPv6 address
``::ffff:a.b.c.d`` (RFC 4291 §2.5.5.2). Byte order is then numeric order for both
families, so every CIDR network (RFC 4632; RFC 4291 §2.3 for IPv6 prefixes) is one
contiguous range of keys, ``[first, last]``: a range scan of an index on the key.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Final

IPNetwork = IPv4Network | IPv6Network

KEY_BYTES: Final = 16
# Where IPv4 lives in IPv6 (RFC 4291 §2.5.5.2): 80 zero bits, 16 one bits, the address.
_IPV4_MAPPED: Final = 0xFFFF << 32
_MAPPED_PREFIX: Final = 96
# A prefix length is written as a decimal number (RFC 4632 §3.1); the netmask forms that
# Python's ``ipaddress`` also reads ("/255.0.0.0") are not part of the notation.
_PREFIX_LENGTH = re.compile(r"[0-9]{1,3}")


@lru_cache(maxsize=65536)  # producers send the same few addresses again and again
def ip_key_of(address: str) -> bytes:
    """The 16-byte key of an IPv4 or IPv6 address given as text: the address big-endian,
    IPv4 as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2), so ``1.2.3.4`` and ``::ffff:1.2.3.4``
    have the same key.

    Raises ``ValueError`` when ``address`` is not an address (zone ids included).
    """
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.scope_id is not None:
            raise ValueError(f"{address!r} has a zone id")
        return parsed.packed
    return (_IPV4_MAPPED | int(parsed)).to_bytes(KEY_BYTES, "big")


def key_range(network: IPNetwork) -> tuple[bytes, bytes]:
    """The first and last keys of ``network`` (both inclusive): its network address and
    its last address (RFC 4632 §3.1), as ``ip_key_of`` keys them."""
    first, last = int(network.network_address), int(network.broadcast_address)
    if network.version == 4:
        first, last = first | _IPV4_MAPPED, last | _IPV4_MAPPED
    return first.to_bytes(KEY_BYTES, "big"), last.to_bytes(KEY_BYTES, "big")


def parse_network(text: str) -> IPNetwork:
    """An address (``10.1.2.7``, a network of one) or a CIDR network (``10.0.0.0/8``,
    ``2001:db8::/32``, RFC 4632 and RFC 4291 §2.3), normalised: an IPv4-mapped IPv6 network
    of prefix 96 or longer becomes the IPv4 network it maps (``::ffff:10.0.0.0/104`` is
    ``10.0.0.0/8``).

    Raises ``ValueError`` with a message for people: not an address or network, a zone id,
    a prefix length that is not a number in range, or bits set after the prefix (the
    message names the network meant).
    """
    text = text.strip()
    if "%" in text:  # an IPv6 zone ("fe80::1%eth0") names a local interface, not a host
        raise ValueError("zone ids (like %eth0) are not accepted")
    address, slash, prefix = text.partition("/")
    if slash and not _PREFIX_LENGTH.fullmatch(prefix):
        raise ValueError(f"{text!r}: the prefix length after / must be a number, e.g. /24")
    try:
        network = ipaddress.ip_network(text)
    except ValueError:
        return _explain_invalid(text, address, slash)
    if isinstance(network, IPv6Network):
        mapped = network.network_address.ipv4_mapped
        if mapped is not None and network.prefixlen >= _MAPPED_PREFIX:
            return IPv4Network((mapped, network.prefixlen - _MAPPED_PREFIX))
    return network


def _explain_invalid(text: str, address: str, slash: str) -> IPNetwork:
    """Raise the ``ValueError`` that says what is wrong with ``text``."""
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        loose = None
    if loose is not None:  # a valid address with bits set after the prefix
        raise ValueError(f"{text!r} has bits set after the prefix; the network is {loose}")
    if slash:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            pass
        else:
            raise ValueError(f"{text!r}: the prefix length is out of range")
    raise ValueError(f"{text!r} is not an IPv4 or IPv6 address or CIDR network")


def network_text(network: IPNetwork) -> str:
    """``network`` as people write it: a single address without its prefix length
    (``10.1.2.7``), anything wider in CIDR notation (``10.1.2.0/24``)."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)
