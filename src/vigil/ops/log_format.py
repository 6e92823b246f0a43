"""Logs as JSON lines on standard output, as ``vigil serve`` writes them.

Each line is one object: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the
record's extra fields (a request's line: ``method``, ``route``, ``path``, ``status``,
``duration_ms``, ``client``), ``request_id`` for anything logged while serving a request,
and ``exc_info`` with the traceback of an error.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.orjson import OrjsonFormatter

from vigil.ops.request_ids import current_request_id

FIELDS = "{levelname}{name}{message}"
RENAMED = {"levelname": "level", "name": "logger"}
# uvicorn's own loggers: their lines go through the root's JSON handler; its access log is
# replaced by vigil.access (one line per request, with the route and request id).
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to records logged while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record; sets ``record.request_id`` when there is one."""
        if not hasattr(record, "request_id"):
            request_id = current_request_id()
            if request_id is not None:
                record.request_id = request_id
        return True


def json_handler(stream: TextIO) -> logging.Handler:
    """A handler writing one JSON object per record to ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        OrjsonFormatter(FIELDS, style="{", rename_fields=RENAMED, timestamp="time")
    )
    handler.addFilter(RequestIdFilter())
    return handler


def log_json_to_stdout(level: str) -> None:
    """Send every log record at ``level`` (a name: ``info``, ``warning``, …) or above to
    standard output as JSON lines, uvicorn's included, replacing any handler set before."""
    root = logging.getLogger()
    root.handlers[:] = [json_handler(sys.stdout)]
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
