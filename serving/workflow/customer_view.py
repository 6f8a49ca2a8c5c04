"""The single view of a customer: its ledger as of the snapshot's date (attributes, every
invoice with its state, payments, credit notes, disputes, promises judged kept or broken),
its grade and limit over the stored snapshots, and what people did (the workflow store).

Ledger facts are those dated before the snapshot's date, as its features use them. Promises
are judged as the features judge them (`features.events`): kept when the payments from the
day of the promise to the promised date cover it, or the invoice is settled by then.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from features.events import base_stages
from features.sql import date_literal, materialize, with_query
from ledger.loader import Ledger, load_ledger
from serving.portfolio import Portfolio, manifest_date
from serving.scoring import records
from serving.workflow import audit, credit
from serving.workflow.db import Store
from serving.workflow.errors import WorkflowError
from serving.workflow.tables import Activity, Owner, Promise
from training.delinquency import SERIOUS_MODEL_NAME

HISTORY_COLUMNS = ("grade", "probability", "current_limit_local", "recommended_limit_local",
                   "currency", "review_flag")
"""What the grade and limit history keeps of each snapshot's limits row."""
PREDICTED_PREFIX = "pay_date_"
"""Snapshot invoice columns of predicted payment dates (`pay_date_p50`...), shown if present."""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rows(cursor: Any, sql: str) -> list[dict[str, Any]]:
    """The query's rows as JSON-ready dicts (dates as ISO strings)."""
    result = cursor.execute(sql)
    names = [d[0] for d in result.description]
    return [{n: v.isoformat() if isinstance(v, dt.date) else v for n, v in zip(names, row,
                                                                             strict=True)}
            for row in result.fetchall()]


def ledger_view(ledger: Ledger, customer_id: str, as_of: dt.date) -> dict[str, Any]:
    """The customer's ledger before `as_of`: `customer` (its attributes, None if unknown),
    `invoices` (each with paid, credited and open amounts, `status` open or paid, days past
    due, `disputed` and `promised` marks), `payments`, `credit_notes`, `disputes` (open or
    resolved) and `promises` (`status` kept, broken or pending), newest first."""
    cid, day = _literal(customer_id), date_literal(as_of)
    cursor = ledger.con.cursor()
    try:
        [customer] = _rows(cursor, f"SELECT * FROM customers WHERE customer_id = {cid}") or [None]
        if customer is None:
            return {"customer": None, "invoices": [], "payments": [], "credit_notes": [],
                    "disputes": [], "promises": []}
        inline = materialize(cursor, base_stages(as_of, f"customer_id = {cid}"))
        payments = _rows(cursor, f"""
            SELECT payment_id, invoice_id, payment_date, amount, method FROM payments
            WHERE customer_id = {cid} AND payment_date < {day}
            ORDER BY payment_date DESC, payment_id""")
        credit_notes = _rows(cursor, f"""
            SELECT credit_note_id, invoice_id, issue_date, amount, reason FROM credit_notes
            WHERE customer_id = {cid} AND issue_date < {day}
            ORDER BY issue_date DESC, credit_note_id""")
        disputes = _rows(cursor, f"""
            SELECT d.dispute_id, d.invoice_id, d.opened_date,
                   CASE WHEN d.resolved_date < {day} THEN d.resolved_date END AS resolved_date,
                   d.reason,
                   CASE WHEN d.resolved_date < {day} THEN 'resolved' ELSE 'open' END AS status
            FROM disputes d JOIN invoices i USING (invoice_id)
            WHERE i.customer_id = {cid} AND d.opened_date < {day}
            ORDER BY d.opened_date DESC, d.dispute_id""")
        promises = _rows(cursor, with_query(inline, f"""
            SELECT promise_id, invoice_id, created_date, promised_date, amount_c / 100 AS amount,
                   CASE WHEN promised_date >= {day} THEN 'pending'
                        WHEN kept THEN 'kept' ELSE 'broken' END AS status
            FROM prom_judged ORDER BY created_date DESC, promise_id"""))
        invoices = _rows(cursor, with_query(inline, f"""
            SELECT i.invoice_id, i.issue_date, i.due_date, i.amount, i.currency,
                   i.document_type, i.po_number,
                   coalesce(p.paid, 0) AS paid, coalesce(c.credited, 0) AS credited,
                   CASE WHEN s.settle_date IS NULL
                        THEN greatest(i.amount - coalesce(p.paid, 0) - coalesce(c.credited, 0),
                                      0) ELSE 0 END AS open_amount,
                   s.settle_date AS settled_date,
                   CASE WHEN s.settle_date IS NULL THEN 'open' ELSE 'paid' END AS status,
                   CASE WHEN s.settle_date IS NULL AND i.due_date < {day}
                        THEN date_diff('day', i.due_date, {day}) ELSE 0 END AS days_past_due
            FROM invoices i JOIN inv_state s USING (invoice_id)
            LEFT JOIN (SELECT invoice_id, sum(amount) AS paid FROM payments
                       WHERE payment_date < {day} GROUP BY invoice_id) p USING (invoice_id)
            LEFT JOIN (SELECT invoice_id, sum(amount) AS credited FROM credit_notes
                       WHERE issue_date < {day} GROUP BY invoice_id) c USING (invoice_id)
            ORDER BY i.issue_date DESC, i.invoice_id"""))
    finally:
        cursor.close()
    _mark(invoices, disputes, promises)
    return {"customer": customer, "invoices": invoices, "payments": payments,
            "credit_notes": credit_notes, "disputes": disputes, "promises": promises}


def _mark(invoices: list[dict], disputes: list[dict], promises: list[dict]) -> None:
    """Give each invoice `disputed` (a dispute of it is open) and `promised` (the status of
    the latest promise naming it, else None)."""
    disputed = {d["invoice_id"] for d in disputes if d["status"] == "open"}
    promised: dict[str, str] = {}
    for promise in reversed(promises):  # oldest first: the latest wins
        if promise["invoice_id"] is not None:
            promised[promise["invoice_id"]] = promise["status"]
    for invoice in invoices:
        invoice["disputed"] = invoice["invoice_id"] in disputed
        invoice["promised"] = promised.get(invoice["invoice_id"])


def with_scores(invoices: list[dict], open_scores: Sequence[Mapping[str, Any]]) -> None:
    """Give each open invoice its snapshot scores: p_late, amount at risk, risk band and the
    predicted payment dates (`pay_date_*`) when the snapshot has them."""
    scored = {row["invoice_id"]: row for row in open_scores}
    for invoice in invoices:
        row = scored.get(invoice["invoice_id"])
        if row is None:
            continue
        invoice.update({k: v for k, v in row.items()
                        if k in ("p_late", "p_unpaid_30d", "amount_at_risk", "risk_band")
                        or k.startswith(PREDICTED_PREFIX)})


def limit_history(snapshots_dir: Path, customer_id: str) -> list[dict[str, Any]]:
    """The customer's grade and limits in every stored snapshot, oldest first, with the
    serious-delinquency model's version of each."""
    root = Path(snapshots_dir)
    found = []
    folders = [f for f in root.iterdir() if f.is_dir()] if root.is_dir() else []
    for folder in folders:
        path = folder / "limits.parquet"
        if folder.name.startswith(".") or not path.exists():
            continue
        try:
            as_of = manifest_date(folder)
            models = json.loads((folder / "manifest.json").read_text("utf-8")).get("models", {})
            table = pq.read_table(path, filters=[("customer_id", "=", customer_id)])
        except (OSError, ValueError) as exc:
            found.append((dt.date.min, {"snapshot": folder.name, "error": str(exc)}))
            continue
        columns = [c for c in HISTORY_COLUMNS if c in table.column_names]
        for row in table.select(columns).to_pylist():
            found.append((as_of, {"as_of": as_of.isoformat(), **row,
                                  "model_version": models.get(SERIOUS_MODEL_NAME)}))
    return [entry for _, entry in sorted(found, key=lambda pair: pair[0])]


def store_view(session: Session, customer_id: str) -> dict[str, Any]:
    """What the store holds of the customer: `owner` (user name or None), `activity` (its
    log, newest first, with who), `promises` logged (with who), `decisions` on its limit and
    `audit` (every audited action on it)."""
    owner = session.scalars(select(Owner).where(Owner.customer_id == customer_id)).first()
    activity = session.scalars(select(Activity).where(Activity.customer_id == customer_id)
                               .order_by(Activity.at.desc(), Activity.id.desc())).all()
    promises = session.scalars(select(Promise).where(Promise.customer_id == customer_id)
                               .order_by(Promise.created_at.desc())).all()
    return {
        "owner": owner.user.name if owner else None,
        "activity": [{"at": a.at.isoformat(), "user": a.user.name, "kind": a.kind,
                      "invoice_id": a.invoice_id, "channel": a.channel, "outcome": a.outcome,
                      "note": a.note} for a in activity],
        "logged_promises": [{"id": p.id, "promised_date": p.promised_date.isoformat(),
                             "amount": p.amount, "invoice_ids": p.invoice_ids, "note": p.note,
                             "created_at": p.created_at.isoformat(),
                             "created_by": p.author.name} for p in promises],
        "decisions": [d.as_dict() for d in credit.decision_history(session, customer_id)],
        "audit": [e.as_dict() for e in audit.entries(session, subject=customer_id)],
    }


class LedgerCache:
    """The ledger the service reads customer views from: loaded (and validated) on first use,
    once; None when no ledger is configured."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._ledger: Ledger | None = None
        self._lock = threading.Lock()

    def get(self) -> Ledger | None:
        """The loaded ledger; WorkflowError (503) saying why it cannot be loaded."""
        if self.path is None:
            return None
        with self._lock:
            if self._ledger is None:
                try:
                    self._ledger = load_ledger(self.path)
                except (OSError, ValueError) as exc:
                    raise WorkflowError(f"the ledger {self.path} (O2C_LEDGER) cannot be "
                                        f"loaded: {str(exc)[:300]}", None, 503) from None
            return self._ledger


def snapshot_part(portfolio: Portfolio, customer_id: str) -> dict[str, Any]:
    """What the snapshot says of a customer (the fields `/customer` has always had that do
    not need the model): its limit row, worklist row and open invoices' scores; WorkflowError
    (404) naming customer_id when the snapshot does not know it."""
    if not (portfolio.customers["customer_id"] == customer_id).any():
        raise WorkflowError(f"unknown customer {customer_id!r} in the snapshot of "
                            f"{portfolio.as_of}", "customer_id", 404)

    def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
        return records(frame[frame["customer_id"] == customer_id])

    limit, work = rows(portfolio.limits), rows(portfolio.worklist)
    return {"customer_id": customer_id, "as_of": portfolio.as_of.isoformat(),
            "limit": limit[0] if limit else None, "worklist": work[0] if work else None,
            "open_invoices": rows(portfolio.invoice_scores)}


def customer_view(profile: dict[str, Any], *, ledger: Ledger | None, snapshots_dir: Path,
                  store: Store) -> dict[str, Any]:
    """`profile` (the snapshot's view of the customer, with `customer_id`, `as_of` and
    `open_invoices`) extended with the ledger (`ledger_view`, when a ledger is given), the
    grade and limit history and what the store holds (`store_view`)."""
    customer_id = profile["customer_id"]
    as_of = dt.date.fromisoformat(str(profile["as_of"]))
    parts = ledger_view(ledger, customer_id, as_of) if ledger is not None else {}
    with_scores(parts.get("invoices", []), profile["open_invoices"])
    with store.begin() as session:
        stored = store_view(session, customer_id)
    return {**profile, **parts, "name": (parts.get("customer") or {}).get("name"),
            "history": limit_history(snapshots_dir, customer_id), **stored}
