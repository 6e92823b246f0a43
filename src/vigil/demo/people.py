"""The demo company's staff: names, roles, where they work from and what they browse with."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from random import Random
from typing import Any

from vigil.core.permissions import Role
from vigil.events.schemas import Action, EventIn, ResourceType, Status

FIRST_NAMES = (
    "Aisha", "Alex", "Amara", "Ana", "Arjun", "Ben", "Carlos", "Chen", "Chloe", "Daniel",
    "Elena", "Emeka", "Emma", "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ines", "Isaac",
    "Jakub", "James", "José", "Julia", "Kenji", "Laura", "Leila", "Liam", "Lucas", "Maya",
    "Mei", "Mohammed", "Nadia", "Noah", "Olivia", "Omar", "Priya", "Rafael", "Renée", "Sam",
    "Sara", "Sofia", "Tariq", "Tom", "Valentina", "Wei", "Yusuf", "Zoë",
)  # fmt: skip
LAST_NAMES = (
    "Adeyemi", "Andersen", "Becker", "Bianchi", "Brown", "Chowdhury", "Costa", "Dubois",
    "Fernández", "Fischer", "García", "Haddad", "Hansen", "Ibrahim", "Ito", "Jansen", "Kaur",
    "Kim", "Kowalski", "Li", "Martin", "Mendes", "Moreau", "Müller", "Nakamura", "Nguyen",
    "Novak", "O'Brien", "Okafor", "Olsen", "Patel", "Petrov", "Rossi", "Santos", "Schmidt",
    "Silva", "Singh", "Smith", "Suzuki", "Tanaka", "Taylor", "Van Dijk", "Wagner", "Walsh",
    "Wang", "Weber", "Williams", "Yilmaz",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Place:
    """A network people work from; ``country`` is what GeoIP makes of it (None: private)."""

    label: str
    prefix: str  # the first three octets of an IPv4 /24, or an IPv6 prefix ending in "::"
    country: str | None

    def address(self, host: int) -> str:
        """The address of host number ``host`` (1-254) in this network."""
        if ":" in self.prefix:
            return f"{self.prefix}{host:x}"
        return f"{self.prefix}.{host}"


# Private and documentation networks, as most real offices and VPNs look from inside, and
# public ones whose GeoIP country is stable across each /24 (checked with geoip2fast), so the
# console's country column and the unusual-country story have something to show.
HOME_PLACES: tuple[tuple[Place, int], ...] = (
    (Place("office LAN", "10.20.4", None), 5),
    (Place("corporate VPN", "172.16.9", None), 2),
    (Place("home broadband", "198.51.100", None), 1),
    (Place("home broadband", "203.0.113", None), 1),
    (Place("home IPv6", "2001:db8:5ee:1::", None), 1),
    (Place("London", "81.2.69", "GB"), 3),
    (Place("Berlin", "85.214.132", "DE"), 2),
    (Place("Paris", "62.210.16", "FR"), 1),
    (Place("Amsterdam", "145.97.39", "NL"), 1),
    (Place("Toronto", "24.48.0", "CA"), 1),
    (Place("Seattle", "73.189.14", "US"), 3),
    (Place("Tokyo", "133.242.5", "JP"), 1),
    (Place("Sydney", "1.120.7", "AU"), 1),
)
# Where nobody in the company works from: a sign-in from here is the unusual-country story.
FAR_AWAY_PLACES = (
    Place("São Paulo", "177.71.3", "BR"),
    Place("Johannesburg", "41.76.108", "ZA"),
    Place("Singapore", "103.86.99", "SG"),
)
BROWSERS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
)
# Fixed, so the demo company is the same team in every installation and every run.
NAMES_SEED = 2024
# Roles in the order people join: a developer and an admin first, so even a team of three
# has someone to escalate and someone to do it; 25 people make 16 developers, 4 testers,
# 3 DevOps and 2 admins, and larger teams repeat the pattern.
ROLE_LETTERS = {"D": Role.DEVELOPER, "T": Role.TESTER, "O": Role.DEVOPS, "A": Role.ADMIN}
TEAM_ROLES = tuple(ROLE_LETTERS[letter] for letter in "DADTODDTDODDADTDDODTDDDDD")
# The platform's command-line client, which DevOps people use more than the web console.
PLATFORM_CLI = "aiplatform-cli/2.8.1 (Linux x86_64; python 3.12.4)"


@dataclass(frozen=True, slots=True)
class Person:
    """Someone at the demo company, and the habits their events show."""

    name: str
    email: str
    role: Role
    place: Place
    address: str  # stable: the per-user IP filter and the country column rely on it
    browser: str
    pace: float  # how busy they are: scales the actions in each of their sessions
    day_starts: float  # the UTC hour their working day usually starts


@dataclass(frozen=True, slots=True)
class Member:
    """A person with an account in the tenant: whose ids and emails the events carry."""

    person: Person
    user_id: str
    email: str
    role: Role  # as stored, which a rerun finds and keeps
    created: bool  # made by this run, so the timeline records their creation

    def did(
        self,
        *,
        at: datetime,
        action: Action,
        resource_type: ResourceType,
        resource_id: str | None,
        details: dict[str, Any] | None = None,
        status: Status = Status.SUCCESS,
        address: str | None = None,
        user_agent: str | None = None,
    ) -> EventIn:
        """An event of this member's, from their usual address and browser unless told."""
        return EventIn(
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            user_id=self.user_id,
            user_email=self.email,
            timestamp=at,
            ip_address=address or self.person.address,
            user_agent=user_agent or self.person.browser,
            details=details,
            status=status,
        )


def cast(*, count: int, domain: str) -> list[Person]:
    """The company's first ``count`` people, with addresses @``domain``.

    Always the same people in the same order, each with habits of their own, so a later
    run with more --users finds the earlier ones and only adds the rest.
    """
    firsts = Random(NAMES_SEED).sample(FIRST_NAMES, len(FIRST_NAMES))
    lasts = Random(NAMES_SEED + 1).sample(LAST_NAMES, len(LAST_NAMES))
    people = []
    for index in range(count):
        # Nobody shares a first or a last name until the team outgrows the lists; past
        # that, each round pairs the names with a different shift, so names stay distinct.
        first = firsts[index % len(firsts)]
        last = lasts[(index + index // len(firsts)) % len(lasts)]
        people.append(_person(index, f"{first} {last}", domain))
    return people


def _person(index: int, name: str, domain: str) -> Person:
    habits = Random(index)  # their own: the same whatever the size of the team
    place = habits.choices(
        [place for place, _weight in HOME_PLACES],
        weights=[weight for _place, weight in HOME_PLACES],
    )[0]
    return Person(
        name=name,
        email=f"{email_local_part(name)}@{domain}",
        role=TEAM_ROLES[index % len(TEAM_ROLES)],
        place=place,
        address=place.address(11 + index % 240),
        browser=habits.choice(BROWSERS),
        pace=round(habits.uniform(0.6, 1.5), 2),
        day_starts=round(habits.uniform(7.5, 9.75), 2),
    )


def email_local_part(name: str) -> str:
    """``first.last`` in plain ASCII: "Zoë O'Brien" becomes ``zoe.obrien``."""
    return ".".join(_ascii_words(name.replace("'", ""))) or "someone"


def demo_domain(tenant_name: str) -> str:
    """The email domain of a tenant's demo people: one per tenant, as emails are global."""
    slug = "-".join(_ascii_words(tenant_name))[:40].strip("-")
    return f"{slug or 'tenant'}.demo.example"


def _ascii_words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.findall(r"[a-z0-9]+", plain.lower())
