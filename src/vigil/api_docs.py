"""The OpenAPI document, made to say what the API does (OpenAPI 3.1).

FastAPI documents each route's success answer and a validation error of its own shape;
Vigil answers every error with one body (``core.http.ErrorBody``) and knows more about
each route than its signature says. So, once, when the document is first asked for:

- every error response carries ``ErrorBody``, FastAPI's ``HTTPValidationError`` is gone;
- each route documents the statuses its access rule (``access.toml``), parameters and body
  imply: 401 and 403 behind a credential, 404 with a path id, 422 with any input, 400
  with a body; the rest (409, 429, …) each route declares with ``responses=errors(...)``;
- ``bearer`` is a security scheme, required by every route that is not public, so the
  docs' Authorize button works.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from vigil.accounts.access import rule_for
from vigil.core.http import ERROR_DESCRIPTIONS, ErrorBody

ERROR_REF = {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key (`vk_…`) or a session token from `POST /auth/login`",
}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}
SESSION_ONLY_403 = (
    f"{ERROR_DESCRIPTIONS[403]}; or the credential is an API key, which this route, being for "
    "signed-in people, refuses"
)
METHODS = ("get", "put", "post", "delete", "patch")


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document as a dict, built on the first call and kept."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
        )
        _complete(document)
        app.openapi_schema = document
    return app.openapi_schema


def _complete(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas[ErrorBody.__name__] = error_schema
    components["securitySchemes"] = {"bearer": SECURITY_SCHEME}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                _complete_operation(method.upper(), path, item[method])


def _complete_operation(method: str, path: str, operation: dict[str, Any]) -> None:
    statuses: set[int] = set()
    rule = rule_for(method, path)
    if not rule.public:
        operation["security"] = [{"bearer": []}]
        statuses |= {401, 403}
    parameters = operation.get("parameters", [])
    if any(p["in"] == "path" for p in parameters):
        statuses.add(404)
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses.add(400)  # a body that is not JSON, or not UTF-8
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in statuses:
        # Replaces FastAPI's own 422 ("Validation Error") too.
        responses[str(status)] = {"description": ERROR_DESCRIPTIONS[status]}
    if rule.session_only:
        responses["403"]["description"] = SESSION_ONLY_403
    for code, response in responses.items():
        if code.isdigit() and int(code) >= 400:
            response["content"] = {"application/json": {"schema": ERROR_REF}}
            if int(code) in ERROR_HEADERS:
                response["headers"] = ERROR_HEADERS[int(code)]
