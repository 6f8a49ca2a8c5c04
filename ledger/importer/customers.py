"""The customers table of an import: from the invoices' customer attributes, completed by
the mapping's defaults or derived from the invoices; every such choice stated."""

from __future__ import annotations

import pandas as pd

from ledger.importer.mapping import Defaults
from ledger.schema import CUSTOMERS

ATTRIBUTES = ("country", "name", "industry", "segment", "payment_terms_days", "credit_limit",
              "created_date")
"""Customer columns an export of invoices may carry on each invoice row."""

UNKNOWN_COUNTRY = "unknown"


def customers_from_invoices(
    invoices: pd.DataFrame, attributes: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """One row per customer of `invoices`; each attribute (a column of `attributes`, aligned
    with `invoices`) is the value on the customer's latest invoice that has one."""
    notes: list[str] = []
    rows = pd.concat([invoices[["customer_id", "issue_date"]], attributes], axis=1)
    rows = rows.sort_values(["customer_id", "issue_date"], kind="stable")
    customers = pd.DataFrame({"customer_id": rows["customer_id"].drop_duplicates().to_numpy()})
    for column in attributes.columns:
        known = rows.dropna(subset=[column])
        latest = known.groupby("customer_id", sort=False)[column].last()
        varying = int((known.groupby("customer_id")[column].nunique() > 1).sum())
        if varying:
            notes.append(f"{column}: {varying} customers have several values; the latest "
                         "invoice's is used")
        customers[column] = customers["customer_id"].map(latest).astype(object)
    return customers, notes


def complete_customers(
    customers: pd.DataFrame, invoices: pd.DataFrame, defaults: Defaults
) -> tuple[pd.DataFrame, list[str]]:
    """Fill the contract's required customer columns the export lacks, and say how:
    currency from the invoices, terms from the typical due - issue days, a country and a
    credit limit from the defaults (else country `unknown`, credit limit unknown)."""
    customers = customers.copy()
    notes: list[str] = []
    n = len(customers)

    def fill(column: str, values: pd.Series, how: str) -> None:
        current = customers[column] if column in customers else pd.Series(None, index=
                                                                          customers.index)
        missing = int(current.isna().sum())
        if missing:
            customers[column] = current.astype(object).where(current.notna(), values)
            share = "all" if missing == n else f"{missing} of {n}"
            notes.append(f"{column}: {how} for {share} customers")

    ids = customers["customer_id"]
    by_customer = invoices.sort_values(["customer_id", "issue_date"], kind="stable") \
        .groupby("customer_id")
    fill("currency", ids.map(by_customer["currency"].last()), "currency of the latest invoice")
    terms = (pd.to_datetime(invoices["due_date"]) - pd.to_datetime(invoices["issue_date"])).dt.days
    typical = terms.groupby(invoices["customer_id"]).median().round().astype(int)
    if defaults.payment_terms_days is not None:
        fill("payment_terms_days", pd.Series(defaults.payment_terms_days, index=customers.index),
             f"default {defaults.payment_terms_days} days")
    else:
        fill("payment_terms_days", ids.map(typical),
             "derived from dates (median days from issue to due)")
    if defaults.country is not None:
        fill("country", pd.Series(defaults.country, index=customers.index),
             f"default {defaults.country!r}")
    else:
        fill("country", pd.Series(UNKNOWN_COUNTRY, index=customers.index),
             f"{UNKNOWN_COUNTRY!r} (no column, no default)")
    for column in ("industry", "segment"):
        value = getattr(defaults, column)
        if value is not None:
            fill(column, pd.Series(value, index=customers.index), f"default {value!r}")
    if defaults.credit_limit is not None:
        fill("credit_limit", pd.Series(defaults.credit_limit, index=customers.index),
             f"default {defaults.credit_limit:,.2f}")
    else:
        fill("credit_limit", pd.Series(None, index=customers.index, dtype=object), "unknown")
    return customers[[c for c in CUSTOMERS.column_names if c in customers]], notes
