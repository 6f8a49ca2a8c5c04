"""`o2c customer ID`: the single view of a customer, as `POST /customer` gives it, in tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from o2c.common import fail, load, load_settings_or_fail
from o2c.display import console
from o2c.users import open_workflow_store, refused

ROWS = 25
"""Rows shown of each long table (newest first); --json has them all."""


def customer(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    ledger: Annotated[Path | None, typer.Option(
        help="Ledger folder or DuckDB file the snapshots were scored from (names, invoices, "
             "payments, disputes, promises); without it only the snapshot and the store.",
        envvar="O2C_LEDGER")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="End with one line of JSON: the whole view, every row.")] = False,
) -> None:
    """The single view of a customer as of the latest snapshot: name and attributes, every
    invoice (open and paid, disputes and promises marked, predicted payment dates when the
    snapshot has them), payments, credit notes, disputes, promises kept or broken, the owner,
    the activity log, the grade and limit history, limit decisions."""
    from serving.portfolio import latest_portfolio_dir, read_portfolio
    from serving.workflow import customer_view

    settings = load_settings_or_fail()
    folder = latest_portfolio_dir(settings.snapshots_dir)
    if folder is None:
        fail(f"no portfolio snapshot in {settings.snapshots_dir}: run `o2c score` first")
    portfolio = read_portfolio(folder)
    profile = refused(lambda: customer_view.snapshot_part(portfolio, customer_id))
    loaded = load(ledger) if ledger is not None else None
    try:
        view = customer_view.customer_view(profile, ledger=loaded,
                                           snapshots_dir=settings.snapshots_dir,
                                           store=open_workflow_store())
    finally:
        if loaded is not None:
            loaded.close()
    show_customer(view)
    if json_output:
        print(json.dumps(view, sort_keys=True, default=str))


def _table(title: str, columns: dict[str, str], rows: list[dict[str, Any]],
           right: tuple[str, ...] = ()) -> None:
    """A table of `rows` (first ROWS), `columns` heading -> key; nothing when empty."""
    if not rows:
        return
    more = f" (latest {ROWS} of {len(rows)})" if len(rows) > ROWS else ""
    table = Table(title=f"{title}{more}", title_justify="left")
    for heading in columns:
        table.add_column(heading, overflow="fold",
                         justify="right" if heading in right else "left")
    for row in rows[:ROWS]:
        table.add_row(*(_cell(row.get(key)) for key in columns.values()))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _invoice_marks(invoice: dict[str, Any]) -> dict[str, Any]:
    marks = [m for m in ("dispute open" if invoice.get("disputed") else None,
                         f"promise {invoice['promised']}" if invoice.get("promised") else None)
             if m]
    p_late = invoice.get("p_late")
    return {**invoice, "marks": "; ".join(marks),
            "p_late_text": f"{p_late:.0%}" if isinstance(p_late, float) else None}


def show_customer(view: dict[str, Any]) -> None:
    """The view as a heading and one table per part."""
    attributes = view.get("customer") or {}
    limit, work = view.get("limit") or {}, view.get("worklist") or {}
    name = view.get("name") or "(no name in the ledger)"
    console.print(f"[bold]{name}[/bold] {view['customer_id']}  as of {view['as_of']}",
                  highlight=False)
    facts = [f"{k} {attributes[k]}" for k in ("country", "currency", "segment", "industry")
             if attributes.get(k)]
    if attributes.get("payment_terms_days") is not None:
        facts.append(f"net {attributes['payment_terms_days']}")
    facts.append(f"owner {view.get('owner') or 'none'}")
    console.print(", ".join(facts), highlight=False, markup=False)
    if limit:
        decided = (view.get("decisions") or [None])[0]
        console.print(
            f"grade {limit.get('grade')} ({limit.get('probability', 0):.1%} probability of 90+ "
            f"days past due), limit {_cell(limit.get('current_limit_local'))} -> recommended "
            f"{_cell(limit.get('recommended_limit_local'))} {limit.get('currency') or ''}"
            + (f"; decided {decided['limit']:,.2f} by {decided['decided_by']} "
               f"({decided['decision']})" if decided else ""), highlight=False, markup=False)
    if work:
        held = f", held: {work['held_reason']}" if work.get("held") else ""
        console.print(f"worklist rank {work.get('rank')}: {work.get('action')}{held}",
                      highlight=False, markup=False)
    predicted = sorted({k for i in view.get("invoices", []) for k in i
                        if k.startswith("pay_date_")})
    _table("Invoices", {"invoice": "invoice_id", "issued": "issue_date", "due": "due_date",
                        "amount": "amount", "open": "open_amount", "status": "status",
                        "dpd": "days_past_due", "marks": "marks", "p(late)": "p_late_text",
                        **{k.replace("pay_date_", "pays "): k for k in predicted}},
           [_invoice_marks(i) for i in view.get("invoices", [])], ("amount", "open", "dpd"))
    _table("Payments", {"payment": "payment_id", "invoice": "invoice_id",
                        "date": "payment_date", "amount": "amount", "method": "method"},
           view.get("payments", []), ("amount",))
    _table("Credit notes", {"credit note": "credit_note_id", "invoice": "invoice_id",
                            "date": "issue_date", "amount": "amount", "reason": "reason"},
           view.get("credit_notes", []), ("amount",))
    _table("Disputes", {"dispute": "dispute_id", "invoice": "invoice_id",
                        "opened": "opened_date", "resolved": "resolved_date",
                        "status": "status", "reason": "reason"}, view.get("disputes", []))
    _table("Promises in the ledger", {"promise": "promise_id", "invoice": "invoice_id",
                                      "made": "created_date", "for": "promised_date",
                                      "amount": "amount", "status": "status"},
           view.get("promises", []), ("amount",))
    _table("Promises logged", {"for": "promised_date", "amount": "amount",
                               "invoices": "invoice_ids", "by": "created_by",
                               "at (UTC)": "created_at", "note": "note"},
           view.get("logged_promises", []), ("amount",))
    _table("Activity", {"at (UTC)": "at", "who": "user", "what": "kind",
                        "invoice": "invoice_id", "channel": "channel", "outcome": "outcome",
                        "note": "note"}, view.get("activity", []))
    _table("Limit decisions", {"at (UTC)": "decided_at", "by": "decided_by",
                               "decision": "decision", "limit": "limit",
                               "recommended": "recommended_limit", "model": "model_version",
                               "reason": "reason"}, view.get("decisions", []),
           ("limit", "recommended"))
    _table("Grade and limit history", {"as of": "as_of", "grade": "grade",
                                       "p(90+)": "probability",
                                       "current": "current_limit_local",
                                       "recommended": "recommended_limit_local",
                                       "model": "model_version"},
           list(reversed(view.get("history", []))), ("current", "recommended"))
