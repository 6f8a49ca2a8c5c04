"""The web app: a FastAPI app the service mounts at `/app` (sign-in, sessions, roles, pages).

`create_app(source)` builds it; `source()` returns the service's `Backend` when a request
needs it (the service instance exists only once the server runs). Sessions are signed cookies
(HttpOnly, SameSite=Lax, Secure when configured) holding the user's name and a CSRF token;
every POST checks the token; failed sign-ins are throttled per user name and address.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response

from serving.auth import allowed
from serving.webapp import customers, dashboard, limits, worklist
from serving.webapp.backend import Backend
from serving.webapp.pages import (
    HERE,
    SignInRequired,
    backend,
    check_csrf,
    path_for,
    render,
    signed_in,
)
from serving.webapp.security import LoginThrottle, csrf_token
from serving.workflow.users import Actor

logger = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
COOKIE = "o2c_session"


class _Sessions(SessionMiddleware):
    """Starlette's signed-cookie sessions, configured from the backend when the app first
    serves a request (the key may be generated into the working folder then)."""

    def __init__(self, app: Any, source: Callable[[], Backend], path: str) -> None:
        backend = source()
        config = backend.config
        super().__init__(app, secret_key=backend.secret, session_cookie=COOKIE,
                         max_age=int(config.session_hours * 3600), path=path,
                         same_site="lax", https_only=config.secure_cookies)


class _SecurityHeaders:
    """Adds SECURITY_HEADERS to every response of the app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(
                    (k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                    if k.lower().encode() not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(source: Callable[[], Backend], *, mount_path: str = "/app") -> FastAPI:
    """The web app, to mount at `mount_path` (its session cookie is scoped to that path)."""
    app = FastAPI(title="o2c-risk web app", docs_url=None, redoc_url=None, openapi_url=None,
                  redirect_slashes=False)
    app.state.source = source
    app.state.throttle = None
    app.add_middleware(_Sessions, source=source, path=mount_path)
    app.add_middleware(_SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (worklist, customers, limits, dashboard):
        app.include_router(module.router)
    app.add_api_route("/login", login_form, methods=["GET"], name="login",
                      include_in_schema=False)
    app.add_api_route("/login", login, methods=["POST"], name="login_post",
                      include_in_schema=False)
    app.add_api_route("/logout", logout, methods=["POST"], name="logout",
                      dependencies=[Depends(check_csrf)], include_in_schema=False)
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(HTTPException, _error_page)
    return app


def _throttle(request: Request) -> LoginThrottle:
    app = request.app
    if app.state.throttle is None:
        config = app.state.source().config
        app.state.throttle = LoginThrottle(config.max_failed_logins,
                                           config.lockout_minutes * 60)
    return app.state.throttle


def _home(request: Request, actor: Actor) -> str:
    name = "limits" if actor.role == "credit_manager" else "worklist"
    return path_for(request, name)


def _safe_next(request: Request, target: str | None) -> str | None:
    """`target` if it is a path of this app (never another site)."""
    if not target:
        return None
    parts = urlsplit(target)
    root = request.scope.get("root_path", "")
    if parts.scheme or parts.netloc or not target.startswith(f"{root}/") or "\\" in target:
        return None
    return target


def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002
    """The sign-in form."""
    return render(request, "login.html", {"next": _safe_next(request, next)})


async def login(request: Request, username: Annotated[str, Form(max_length=100)],
                password: Annotated[str, Form(max_length=1000)],
                next: Annotated[str | None, Form(max_length=2000)] = None,  # noqa: A002
                _: None = Depends(check_csrf)) -> Response:
    """Check the user name and password; on success a fresh session, then the page asked
    for (or the user's home page). 401 for a wrong pair, 429 after too many failures."""
    address = request.client.host if request.client else "unknown"
    throttle = _throttle(request)
    wait = throttle.retry_after(username, address)
    context = {"next": _safe_next(request, next), "username": username}
    if wait > 0:
        logger.warning("web sign-in refused: too many failures (wait %d s)", math.ceil(wait))
        return render(request, "login.html", {
            **context, "error": f"Too many failed sign-ins: try again in "
                                f"{math.ceil(wait / 60)} minute(s)."},
            status_code=429, headers={"Retry-After": str(math.ceil(wait))})
    actor = backend(request).authenticate(username, password)
    if actor is None:
        throttle.failed(username, address)
        logger.warning("web sign-in failed")
        return render(request, "login.html", {
            **context, "error": "Wrong user name or password."}, status_code=401)
    throttle.succeeded(username, address)
    request.session.clear()
    request.session["user"] = actor.name
    csrf_token(request.session)
    return RedirectResponse(_safe_next(request, next) or _home(request, actor), status_code=303)


def logout(request: Request) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse(path_for(request, "login"), status_code=303)


def _to_sign_in(request: Request, _: Exception) -> Response:
    target = path_for(request, "login")
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?" + urlencode({"next": here})
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _error_page(request: Request, exc: HTTPException) -> Response:
    actor = None
    with contextlib.suppress(SignInRequired):
        actor = signed_in(request)
    return render(request, "error.html", {"status": exc.status_code, "message": exc.detail,
                                          "allowed": allowed}, actor=actor,
                  status_code=exc.status_code)
