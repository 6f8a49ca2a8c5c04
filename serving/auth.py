"""API keys and roles: parse them, and an ASGI middleware that checks `Authorization: Bearer`.

Keys come from `O2C_API_KEYS` (a JSON object of key -> role) or `O2C_API_KEYS_FILE` (a file
holding the same), and from the workflow store's users (`o2c users add`). A request let in
carries who sent it to the endpoints in the `x-o2c-user` and `x-o2c-role` headers (set here,
never taken from the client): the store user's name, or `env:<role>` for an environment key.
Roles, each with the access of the ones before it: `collector` (scores, worklist, customer
profiles, model info, monitoring, KPIs, the collectors' actions), `credit_manager` (also
credit limits), `admin` (also reload). Only SHA-256 digests of the keys are kept in memory
after parsing, and no message ever contains a key.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
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
    "/log_contact": "collector",
    "/log_promise": "collector",
    "/open_dispute": "collector",
    "/resolve_dispute": "collector",
    "/add_note": "collector",
    "/alerts": "collector",
    "/credit_limits": "credit_manager",
    "/review_queue": "credit_manager",
    "/decide_limit": "credit_manager",
    "/reload": "admin",
}
"""The least role each protected route needs; every other route (health, metrics, the
OpenAPI spec) is open."""

USER_HEADER = b"x-o2c-user"
ROLE_HEADER = b"x-o2c-role"
"""Headers that carry the user let in and their role to the endpoints."""

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
    key_digest = bearer_digest(authorization)
    return keys.get(key_digest) if key_digest else None


def bearer_digest(authorization: str | None) -> str | None:
    """The digest of the bearer key in an `Authorization` header value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return digest(token.strip())


UserLookup = Callable[[str], "tuple[str, str] | None"]
"""Key digest -> (user name, role) of a store user, or None."""


class ApiKeyMiddleware:
    """ASGI middleware: 401 without a valid key, 403 for a role without access; the API
    routes' bodies are read as JSON whatever their Content-Type.

    `keys` maps key digests to roles; `load` (called once, when the app is built, if `keys`
    is None) returns them, e.g. from settings. `users` (called once likewise) returns the
    lookup of store users' keys, tried after the environment's keys.
    """

    def __init__(self, app: Any, keys: Mapping[str, str] | None = None,
                 load: Any = None, users: Callable[[], UserLookup | None] | None = None) -> None:
        self.app = app
        if keys is None:
            keys = load() if load is not None else {}
        self.keys = dict(keys)
        self.lookup = users() if users is not None else None
        if not self.keys and self.lookup is None:
            logger.warning("no API keys configured (O2C_API_KEYS or O2C_API_KEYS_FILE): "
                           "every protected endpoint answers 401")

    def identify(self, authorization: str | None) -> tuple[str, str] | None:
        """(user name, role) of the bearer key: an environment key (`env:<role>`), else a
        store user's, else None."""
        key_digest = bearer_digest(authorization)
        if key_digest is None:
            return None
        role = self.keys.get(key_digest)
        if role is not None:
            return f"env:{role}", role
        return self.lookup(key_digest) if self.lookup is not None else None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in ROUTE_ROLES:
            await self.app(scope, receive, send)
            return
        needed = ROUTE_ROLES[scope["path"]]
        header = next((value.decode("latin-1") for name, value in scope.get("headers", [])
                       if name == b"authorization"), None)
        try:
            who = self.identify(header)
        except Exception:  # noqa: BLE001 - the store is down: say so, never a 500
            logger.exception("cannot check an API key against the workflow store")
            await send_json(send, 503, {"error": "the workflow store is unavailable to check "
                                                 "the API key; try again", "field": None})
            return
        if who is None:
            log_client_error(scope["path"], 401, ["Authorization"], ["no valid API key"])
            await _reply(send, 401, "missing or invalid API key: send 'Authorization: Bearer "
                                    "<key>'", {"www-authenticate": "Bearer"})
            return
        name, role = who
        if not allowed(role, needed):
            log_client_error(scope["path"], 403, ["Authorization"], [f"role {role}"])
            await _reply(send, 403, f"role {role} may not use {scope['path']} (needs "
                                    f"{needed} or above)")
            return
        await self.app(_as_json(scope, name, role), receive, send)


def _as_json(scope: dict, name: str, role: str) -> dict:
    """The request with `Content-Type: application/json` (every API body is JSON, whatever
    the client said: curl's `-d` says form data, so a bad body gets a JSON error) and the
    user's name and role in USER_HEADER and ROLE_HEADER (any the client sent dropped)."""
    dropped = (b"content-type", USER_HEADER, ROLE_HEADER)
    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in dropped]
    return {**scope, "headers": [*headers, (b"content-type", b"application/json"),
                                 (USER_HEADER, name.encode("utf-8")),
                                 (ROLE_HEADER, role.encode("latin-1"))]}


async def _reply(send: Any, status: int, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
    await send_json(send, status, {"error": message, "field": "Authorization"}, headers)
