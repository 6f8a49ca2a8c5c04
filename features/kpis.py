"""Receivables KPIs as of a date: DSO, best possible DSO, average days delinquent, CEI, aging,
promises kept and open disputes, per customer, segment, country or owning collector, and as a
monthly trend.

Every figure as of D uses only facts dated before D (as the features do), in the reporting
currency (`fx_rates`; `ledger.summary.reporting_currency` names it). With W = 90 days:

- AR(D): open amount at D of the invoices issued before D (amount minus payments and credit
  notes dated before D; a prepayment counts from its invoice's issue date). Current AR(D):
  the part of it not past due (due date on or after D).
- Sales: amount of the invoices issued in the W days before D (D - 90 .. D - 1).
- DSO = AR(D) / sales x 90; best possible DSO = current AR(D) / sales x 90; average days
  delinquent ADD = DSO - best possible DSO. No sales: all three are n/a (None).
- CEI = (AR(D - 90) + sales - AR(D)) / (AR(D - 90) + sales - current AR(D)) x 100: the
  share of what could be collected in the W days that was; n/a when nothing could be.
- Aging: AR(D) by days past due (D - due date) in `ledger.summary.AGING_BUCKETS`: current
  (not past due), 1-30, 31-60, 61-90, 90+; amounts and shares of AR(D).
- Promises kept: of the promises to pay whose promised date falls in the W days before D,
  the share kept, judged from payments by the promised date exactly as the features judge
  them (`features.events`: kept when the payments from the day of the promise to the
  promised date cover the promised amount, or the promised invoice is settled by then);
  the ledger's recorded `kept` is not read. None due in the window: n/a.
- Open disputes at D (opened before D, not resolved before D): how many, and their age in
  days (D - opened date): mean and oldest.

Amounts are summed in whole cents of each customer's currency (exact), then converted; the
figures of a group are computed from per-customer components (`kpi_components`), which add
up, so any grouping of a portfolio, here or in the API, gives the same figures. Grouping by
collector needs each customer's owner, which the workflow store keeps (a later stage): the
caller passes the mapping customer -> collector down (`owners`); customers without an owner
are grouped under "unassigned".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping

import duckdb
import pandas as pd

from features.events import base_stages, cents
from features.sql import date_literal, materialize, with_query
from ledger.loader import Ledger
from ledger.summary import AGING_BUCKETS, reporting_currency

WINDOW_DAYS = 90
"""Days of sales, collections and promises the KPIs look back over."""

GROUPINGS: tuple[str, ...] = ("customer", "segment", "country", "collector")
"""What the figures can be grouped by: customer attributes of the ledger, and the owning
collector (from the workflow store, passed in as `owners`)."""

UNASSIGNED = "unassigned"
"""Group name of customers without an owning collector."""

NO_VALUE = "(none)"
"""Group name of customers without a segment."""

AGING_NAMES: tuple[str, ...] = tuple(name for name, *_ in AGING_BUCKETS)
"""Aging buckets, from current to 90+."""

AGING_COLUMNS: dict[str, str] = {
    name: "aging_" + name.replace("-", "_").replace("+", "_plus") for name in AGING_NAMES}
"""Component column of each aging bucket (`aging_current`, `aging_1_30`, ...)."""

AMOUNTS: tuple[str, ...] = ("ar", "current_ar", "ar_90d_ago", "sales_90d",
                            *AGING_COLUMNS.values())
"""Amount components of `kpi_components`, in the reporting currency."""

COUNTS: tuple[str, ...] = ("promises_due", "promises_kept", "disputes_open",
                           "dispute_age_days_sum")
"""Count components of `kpi_components` (summed over a group)."""


def kpi_components(ledger: Ledger, as_of: dt.date) -> pd.DataFrame:
    """One row per customer of the ledger: `customer_id`, `segment`, `country`, then the
    additive parts of the KPIs as of `as_of` (`AMOUNTS` in the reporting currency, `COUNTS`),
    `dispute_age_days_max` (NaN without an open dispute) and `reporting_currency` (its
    name). `kpi_figures` turns any set of rows into the figures."""
    cursor = ledger.con.cursor()
    try:
        amounts = _amounts(cursor, [as_of], "customer_id")
        promises = _promises(cursor, as_of)
        disputes = cursor.sql(_disputes_sql(as_of)).df()
        customers = cursor.sql(f"""
            SELECT customer_id, coalesce(segment, '{NO_VALUE}') AS segment, country,
                   coalesce(f.rate_to_base, 1.0) AS rate
            FROM customers LEFT JOIN fx_rates f USING (currency)""").df()
    finally:
        cursor.close()
    out = customers.merge(amounts.drop(columns="as_of"), on="customer_id", how="left")
    for column in AMOUNTS:
        out[column] = out[column].fillna(0.0) * out["rate"] / 100
    out = out.merge(promises, on="customer_id", how="left").merge(
        disputes, on="customer_id", how="left")
    for column in COUNTS:
        out[column] = out[column].fillna(0).astype("int64")
    out["reporting_currency"] = reporting_currency(ledger)
    return (out.drop(columns="rate").sort_values("customer_id", kind="stable")
            .reset_index(drop=True))


def kpi_report(components: pd.DataFrame, as_of: dt.date, by: str | None = None,
               owners: Mapping[str, str] | None = None) -> dict:
    """The figures of every customer in `components` as of `as_of` (`kpi_figures`), with the
    date and the reporting currency; with `by`, also `groups` (`kpi_groups`; `owners`:
    customer id -> collector, needed by `by="collector"`). JSON-ready."""
    currency = str(components["reporting_currency"].iloc[0]) if len(components) else None
    report = {"as_of": as_of.isoformat(), "currency": currency, **kpi_figures(components)}
    if by is not None:
        report["by"] = by
        report["groups"] = kpi_groups(components, by, owners)
    return report


def check_grouping(by: str | None) -> None:
    """ValueError saying why `by` cannot group the KPIs (None: no grouping, fine)."""
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"cannot group KPIs by {by!r}; expected one of "
                         f"{', '.join(GROUPINGS)}")


def kpi_figures(components: pd.DataFrame) -> dict:
    """The KPIs of the customers in `components` (rows of `kpi_components`), JSON-ready:
    amounts rounded to the cent, days and CEI to 0.01, shares to 0.0001; None where n/a."""
    totals = {c: components[c].sum() for c in (*AMOUNTS, *COUNTS)}
    oldest = components["dispute_age_days_max"].max() if len(components) else None
    return _figures(totals, len(components), oldest)


def kpi_groups(components: pd.DataFrame, by: str,
               owners: Mapping[str, str] | None = None) -> list[dict]:
    """`kpi_figures` of each group of `by` (one of `GROUPINGS`), largest AR first (ties by
    name), each with its `group` name. By collector, `owners` maps customer ids to their
    collector (the others: `UNASSIGNED`); ValueError without it."""
    check_grouping(by)
    if by == "collector":
        if owners is None:
            raise ValueError("KPIs by collector need the customers' owners (the workflow "
                             "store's)")
        components = components.assign(collector=components["customer_id"].astype(str)
                                        .map(dict(owners)).fillna(UNASSIGNED))
    column = "customer_id" if by == "customer" else by
    grouped = components.groupby(column, sort=True, dropna=False)
    totals = grouped[[*AMOUNTS, *COUNTS]].sum()
    totals["customers"] = grouped.size()
    totals["oldest"] = grouped["dispute_age_days_max"].max()
    groups = [{"group": str(name), **_figures(row, int(row["customers"]), row["oldest"])}
              for name, row in zip(totals.index, totals.to_dict("records"), strict=True)]
    return sorted(groups, key=lambda g: -g["ar"])


def _figures(totals: Mapping[str, float], customers: int, oldest: float | None) -> dict:
    """The figures from the sums of the components (`AMOUNTS`, `COUNTS`) of `customers`
    customers whose oldest open dispute is `oldest` days old (None or NaN: none)."""
    total = {c: float(totals[c]) for c in AMOUNTS}
    counts = {c: int(totals[c]) for c in COUNTS}
    ar, current, sales = total["ar"], total["current_ar"], total["sales_90d"]
    dso = _ratio(ar * WINDOW_DAYS, sales)
    best = _ratio(current * WINDOW_DAYS, sales)
    collectable = total["ar_90d_ago"] + sales
    return {
        "customers": customers,
        "ar": _cent(ar), "current_ar": _cent(current), "ar_90d_ago": _cent(total["ar_90d_ago"]),
        "sales_90d": _cent(sales),
        "dso": _round(dso, 2), "best_dso": _round(best, 2),
        "add": _round(None if dso is None else dso - best, 2),
        "cei": _round(_ratio((collectable - ar) * 100, collectable - current), 2),
        "aging": {name: _cent(total[column]) for name, column in AGING_COLUMNS.items()},
        "aging_share": {name: _round(_ratio(total[column], ar), 4)
                        for name, column in AGING_COLUMNS.items()},
        "promises_due": counts["promises_due"], "promises_kept": counts["promises_kept"],
        "promise_kept_share": _round(_ratio(counts["promises_kept"], counts["promises_due"]), 4),
        "disputes_open": counts["disputes_open"],
        "dispute_age_mean_days": _round(_ratio(counts["dispute_age_days_sum"],
                                               counts["disputes_open"]), 1),
        "dispute_age_max_days": None if oldest is None or pd.isna(oldest) else int(oldest),
    }


def kpi_trend(ledger: Ledger, as_of: dt.date, months: int = 12) -> pd.DataFrame:
    """The portfolio's AR, current AR, sales, DSO, best DSO, ADD and CEI as of `as_of` and
    the same day of each of the `months` - 1 months before (oldest first): the totals
    `kpi_figures` gives for each of those dates."""
    dates = [(pd.Timestamp(as_of) - pd.DateOffset(months=k)).date()
             for k in reversed(range(months))]
    cursor = ledger.con.cursor()
    try:
        by_currency = _amounts(cursor, dates, "currency")
        rates = dict(cursor.sql("SELECT currency, rate_to_base FROM fx_rates").fetchall())
    finally:
        cursor.close()
    rate = by_currency["currency"].map(rates).fillna(1.0)
    for column in AMOUNTS:
        by_currency[column] = by_currency[column] * rate / 100
    rows = []
    for day in dates:
        frame = by_currency[by_currency["as_of"] == pd.Timestamp(day)]
        figures = _figures({**frame[list(AMOUNTS)].sum(), **dict.fromkeys(COUNTS, 0)},
                           len(frame), None)
        rows.append({"as_of": day, **{k: figures[k] for k in (
            "ar", "current_ar", "sales_90d", "dso", "best_dso", "add", "cei")},
            "overdue_share": _round(_ratio(figures["ar"] - figures["current_ar"],
                                           figures["ar"]), 4)})
    return pd.DataFrame(rows)


def _amounts(cursor: duckdb.DuckDBPyConnection, dates: Iterable[dt.date], key: str) -> pd.DataFrame:
    """`AMOUNTS` in whole cents of the customer's currency, per `key` (`customer_id` or
    `currency`) and as-of date, from the dated changes of each invoice's open amount:
    +amount on its issue date, -each payment or credit note on its date, or on the issue
    date when earlier (a prepayment). AR(T) is the sum of the changes dated before T.

    Only the payments of invoices due on or after the first date's window start are joined
    to their invoice (for its due date and issue date): any other invoice was issued and
    due more than 90 days before every date, so its payments count on their own dates and
    its open amount is 90+ days past due at every date.
    """
    dates = sorted(set(dates))
    last = date_literal(dates[-1])
    recent = date_literal(dates[0] - dt.timedelta(days=WINDOW_DAYS))
    buckets = ",\n".join(
        f"sum(delta_c) FILTER (WHERE t.as_of - due BETWEEN {low} AND {high}) "
        f"AS {AGING_COLUMNS[name]}" if high is not None else
        f"sum(delta_c) FILTER (WHERE due IS NULL OR t.as_of - due >= {low}) "
        f"AS {AGING_COLUMNS[name]}"
        for name, low, high in AGING_BUCKETS)
    source = "changes" if key == "customer_id" else """(
            SELECT c.currency AS customer_id, d, due, sum(delta_c) AS delta_c,
                   sum(sale_c) AS sale_c
            FROM changes JOIN customers c USING (customer_id) GROUP BY ALL)"""
    query = f"""
        WITH recent AS (
            SELECT invoice_id, issue_date, due_date FROM invoices WHERE due_date >= {recent}
        ),
        applied AS (
            SELECT invoice_id, customer_id, payment_date AS d, {cents('amount')} AS c
            FROM payments WHERE payment_date < {last}
            UNION ALL
            SELECT invoice_id, customer_id, issue_date AS d, {cents('amount')} AS c
            FROM credit_notes WHERE issue_date < {last}
        ),
        changes AS (
            SELECT customer_id, issue_date AS d, due_date AS due,
                   {cents('amount')} AS delta_c, {cents('amount')} AS sale_c
            FROM invoices WHERE issue_date < {last}
            UNION ALL
            SELECT a.customer_id, greatest(a.d, coalesce(r.issue_date, a.d)) AS d,
                   r.due_date AS due, -a.c AS delta_c, 0 AS sale_c
            FROM applied a LEFT JOIN recent r USING (invoice_id)
        ),
        dates AS (SELECT unnest([{', '.join(date_literal(d) for d in dates)}]) AS as_of)
        SELECT customer_id AS {key}, t.as_of,
               sum(delta_c) AS ar,
               sum(delta_c) FILTER (WHERE due >= t.as_of) AS current_ar,
               sum(delta_c) FILTER (WHERE d < t.as_of - {WINDOW_DAYS}) AS ar_90d_ago,
               sum(sale_c) FILTER (WHERE d >= t.as_of - {WINDOW_DAYS}) AS sales_90d,
               {buckets}
        FROM {source} JOIN dates t ON d < t.as_of
        GROUP BY ALL
    """
    frame = cursor.sql(query).df()
    frame[list(AMOUNTS)] = frame[list(AMOUNTS)].astype("float64").fillna(0.0)
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


def _promises(cursor: duckdb.DuckDBPyConnection, as_of: dt.date) -> pd.DataFrame:
    """Per customer: promises whose promised date is in the window before `as_of`, and how
    many of them were kept, judged by `features.events`' rule over facts dated before it."""
    start = date_literal(as_of - dt.timedelta(days=WINDOW_DAYS))
    end = date_literal(as_of)
    due = f"promised_date >= {start} AND promised_date < {end}"
    owners = f"ck IN (SELECT ck FROM cust WHERE customer_id IN (SELECT customer_id FROM " \
             f"promises WHERE {due}))"
    promised = (f"i.invoice_id IN (SELECT invoice_id FROM promises WHERE {due}) OR "
                f"c.customer_id IN (SELECT customer_id FROM promises WHERE {due} "
                "AND invoice_id IS NULL)")
    inline = materialize(cursor, base_stages(before=as_of, customers=owners,
                                             invoices=promised), replace=True)
    return cursor.sql(with_query(inline, f"""
        SELECT customer_id, count(*) AS promises_due,
               count(*) FILTER (WHERE kept) AS promises_kept
        FROM prom_judged WHERE {due} GROUP BY customer_id""")).df()


def _disputes_sql(as_of: dt.date) -> str:
    """Per customer: disputes open at `as_of`, the sum and the max of their ages in days."""
    day = date_literal(as_of)
    return f"""
        SELECT i.customer_id, count(*) AS disputes_open,
               sum({day} - t.opened_date) AS dispute_age_days_sum,
               max({day} - t.opened_date) AS dispute_age_days_max
        FROM disputes t JOIN invoices i USING (invoice_id)
        WHERE t.opened_date < {day} AND (t.resolved_date IS NULL OR t.resolved_date >= {day})
        GROUP BY i.customer_id"""


def _ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is (within a cent of) zero."""
    return None if abs(denominator) < 0.005 else numerator / denominator


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def _cent(value: float) -> float:
    return round(value, 2) + 0.0  # + 0.0 turns -0.0 into 0.0
