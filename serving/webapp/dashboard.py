"""`/app/dashboard` (receivables KPIs, aging, the monitoring verdict, champion models) and
`/app/alerts` (the signed-in user's alerts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import FileResponse, Response

from serving.webapp import charts
from serving.webapp.pages import backend, render, requires
from serving.workflow.users import Actor

router = APIRouter(include_in_schema=False)  # pages, not API: out of /docs.json
Signed = Annotated[Actor, Depends(requires("collector"))]


@router.get("/dashboard", name="dashboard")
def dashboard_page(request: Request, actor: Signed) -> Response:
    """KPIs with charts, the monitoring verdict and the champions in service."""
    state = backend(request)
    return render(request, "dashboard.html", {
        "kpis": state.kpis(), "monitoring": state.monitoring(),
        "models": state.scorer.model_info(), "forecast": state.forecast()}, actor=actor)


@router.get("/dashboard/aging.png", name="aging_chart")
def aging_png(request: Request, actor: Signed) -> Response:
    """Open receivables by age, as a PNG."""
    kpis = backend(request).kpis()
    return Response(charts.aging_chart(kpis.get("aging") or {}, kpis.get("currency")),
                    media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/dashboard/forecast.png", name="forecast_chart")
def forecast_png(request: Request, actor: Signed) -> Response:
    """The cash forecast by week, as a PNG (404 when there is none)."""
    forecast = backend(request).forecast()
    if not forecast:
        raise HTTPException(404, "no cash forecast in this snapshot")
    series = forecast["series"]
    return Response(charts.forecast_chart(forecast["weeks"], series["expected"], series["P10"],
                                          series["P90"], forecast["currency"]),
                    media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/monitoring/{name}", name="monitoring_report")
def monitoring_report(request: Request, name: str, actor: Signed) -> Response:
    """An Evidently report of the latest monitoring run (`data_drift`, `model_quality`)."""
    path = backend(request).monitoring_report(name)
    if path is None:
        raise HTTPException(404, f"no {name} report in the latest monitoring run")
    # Evidently's report is a page of its own with inline scripts: served with its own policy.
    return FileResponse(path, media_type="text/html", headers={
        "Content-Security-Policy": "default-src 'self' 'unsafe-inline' data:; "
                                   "frame-ancestors 'none'"})


@router.get("/alerts", name="alerts")
def alerts_page(request: Request, actor: Signed) -> Response:
    """The alerts of the signed-in user (a collector's: their customers')."""
    return render(request, "alerts.html", {"alerts": backend(request).alerts(actor)},
                  actor=actor)
