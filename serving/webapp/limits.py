"""`/app/limits`: the credit manager's review queue (recommendation beside the current limit,
reasons), accept or override with a reason, and each customer's audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from starlette.responses import Response

from serving.webapp.pages import backend, check_csrf, render, requires
from serving.workflow.errors import WorkflowError
from serving.workflow.users import Actor

router = APIRouter(include_in_schema=False)  # pages, not API: out of /docs.json
Manager = Annotated[Actor, Depends(requires("credit_manager"))]
GRADES = ("A", "B", "C", "D", "E")


def _queue(request: Request, grade: str | None, country: str | None,
           decided: bool) -> dict[str, Any]:
    state = backend(request)
    rows = state.review_queue(grade=grade if grade in GRADES else None,
                              country=country or None, include_decided=decided)
    return {"rows": rows[:state.config.page_size], "total": len(rows), "grades": GRADES,
            "filters": {"grade": grade, "country": country, "decided": decided},
            "countries": state.countries(), "as_of": state.scorer.as_of}


@router.get("/limits", name="limits")
def limits_page(request: Request, actor: Manager,
                grade: str | None = Query(None, max_length=2),
                country: str | None = Query(None, max_length=60),
                decided: bool = False) -> Response:
    """The review queue, largest expected loss first."""
    context = _queue(request, grade, country, decided)
    fragment = request.headers.get("hx-target") == "queue"
    return render(request, "limits_queue.html" if fragment else "limits.html", context,
                  actor=actor)


@router.post("/limits/{customer_id}/decision", name="decide_limit",
             dependencies=[Depends(check_csrf)])
async def decide(request: Request, actor: Manager,
                 customer_id: Annotated[str, Path(max_length=200)],
                 grade: str | None = Query(None, max_length=2),
                 country: str | None = Query(None, max_length=60),
                 decided: bool = False) -> Response:
    """Accept the recommendation or override it with a limit and a reason; the queue comes
    back updated (422 naming the field when the decision is refused: nothing written)."""
    form = await request.form()
    fields = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    status, message, error = 200, None, None
    try:
        message = backend(request).decide(actor, customer_id, fields.get("decision", ""),
                                          fields.get("limit") or None,
                                          fields.get("reason") or None)
    except WorkflowError as exc:
        status, error = 422, {"message": exc.message, "field": exc.field,
                              "customer_id": customer_id}
    context = {**_queue(request, grade, country, decided), "message": message, "error": error}
    if request.headers.get("hx-request"):
        return render(request, "limits_queue.html", context, actor=actor, status_code=status)
    return render(request, "limits.html", context, actor=actor, status_code=status)


@router.get("/limits/{customer_id}", name="limit_history")
def limit_history(request: Request, actor: Manager,
                  customer_id: Annotated[str, Path(max_length=200)]) -> Response:
    """A customer's recommendation, decisions and audit trail."""
    state = backend(request)
    detail = state.limit_detail(customer_id)
    if detail is None:
        raise HTTPException(404, f"no credit limit for customer {customer_id!r} in the "
                                 f"snapshot of {state.scorer.as_of}")
    return render(request, "limit_detail.html", detail, actor=actor)
