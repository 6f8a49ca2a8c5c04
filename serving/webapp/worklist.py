"""`/app/worklist`: the collector's ranked customers, filters and sort, and their actions
logged inline (htmx swaps the list in place; without JavaScript the form posts and the page
comes back whole)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from serving.webapp.backend import ACTION_KINDS, LoggedAction
from serving.webapp.pages import backend, check_csrf, render, requires
from serving.workflow.errors import WorkflowError
from serving.workflow.users import Actor

router = APIRouter(include_in_schema=False)  # pages, not API: out of /docs.json

SORTS: dict[str, tuple[str, bool]] = {
    "rank": ("rank", False),
    "amount": ("amount_at_risk", True),
    "days": ("oldest_days_past_due", True),
    "customer": ("customer_id", False),
}
"""Sort key of the page -> (row field, largest first)."""
ACTIONS = ("call", "reminder", "escalate")


@dataclass(frozen=True)
class Filters:
    """What the worklist page shows: filters, sort, page and (for managers) whose list."""

    country: str | None = None
    action: str | None = None
    min_amount: float | None = None
    sort: str = "rank"
    page: int = 1
    collector: str | None = None



def _filters(country: str | None = Query(None, max_length=60),
             action: str | None = Query(None, max_length=20),
             min_amount: str | None = Query(None, max_length=30),
             sort: str = Query("rank", max_length=20), page: int = Query(1, ge=1, le=100_000),
             collector: str | None = Query(None, max_length=100)) -> Filters:
    """Filters from the query string; unknown values are ignored, not refused (a link kept
    from an older page still opens)."""
    amount = None
    try:
        amount = float(min_amount) if min_amount not in (None, "") else None
    except ValueError:
        amount = None
    return Filters(country=country or None, action=action if action in ACTIONS else None,
                   min_amount=amount if amount is None or amount >= 0 else None,
                   sort=sort if sort in SORTS else "rank", page=page,
                   collector=collector or None)


def ordered(rows: Sequence[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """Rows in the page's order (missing values last; ties in rank order)."""
    field, descending = SORTS[sort]
    present = [r for r in rows if r.get(field) is not None]
    missing = [r for r in rows if r.get(field) is None]
    present.sort(key=lambda r: r[field], reverse=descending)
    return present + missing


def _context(request: Request, actor: Actor, filters: Filters) -> dict[str, Any]:
    state = backend(request)
    whose = filters.collector if actor.role != "collector" else actor.name
    collectors = state.collectors() if actor.role != "collector" else []
    if whose not in collectors and actor.role != "collector":
        whose = None
    rows = state.worklist(actor, collector=whose, country=filters.country,
                          min_amount=filters.min_amount)
    shown = [r for r in rows if filters.action is None or r.get("action") == filters.action]
    active = ordered([r for r in shown if not r.get("held")], filters.sort)
    held = [r for r in shown if r.get("held")]
    size = state.config.page_size
    pages = max(1, -(-len(active) // size))
    page = min(filters.page, pages)
    return {
        "filters": filters, "rows": active[(page - 1) * size: page * size],
        "held": ordered(held, "amount")[:size], "held_total": len(held),
        "total": len(active), "page": page, "pages": pages, "sorts": SORTS,
        "actions": ACTIONS, "countries": state.countries(), "collectors": collectors,
        "whose": whose, "as_of": state.scorer.as_of, "kinds": ACTION_KINDS,
    }


@router.get("/worklist", name="worklist")
def worklist_page(request: Request, actor: Annotated[Actor, Depends(requires("collector"))],
                  filters: Annotated[Filters, Depends(_filters)]) -> Response:
    """The worklist page (or, for htmx, just the list)."""
    context = _context(request, actor, filters)
    fragment = request.headers.get("hx-target") == "worklist"
    return render(request, "worklist_list.html" if fragment else "worklist.html", context,
                  actor=actor)


@router.post("/worklist/actions", name="log_action", dependencies=[Depends(check_csrf)])
async def log_action(request: Request,
                     actor: Annotated[Actor, Depends(requires("collector"))],
                     filters: Annotated[Filters, Depends(_filters)]) -> Response:
    """Log a contact, a promise, a dispute or a note on a customer; the list comes back
    updated (422 with the message and the field when the store refuses it)."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    status, message, error = 200, None, None
    try:
        done = backend(request).log(actor, LoggedAction.from_form(fields))
        message = done
    except WorkflowError as exc:
        status, error = 422, {"message": exc.message, "field": exc.field,
                              "customer_id": fields.get("customer_id")}
    context = {**_context(request, actor, filters), "message": message, "error": error}
    fragment = bool(request.headers.get("hx-request"))
    return render(request, "worklist_list.html" if fragment else "worklist.html", context,
                  actor=actor, status_code=status)
