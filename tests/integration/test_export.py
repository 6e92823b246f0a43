"""Exports: CSV, JSON and NDJSON round trips, spreadsheet safety, and the EXPORT record."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import Tenant
from tests.helpers import at, eventually, ingest, list_all, make_event

CSV_HEADER = [
    "id", "timestamp", "action", "status", "resource_type", "resource_id", "user_id",
    "user_email", "ip_address", "user_agent", "country", "details",
]  # fmt: skip


def seed(tenant: Tenant) -> list[dict[str, object]]:
    events = [
        make_event(
            timestamp=at(n),
            resource_id=f"project-{n}",
            ip_address="81.2.69.160" if n % 2 else "2001:db8::1",
            details={"n": n, "text": 'comma, "quote"\nnewline', "token_count": n},
        )
        for n in range(25)
    ]
    events[3]["resource_id"] = '=HYPERLINK("http://evil.example/","click")'
    events[4]["user_agent"] = "+cmd|' /C calc'!A0"
    events[5]["user_id"] = "-2+3"
    events[6]["user_id"] = "@SUM(A1)"
    events[7]["details"] = {"password": "hunter2hunter2", "api_key": "k-123"}
    events[8]["action"] = "DELETE"
    events[9]["user_agent"] = 'Agent "X", v1\r\nsecond line'
    events[10]["resource_id"] = "\tindented"
    events[11]["user_id"] = "\nnew line"
    events[12]["resource_id"] = "\r, carriage return"
    events[13]["timestamp"] = "1969-12-31T23:59:59.250001Z"  # before the epoch
    events[14]["timestamp"] = "2025-01-15T12:14:00.000001+02:00"
    events[15]["details"] = {}
    events[16]["details"] = {"list": [1, "a,b"], "nested": {"q": '"'}}
    ingest(tenant.writer, events)
    return list_all(tenant.reader, action=["CREATE", "DELETE"])


def unescape(cell: str) -> str:
    return cell[1:] if cell[:2] in ("'=", "'+", "'-", "'@", "'\t", "'\r", "'\n") else cell


def test_csv_round_trip_matches_the_api(tenant: Tenant) -> None:
    listed = seed(tenant)
    answer = tenant.reader.get(
        "/audit-logs/export", params={"format": "csv", "action": "CREATE,DELETE"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    assert answer.headers["content-disposition"].endswith('.csv"')
    # RFC 4180: rows end in CRLF, line breaks inside a quoted cell are kept as they are.
    assert answer.content.startswith(",".join(CSV_HEADER).encode() + b"\r\n")
    assert answer.content.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(answer.content.decode(), newline="")))
    assert rows[0] == CSV_HEADER
    assert len(rows) - 1 == len(listed) == 25
    for row, event in zip(rows[1:], listed, strict=True):
        cells = dict(zip(CSV_HEADER, row, strict=True))
        assert json.loads(cells.pop("details")) == event["details"]
        for name, cell in cells.items():
            expected = event[name]
            assert unescape(cell) == ("" if expected is None else str(expected)), name


def test_formula_cells_are_escaped(tenant: Tenant) -> None:
    seed(tenant)
    text = tenant.reader.get("/audit-logs/export", params={"format": "csv"}).text
    rows = {row[5]: row for row in csv.reader(io.StringIO(text)) if len(row) > 5}
    assert """'=HYPERLINK("http://evil.example/","click")""" in rows
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'+cmd|' /C calc'!A0" in cells
    assert "'-2+3" in cells
    assert "'@SUM(A1)" in cells
    assert "'\tindented" in cells
    assert "'\nnew line" in cells
    assert "'\r, carriage return" in cells
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") for cell in cells)


def test_exports_never_contain_secrets(tenant: Tenant) -> None:
    seed(tenant)
    for fmt in ("csv", "json", "ndjson"):
        text = tenant.reader.get("/audit-logs/export", params={"format": fmt}).text
        assert "hunter2" not in text
        assert "k-123" not in text
        assert "[REDACTED]" in text


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_exports_equal_the_api(tenant: Tenant, fmt: str) -> None:
    listed = seed(tenant)
    answer = tenant.reader.get(
        "/audit-logs/export", params={"format": fmt, "action": ["CREATE", "DELETE"]}
    )
    assert answer.status_code == 200
    if fmt == "json":
        exported = json.loads(answer.text)
    else:
        exported = [json.loads(line) for line in answer.text.splitlines()]
    assert exported == listed


def test_empty_export_is_still_well_formed(tenant: Tenant) -> None:
    assert (
        json.loads(
            tenant.reader.get(
                "/audit-logs/export", params={"format": "json", "action": "LOGOUT"}
            ).text
        )
        == []
    )
    csv_text = tenant.reader.get("/audit-logs/export", params={"action": "LOGOUT"}).text
    assert list(csv.reader(io.StringIO(csv_text))) == [CSV_HEADER]


def test_every_export_is_recorded(tenant: Tenant) -> None:
    seed(tenant)
    tenant.reader.get(
        "/audit-logs/export", params={"format": "ndjson", "action": "DELETE"},
        headers={"user-agent": "audit-script/1.0", "x-request-id": "nightly-export-42"},
    )  # fmt: skip
    exports = tenant.reader.get("/audit-logs/", params={"action": "EXPORT"}).json()["items"]
    assert len(exports) == 1
    record = exports[0]
    assert record["resource_type"] == "AUDIT_LOG"
    assert record["status"] == "SUCCESS"
    assert record["user_agent"] == "audit-script/1.0"
    assert record["ip_address"] == "127.0.0.1"
    assert record["details"]["format"] == "ndjson"
    assert record["details"]["rows"] == 1
    assert record["details"]["filters"] == {"action": ["DELETE"]}
    assert record["details"]["request_id"] == "nightly-export-42"  # recorded after the answer


def test_export_validates_like_the_list(tenant: Tenant) -> None:
    bad_format = tenant.reader.get("/audit-logs/export", params={"format": "xlsx"})
    assert bad_format.status_code == 422
    assert bad_format.json()["errors"][0]["field"] == "format"
    bad_date = tenant.reader.get("/audit-logs/export", params={"end_date": "later"})
    assert bad_date.status_code == 422
    assert tenant.reader.get("/audit-logs/", params={"action": "EXPORT"}).json()["total"] == 0


def test_an_interrupted_export_is_recorded_as_failed(tenant: Tenant) -> None:
    ingest(tenant.writer, [make_event(timestamp=at(n)) for n in range(3000)])
    with tenant.reader.stream("GET", "/audit-logs/export", params={"format": "ndjson"}) as answer:
        assert answer.status_code == 200
        next(answer.iter_bytes())
    records: list[dict[str, object]] = eventually(
        lambda: tenant.reader.get("/audit-logs/", params={"action": "EXPORT"}).json()["items"],
        what="the interrupted export's EXPORT event",
        timeout=15,
        interval=0.2,
    )
    assert records[0]["status"] == "FAILED"
    assert records[0]["details"]["error"] == "export interrupted"  # type: ignore[index]
    assert records[0]["details"]["reason"] == "the client went away"  # type: ignore[index]
    assert records[0]["details"]["rows"] < 3000  # type: ignore[index,operator]


def test_the_export_record_keeps_the_dates_as_asked(tenant: Tenant) -> None:
    tenant.reader.get(
        "/audit-logs/export", params={"start_date": "2025-01-01", "end_date": "2025-01-31"}
    )
    record = tenant.reader.get("/audit-logs/", params={"action": "EXPORT"}).json()["items"][0]
    assert record["details"]["filters"] == {"start_date": "2025-01-01", "end_date": "2025-01-31"}
