"""A tenant's IP allowlist: CIDRs its API may be called from (none: from anywhere)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from vigil.settings import IPNetwork


def parse_allowlist(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Networks from CIDR strings; raises ``ValueError`` naming the first bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR range") from None
    return tuple(networks)


def stored_form(networks: Sequence[IPNetwork]) -> str:
    """How the allowlist is kept in the tenants table."""
    return ",".join(str(n) for n in networks)


def from_stored(text: str) -> tuple[IPNetwork, ...]:
    """The allowlist as kept in the tenants table."""
    return parse_allowlist(part for part in text.split(",") if part)


def is_allowed(address: str | None, networks: Sequence[IPNetwork]) -> bool:
    """Whether a client at ``address`` may call; an empty list admits everyone."""
    if not networks:
        return True
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in networks)
