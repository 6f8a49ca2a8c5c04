"""The event ledger: every dated fact of a ledger as rows of additive per-customer measures.

Each event row is `(ck, d, <measures>)`: an integer customer key, the event date and the
change it makes to each measure (NULL where it makes none). The value of a measure for a
customer as of T over a window of w days is the sum of its events dated in [T - w, T - 1]
(all events dated before T for the all-history window); a few measures are a max or a min
instead of a sum.

The point-in-time guarantee rests on one invariant, kept by every event source below: **an
event dated d depends only on facts dated on or before d**. So events dated before T use only
facts dated before T, and appending facts dated on or after T cannot change any feature as of
T. It also means the events dated before T are the same whether they are computed from the
whole ledger or from the ledger with every fact dated on or after T removed, which is what
`event_stages(before=T)` does to make a snapshot cheap.

Amounts are whole cents in the customer's currency, held as integer-valued DOUBLEs: every
sum is exact (below 2**53 cents) and so independent of summation order, which gives
identical results across runs, thread counts, chunkings and truncated ledgers.

Derived facts (never read from the ledger's own summaries):

- prepayments: a payment dated before its invoice (a deposit, a payment on account) is
  applied on the invoice's issue date, the first day the invoice exists.
- settlement: an invoice is settled on the first day on which its payments and credit notes
  dated on or before that day cover its amount (in cents); days late = settlement date - due
  date; late = days late > 0. The balance drops by exactly the open amount on that day, so
  applications beyond the amount are ignored.
- aging: as of T an open invoice is `T - due_date` days past due (summary.py's convention).
  It enters bucket 1-30 as of due + 1, 31-60 as of due + 31, 61-90 as of due + 61 and 90+ as
  of due + 91, carrying the then open amount; an event dated d counts from T = d + 1, so these
  moves are dated due, due + 30, due + 60 and due + 90. A payment dated p reduces the bucket
  the invoice is in as of p + 1.
- promises: judged on the promised date from payments, never from the ledger's `kept`
  column: kept when the payments made from the day of the promise to the promised date (on the
  promised invoice, or on any invoice of the customer when the promise names none) cover the
  promised amount, or the promised invoice is settled by the promised date; broken otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from features.sql import Stage, date_literal

AGING_BOUNDARIES: tuple[int, ...] = (0, 30, 60, 90)
"""Days after the due date on which an open invoice moves into aging bucket 1, 2, 3, 4."""

AGING_LABELS: tuple[str, ...] = ("1_30", "31_60", "61_90", "90_plus")
"""Name suffix of aging buckets 1..4 (days past due 1-30, 31-60, 61-90, 91 and more)."""


@dataclass(frozen=True)
class Measure:
    """One column of the event ledger: what each event adds, and how events combine.

    Sums are integer-valued (counts, cents, days), so they are exact in any order. A max or
    min measure holds the date of its own event (or NULL), so along a customer's events in
    date order its last value is the max and its first the min; it has no windows.
    """

    name: str
    meaning: str
    tables: tuple[str, ...]
    agg: Literal["sum", "max", "min"] = "sum"

    @property
    def sql_type(self) -> str:
        """DuckDB type of the measure: integer-valued DOUBLE for sums, DATE otherwise."""
        return "DOUBLE" if self.agg == "sum" else "DATE"

    @property
    def neutral(self) -> str:
        """Value of the measure for a customer with no event (SQL literal)."""
        return "0" if self.agg == "sum" else "NULL"


_SETTLE = ("invoices", "payments", "credit_notes")

MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("invoices_n", "invoices issued", ("invoices",)),
    Measure("invoiced_c", "amount invoiced, cents of the customer's currency", ("invoices",)),
    Measure("first_invoice_date", "date of the first invoice", ("invoices",), agg="min"),
    Measure("open_n", "invoices open (issued, not settled)", _SETTLE),
    Measure("open_c", "open amount, cents", _SETTLE),
    *(Measure(f"overdue_{label}_c", f"open amount {label.replace('_', '-')} days past due, "
              "cents", _SETTLE) for label in AGING_LABELS),
    Measure("settled_n", "invoices settled", _SETTLE),
    Measure("late_n", "invoices settled after their due date", _SETTLE),
    Measure("days_late_sum", "sum of days late of settled invoices", _SETTLE),
    Measure("days_late_sq", "sum of squared days late of settled invoices", _SETTLE),
    Measure("settled_c", "amount of settled invoices, cents", _SETTLE),
    Measure("days_late_c", "sum of amount (cents) x days late of settled invoices", _SETTLE),
    Measure("last_late_date", "settlement date of the last invoice settled late", _SETTLE,
            agg="max"),
    Measure("late_1_5_n", "invoices settled 1 to 5 days after their due date", _SETTLE),
    Measure("paperless_n", "invoices issued that were sent electronically", ("invoices",)),
    Measure("channel_known_n", "invoices issued with a known delivery channel",
            ("invoices",)),
    *(Measure(f"{what}_{channel}_n", f"invoices sent {words} settled"
              f"{' after their due date' if what == 'late' else ''}", _SETTLE)
      for channel, words in (("paperless", "electronically"), ("paper", "on paper"))
      for what in ("settled", "late")),
    *(Measure(f"pay_wd{k}_n", f"payments made on ISO weekday {k} (1 = Monday)",
              ("invoices", "payments")) for k in range(1, 8)),
    *(Measure(f"{what}_due_wd{k}_n", f"invoices due on ISO weekday {k} (1 = Monday) settled"
              f"{' after their due date' if what == 'late' else ''}", _SETTLE)
      for k in range(1, 8) for what in ("settled", "late")),
    Measure("pay_month_run_n", "payments made around a month's payment runs: on the 15th to "
            "the 17th, the last day of a month or the 1st or 2nd (a run on the 15th or at a "
            "month end, moved past a weekend)", ("invoices", "payments")),
    Measure("paid_c", "amount paid, cents", ("invoices", "payments")),
    Measure("last_payment_date", "date of the last payment", ("invoices", "payments"),
            agg="max"),
    Measure("credited_c", "amount of credit notes, cents", ("invoices", "credit_notes")),
    Measure("disputes_opened_n", "disputes opened", ("invoices", "disputes")),
    Measure("disputes_open_n", "disputes open (opened, not resolved)", ("invoices", "disputes")),
    Measure("promises_made_n", "promises to pay made", ("promises",)),
    Measure("promises_kept_n", "promises kept, counted on the promised date",
            ("promises", "payments", "invoices", "credit_notes")),
    Measure("promises_broken_n", "promises broken, counted on the promised date",
            ("promises", "payments", "invoices", "credit_notes")),
)}
"""Every measure of the event ledger, by name."""


def cents(expr: str) -> str:
    """SQL turning an amount into cents: an integer-valued DOUBLE (exact sums, fast)."""
    return f"round(CAST({expr} AS DOUBLE) * 100)"


def _before(column: str, before: dt.date | None) -> str:
    """A WHERE condition keeping facts dated before `before` (always true without it)."""
    return "TRUE" if before is None else f"{column} < {date_literal(before)}"


def _bucket_case(dpd: str, value: str, label_index: int) -> str:
    """`value` when `dpd` days past due falls into aging bucket `label_index` + 1, else NULL."""
    low = AGING_BOUNDARIES[label_index] + 1
    if label_index + 1 < len(AGING_BOUNDARIES):
        high = AGING_BOUNDARIES[label_index + 1]
        return f"CASE WHEN {dpd} BETWEEN {low} AND {high} THEN {value} END"
    return f"CASE WHEN {dpd} >= {low} THEN {value} END"


def base_stages(
    before: dt.date | None = None, customers: str = "TRUE", invoices: str = "TRUE"
) -> list[Stage]:
    """Stages every builder starts from, over the facts dated before `before` (all if None).

    `customers` is a condition on the customer key `ck` restricting the facts to some
    customers (features of a customer depend only on its own facts); `invoices` a condition
    on the invoice `i` restricting them further to some invoices and their payments and
    credit notes (judging some promises needs only theirs: `features.kpis`).

    - `cust`: customers with an integer key `ck`, exchange rate `rate` (1.0 without one) and
      credit limit in cents `credit_limit_c`;
    - `inv`: invoices with an integer key `ik`, `ck` and `amount_c`;
    - `pay`, `cn`: payments and credit notes in cents;
    - `app_cum`: applications (payments and credit notes) of each invoice, dated `d` no
      earlier than the invoice's issue date (a prepayment counts from the issue date), with
      the cumulative amount applied `cum_c` up to and including each (same-day applications
      are ordered arbitrarily: the day's total effect does not depend on it);
    - `inv_state`: invoices with `settle_date` and the amounts applied before each aging
      boundary (`applied_1_c` .. `applied_4_c`);
    - `prom`, `prom_judged`: promises, and each promise's `kept` judged from payments.
    """
    boundary_sums = ",\n".join(
        f"sum(day_c) FILTER (WHERE d < due_date + {b}) AS applied_{k}_c"
        for k, b in enumerate(AGING_BOUNDARIES, start=1)
    )
    boundary_cols = ", ".join(
        f"coalesce(s.applied_{k}_c, 0) AS applied_{k}_c"
        for k in range(1, len(AGING_BOUNDARIES) + 1)
    )
    return [
        Stage("cust", f"""
            SELECT c.customer_id,
                   CAST(row_number() OVER (ORDER BY c.customer_id) AS INTEGER) AS ck,
                   c.country, c.industry, c.segment, c.payment_terms_days, c.created_date,
                   {cents('c.credit_limit')} AS credit_limit_c,
                   coalesce(f.rate_to_base, 1.0) AS rate
            FROM customers c LEFT JOIN fx_rates f USING (currency)""", materialize=True),
        Stage("inv", f"""
            SELECT i.invoice_id, CAST(i.rowid AS BIGINT) AS ik, c.ck, i.issue_date,
                   i.due_date, i.currency, {cents('i.amount')} AS amount_c, i.paperless
            FROM invoices i JOIN cust c USING (customer_id)
            WHERE {_before('i.issue_date', before)} AND ({customers}) AND ({invoices})""",
              materialize=True),
        Stage("chunk", f"SELECT customer_id, ck FROM cust WHERE {customers}"),
        Stage("pay", f"""
            SELECT invoice_id, customer_id, payment_date, {cents('amount')} AS pay_c
            FROM payments WHERE {_before('payment_date', before)}
              AND customer_id IN (SELECT customer_id FROM chunk)"""),
        Stage("cn", f"""
            SELECT invoice_id, issue_date, {cents('amount')} AS cn_c
            FROM credit_notes WHERE {_before('issue_date', before)}
              AND customer_id IN (SELECT customer_id FROM chunk)"""),
        Stage("app_cum", """
            SELECT i.ik, i.ck, greatest(a.d, i.issue_date) AS d, i.due_date, i.amount_c,
                   i.paperless, a.pay_c, a.pay_n, a.cn_c, a.day_c,
                   sum(a.day_c) OVER (PARTITION BY i.ik ORDER BY greatest(a.d, i.issue_date)
                                      ROWS UNBOUNDED PRECEDING) AS cum_c
            FROM (
                SELECT invoice_id, payment_date AS d, pay_c, 1 AS pay_n, CAST(0 AS DOUBLE) AS cn_c,
                       pay_c AS day_c
                FROM pay
                UNION ALL
                SELECT invoice_id, issue_date AS d, CAST(0 AS DOUBLE) AS pay_c, 0 AS pay_n, cn_c,
                       cn_c AS day_c
                FROM cn
            ) a JOIN inv i USING (invoice_id)""", materialize=True),
        Stage("inv_state", f"""
            SELECT i.ik, i.invoice_id, i.ck, i.issue_date, i.due_date, i.amount_c,
                   s.settle_date, {boundary_cols}
            FROM inv i LEFT JOIN (
                SELECT ik, min(d) FILTER (WHERE cum_c >= amount_c) AS settle_date,
                       {boundary_sums}
                FROM app_cum GROUP BY ik
            ) s USING (ik)""", materialize=True),
        Stage("prom", f"""
            SELECT p.promise_id, c.ck, p.customer_id, p.invoice_id, p.created_date,
                   p.promised_date, {cents('p.amount')} AS amount_c
            FROM promises p JOIN chunk c USING (customer_id)
            WHERE {_before('p.created_date', before)}"""),
        Stage("prom_ik", """
            SELECT pr.*, i.ik FROM prom pr
            LEFT JOIN (SELECT invoice_id, ik FROM inv) i ON i.invoice_id = pr.invoice_id"""),
        Stage("prom_judged", """
            SELECT pr.* EXCLUDE (ik),
                   coalesce(pp.paid_c, 0) >= pr.amount_c
                   OR coalesce(s.settle_date <= pr.promised_date, FALSE) AS kept
            FROM prom_ik pr
            LEFT JOIN (
                SELECT pr.promise_id, sum(a.pay_c) AS paid_c
                FROM prom_ik pr JOIN app_cum a ON a.ik = pr.ik
                WHERE a.d BETWEEN pr.created_date AND pr.promised_date
                GROUP BY pr.promise_id
                UNION ALL
                SELECT pr.promise_id, sum(a.pay_c) AS paid_c
                FROM prom_ik pr JOIN app_cum a ON a.ck = pr.ck
                WHERE pr.invoice_id IS NULL
                  AND a.d BETWEEN pr.created_date AND pr.promised_date
                GROUP BY pr.promise_id
            ) pp USING (promise_id)
            LEFT JOIN inv_state s ON s.ik = pr.ik""", materialize=True),
    ]


@dataclass(frozen=True)
class EventSource:
    """One kind of event: a SELECT of `(ck, d, <its measures>)` over `base_stages`."""

    name: str
    measures: tuple[str, ...]
    sql: str

    def select(self, before: dt.date | None = None) -> str:
        """The events of this source dated before `before`, measures typed."""
        columns = ", ".join(f"CAST({m} AS {MEASURES[m].sql_type}) AS {m}"
                            for m in self.measures)
        return (f"SELECT ck, d, {columns} FROM ({self.sql}) "
                f"WHERE {_before('d', before)} AND d IS NOT NULL")


_SETTLEMENT = ("settled_n", "late_n", "days_late_sum", "days_late_sq", "settled_c",
               "days_late_c", "last_late_date", "late_1_5_n")
_CHANNELS = {"paperless": "paperless", "paper": "NOT paperless"}
"""Delivery channels of invoices (`invoices.paperless`) and the SQL that picks them."""
_CHANNEL_SETTLEMENT = tuple(f"{what}_{channel}_n" for channel in _CHANNELS
                            for what in ("settled", "late"))
_PAY_WEEKDAYS = tuple(f"pay_wd{k}_n" for k in range(1, 8))
_DUE_WEEKDAY_SETTLEMENT = tuple(f"{what}_due_wd{k}_n" for k in range(1, 8)
                                for what in ("settled", "late"))
_OVERDUE = tuple(f"overdue_{label}_c" for label in AGING_LABELS)


def event_sources() -> list[EventSource]:
    """Every kind of event of the event ledger."""
    dpd = "(d + 1 - due_date)"
    reduce = "least(day_c, greatest(amount_c - (cum_c - day_c), 0))"
    settles = "(cum_c >= amount_c AND cum_c - day_c < amount_c)"
    days_late = "(d - due_date)"
    applied_buckets = ", ".join(
        f"-{_bucket_case(dpd, 'reduce', k)} AS overdue_{label}_c"
        for k, label in enumerate(AGING_LABELS)
    )
    move_buckets = ", ".join(
        f"CASE WHEN k = {k} THEN rem WHEN k = {k + 1} THEN -rem END AS overdue_{label}_c"
        for k, label in enumerate(AGING_LABELS, start=1)
    )
    boundaries = ", ".join(f"({k}, {b})" for k, b in enumerate(AGING_BOUNDARIES, start=1))
    pay_weekdays = ", ".join(f"CASE WHEN pay_c > 0 AND isodow(d) = {k} THEN 1 END AS pay_wd{k}_n"
                             for k in range(1, 8))
    def settled_and_late(picks: str, suffix: str) -> str:
        """Counts of the settlements of the invoices `picks` selects, and of the late ones."""
        return (f"CASE WHEN settles AND {picks} THEN 1 END AS settled_{suffix}_n, "
                f"CASE WHEN settles AND {picks} THEN CAST({days_late} > 0 AS INTEGER) END "
                f"AS late_{suffix}_n")

    by_due_weekday = ", ".join(settled_and_late(f"isodow(due_date) = {k}", f"due_wd{k}")
                               for k in range(1, 8))
    month_run = ("CASE WHEN pay_c > 0 AND (day(d) BETWEEN 15 AND 17 OR day(d) <= 2 "
                 "OR d = last_day(d)) THEN 1 END AS pay_month_run_n")
    rem = " ".join(f"WHEN {k} THEN amount_c - applied_{k}_c"
                   for k in range(1, len(AGING_BOUNDARIES) + 1))
    by_channel = ", ".join(settled_and_late(picks, channel) for channel, picks in _CHANNELS.items())
    return [
        EventSource("issue", ("invoices_n", "invoiced_c", "first_invoice_date", "open_n",
                              "open_c", "paperless_n", "channel_known_n"), """
            SELECT ck, issue_date AS d, 1 AS invoices_n, amount_c AS invoiced_c,
                   issue_date AS first_invoice_date, 1 AS open_n, amount_c AS open_c,
                   CASE WHEN paperless THEN 1 END AS paperless_n,
                   CASE WHEN paperless IS NOT NULL THEN 1 END AS channel_known_n
            FROM inv"""),
        EventSource("application", ("credited_c", "paid_c", "last_payment_date", "open_c",
                                    *_OVERDUE, "open_n", *_SETTLEMENT, *_CHANNEL_SETTLEMENT,
                                    *_PAY_WEEKDAYS, *_DUE_WEEKDAY_SETTLEMENT, "pay_month_run_n"),
                    f"""
            SELECT ck, d, nullif(cn_c, 0) AS credited_c, nullif(pay_c, 0) AS paid_c,
                   CASE WHEN pay_c > 0 THEN d END AS last_payment_date,
                   -reduce AS open_c, {applied_buckets},
                   -CAST(settles AS INTEGER) AS open_n,
                   CASE WHEN settles THEN 1 END AS settled_n,
                   CASE WHEN settles THEN CAST({days_late} > 0 AS INTEGER) END AS late_n,
                   CASE WHEN settles THEN {days_late} END AS days_late_sum,
                   CASE WHEN settles THEN {days_late} * {days_late} END AS days_late_sq,
                   CASE WHEN settles THEN amount_c END AS settled_c,
                   CASE WHEN settles THEN amount_c * {days_late} END AS days_late_c,
                   CASE WHEN settles AND {days_late} > 0 THEN d END AS last_late_date,
                   CASE WHEN settles AND {days_late} BETWEEN 1 AND 5 THEN 1 END AS late_1_5_n,
                   {by_channel}, {pay_weekdays}, {by_due_weekday}, {month_run}
            FROM (SELECT *, {reduce} AS reduce, {settles} AS settles FROM app_cum)
            WHERE reduce > 0 OR cn_c > 0"""),
        EventSource("aging", _OVERDUE, f"""
            SELECT ck, d, {move_buckets}
            FROM (
                SELECT s.ck, s.due_date + b.days AS d, b.k,
                       CASE b.k {rem} END AS rem
                FROM (SELECT * FROM inv_state
                      WHERE settle_date IS NULL OR settle_date >= due_date) s
                CROSS JOIN (VALUES {boundaries}) AS b(k, days)
                WHERE s.settle_date IS NULL OR s.settle_date >= s.due_date + b.days
            )"""),
        EventSource("dispute_opened", ("disputes_opened_n", "disputes_open_n"), """
            SELECT i.ck, t.opened_date AS d, 1 AS disputes_opened_n, 1 AS disputes_open_n
            FROM disputes t JOIN inv i USING (invoice_id)"""),
        EventSource("dispute_resolved", ("disputes_open_n",), """
            SELECT i.ck, t.resolved_date AS d, -1 AS disputes_open_n
            FROM disputes t JOIN inv i USING (invoice_id)
            WHERE t.resolved_date IS NOT NULL"""),
        EventSource("promise_made", ("promises_made_n",),
                    "SELECT ck, created_date AS d, 1 AS promises_made_n FROM prom"),
        EventSource("promise_judged", ("promises_kept_n", "promises_broken_n"), """
            SELECT ck, promised_date AS d, CAST(kept AS INTEGER) AS promises_kept_n,
                   CAST(NOT kept AS INTEGER) AS promises_broken_n
            FROM prom_judged"""),
    ]


def events_stage(before: dt.date | None = None, *, materialize: bool = False) -> Stage:
    """Stage `events(ck, d, <every measure>)`: the event ledger, dated before `before`.

    A measure an event does not change is NULL on its row.
    """
    union = "\nUNION ALL BY NAME\n".join(f"({source.select(before)})"
                                          for source in event_sources())
    columns = ", ".join(MEASURES)
    return Stage("events", f"SELECT ck, d, {columns} FROM ({union})", materialize=materialize)


def event_stages(before: dt.date | None = None, customers: str = "TRUE") -> list[Stage]:
    """`base_stages` followed by `events`: the event ledger as of `before`."""
    return [*base_stages(before, customers), events_stage(before)]
