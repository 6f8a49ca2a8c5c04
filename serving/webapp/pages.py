"""What every page shares: the templates, who is signed in, roles, CSRF checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from fastapi import HTTPException, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from serving.auth import ROLES, allowed
from serving.webapp.backend import Backend
from serving.webapp.formatting import FILTERS
from serving.webapp.security import CSRF_FIELD, CSRF_HEADER, csrf_token, csrf_valid
from serving.workflow.users import Actor

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(FILTERS)


def path_for(request: Request, name: str, /, **params: Any) -> str:
    """The path of one of the web app's routes, wherever the app is mounted: looked up in
    the app's own routes (the service has routes of the same names) and never built from the
    request's Host header."""
    return request.scope.get("root_path", "") + str(request.app.url_path_for(name, **params))


@jinja2.pass_context
def _path_for(context: dict, name: str, /, **params: Any) -> str:
    return path_for(context["request"], name, **params)


templates.env.globals["url_for"] = _path_for
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True

NAVIGATION: tuple[tuple[str, str, str], ...] = (
    ("worklist", "Worklist", "collector"),
    ("limits", "Limit review", "credit_manager"),
    ("dashboard", "Dashboard", "collector"),
    ("alerts", "Alerts", "collector"),
)
"""Route name, label and the least role of each menu entry."""


class SignInRequired(Exception):
    """No signed-in user: the page sends them to the sign-in form."""


def backend(request: Request) -> Backend:
    """The service's state (`create_app`'s source)."""
    return request.app.state.source()


def signed_in(request: Request) -> Actor:
    """The signed-in user as the store has them now (a disabled or deleted user's session
    ends here); SignInRequired without one."""
    name = request.session.get("user")
    actor = backend(request).actor(name) if name else None
    if actor is None:
        request.session.pop("user", None)
        raise SignInRequired
    return actor


def requires(role: str) -> Callable[[Request], Actor]:
    """A dependency: the signed-in user, 403 unless their role has `role`'s access."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def check(request: Request) -> Actor:
        actor = signed_in(request)
        if not allowed(actor.role, role):
            raise HTTPException(403, f"This page is for the {role.replace('_', ' ')} role and "
                                     f"above; you are signed in as a "
                                     f"{actor.role.replace('_', ' ')}.")
        return actor

    return check


async def check_csrf(request: Request) -> None:
    """403 for a POST whose CSRF token (form field or `X-CSRF-Token` header) is not the
    session's."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        sent = form.get(CSRF_FIELD)
    if not csrf_valid(request.session, sent if isinstance(sent, str) else None):
        raise HTTPException(403, "The form has expired or did not come from this site: "
                                 "reload the page and try again.")


def render(request: Request, template: str, context: Mapping[str, Any] | None = None,
           *, actor: Actor | None = None, status_code: int = 200,
           headers: Mapping[str, str] | None = None) -> Response:
    """A page (or an htmx fragment) with what every template needs: the user, the menu, the
    CSRF token."""
    menu = [(name, label) for name, label, role in NAVIGATION
            if actor is not None and allowed(actor.role, role)]
    response = templates.TemplateResponse(
        request, template, {"actor": actor, "menu": menu, "csrf": csrf_token(request.session),
                            "csrf_field": CSRF_FIELD, **(context or {})},
        status_code=status_code, headers=dict(headers or {}))
    response.headers.setdefault("Cache-Control", "no-store")
    return response
