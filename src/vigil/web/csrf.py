"""Cross-site request forgery: every console form carries a token only Vigil's pages know.

Signed-in forms are bound to the session (a signature of its fingerprint), so a token is
worthless in any other session. Forms before sign-in are bound to a random cookie of their
own (double submit). Either way a post from another origin is also refused outright.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from itsdangerous import Signer

ANONYMOUS_COOKIE = "vigil_csrf"
FIELD = "csrf_token"


class CsrfRejected(Exception):
    """A console post without a valid token, or from another site."""


def _signer(secret_key: str) -> Signer:
    return Signer(secret_key, salt="vigil-console-csrf")


def token_for(secret_key: str, binding: str) -> str:
    """The token forms bound to ``binding`` (a session fingerprint or the anonymous cookie)
    must carry."""
    return _signer(secret_key).get_signature(binding).decode()


def anonymous_binding(request: Request) -> str:
    """What forms before sign-in are bound to: the browser's anonymous cookie, or a new value
    for it (``keep_anonymous_binding`` hands it to the browser)."""
    value = request.cookies.get(ANONYMOUS_COOKIE)
    if value is None or len(value) != 43:
        value = getattr(request.state, "csrf_binding", None) or secrets.token_urlsafe(32)
        request.state.csrf_binding = value
    return value


def keep_anonymous_binding(request: Request, response: Response) -> None:
    """Set the anonymous cookie on ``response`` when the browser does not hold it yet."""
    value = anonymous_binding(request)
    if request.cookies.get(ANONYMOUS_COOKIE) != value:
        response.set_cookie(
            ANONYMOUS_COOKIE,
            value,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/ui/",
        )


async def verify(request: Request, *, secret_key: str, binding: str) -> None:
    """Refuse a post whose token does not match ``binding`` or that comes from elsewhere."""
    origin = request.headers.get("origin")
    # Host only: behind a proxy that ends TLS the scheme seen here is not the browser's.
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise CsrfRejected("this form was sent from another site")
    form = await request.form()
    sent = form.get(FIELD)
    if not isinstance(sent, str) or not sent:
        raise CsrfRejected("this form has expired; reload the page and try again")
    if not hmac.compare_digest(token_for(secret_key, binding), sent):
        raise CsrfRejected("this form has expired; reload the page and try again")
