"""Errors the services raise; the app turns each into one HTTP status with a clear message."""

from __future__ import annotations


class VigilError(Exception):
    """Base of every error that maps to an HTTP answer."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str] | None:
        """Extra response headers this error calls for."""
        return None


class InvalidInput(VigilError):
    """Input that parsed but makes no sense; names the field."""

    status_code = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class InvalidQuery(InvalidInput):
    """A search query (``q``) that does not parse: the message and where, as a character
    offset into the query, the offending token starts."""

    def __init__(self, message: str, *, position: int) -> None:
        super().__init__("q", message)
        self.position = position


class NotFound(VigilError):
    """Unknown, or another tenant's: the two are indistinguishable by design."""

    status_code = 404


class Conflict(VigilError):
    """The request contradicts what is already stored."""

    status_code = 409


class Unauthenticated(VigilError):
    """No credential, or one that is not valid."""

    status_code = 401

    @property
    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(VigilError):
    """A valid credential that lacks the permission."""

    status_code = 403


class PayloadTooLarge(VigilError):
    """The request body exceeds what Vigil accepts."""

    status_code = 413


class ServiceUnavailable(VigilError):
    """The database could not take the write; the client may retry."""

    status_code = 503


class TooManyRequests(VigilError):
    """Slow down: try again after ``retry_after`` seconds."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}
