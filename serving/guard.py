"""What a request must pass before an endpoint sees it, and how client errors are answered.

`RequestGuard` is an ASGI middleware in front of the BentoML service (inside the API-key
check): a path with a trailing slash gets 404 (never a redirect built from the Host
header); a body over `[api] max_body_bytes` gets 413 before it is read whole; a POST body
of an API route is validated against its pydantic request model, and a bad one gets 400
`{"error", "field", "errors": [{"field", "error"}]}` and one WARNING line naming the fields,
never their values (BentoML would log each one at ERROR with a traceback).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from serving.config import ApiConfig
from serving.schemas import (
    ContactRequest,
    CustomerRequest,
    LimitsRequest,
    NoteRequest,
    OpenDisputeRequest,
    PromiseRequest,
    ReloadRequest,
    ResolveDisputeRequest,
    ScoreRequest,
    WorklistRequest,
)

REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "/score_invoices": ScoreRequest,
    "/worklist": WorklistRequest,
    "/customer": CustomerRequest,
    "/credit_limits": LimitsRequest,
    "/reload": ReloadRequest,
    "/log_contact": ContactRequest,
    "/log_promise": PromiseRequest,
    "/open_dispute": OpenDisputeRequest,
    "/resolve_dispute": ResolveDisputeRequest,
    "/add_note": NoteRequest,
}
"""The body model of each POST route."""

MAX_LISTED_ERRORS = 50
"""Most field errors one 400 lists."""

logger = logging.getLogger(__name__)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def field_name(loc: Sequence[str | int]) -> str | None:
    """A pydantic error location as the API names fields: `invoices[3].due_date`."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or None


def log_client_error(path: str, status: int, fields: Sequence[str | None] = (),
                     kinds: Sequence[str] = ()) -> None:
    """One WARNING line for a refused request: path, status, the fields at fault (client-
    made names replaced by `?`) and the kinds of error; never a value of the input."""
    shown = sorted({_loggable(f) for f in fields if f})
    path = path[:100] if path[:100].isprintable() else ascii(path[:100])
    logger.warning("client error %d on %s%s%s", status, path,
                   f": fields {', '.join(shown[:5])}{' ...' if len(shown) > 5 else ''}"
                   if shown else "",
                   f" ({', '.join(sorted(set(kinds))[:5])})" if kinds else "")


def _loggable(field: str) -> str:
    """The field name with every part that is not a plain short name (a client's unknown
    key could be anything) replaced by `?`."""
    parts = re.split(r"(\[\d+\]|\.)", field)
    return "".join(p if not p or p == "." or p.startswith("[") or _NAME.fullmatch(p) else "?"
                   for p in parts)


def validation_error(exc: ValidationError) -> dict[str, Any]:
    """The 400 body of a pydantic error: a summary, the first field and each field's reason."""
    errors = [{"field": field_name(e["loc"]), "error": e["msg"], "type": e["type"]}
              for e in exc.errors(include_url=False, include_context=False,
                                  include_input=False)]
    listed = errors[:MAX_LISTED_ERRORS]
    summary = "; ".join(f"{e['field'] or 'body'}: {e['error']}" for e in listed[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return {"error": f"invalid request: {summary}{more}", "field": errors[0]["field"],
            "errors": listed}


async def send_json(send: Callable, status: int, body: Mapping[str, Any],
                    headers: Mapping[str, str] | None = None) -> None:
    """Answer an ASGI request with a JSON body."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    head += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})


class BodyTooLarge(Exception):
    """The request body is over the limit."""


class RequestGuard:
    """ASGI middleware: no trailing-slash paths, bounded bodies, validated POST bodies.

    `config` gives `max_body_bytes`; `load` (called once, when the app is built, if `config`
    is None) returns it, e.g. from settings.
    """

    def __init__(self, app: Any, config: ApiConfig | None = None,
                 load: Callable[[], ApiConfig] | None = None) -> None:
        self.app = app
        if config is None:
            config = load() if load is not None else ApiConfig()
        self.max_body_bytes = config.max_body_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path != "/" and path.endswith("/"):
            log_client_error(path, 404, kinds=["trailing slash"])
            await send_json(send, 404, {"error": "no such route: paths take no trailing "
                                                 "slash", "field": None})
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(send, path, declared)
            return
        model = REQUEST_MODELS.get(path) if scope["method"] == "POST" else None
        if model is None:  # a route that reads no body
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive, self.max_body_bytes)
        except BodyTooLarge:
            await self._too_large(send, path, None)
            return
        try:
            model.model_validate_json(body or b"{}")
        except ValidationError as exc:
            answer = validation_error(exc)
            log_client_error(path, 400, [e["field"] for e in answer["errors"]],
                             [e["type"] for e in answer["errors"]])
            await send_json(send, 400, answer)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, send: Callable, path: str, size: int | None) -> None:
        log_client_error(path, 413, kinds=["body too large"])
        told = f"of {size} bytes " if size is not None else ""
        await send_json(send, 413, {"error": f"request body {told}is over the limit of "
                                             f"{self.max_body_bytes} bytes ([api] "
                                             "max_body_bytes)", "field": None})


def _content_length(scope: dict) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _read_body(receive: Callable, limit: int) -> bytes:
    """The whole body; BodyTooLarge as soon as more than `limit` bytes have arrived."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Callable) -> Callable:
    """A `receive` that gives the body read already, then defers to the real one."""
    sent = False

    async def again() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again

