"""`/app/customers/<id>`: the single view of a customer, with a chart of their balance and
days late over time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from starlette.responses import Response

from serving.scoring import ApiError
from serving.webapp.pages import backend, render, requires
from serving.workflow.users import Actor

router = APIRouter(include_in_schema=False)  # pages, not API: out of /docs.json
CustomerId = Annotated[str, Path(max_length=200)]


def _view(request: Request, customer_id: str) -> dict:
    try:
        return backend(request).customer(customer_id)
    except ApiError as exc:
        raise HTTPException(exc.status, exc.message) from None


@router.get("/customers/{customer_id}", name="customer")
def customer_page(request: Request, customer_id: CustomerId,
                  actor: Annotated[Actor, Depends(requires("collector"))]) -> Response:
    """Everything about one customer."""
    view = _view(request, customer_id)
    return render(request, "customer.html",
                  {"view": view, "currency": backend(request).currency}, actor=actor)


@router.get("/customers/{customer_id}/chart.png", name="customer_chart")
def customer_chart(request: Request, customer_id: CustomerId,
                   actor: Annotated[Actor, Depends(requires("collector"))]) -> Response:
    """The customer's open balance and days late over time, as a PNG."""
    try:
        png = backend(request).customer_chart(customer_id)
    except ApiError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})
