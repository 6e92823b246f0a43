"""Address filters take CIDR networks, edges included, IPv4-mapped IPv6 as IPv4; the country
filter selects by the country Vigil found; the list, export and summaries agree."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tests.conftest import Tenant
from tests.helpers import at, eventually, ingest, list_all, make_event

# Each event's resource id names the address it came from.
ADDRESSES = {
    "v4-before": "10.1.1.255",
    "v4-first": "10.1.2.0",
    "v4-mapped": "::ffff:10.1.2.7",
    "v4-last": "10.1.2.255",
    "v4-after": "10.1.3.0",
    "v6-before": "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
    "v6-first": "2001:db8::",
    "v6-last": "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
    "v6-after": "2001:db9::",
}


@pytest.fixture
def edges(tenant: Tenant) -> Tenant:
    """A tenant with an event at each address of ``ADDRESSES``, and one without an address."""
    ingest(
        tenant.writer,
        [
            *(make_event(resource_id=name, ip_address=address, timestamp=at(n))
              for n, (name, address) in enumerate(ADDRESSES.items())),
            make_event(resource_id="no-address", ip_address=None, timestamp=at(99)),
        ],
    )  # fmt: skip
    return tenant


def found(tenant: Tenant, **params: Any) -> set[str]:
    """The resource ids of the events the list returns for ``params``."""
    return {event["resource_id"] for event in list_all(tenant.reader, **params)}


@pytest.mark.parametrize(
    ("ip_address", "expected"),
    [
        ("10.1.2.0/24", {"v4-first", "v4-mapped", "v4-last"}),
        ("::ffff:10.1.2.0/120", {"v4-first", "v4-mapped", "v4-last"}),
        ("10.1.2.0/23", {"v4-first", "v4-mapped", "v4-last", "v4-after"}),
        ("10.1.2.7", {"v4-mapped"}),
        ("::ffff:10.1.2.7", {"v4-mapped"}),
        ("10.1.2.7/32", {"v4-mapped"}),
        ("10.1.2.255", {"v4-last"}),
        ("2001:db8::/32", {"v6-first", "v6-last"}),
        ("2001:0DB8::/32", {"v6-first", "v6-last"}),
        ("2001:db8::", {"v6-first"}),
        ("0.0.0.0/0", {name for name in ADDRESSES if name.startswith("v4")}),
        ("::/0", set(ADDRESSES)),
        ("192.0.2.0/24", set()),
    ],
)
def test_an_address_filter_takes_a_network_edges_included(
    edges: Tenant, ip_address: str, expected: set[str]
) -> None:
    assert found(edges, ip_address=ip_address) == expected
    page = edges.reader.get("/audit-logs/", params={"ip_address": ip_address}).json()
    assert page["total"] == len(expected)


def test_events_keep_the_address_they_were_sent_with(edges: Tenant) -> None:
    (mapped,) = list_all(edges.reader, ip_address="10.1.2.0/24", resource_id="v4-mapped")
    assert mapped["ip_address"] == "10.1.2.7"  # normalised at ingest, as before
    assert "ip_key" not in mapped
    assert set(mapped) == set(edges.reader.get(f"/audit-logs/{mapped['id']}").json())


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"ip_address": "10.1.2.7/24"}, "ip_address", "10.1.2.0/24"),
        ({"ip_address": "2001:db8::1/32"}, "ip_address", "2001:db8::/32"),
        ({"ip_address": "fe80::1%eth0"}, "ip_address", "zone"),
        ({"ip_address": "fe80::%eth0/64"}, "ip_address", "zone"),
        ({"ip_address": "not-an-ip"}, "ip_address", "not an IPv4 or IPv6 address"),
        ({"ip_address": "10.0.0.0/33"}, "ip_address", "out of range"),
        ({"ip_address": "10.0.0.0/255.0.0.0"}, "ip_address", "prefix length"),
        ({"ip_address": "10.0.0.0/"}, "ip_address", "prefix length"),
        ({"country": "UK"}, "country", "ISO 3166-1"),
        ({"country": "Germany"}, "country", "Germany"),
        ({"country": ["DE", "FR,XX"]}, "country", "XX"),
    ],
)
def test_bad_addresses_and_countries_are_named(
    tenant: Tenant, params: dict[str, Any], field: str, says: str
) -> None:
    for path in ("/audit-logs/", "/audit-logs/summary", "/audit-logs/export"):
        answer = tenant.reader.get(path, params=params)
        assert answer.status_code == 422, (path, answer.text)
        (error,) = answer.json()["errors"]
        assert error["field"] == field
        assert says in error["message"]


# Public addresses and the country the bundled GeoIP data gives each.
COUNTRIES = {"5.9.0.1": "DE", "46.4.0.1": "DE", "51.15.0.1": "FR", "81.2.69.160": "GB"}


@pytest.fixture
def travelled(tenant: Tenant) -> Tenant:
    """Sign-ins and changes from Germany, France and Great Britain, and one from nowhere."""
    events = [
        make_event(action=action, resource_id=f"{action}-{address}", ip_address=address,
                   timestamp=at(n))
        for n, (action, address) in enumerate(
            (action, address) for action in ("LOGIN", "UPDATE") for address in COUNTRIES
        )
    ]  # fmt: skip
    events.append(make_event(resource_id="private", ip_address="10.0.0.1", timestamp=at(50)))
    ingest(tenant.writer, events)
    return tenant


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("DE", {"DE"}),
        ("de", {"DE"}),
        (["DE", "fr"], {"DE", "FR"}),
        ("DE,FR", {"DE", "FR"}),
        (" gb , de ", {"DE", "GB"}),
        ("US", set()),
    ],
)
def test_the_country_filter_is_repeatable_and_comma_separated(
    travelled: Tenant, country: str | list[str], expected: set[str]
) -> None:
    listed = list_all(travelled.reader, country=country)
    assert {event["country"] for event in listed} == expected
    wanted = [a for a, code in COUNTRIES.items() if code in expected]
    assert len(listed) == 2 * len(wanted)  # a LOGIN and an UPDATE from each address


def test_country_combines_with_the_other_filters(travelled: Tenant) -> None:
    logins_from_germany = found(travelled, country="DE", action="LOGIN")
    assert logins_from_germany == {"LOGIN-5.9.0.1", "LOGIN-46.4.0.1"}
    one_network = found(travelled, country="DE,FR", ip_address="5.9.0.0/16")
    assert one_network == {"LOGIN-5.9.0.1", "UPDATE-5.9.0.1"}
    assert found(travelled, country="FR", ip_address="5.9.0.0/16") == set()


def test_summaries_count_what_the_list_lists(travelled: Tenant) -> None:
    params = {"country": ["DE", "GB"], "ip_address": "0.0.0.0/1"}  # 5.x, 46.x and 81.x
    summary = travelled.reader.get("/audit-logs/summary", params=params).json()
    listed = list_all(travelled.reader, **params)
    assert summary["total"] == len(listed) == 6
    assert summary["by_action"] == {"LOGIN": 3, "UPDATE": 3}


def test_a_users_activity_takes_both_filters(tenant: Tenant) -> None:
    user = tenant.admin.post(
        "/users", json={"email": "roamer@example.com", "name": "Roamer", "role": "DEVELOPER"}
    ).json()
    ingest(
        tenant.writer,
        [make_event(user_id=user["id"], resource_id=address, ip_address=address, timestamp=at(n))
         for n, address in enumerate(COUNTRIES)],
    )  # fmt: skip
    path = f"/users/{user['id']}/activity"
    params = {"country": "DE", "ip_address": "46.0.0.0/8"}
    assert {e["resource_id"] for e in list_all(tenant.reader, path, **params)} == {"46.4.0.1"}
    summary = tenant.reader.get(f"{path}/summary", params={"country": "de"}).json()
    assert summary["total"] == 2


def test_the_export_takes_both_filters_and_records_them(travelled: Tenant) -> None:
    params = {"country": "de,fr", "ip_address": "::ffff:0.0.0.0/97"}  # 0.0.0.0/1
    answer = travelled.reader.get("/audit-logs/export", params={**params, "format": "csv"})
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {(row["ip_address"], row["country"]) for row in rows} == {
        ("5.9.0.1", "DE"), ("46.4.0.1", "DE"), ("51.15.0.1", "FR"),
    }  # fmt: skip
    assert "ip_key" not in rows[0]
    as_json = travelled.reader.get("/audit-logs/export", params={**params, "format": "json"})
    assert sorted(e["id"] for e in json.loads(as_json.text)) == sorted(r["id"] for r in rows)
    assert all("ip_key" not in event for event in json.loads(as_json.text))
    records = eventually(
        lambda: list_all(travelled.reader, action="EXPORT"),
        lambda exports: len(exports) == 2,
        what="the two EXPORT events",
    )
    for record in records:
        assert record["details"]["filters"] == {"ip_address": "0.0.0.0/1", "country": ["DE", "FR"]}
