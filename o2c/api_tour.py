"""The last step of `make demo`: start the API over the demo's work folder and call it once.

`python -m o2c.api_tour` starts `o2c serve` on a free loopback port with two throw-away keys
(a collector's and a credit manager's), prints what a few calls answer, and stops it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import httpx

from o2c.common import load_settings_or_fail
from o2c.display import console
from serving.local import running_server


def main() -> None:
    """Call /model_info, /worklist, /score_invoices, /credit_limits (with each key), /kpis."""
    settings = load_settings_or_fail()
    collector, manager = (f"demo-{secrets.token_hex(12)}" for _ in range(2))
    keys = {collector: "collector", manager: "credit_manager"}
    log = settings.workdir / "api-tour.log"
    with running_server(Path(settings.workdir).resolve(), keys, log=log) as url, \
            httpx.Client(base_url=url, timeout=60) as client:
        as_collector = {"Authorization": f"Bearer {collector}"}
        info = client.get("/model_info", headers=as_collector).json()
        as_of = dt.date.fromisoformat(info["snapshot"]["as_of"])
        console.print(f"API at {url}: snapshot as of {as_of}, models "
                      + ", ".join(f"{m['name']} v{m['version']}" for m in info["models"]),
                      highlight=False)
        top = client.post("/worklist", json={"top_k": 1}, headers=as_collector).json()
        known = top["worklist"][0]
        invoices = [{"invoice_id": f"DEMO-{i}", "customer_id": customer,
                     "issue_date": as_of.isoformat(),
                     "due_date": (as_of + dt.timedelta(days=30)).isoformat(),
                     "amount": 12_500.0, "currency": known["customer_currency"] or "USD"}
                    for i, customer in enumerate((known["customer_id"], "NEW-CUSTOMER"))]
        scores = client.post("/score_invoices", json={"invoices": invoices},
                             headers=as_collector).json()["scores"]
        for score in scores:
            why = "; ".join(r["text"] for r in score["reasons"][:2])
            console.print(f"POST /score_invoices {score['customer_id']}: p_late "
                          f"{score['p_late']:.2f} ({score['risk_band']}"
                          f"{', cold start' if score['cold_start'] else ''}): {why}",
                          highlight=False)
        console.print(f"POST /worklist top 1: {known['customer_id']} ({known['action']}, "
                      f"{known['amount_at_risk']:,.0f} at risk)", highlight=False)
        refused = client.post("/credit_limits", json={}, headers=as_collector)
        limits = client.post("/credit_limits", json={},
                             headers={"Authorization": f"Bearer {manager}"}).json()["limits"]
        cut = min((row for row in limits if row["change"] is not None),
                  key=lambda row: row["change"])
        console.print(f"POST /credit_limits as a collector: {refused.status_code}; as a credit "
                      f"manager: {len(limits):,} limits, the largest cut {cut['customer_id']} "
                      f"(grade {cut['grade']}) {cut['current_limit']:,.0f} -> "
                      f"{cut['recommended_limit']:,.0f}", highlight=False)
        kpis = client.get("/kpis", headers=as_collector).json()
        console.print(f"GET /kpis: DSO {_figure(kpis['dso'])} days, best possible "
                      f"{_figure(kpis['best_dso'])}, CEI {_figure(kpis['cei'])}", highlight=False)
    console.print(f"API stopped (log {log}); `make serve` keeps it running.", highlight=False)


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


if __name__ == "__main__":
    main()
