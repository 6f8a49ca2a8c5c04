"""The simulation as Arrow tables: the ledger contract's tables and the two truth tables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ledger.schema import TABLES
from ledger.synthetic.config import ARROW_TYPES, TRUTH_SCHEMAS
from ledger.synthetic.customers import _Customers, _method_names
from ledger.synthetic.events import (
    _credit_reason_names,
    _CreditNotes,
    _Disputes,
    _Payments,
    _Promises,
)
from ledger.synthetic.invoices import _Invoices
from ledger.synthetic.parameters import (
    _COUNTRIES,
    _DISPUTE_REASONS,
    _FX_TO_USD,
    _HABITS,
    _INDUSTRIES,
    _NAME_PREFIXES,
    _NEVER,
    _SEGMENTS,
)
from ledger.synthetic.paydays import _Habits


def _ids(prefix: str, count: int, digits: int) -> pa.Array:
    """`prefix` + 1-based sequence number zero-padded to `digits` (more if needed)."""
    width = max(digits, len(str(count)))
    numbers = pc.cast(pa.array(np.arange(1, count + 1, dtype=np.int64)), pa.string())
    padded = pc.utf8_lpad(numbers, width=width, padding="0")
    return pc.binary_join_element_wise(prefix, padded, "").cast(pa.string())


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """date32 array from epoch days, null where not `valid`."""
    mask = None if valid is None else ~valid
    return pa.array(days.astype(np.int32), mask=mask).view(pa.date32())


def _amounts(cents: np.ndarray) -> pa.Array:
    return pa.array(cents.astype(np.float64) / 100.0)


def _labels(names: list[str] | tuple[str, ...], index: np.ndarray) -> pa.Array:
    """Strings picked from a small vocabulary by index, without Python objects per row."""
    return pa.array(list(names), pa.string()).take(pa.array(index.astype(np.int32)))


def _contract_table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    """A table with exactly the contract's columns, in contract order and types."""
    spec = TABLES[name]
    schema = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in spec.columns])
    return pa.table({c: columns[c] for c in spec.column_names}, schema=schema)


def _customers_table(customers: _Customers, customer_ids: pa.Array) -> pa.Table:
    country = customers.country
    nouns = [noun for row in _INDUSTRIES for noun in row[4]]
    name = pc.binary_join_element_wise(
        _labels(_NAME_PREFIXES, customers.name_prefix),
        _labels(nouns, customers.industry * 3 + customers.name_noun),
        _labels([row[3] for row in _COUNTRIES], country), " ")
    return _contract_table("customers", {
        "customer_id": customer_ids,
        "country": _labels([row[0] for row in _COUNTRIES], country),
        "currency": _labels([row[1] for row in _COUNTRIES], country),
        "payment_terms_days": pa.array(customers.terms.astype(np.int32)),
        "credit_limit": _amounts(customers.credit_limit_cents),
        "name": name,
        "industry": _labels([row[0] for row in _INDUSTRIES], customers.industry),
        "segment": _labels(_SEGMENTS, customers.segment),
        "created_date": _dates(customers.created),
    })


def _po_numbers(rng: np.random.Generator, uses_po: np.ndarray) -> pa.Array:
    """'PO-' + 7 random digits for customers that use purchase orders, else null."""
    digits = pc.cast(pa.array(rng.integers(0, 10_000_000, len(uses_po))), pa.string())
    numbers = pc.binary_join_element_wise("PO-", pc.utf8_lpad(digits, width=7, padding="0"), "")
    return pc.if_else(pa.array(uses_po), numbers, pa.scalar(None, pa.string())).cast(
        pa.string())


def _invoices_table(rng: np.random.Generator, invoices: _Invoices, customers: _Customers,
                    invoice_ids: pa.Array, customer_ids: pa.Array) -> pa.Table:
    customer = pa.array(invoices.customer)
    currency = _labels([row[1] for row in _COUNTRIES], customers.country)
    return _contract_table("invoices", {
        "invoice_id": invoice_ids,
        "customer_id": customer_ids.take(customer),
        "issue_date": _dates(invoices.issue),
        "due_date": _dates(invoices.due),
        "amount": _amounts(invoices.cents),
        "currency": currency.take(customer),
        "document_type": pa.repeat(pa.scalar("invoice"), len(invoices)).cast(pa.string()),
        "po_number": _po_numbers(rng, customers.uses_po[invoices.customer]),
        "paperless": pa.nulls(len(invoices), pa.bool_()),  # no delivery channel is simulated
    })


def _sorted_by(day: np.ndarray, invoice: np.ndarray, tiebreak: np.ndarray | None = None
               ) -> np.ndarray:
    """Order of events by day, then invoice, then `tiebreak` (< 4): keys are unique."""
    key = day.astype(np.int64) * (4 * (int(invoice.max(initial=0)) + 1)) + 4 * invoice
    if tiebreak is not None:
        key += tiebreak
    return np.argsort(key, kind="stable")


def _payments_table(payments: _Payments, invoices: _Invoices, customers: _Customers,
                    invoice_ids: pa.Array, customer_ids: pa.Array) -> pa.Table:
    recorded = payments.day < invoices.cut[payments.invoice]
    invoice, day = payments.invoice[recorded], payments.day[recorded]
    order = _sorted_by(day, invoice, payments.instalment[recorded])
    invoice, day, cents = invoice[order], day[order], payments.cents[recorded][order]
    customer = invoices.customer[invoice]
    return _contract_table("payments", {
        "payment_id": _ids("PAY", len(invoice), 8),
        "invoice_id": invoice_ids.take(pa.array(invoice)),
        "customer_id": customer_ids.take(pa.array(customer)),
        "payment_date": _dates(day),
        "amount": _amounts(cents),
        "method": _labels(_method_names(), customers.method[customer]),
    })


def _credit_notes_table(credits: _CreditNotes, invoices: _Invoices, invoice_ids: pa.Array,
                        customer_ids: pa.Array) -> pa.Table:
    recorded = credits.day < invoices.cut[credits.invoice]
    invoice, day = credits.invoice[recorded], credits.day[recorded]
    order = _sorted_by(day, invoice)
    invoice, day = invoice[order], day[order]
    return _contract_table("credit_notes", {
        "credit_note_id": _ids("CN", len(invoice), 8),
        "invoice_id": invoice_ids.take(pa.array(invoice)),
        "customer_id": customer_ids.take(pa.array(invoices.customer[invoice])),
        "issue_date": _dates(day),
        "amount": _amounts(credits.cents[recorded][order]),
        "reason": _labels(_credit_reason_names(), credits.reason[recorded][order]),
    })


def _disputes_table(disputes: _Disputes, invoices: _Invoices, invoice_ids: pa.Array
                    ) -> pa.Table:
    cut = invoices.cut[disputes.invoice]
    recorded = disputes.opened < cut
    order = _sorted_by(disputes.opened[recorded], disputes.invoice[recorded])
    invoice = disputes.invoice[recorded][order]
    resolved = disputes.resolved[recorded][order]
    return _contract_table("disputes", {
        "dispute_id": _ids("DSP", len(invoice), 8),
        "invoice_id": invoice_ids.take(pa.array(invoice)),
        "opened_date": _dates(disputes.opened[recorded][order]),
        "resolved_date": _dates(resolved, resolved < cut[recorded][order]),
        "reason": _labels([r for r, _ in _DISPUTE_REASONS], disputes.reason[recorded][order]),
    })


def _promises_table(promises: _Promises, invoices: _Invoices, invoice_ids: pa.Array,
                    customer_ids: pa.Array, end: int) -> pa.Table:
    recorded = promises.created < invoices.cut[promises.invoice]
    order = _sorted_by(promises.created[recorded], promises.invoice[recorded])
    invoice = promises.invoice[recorded][order]
    promised = promises.promised[recorded][order]
    return _contract_table("promises", {
        "promise_id": _ids("PRM", len(invoice), 8),
        "customer_id": customer_ids.take(pa.array(invoices.customer[invoice])),
        "created_date": _dates(promises.created[recorded][order]),
        "promised_date": _dates(promised),
        "amount": _amounts(promises.cents[recorded][order]),
        "invoice_id": invoice_ids.take(pa.array(invoice)),
        "kept": pa.array(promises.kept[recorded][order], mask=promised >= end),
    })


def _fx_table(customers: _Customers) -> pa.Table:
    used = sorted({_COUNTRIES[i][1] for i in np.unique(customers.country)})
    return _contract_table("fx_rates", {
        "currency": pa.array(used, pa.string()),
        "rate_to_base": pa.array([_FX_TO_USD[c] for c in used], pa.float64()),
    })


def _truth_tables(invoices: _Invoices, cw: np.ndarray, default_day: np.ndarray,
                  habits: _Habits, invoice_ids: pa.Array, customer_ids: pa.Array
                  ) -> dict[str, pa.Table]:
    return {
        "truth_invoices": pa.table({"invoice_id": invoice_ids, "p_late_true": invoices.p_late},
                                   schema=TRUTH_SCHEMAS["truth_invoices"]),
        "truth_customers": pa.table({
            "customer_id": customer_ids,
            "creditworthiness_end": cw[:, -1],
            "default_date": _dates(default_day, default_day < _NEVER),
            "payment_habit": _labels(_HABITS, habits.habit),
            "run_weekday": pa.array(habits.weekday.astype(np.int32), mask=habits.weekday < 0),
            "bank_lag_days": pa.array(habits.lag.astype(np.int32)),
        }, schema=TRUTH_SCHEMAS["truth_customers"]),
    }
