"""The platform the generated activity happens on: its people, resources, networks and clients.

Everything is drawn from one seeded ``random.Random``, so a seed always gives the same world.
Popularity is skewed (a few power users and hot projects), as it is on a real platform.
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate
from typing import Generic, TypeVar

FIRST_NAMES = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuki", "zoe",
    "amir", "bea", "chen", "dmitri", "elena", "farah", "goran", "hana", "ines", "jonas", "kofi",
)  # fmt: skip
LAST_NAMES = (
    "smith", "garcia", "müller", "rossi", "nguyen", "kowalski", "silva", "tanaka", "okafor",
    "johansson", "dubois", "novak", "haddad", "kim", "patel", "lopez", "fischer", "moreau",
)  # fmt: skip
DOMAINS = ("company.com", "company.com", "company.com", "eu.company.com", "contractor.io")
WORDS = (
    "fraud", "churn", "vision", "chat", "search", "ranking", "speech", "forecast", "risk", "ocr",
    "llama", "mistral", "bert", "retrieval", "summary", "triage", "support", "pricing", "ads",
)  # fmt: skip
SUFFIXES = ("prod", "staging", "dev", "eval", "pilot", "v2", "internal", "canary")
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "vigil-sdk-python/0.4.1 python/3.11.9 httpx/0.28.1",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "Terraform/1.9.8 terraform-provider-platform/2.3.0",
    "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
)
ATTACKER_AGENTS = ("python-requests/2.25.1", "Hydra v9.5", "Mozilla/5.0", "curl/7.68.0")
# (resource type, how many exist, id prefix, the details key naming it)
RESOURCE_KINDS = (
    ("PROJECT", 600, "project", "project_name"),
    ("MODEL", 2000, "model", "model_name"),
    ("ENDPOINT", 1500, "endpoint", "endpoint_name"),
    ("CLUSTER", 150, "cluster", "cluster_name"),
    ("BENCHMARK", 800, "benchmark", "benchmark_name"),
)


@dataclass(frozen=True, slots=True)
class User:
    """A person using the platform, with the networks and clients they usually come from."""

    user_id: str
    email: str
    role: str
    ips: tuple[str, ...]
    agents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Resource:
    """One project, model, endpoint, cluster or benchmark."""

    resource_type: str
    resource_id: str
    name: str


T = TypeVar("T")


class Weighted(Generic[T]):
    """Items drawn with skewed (Zipf-like) popularity: the first ones are the busiest."""

    def __init__(self, items: list[T], *, skew: float) -> None:
        self.items = items
        self._cumulative = list(accumulate(1.0 / (rank + 1) ** skew for rank in range(len(items))))

    def pick(self, rng: random.Random) -> T:
        """One item, by popularity."""
        return self.items[bisect(self._cumulative, rng.random() * self._cumulative[-1])]


@dataclass(frozen=True, slots=True)
class World:
    """Users, resources by type, and the addresses brute-force attempts come from."""

    users: Weighted[User]
    resources: dict[str, Weighted[Resource]]
    attacker_ips: tuple[str, ...]


def build_world(seed: int, *, users: int = 400) -> World:
    """Hundreds of users and about 5,000 resources, the same for the same seed."""
    rng = random.Random(seed)
    people = [_user(rng, index) for index in range(users)]
    resources = {
        kind: Weighted([_resource(rng, kind, prefix, n) for n in range(count)], skew=0.9)
        for kind, count, prefix, _ in RESOURCE_KINDS
    }
    attackers = tuple(_public_ipv4(rng) for _ in range(40))
    return World(users=Weighted(people, skew=0.8), resources=resources, attacker_ips=attackers)


def _user(rng: random.Random, index: int) -> User:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = f"{first}.{last}{index}@{rng.choice(DOMAINS)}"
    role = rng.choices(("DEVELOPER", "TESTER", "DEVOPS", "ADMIN"), weights=(60, 15, 15, 10))[0]
    home = [_public_ipv4(rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.15:  # some offices and home networks are IPv6
        home.append(_public_ipv6(rng))
    if rng.random() < 0.3:  # the corporate VPN: private, so no country
        home.append(f"10.{rng.randint(0, 40)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
    agents = tuple(rng.sample(USER_AGENTS, rng.randint(1, 3)))
    user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return User(user_id=user_id, email=email, role=role, ips=tuple(home), agents=agents)


def _resource(rng: random.Random, kind: str, prefix: str, number: int) -> Resource:
    name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{rng.choice(SUFFIXES)}"
    return Resource(resource_type=kind, resource_id=f"{prefix}-{name}-{number:04d}", name=name)


def _public_ipv4(rng: random.Random) -> str:
    while True:
        address = ipaddress.IPv4Address(rng.getrandbits(32))
        if address.is_global:
            return str(address)


def _public_ipv6(rng: random.Random) -> str:
    # A few real-world /32 allocations, so the offline GeoIP lookup finds a country.
    prefix = rng.choice((0x2A010000, 0x2A020000, 0x26001F00, 0x24018000, 0x2A001450))
    return str(ipaddress.IPv6Address((prefix << 96) | rng.getrandbits(80)))
