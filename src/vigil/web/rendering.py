"""Rendering console pages: Jinja2 templates, escaped by default, with strict security headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from vigil import __version__
from vigil.web import formatting

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"

# Scripts and styles come only from Vigil's own files: an event whose details hold markup
# cannot run anything even if escaping were ever missed. Inline SVG attributes are not styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["version"] = __version__
templates.env.filters.update(formatting.FILTERS)


def render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    """A page, with the security headers every console page carries."""
    response = templates.TemplateResponse(request, template, {**context}, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def is_console(request: Request) -> bool:
    """Whether the request is for a console page (errors are pages there, not JSON)."""
    return request.url.path == "/" or request.url.path.startswith("/ui/")
