"""The OpenAPI 3.1 document of the service, served at ``/openapi.json``, and the reference page
at ``/docs`` that renders it.

Nothing of it is written by hand beside the code: the realm endpoints, their paths and methods come
from the route table (``_routes.ENDPOINTS``), the admin API's resources, methods, query
parameters, bodies and answers from its own dispatch table (``_admin_api.ROUTES``), the grant
types from ``oauth.GRANT_TYPES``, and every schema from the models in ``_api_models`` that the
admin API decodes its bodies with. What is written here is the prose: a summary per endpoint and
which status codes each can answer.

Loaded with the first request for either path; the token path never imports it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import metadata, resources
from typing import Any

from ..oauth import GRANT_TYPES
from . import _routes as routes
from ._admin_api import ADMIN_READ_SCOPE, ADMIN_SCOPE, MASTER_REALM, ROUTES, Operation
from ._api_models import (
    ADMIN_MODELS,
    TOKEN_REQUESTS,
    WIRE_MODELS,
    Health,
    IntrospectionResponse,
    JsonWebKeySet,
    OAuthError,
    PascalTokenResponse,
    Problem,
    ServerMetadata,
    TokenRequest,
    TokenResponse,
    schemas,
)

_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""The reference page runs only its own scripts (Swagger UI sets inline styles)."""

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"
_REALM = {
    "name": "realm",
    "in": "path",
    "required": True,
    "description": "The realm's name",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
}


def _ref(model: Any) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _oauth_errors(*statuses: int) -> dict[str, Any]:
    said = {
        400: "The request is malformed, or the grant is refused (RFC 6749 §5.2)",
        401: "Client authentication failed (invalid_client)",
        404: "There is no such realm",
        413: "The body is larger than the service takes",
        429: "Too many failed authentications: slow_down, with Retry-After",
        503: "The service cannot reach its database: retry shortly",
    }
    return {str(s): _json(_ref(OAuthError), said[s]) for s in statuses}


def _realm_operations(endpoint: routes.Endpoint) -> dict[str, Any]:
    """The operations of one realm endpoint, by lowercase method."""
    name = endpoint.name
    basic: list[dict[str, list[str]]] = [{"clientSecretBasic": []}, {}]
    if name == "token":
        mapping = {
            grant: f"#/components/schemas/{model.__name__}"
            for grant, model in _grant_models().items()
        }
        return {
            "post": {
                "operationId": "token",
                "tags": ["token service"],
                "summary": "Get an access token",
                "description": (
                    "Every grant type the service offers: "
                    + ", ".join(f"`{g}`" for g in GRANT_TYPES)
                    + ". The client authenticates with HTTP Basic, with `client_id` and "
                    "`client_secret` in the body, or with a private_key_jwt assertion. The "
                    "answer is RFC 6749 §5.1 JSON, or the realm's `pascal` style."
                ),
                "security": basic,
                "requestBody": {
                    "required": True,
                    "content": {
                        _FORM: {
                            "schema": {
                                "oneOf": [_ref(m) for m in _grant_models().values()],
                                "discriminator": {
                                    "propertyName": "grant_type",
                                    "mapping": mapping,
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {"oneOf": [_ref(TokenResponse), _ref(PascalTokenResponse)]},
                        "An access token (and, for clients that have them, a refresh token)",
                    ),
                    **_oauth_errors(400, 401, 404, 413, 429, 503),
                },
            }
        }
    if name in ("introspect", "revoke"):
        introspect = name == "introspect"
        ok = (
            _json(_ref(IntrospectionResponse), "Whether the token is active, and its claims")
            if introspect
            else {"description": "Revoked, or it was not a token of this client (RFC 7009 §2.2)"}
        )
        return {
            "post": {
                "operationId": name,
                "tags": ["token service"],
                "summary": (
                    "Introspect a token (RFC 7662)" if introspect else "Revoke a token (RFC 7009)"
                ),
                "security": basic,
                "requestBody": {
                    "required": True,
                    "content": {_FORM: {"schema": _ref(TokenRequest)}},
                },
                "responses": {"200": ok, **_oauth_errors(400, 401, 404, 413, 429, 503)},
            }
        }
    if name == "authorize":
        refused = {
            "summary": "Refuses every request: the service has no end users",
            "description": (
                "Served because OpenID Connect Discovery requires an authorization endpoint; "
                "machine clients use the token endpoint."
            ),
            "tags": ["token service"],
            "responses": _oauth_errors(400, 404),
        }
        return {
            "get": {**refused, "operationId": "authorize"},
            "post": {**refused, "operationId": "authorizePost"},
        }
    if name == "certs":
        answer = _json(_ref(JsonWebKeySet), "The realm's public signing keys")
        summary = "The realm's JSON Web Key Set"
    else:
        answer = _json(_ref(ServerMetadata), "The realm's metadata")
        summary = (
            "OpenID Connect Discovery metadata"
            if name == "openid-configuration"
            else "RFC 8414 authorization server metadata"
        )
    return {
        "get": {
            "operationId": name.replace("-", "_"),
            "tags": ["token service"],
            "summary": summary,
            "responses": {"200": answer, **_oauth_errors(404, 503)},
        }
    }


@cache
def _grant_models() -> dict[str, Any]:
    """Each grant type's request model, by the ``grant_type`` it is for."""
    _, components = schemas(TOKEN_REQUESTS)
    found: dict[str, Any] = {}
    for model in TOKEN_REQUESTS:
        grant = components[model.__name__]["properties"]["grant_type"]
        found[grant["enum"][0] if "enum" in grant else grant["const"]] = model
    return found


def _admin_operation(method: str, route_path: str, op: Operation) -> dict[str, Any]:
    write = method != "GET"
    params: list[dict[str, Any]] = []
    for segment in route_path.strip("/").split("/"):
        if segment.startswith("{"):
            param = segment.strip("{}")
            params.append(
                _REALM
                if param == "realm"
                else {
                    "name": param,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "The resource's id, as the service gave it",
                }
            )
    for query in op.query:
        schema: dict[str, Any] = {"type": query.kind}
        if query.minimum is not None:
            schema["minimum"] = query.minimum
        if query.maximum is not None:
            schema["maximum"] = query.maximum
        params.append(
            {"name": query.name, "in": "query", "description": query.description, "schema": schema}
        )
    problem = _ref(Problem)
    responses: dict[str, Any] = {}
    if op.answer is None:
        responses[str(op.status)] = {"description": "Done"}
    else:
        responses[str(op.status)] = _json(_schema_of(op.answer), "Done")
    responses["400"] = _json(problem, "Refused: errorMessage says why")
    responses["401"] = _json(problem, "No valid access token of the master realm")
    responses["429"] = _json(
        problem, "Too many requests with a failing token from this address: Retry-After"
    )
    responses["403"] = _json(
        problem, f"The token lacks the scope {ADMIN_SCOPE if write else ADMIN_READ_SCOPE}"
    )
    responses["404"] = _json(problem, "There is no such realm or resource")
    if op.conflict:
        responses["409"] = _json(problem, "It exists already")
    if op.body is not None:
        responses["413"] = _json(problem, "The body is larger than the service takes")
    scopes = [ADMIN_SCOPE] if write else [ADMIN_READ_SCOPE]
    operation: dict[str, Any] = {
        "operationId": op.handler.rpartition(".")[2].strip("_").title().replace("_", ""),
        "tags": ["admin"],
        "summary": op.summary,
        "security": [{"adminToken": scopes}],
        "responses": responses,
    }
    if params:
        operation["parameters"] = params
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {_JSON: {"schema": _ref(op.body)}},
        }
    return operation


def _schema_of(answer: Any) -> dict[str, Any]:
    if getattr(answer, "__origin__", None) is list:
        return {"type": "array", "items": _ref(answer.__args__[0])}
    return _ref(answer)


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every endpoint (paths relative to the service's base URL)."""
    paths: dict[str, Any] = {}
    for endpoint in routes.ENDPOINTS:
        operations = _realm_operations(endpoint)
        paths[f"/realms/{{realm}}{endpoint.path}"] = {"parameters": [_REALM], **operations}
        if endpoint is routes.AUTHORIZATION_SERVER:
            again = {
                method: {**op, "operationId": op["operationId"] + "_rfc8414"}
                for method, op in operations.items()
            }
            paths[f"{routes.RFC8414}/realms/{{realm}}"] = {"parameters": [_REALM], **again}
    health = {"200": _json(_ref(Health), "UP")}
    paths["/health/live"] = {
        "get": {
            "operationId": "live",
            "tags": ["operations"],
            "summary": "Liveness: the process answers (reads nothing)",
            "responses": health,
        }
    }
    paths["/health/ready"] = {
        "get": {
            "operationId": "ready",
            "tags": ["operations"],
            "summary": "Readiness: database, schema, master key and signing keys",
            "responses": {**health, "503": _json(_ref(Health), "DOWN: the failing check")},
        }
    }
    paths["/health"] = {
        "get": {
            "operationId": "health",
            "tags": ["operations"],
            "summary": "Liveness, as /health/live",
            "responses": health,
        }
    }
    paths["/metrics"] = {
        "get": {
            "operationId": "metrics",
            "tags": ["operations"],
            "summary": (
                "Prometheus metrics (on the management port when there is one; absent with "
                "--no-metrics)"
            ),
            "responses": {
                "200": {
                    "description": "The Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **_oauth_errors(404),
            },
        }
    }
    for route in ROUTES:
        paths[f"{routes.ADMIN}{route.path}"] = {
            method.lower(): _admin_operation(method, route.path, op)
            for method, op in route.operations.items()
        }
    _, components = schemas([*ADMIN_MODELS, *WIRE_MODELS])
    token_url = f"/realms/{MASTER_REALM}/protocol/openid-connect/token"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tokensmith",
            "version": _version(),
            "summary": "OAuth 2.0 machine-to-machine token service",
            "description": (
                "Realm endpoints follow Keycloak's layout and are also served under `/auth` "
                "(Keycloak before 17). The admin API is the part of Keycloak's admin REST API "
                "that a machine-to-machine service needs, authenticated by access tokens of "
                f"the `{MASTER_REALM}` realm with the scope `{ADMIN_SCOPE}` (or "
                f"`{ADMIN_READ_SCOPE}` to read)."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [
            {"name": "token service", "description": "Every realm's OAuth 2.0 endpoints"},
            {"name": "admin", "description": "Keycloak-compatible admin REST API"},
            {"name": "operations", "description": "Health checks and metrics"},
        ],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "clientSecretBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "client_id and client_secret (RFC 6749 §2.3.1)",
                },
                "adminToken": {
                    "type": "oauth2",
                    "description": (
                        "An access token of the master realm, from an admin client "
                        "(`tokensmith admin create-client`)"
                    ),
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": token_url,
                            "scopes": {
                                ADMIN_SCOPE: "read and change everything",
                                ADMIN_READ_SCOPE: "read only",
                            },
                        }
                    },
                },
            },
        },
    }


def _version() -> str:
    """The installed tokensmith's version (the package's own top level is not a layer the server
    may import)."""
    try:
        return metadata.version("tokensmith")
    except metadata.PackageNotFoundError:  # run from a source tree without installing
        return "0+unknown"


@cache
def document_bytes() -> bytes:
    """:func:`document` as compact JSON."""
    return json.dumps(document(), separators=(",", ":")).encode()


DOCS_PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tokensmith API reference</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<main id="swagger-ui" aria-label="API reference"></main>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/docs.js"></script>
</body>
</html>
"""
"""The reference page: Swagger UI, from the package's own copy, reading /openapi.json."""


def asset(name: str) -> tuple[bytes, str] | None:
    """The reference page's asset ``name`` and its content type; None if there is none."""
    kind = _ASSETS.get(name)
    if kind is None:
        return None
    return resources.files(__package__).joinpath("docs", name).read_bytes(), kind
