"""API keys: parsing, clear errors without key material, and the middleware's 401/403."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from serving.auth import (
    ROUTE_ROLES,
    ApiKeyError,
    ApiKeyMiddleware,
    allowed,
    digest,
    load_api_keys,
    parse_api_keys,
    role_of,
)

KEYS = {"collector-secret-1": "collector", "manager-secret-1": "credit_manager",
        "admin-secret-1": "admin"}


def test_keys_parse_to_digests_and_roles() -> None:
    keys = parse_api_keys(json.dumps(KEYS))
    assert keys == {digest(k): role for k, role in KEYS.items()}
    assert not any(k in keys for k in KEYS)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "not valid JSON"),
    ('["collector-secret-1"]', "JSON object"),
    ('{"with space": "admin"}', "without spaces"),
    ('{"": "admin"}', "non-empty"),
    ('{"collector-secret-1": "boss"}', "role 'boss'"),
])
def test_bad_key_configuration_is_named_without_the_key(text: str, message: str) -> None:
    with pytest.raises(ApiKeyError, match=message) as caught:
        parse_api_keys(text)
    assert "collector-secret-1" not in str(caught.value)


def test_keys_from_a_file_or_the_variable_not_both(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(KEYS))
    assert load_api_keys(None, path) == parse_api_keys(json.dumps(KEYS))
    assert load_api_keys(json.dumps(KEYS), None) == parse_api_keys(json.dumps(KEYS))
    assert load_api_keys(None, None) == {}
    with pytest.raises(ApiKeyError, match="not both"):
        load_api_keys(json.dumps(KEYS), path)
    with pytest.raises(ApiKeyError, match="not a file"):
        load_api_keys(None, tmp_path / "missing.json")


def test_roles_nest() -> None:
    assert allowed("admin", "credit_manager") and allowed("credit_manager", "collector")
    assert not allowed("collector", "credit_manager")
    assert not allowed("credit_manager", "admin")


def test_bearer_header() -> None:
    keys = parse_api_keys(json.dumps(KEYS))
    assert role_of("Bearer admin-secret-1", keys) == "admin"
    assert role_of("bearer  manager-secret-1 ", keys) == "credit_manager"
    for header in (None, "", "Bearer", "Basic admin-secret-1", "Bearer wrong-secret"):
        assert role_of(header, keys) is None


def _call(middleware: ApiKeyMiddleware, path: str, header: str | None) -> tuple[int, dict]:
    """Run one request through the middleware; the status and JSON body it answers with."""
    sent: list[dict] = []
    reached: list[dict] = []

    async def app(scope: dict, receive: object, send: object) -> None:
        reached.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    middleware.app = app
    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    if header is not None:
        headers.append((b"authorization", header.encode()))
    asyncio.run(middleware({"type": "http", "path": path, "headers": headers}, receive, send))
    if reached:
        assert (b"content-type", b"application/json") in reached[0]["headers"] or \
            path not in ROUTE_ROLES
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_middleware_answers_401_and_403_and_lets_health_through() -> None:
    middleware = ApiKeyMiddleware(None, keys=parse_api_keys(json.dumps(KEYS)))
    assert _call(middleware, "/credit_limits", None)[0] == 401
    assert _call(middleware, "/credit_limits", "Bearer wrong-secret-1")[0] == 401
    status, body = _call(middleware, "/credit_limits", "Bearer collector-secret-1")
    assert status == 403 and "credit_manager" in body["error"]
    assert "collector-secret-1" not in json.dumps(body)
    assert _call(middleware, "/credit_limits", "Bearer manager-secret-1")[0] == 200
    assert _call(middleware, "/reload", "Bearer manager-secret-1")[0] == 403
    assert _call(middleware, "/reload", "Bearer admin-secret-1")[0] == 200
    for path in ("/readyz", "/livez", "/metrics", "/docs.json"):
        assert _call(middleware, path, None)[0] == 200


def test_no_keys_means_every_protected_route_is_closed() -> None:
    middleware = ApiKeyMiddleware(None, keys={})
    assert _call(middleware, "/worklist", "Bearer anything-at-all")[0] == 401


def test_short_keys_work_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    keys = parse_api_keys('{"k1": "collector", "k2": "credit_manager"}')
    assert role_of("Bearer k2", keys) == "credit_manager"
    assert "fewer than" in caplog.text and '"k1"' not in caplog.text
