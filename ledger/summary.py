"""What is in a ledger: row counts, dates, customers, open and overdue balances by aging bucket.

Balances are in the reporting currency (through `fx_rates`; with one currency and no rates,
in that currency). An invoice is open at `as_of` when it was issued before `as_of` and the
payments and credit notes dated before `as_of` do not cover its amount.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ledger.loader import Ledger
from ledger.schema import TABLES

AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("current", -(10**6), 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)

EVENT_DATES: tuple[tuple[str, str], ...] = (
    ("invoices", "issue_date"),
    ("payments", "payment_date"),
    ("credit_notes", "issue_date"),
    ("disputes", "opened_date"),
    ("disputes", "resolved_date"),
    ("promises", "created_date"),
)


@dataclass(frozen=True)
class LedgerSummary:
    """Headline figures of a ledger as of one date."""

    source: str
    rows: dict[str, int]
    first_date: dt.date | None
    last_date: dt.date | None
    as_of: dt.date | None
    customers: int
    customers_with_invoices: int
    currencies: list[str]
    reporting_currency: str
    open_invoices: int
    open_balance: float
    overdue_balance: float
    aging: dict[str, float]
    ignored_columns: dict[str, list[str]]


def ledger_end(ledger: Ledger) -> dt.date | None:
    """The day after the last dated fact: the natural 'as of' for a ledger export."""
    last = _date_range(ledger)[1]
    return None if last is None else last + dt.timedelta(days=1)


def summarize(ledger: Ledger, as_of: dt.date | None = None) -> LedgerSummary:
    """Compute the summary; `as_of` defaults to the day after the last dated fact."""
    first, last = _date_range(ledger)
    as_of = as_of or ledger_end(ledger)
    rows = {name: ledger.count(name) for name in TABLES}
    currencies = [r[0] for r in ledger.rows("SELECT DISTINCT currency FROM customers ORDER BY 1")]
    open_count, open_balance, aging = _open_balances(ledger, as_of) if as_of else (0, 0.0, {})
    return LedgerSummary(
        source=ledger.source,
        rows=rows,
        first_date=first,
        last_date=last,
        as_of=as_of,
        customers=rows["customers"],
        customers_with_invoices=ledger.scalar("SELECT count(DISTINCT customer_id) FROM invoices"),
        currencies=currencies,
        reporting_currency=reporting_currency(ledger),
        open_invoices=open_count,
        open_balance=open_balance,
        overdue_balance=sum(v for k, v in aging.items() if k != "current"),
        aging=aging,
        ignored_columns=ledger.ignored_columns,
    )


def open_amounts_sql(as_of: dt.date) -> str:
    """SQL for every invoice open at `as_of`: its id, customer, due date and open amount."""
    return f"""
        WITH applied AS (
            SELECT invoice_id, sum(amount) AS amount FROM (
                SELECT invoice_id, amount FROM payments WHERE payment_date < DATE '{as_of}'
                UNION ALL
                SELECT invoice_id, amount FROM credit_notes WHERE issue_date < DATE '{as_of}'
            ) GROUP BY invoice_id
        )
        SELECT i.invoice_id, i.customer_id, i.currency, i.due_date,
               i.amount - coalesce(a.amount, 0) AS open_amount
        FROM invoices i LEFT JOIN applied a USING (invoice_id)
        WHERE i.issue_date < DATE '{as_of}' AND i.amount - coalesce(a.amount, 0) > 0.005
    """


def _open_balances(ledger: Ledger, as_of: dt.date) -> tuple[int, float, dict[str, float]]:
    """Open invoice count, open balance and balance per aging bucket, in reporting currency."""
    cases = " ".join(
        f"WHEN days_past_due BETWEEN {low} AND {high} THEN '{name}'" if high is not None
        else f"WHEN days_past_due >= {low} THEN '{name}'"
        for name, low, high in AGING_BUCKETS
    )
    result = ledger.rows(f"""
        WITH open AS ({open_amounts_sql(as_of)}),
        valued AS (
            SELECT o.open_amount * coalesce(f.rate_to_base, 1.0) AS amount,
                   DATE '{as_of}' - o.due_date AS days_past_due
            FROM open o LEFT JOIN fx_rates f USING (currency)
        )
        SELECT CASE {cases} END AS bucket, count(*) AS n, sum(amount) AS amount
        FROM valued GROUP BY 1
    """)
    by_bucket = {bucket: (n, amount) for bucket, n, amount in result}
    aging = {name: round(by_bucket.get(name, (0, 0.0))[1], 2) for name, *_ in AGING_BUCKETS}
    count = sum(n for n, _ in by_bucket.values())
    return count, round(sum(aging.values()), 2), aging


def _date_range(ledger: Ledger) -> tuple[dt.date | None, dt.date | None]:
    union = " UNION ALL ".join(f"SELECT {col} AS d FROM {table}"
                               for table, col in EVENT_DATES)
    return ledger.rows(f"SELECT min(d), max(d) FROM ({union})")[0]


def reporting_currency(ledger: Ledger) -> str:
    """The currency whose rate is 1, else the only currency, else 'reporting currency'."""
    currencies = [r[0] for r in ledger.rows("SELECT DISTINCT currency FROM customers ORDER BY 1")]
    unit = [r[0] for r in ledger.rows(
        "SELECT currency FROM fx_rates WHERE rate_to_base = 1 ORDER BY 1")]
    if len(unit) == 1:
        return unit[0]
    return currencies[0] if len(currencies) == 1 else "reporting currency"
