"""The flat layout: one row per invoice with its settlement on the same row.

Each row gives an invoice; a settlement date (or days to pay) gives one payment of the whole
amount (or of `paid_amount`); a yes/no dispute flag gives a dispute dated at the settlement
(a flag without a date is known only once the invoice is settled; open invoices' disputes
are dated at the export); customers come from the rows' attributes and the defaults.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ledger.importer.columns import Converted, origin_of, pick, report_duplicates, require_values
from ledger.importer.customers import ATTRIBUTES, complete_customers, customers_from_invoices
from ledger.importer.mapping import FlatColumns, ImportMapping
from ledger.importer.problems import ImportProblem
from ledger.importer.readers import Export
from ledger.importer.values import ValueFormat
from ledger.schema import TABLES

KINDS = {**{c.name: c.type for t in ("customers", "invoices") for c in TABLES[t].columns},
         "paid_date": "date", "days_to_pay": "int", "paid_amount": "amount", "disputed": "bool"}
REQUIRED = ["invoice_id", "customer_id", "issue_date", "due_date", "amount", "currency"]


def flat_tables(export: Export, mapping: ImportMapping, fmt: ValueFormat,
                problems: list[ImportProblem]) -> Converted | None:
    """Contract tables from a flat export; None when `problems` grew (nothing to build on)."""
    columns = mapping.columns or FlatColumns.model_construct()  # the model requires them
    wanted = columns.model_dump(exclude_none=True)
    before = len(problems)
    rows = pick(export, wanted, KINDS, fmt, problems, delimiter=mapping.delimiter)
    notes: list[str] = []
    if "invoice_id" not in wanted:
        rows["invoice_id"] = [f"INV{i:07d}" for i in range(1, len(rows) + 1)]
        notes.append("invoice_id: made from the row order (INV0000001, ...)")
    if "currency" not in wanted:
        if mapping.defaults.currency is None:
            problems.append(ImportProblem("mapping", None, "columns.currency", None,
                                          "no currency column and no [defaults] currency"))
        rows["currency"] = mapping.defaults.currency
        notes.append(f"currency: default {mapping.defaults.currency!r} for every invoice")
    require_values(export, rows, wanted, REQUIRED, problems)
    if "invoice_id" in wanted:
        report_duplicates(export, rows["invoice_id"], wanted["invoice_id"], "invoice id",
                          problems)
    paid_date = _paid_dates(rows, wanted)
    _payments_need_dates(export, rows, paid_date, wanted, problems)
    if len(problems) > before:
        return None
    invoice_columns = [c for c in TABLES["invoices"].column_names if c in rows]
    invoices = rows[invoice_columns].copy()
    attributes = rows[[c for c in ATTRIBUTES if c in rows]]
    customers, customer_notes = customers_from_invoices(invoices, attributes)
    customers, completed = complete_customers(customers, invoices, mapping.defaults)
    origin = {"invoices": origin_of(export, invoices["invoice_id"]),
              "customers": {}}
    payments, payment_notes = _payments(rows, paid_date, wanted)
    origin["payments"] = origin_of(export, payments["payment_id"], payments.index)
    disputes = _disputes(rows, paid_date, mapping.export_date)
    origin["disputes"] = origin_of(export, disputes["dispute_id"], disputes.index)
    notes += payment_notes + customer_notes + completed
    if "paperless" in wanted:
        known = invoices["paperless"].dropna()
        notes.append(f"paperless: the delivery channel at issue, {int(known.sum()):,} "
                     f"electronic, {int((~known.astype(bool)).sum()):,} on paper, "
                     f"{len(invoices) - len(known):,} unknown")
    if "disputed" in wanted:
        notes.append("disputes: a flag without dates: dated at the settlement (opened and "
                     "resolved), or at the export date for invoices still open")
    frames = {"customers": customers, "invoices": invoices, "payments": payments,
              "disputes": disputes}
    if mapping.fx_rates:
        frames["fx_rates"] = pd.DataFrame({"currency": list(mapping.fx_rates),
                                           "rate_to_base": list(mapping.fx_rates.values())})
    return Converted(frames, origin, notes)


def _paid_dates(rows: pd.DataFrame, wanted: dict[str, str]) -> pd.Series:
    """Settlement date per row (None while open)."""
    if "paid_date" in wanted:
        return rows["paid_date"]
    if "days_to_pay" in wanted:
        return pd.Series([None if pd.isna(d) or i is None else i + dt.timedelta(days=int(d))
                          for i, d in zip(rows["issue_date"], rows["days_to_pay"], strict=True)],
                         index=rows.index, dtype=object)
    return pd.Series(None, index=rows.index, dtype=object)


def _payments_need_dates(export: Export, rows: pd.DataFrame, paid_date: pd.Series,
                         wanted: dict[str, str], problems: list[ImportProblem]) -> None:
    """A paid amount on a row without a settlement date cannot be dated."""
    if "paid_amount" not in wanted:
        return
    undated = rows["paid_amount"].map(lambda v: v is not None and v > 0) & paid_date.isna()
    settlement = wanted.get("paid_date", wanted.get("days_to_pay"))
    for position in undated.to_numpy().nonzero()[0]:
        problems.append(export.problem(position, wanted["paid_amount"],
                                       rows["paid_amount"].iat[position],
                                       f"is a payment without a settlement date "
                                       f"({settlement} is empty)"))


def _payments(rows: pd.DataFrame, paid_date: pd.Series,
              wanted: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    settled = paid_date.notna()
    amount = rows["amount"]
    if "paid_amount" in wanted:
        amount = rows["paid_amount"].where(rows["paid_amount"].notna(), rows["amount"])
        settled &= amount.map(lambda v: v is not None and v > 0)
    chosen = rows[settled]
    payments = pd.DataFrame({
        "payment_id": "PAY-" + chosen["invoice_id"].astype(str),
        "invoice_id": chosen["invoice_id"], "customer_id": chosen["customer_id"],
        "payment_date": paid_date[settled], "amount": amount[settled],
    }, index=chosen.index)
    if "paid_date" in wanted or "days_to_pay" in wanted:
        how = ("paid_amount, else the whole amount" if "paid_amount" in wanted
               else "the whole amount")
        notes = [f"payments: one per settled invoice ({len(payments):,}), of {how}, on "
                 f"{'the settlement date' if 'paid_date' in wanted else 'issue date + days'}"]
        early = int((payments["payment_date"] < chosen["issue_date"]).sum())
        if early:
            notes.append(f"payments: {early} dated before their invoice (prepayments), kept; "
                         "they count from the invoice's issue date")
    else:
        notes = ["payments: none (no paid_date or days_to_pay column): every invoice is open"]
    return payments, notes


def _disputes(rows: pd.DataFrame, paid_date: pd.Series,
              export_date: dt.date | None) -> pd.DataFrame:
    flagged = rows["disputed"].map(lambda v: v is True) if "disputed" in rows \
        else pd.Series(False, index=rows.index)
    chosen = rows[flagged]
    if export_date is None:
        dates = [*rows["issue_date"], *rows["due_date"], *paid_date.dropna()]
        export_date = max(d for d in dates if d is not None) if dates else None
    dated = paid_date[flagged]
    return pd.DataFrame({
        "dispute_id": "DSP-" + chosen["invoice_id"].astype(str),
        "invoice_id": chosen["invoice_id"],
        "opened_date": dated.where(dated.notna(), export_date),
        "resolved_date": dated,
    }, index=chosen.index)
