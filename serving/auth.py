"""API keys and roles: parse them, and an ASGI middleware that checks `Authorization: Bearer`.

Keys come from `O2C_API_KEYS` (a JSON object of key -> role) or `O2C_API_KEYS_FILE` (a file
holding the same). Roles, each with the access of the ones before it: `collector` (scores,
worklist, customer profiles, model info, monitoring, KPIs), `credit_manager` (also credit limits),
`admin` (also reload). Only SHA-256 digests of the keys are kept in memory after parsing, and
no message ever contains a key.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from serving.guard import log_client_error, send_json

ROLES: tuple[str, ...] = ("collector", "credit_manager", "admin")
"""Roles in increasing order of access."""

ROUTE_ROLES: dict[str, str] = {
    "/score_invoices": "collector",
    "/worklist": "collector",
    "/customer": "collector",
    "/model_info": "collector",
    "/monitoring": "collector",
    "/kpis": "collector",
    "/credit_limits": "credit_manager",
    "/reload": "admin",
}
"""The least role each protected route needs; every other route (health, metrics, the
OpenAPI spec) is open."""

SHORT_KEY = 16
"""Keys shorter than this are accepted with a warning."""

logger = logging.getLogger(__name__)


class ApiKeyError(ValueError):
    """The API key configuration is unusable (the message never contains a key)."""


def digest(key: str) -> str:
    """The SHA-256 of a key, as kept in memory and compared."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_api_keys(text: str, source: str = "O2C_API_KEYS") -> dict[str, str]:
    """Key digest -> role from a JSON object of key -> role; errors name `source`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiKeyError(f"{source} is not valid JSON (line {exc.lineno}, column "
                          f"{exc.colno}): expected an object of key -> role") from None
    if not isinstance(data, dict):
        raise ApiKeyError(f"{source} must be a JSON object of key -> role, got "
                          f"{type(data).__name__}")
    keys: dict[str, str] = {}
    for number, (key, role) in enumerate(data.items(), start=1):
        if not isinstance(key, str) or not key.strip() or key != key.strip() or " " in key:
            raise ApiKeyError(f"{source}: key number {number} must be a non-empty string "
                              "without spaces")
        if len(key) < SHORT_KEY:
            logger.warning("%s: key number %d has fewer than %d characters: easy to guess",
                           source, number, SHORT_KEY)
        if role not in ROLES:
            raise ApiKeyError(f"{source}: key number {number} has role {role!r}; roles are "
                              f"{', '.join(ROLES)}")
        keys[digest(key)] = role
    return keys


def load_api_keys(keys_json: str | None, keys_file: Path | None) -> dict[str, str]:
    """Key digests and roles from the JSON text or the file (not both); none: empty."""
    if keys_json and keys_file:
        raise ApiKeyError("give O2C_API_KEYS or O2C_API_KEYS_FILE, not both")
    if keys_file is not None:
        path = Path(keys_file)
        if not path.is_file():
            raise ApiKeyError(f"O2C_API_KEYS_FILE names {path}, which is not a file")
        return parse_api_keys(path.read_text(encoding="utf-8"), f"O2C_API_KEYS_FILE ({path})")
    if keys_json:
        return parse_api_keys(keys_json)
    return {}


def allowed(role: str, needed: str) -> bool:
    """Whether `role` has the access `needed` asks for."""
    return ROLES.index(role) >= ROLES.index(needed)


def role_of(authorization: str | None, keys: Mapping[str, str]) -> str | None:
    """The role of the bearer key in an `Authorization` header value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return keys.get(digest(token.strip()))


class ApiKeyMiddleware:
    """ASGI middleware: 401 without a valid key, 403 for a role without access; the API
    routes' bodies are read as JSON whatever their Content-Type.

    `keys` maps key digests to roles; `load` (called once, when the app is built, if `keys`
    is None) returns them, e.g. from settings.
    """

    def __init__(self, app: Any, keys: Mapping[str, str] | None = None,
                 load: Any = None) -> None:
        self.app = app
        if keys is None:
            keys = load() if load is not None else {}
        self.keys = dict(keys)
        if not self.keys:
            logger.warning("no API keys configured (O2C_API_KEYS or O2C_API_KEYS_FILE): "
                           "every protected endpoint answers 401")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in ROUTE_ROLES:
            await self.app(scope, receive, send)
            return
        needed = ROUTE_ROLES[scope["path"]]
        header = next((value.decode("latin-1") for name, value in scope.get("headers", [])
                       if name == b"authorization"), None)
        role = role_of(header, self.keys)
        if role is None:
            log_client_error(scope["path"], 401, ["Authorization"], ["no valid API key"])
            await _reply(send, 401, "missing or invalid API key: send 'Authorization: Bearer "
                                    "<key>'", {"www-authenticate": "Bearer"})
            return
        if not allowed(role, needed):
            log_client_error(scope["path"], 403, ["Authorization"], [f"role {role}"])
            await _reply(send, 403, f"role {role} may not use {scope['path']} (needs "
                                    f"{needed} or above)")
            return
        await self.app(_as_json(scope), receive, send)


def _as_json(scope: dict) -> dict:
    """The request with `Content-Type: application/json`: every API body is JSON, whatever
    the client said (curl's `-d` says form data), so a bad body gets a JSON error."""
    headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-type"]
    return {**scope, "headers": [*headers, (b"content-type", b"application/json")]}


async def _reply(send: Any, status: int, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
    await send_json(send, status, {"error": message, "field": "Authorization"}, headers)
