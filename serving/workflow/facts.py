"""The store's promises and disputes as dated ledger facts (`o2c actions export`).

Each promise becomes a row of the ledger's promises table dated by the day it was logged
(`created_date`, UTC), each dispute a row of its disputes table (`opened_date`, and
`resolved_date` once resolved): features as of T read only facts dated before T, so an
action counts from the next day on, never on its own day. A promise on several invoices
becomes one row per invoice, the amount split in proportion to the invoices' amounts. Rows
made here have ids starting with `WF-`; exporting again replaces them (idempotent), the
ledger's own rows stay. Only ledger folders (Parquet or CSV files) are written, each table
atomically.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ledger import LedgerValidationError, load_ledger
from ledger.atomic import atomic_file
from serving.workflow.db import Store
from serving.workflow.errors import WorkflowError
from serving.workflow.tables import Dispute, Promise

PREFIX = "WF-"
"""Ids of the ledger rows that come from the store."""
PROMISE_COLUMNS = ("promise_id", "customer_id", "created_date", "promised_date", "amount",
                   "invoice_id")
DISPUTE_COLUMNS = ("dispute_id", "invoice_id", "opened_date", "resolved_date", "reason")


def store_facts(store: Store, invoice_amounts: Mapping[str, float]) -> dict[str, pd.DataFrame]:
    """`promises` and `disputes` rows of the ledger contract from the store's actions;
    `invoice_amounts` (invoice id -> amount) splits a promise on several invoices."""
    with store.begin() as session:
        promises = session.scalars(select(Promise).options(selectinload(Promise.invoices))
                                   .order_by(Promise.id)).all()
        disputes = session.scalars(select(Dispute).order_by(Dispute.id)).all()
    promise_rows = []
    for promise in promises:
        for suffix, invoice_id, amount in _split(promise, invoice_amounts):
            promise_rows.append((f"{PREFIX}P{promise.id}{suffix}", promise.customer_id,
                                 promise.created_at.date(), promise.promised_date, amount,
                                 invoice_id))
    dispute_rows = [(f"{PREFIX}D{d.id}", d.invoice_id, d.opened_at.date(),
                     d.resolved_at.date() if d.resolved_at else None, d.reason)
                    for d in disputes]
    return {"promises": _dated(pd.DataFrame(promise_rows, columns=list(PROMISE_COLUMNS)),
                               ("created_date", "promised_date")),
            "disputes": _dated(pd.DataFrame(dispute_rows, columns=list(DISPUTE_COLUMNS)),
                               ("opened_date", "resolved_date"))}


def _split(promise: Promise,
           invoice_amounts: Mapping[str, float]) -> list[tuple[str, str | None, float]]:
    """(id suffix, invoice id, amount) of each ledger row of a promise."""
    ids = promise.invoice_ids
    if not ids:
        return [("", None, promise.amount)]
    if len(ids) == 1:
        return [("", ids[0], promise.amount)]
    missing = [i for i in ids if i not in invoice_amounts]
    if missing:
        raise WorkflowError(f"promise {promise.id} names invoice(s) {', '.join(missing)} that "
                            "the ledger does not have", "invoice_id", 409)
    total = sum(invoice_amounts[i] for i in ids)
    shares = [round(promise.amount * invoice_amounts[i] / total, 2) for i in ids]
    shares[-1] = round(promise.amount - sum(shares[:-1]), 2)  # the cents add up
    return [(f"-{n}", i, share) for n, (i, share) in enumerate(zip(ids, shares, strict=True),
                                                                  start=1)]


def _dated(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column])
    return frame


def export_actions(ledger_path: str | Path, store: Store) -> dict[str, int]:
    """Merge the store's promises and disputes into the ledger folder's promises and disputes
    files (replacing rows exported before); the number of store rows in each."""
    folder = Path(ledger_path)
    if not folder.is_dir():
        raise WorkflowError(f"{folder} is not a ledger folder: actions are exported into the "
                            "Parquet or CSV files of a folder", "ledger")
    try:
        ledger = load_ledger(folder)
    except LedgerValidationError as exc:
        raise WorkflowError(f"the ledger {folder} is not valid: {exc}", "ledger") from None
    try:
        invoices = ledger.df("invoices")
        customers = set(ledger.df("customers")["customer_id"].astype(str))
    finally:
        ledger.close()
    amounts = dict(zip(invoices["invoice_id"].astype(str), invoices["amount"].astype(float),
                       strict=True))
    facts = store_facts(store, amounts)
    _check_known(facts, customers, set(amounts))
    for table, frame in facts.items():
        _merge(folder, table, frame)
    return {table: len(frame) for table, frame in facts.items()}


def _check_known(facts: Mapping[str, pd.DataFrame], customers: set[str],
                 invoices: set[str]) -> None:
    """WorkflowError naming the first store row whose customer or invoice the ledger lacks
    (actions logged over another ledger's snapshot)."""
    for table, key in (("promises", "promise_id"), ("disputes", "dispute_id")):
        frame = facts[table]
        for row in frame.itertuples():
            if table == "promises" and row.customer_id not in customers:
                raise WorkflowError(f"{table} row {getattr(row, key)}: customer "
                                    f"{row.customer_id!r} is not in the ledger", "ledger", 409)
            if isinstance(row.invoice_id, str) and row.invoice_id not in invoices:
                raise WorkflowError(f"{table} row {getattr(row, key)}: invoice "
                                    f"{row.invoice_id!r} is not in the ledger", "ledger", 409)


def _merge(folder: Path, table: str, rows: pd.DataFrame) -> None:
    """Replace the table file's `WF-` rows by `rows`, in the file's own format."""
    parquet, csv = folder / f"{table}.parquet", folder / f"{table}.csv"
    key = rows.columns[0]
    if csv.exists() and not parquet.exists():
        old = pd.read_csv(csv, dtype=str, keep_default_na=False)
        new = rows.astype(object).where(rows.notna(), "")
        for column in new.columns:
            if pd.api.types.is_datetime64_any_dtype(rows[column]):
                new[column] = rows[column].dt.strftime("%Y-%m-%d").fillna("")
        merged = pd.concat([old[~old[key].str.startswith(PREFIX)], new.astype(str)],
                           ignore_index=True).fillna("")
        with atomic_file(csv) as temporary:
            merged.to_csv(temporary, index=False)
        return
    old = pd.read_parquet(parquet) if parquet.exists() else rows.iloc[:0]
    kept = old[~old[key].astype(str).str.startswith(PREFIX)]
    merged = pd.concat([kept, rows], ignore_index=True) if len(kept) and len(rows) else (
        rows if len(rows) else kept)
    with atomic_file(parquet) as temporary:
        merged.to_parquet(temporary, index=False)
