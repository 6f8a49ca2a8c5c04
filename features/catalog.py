"""Every feature, defined once: name, meaning, window, kind, dtype, tables and its SQL.

A feature's `sql` is a DuckDB expression. `{measure}` stands for the sum (or max/min) of an
event-ledger measure (`features.events.MEASURES`) over the feature's window as of the row's
date; `{measure@all}` or `{measure@90}` names the window explicitly. The other names it uses
are columns every builder provides:

- `as_of` (DATE): the date the features are as of;
- customer: `rate` (reporting-currency units per unit of the customer's currency),
  `credit_limit_c` (cents), `created_date`, `payment_terms_days`, `country`, `industry`,
  `segment`;
- invoice (kinds `invoice` and `state`): `amount_c` (cents), `issue_date`, `due_date`,
  `currency`, `paperless` (the delivery channel known at issue, NULL if unknown);
- invoice state as of `as_of` (kind `state`, snapshot only): `inv_open_c`, `inv_paid_c`,
  `inv_credited_c`, `inv_payments_n`, `inv_open_dispute`, `inv_active_promise`,
  `inv_broken_promise`.
- invoice calendar (kind `invoice`; `features.calendar`): `due_holiday` (1 if the due date
  is a public holiday of the customer's country, else 0) and `due_business_shift` (days from
  the due date to the first business day on or after it), both NULL when the country has no
  known holiday calendar;
- customer habits as of `as_of` (`features.habits`): the last 3 and 5 settled invoices
  (`last3_n`, `last3_late_n`, `last3_days_late_sum`, the same for 5), the median and
  interquartile range of days late of the last 10 (`recent_days_late_median`,
  `recent_days_late_iqr`), and the population prior (`prior_late_share`,
  `prior_short_late_share`).

Windows: a feature as of T uses facts dated strictly before T; a window of w days covers the
facts dated from T - w to T - 1 inclusive (T - w counts, T itself does not). "all" covers all
history before T; "as of" marks point-in-time state (what is open at T); "static" a customer
attribute. Ratios with an empty denominator are null (NaN); counts and amounts of a customer
without history are 0.

Each feature also carries what models need to know about it: its type (`dtype`, and
`categories` when fixed), whether models may use it (`model_input`: `model_inputs(scope)` is
the allow-list), the direction of its effect on risk when that is certain (`monotone`), the
phrase reason codes say it with (`reason`) and how its value is defined for an invoice on its
issue date (`at_issue`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from features.events import AGING_LABELS, MEASURES

FeatureKind = Literal["history", "exposure", "activity", "invoice", "customer", "state"]
FeatureType = Literal["float", "int", "bool", "category"]
AtIssue = Literal["as of issue date", "zero at issue", "minus the payment terms",
                  "not available at issue"]
"""How a feature's value is defined for an invoice on its issue date: computed as of that
date by the invoice builder; 0 (False) because nothing has happened to the invoice yet;
issue date - due date; or not computed at issue (the invoice builder does not output it)."""

COLUMN_DTYPES: dict[str, str] = {"float": "float64", "int": "float64", "bool": "bool",
                                 "category": "string"}
"""The builders' column dtype of each feature type (whole numbers too use float64 and NaN)."""

WINDOWS: tuple[int | None, ...] = (None, 90, 180, 365)
"""History windows in days; None is all history."""

TREND_WINDOW = 90
"""The recent window the trend features compare with all history."""

WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
"""Weekday names in ISO order (Monday = 1), the categories of weekday features."""

PRIOR_STRENGTH = 5.0
"""Empirical Bayes: weight of the population prior, in invoices. A rate of k events in n
trials is shown as (k + a) / (n + a + b) with a = PRIOR_STRENGTH x prior and
b = PRIOR_STRENGTH x (1 - prior): no history gives the prior, 5 settled invoices weigh as much
as the prior, many give the customer's own rate (`features.habits` computes the prior)."""

HABIT_WINDOW = 365
"""Window of the payment-weekday habit, in days."""

_PLACEHOLDER = re.compile(r"\{(\w+)(?:@(\w+))?\}")

KIND_SCOPE: dict[str, tuple[str, ...]] = {
    "history": ("invoice", "snapshot", "customer"),
    "exposure": ("invoice", "snapshot", "customer"),
    "activity": ("invoice", "snapshot", "customer"),
    "customer": ("invoice", "snapshot", "customer"),
    "invoice": ("invoice", "snapshot"),
    "state": ("snapshot",),
}
"""Which builders output the features of each kind."""


@dataclass(frozen=True)
class Reason:
    """How a reason code says a feature's value, e.g. "paid {value:.0%} of invoices late".

    Templates are `str.format` strings over `value`, `abs` (its absolute value), `amount`
    (e^value - 1: the amount a log(1 + amount) feature stands for) and `years` (value / 365).
    """

    text: str
    """The phrase for a value (a positive one when `negative` or `zero` are given)."""
    negative: str | None = None
    """The phrase for a value below 0, if it reads differently."""
    zero: str | None = None
    """The phrase for 0 (False), if it reads differently."""
    missing: str | None = None
    """The phrase for a missing value; None: "no <feature name> on record"."""


@dataclass(frozen=True)
class FeatureSpec:
    """One feature: what it means, over which window, and how it is computed."""

    name: str
    """Column name in the builders' output."""
    meaning: str
    """One sentence a data scientist or credit manager understands."""
    kind: FeatureKind
    """history (payment behaviour), exposure (open balances), activity, invoice, customer
    (static attributes) or state (the invoice's own state, snapshot only)."""
    sql: str
    """DuckDB expression; `{measure}` / `{measure@window}` are event-ledger aggregates."""
    window: int | None = None
    """Window in days for `{measure}` placeholders; None = all history (or point in time)."""
    dtype: FeatureType = "float"
    """float, int (whole numbers), bool or category (a string)."""
    extra_tables: tuple[str, ...] = ()
    """Ledger tables used besides those of the measures (fx_rates is added by itself)."""
    window_label: str | None = None
    """How the window is shown when `window` alone does not say it (e.g. a trend)."""
    reason: Reason = field(kw_only=True)
    """How reason codes say the feature's value."""
    monotone: Literal[-1, 0, 1] = field(default=0, kw_only=True)
    """+1 (-1) when more of the feature, all else equal, can never lower (raise) the risk of
    every model's bad outcome (late, unpaid, seriously delinquent); 0 when not certain. Models
    are constrained to this direction, so a wrong sign hurts them: 0 unless certain."""
    at_issue: AtIssue = field(default="as of issue date", kw_only=True)
    """How the value is defined for an invoice on its issue date."""
    categories: tuple[str, ...] | None = field(default=None, kw_only=True)
    """The fixed categories of a category feature; None: an open set, learned in training."""
    model_input: bool = field(default=True, kw_only=True)
    """Whether models may use the feature (False: a local-currency amount or a code that
    stands for nothing the other features do not say)."""

    @property
    def column_dtype(self) -> str:
        """dtype of the builders' output column: float64 (NaN for missing), bool or string."""
        return COLUMN_DTYPES[self.dtype]

    @property
    def measures(self) -> list[tuple[str, int | None]]:
        """The (measure, window) pairs the expression uses."""
        pairs = []
        for name, window in _PLACEHOLDER.findall(self.sql):
            if name not in MEASURES:
                raise ValueError(f"feature {self.name!r} uses unknown measure {name!r}")
            pairs.append((name, self.window if not window else _parse_window(window)))
        return pairs

    @property
    def tables(self) -> tuple[str, ...]:
        """Ledger tables the feature needs (`customers` always)."""
        names = {"customers", *self.extra_tables}
        if re.search(r"\brate\b", self.sql):
            names.add("fx_rates")
        for measure, _ in self.measures:
            names.update(MEASURES[measure].tables)
        return tuple(sorted(names))

    @property
    def window_text(self) -> str:
        """The window as shown to people: `90d`, `all`, `as of` or `static`."""
        if self.window_label is not None:
            return self.window_label
        if self.window is not None:
            return f"{self.window}d"
        if self.kind in ("history", "activity"):
            return "all"
        if self.kind in ("customer",) and not self.measures:
            return "static"
        return "as of"

    @property
    def scope(self) -> tuple[str, ...]:
        """Builders that output the feature: invoice, snapshot, customer."""
        return KIND_SCOPE[self.kind]

    def expression(self) -> str:
        """The SQL with every placeholder replaced by its aggregate column name."""
        return _PLACEHOLDER.sub(
            lambda m: measure_column(m.group(1), self.window if not m.group(2)
                                     else _parse_window(m.group(2))),
            self.sql,
        )


def measure_column(measure: str, window: int | None) -> str:
    """Name of the column holding `measure` aggregated over `window`."""
    return f"{measure}__{'all' if window is None else window}"


def _parse_window(text: str) -> int | None:
    return None if text == "all" else int(text)


def _suffix(window: int | None) -> str:
    return "all" if window is None else f"{window}d"


def _span(window: int | None) -> str:
    return "over all history" if window is None else f"in the last {window} days"


def _when(window: int | None) -> str:
    """The window as reason codes say it."""
    return "in all history" if window is None else f"over the last {window} days"


def _history(window: int | None) -> list[FeatureSpec]:
    s, span, when = _suffix(window), _span(window), _when(window)
    none_settled = f"no invoices settled {when}"
    return [
        FeatureSpec(f"settled_count_{s}", f"Invoices settled {span}.", "history",
                    "{settled_n}", window, dtype="int",
                    reason=Reason(f"{{value:.0f}} invoices settled {when}")),
        FeatureSpec(f"late_share_{s}", f"Share of the invoices settled {span} that were "
                    "settled after their due date.", "history",
                    "{late_n} / nullif({settled_n}, 0)", window, monotone=1,
                    reason=Reason(f"paid {{value:.0%}} of invoices late {when}",
                                  missing=none_settled)),
        FeatureSpec(f"days_late_mean_{s}", f"Mean days late (settlement - due date, negative "
                    f"= early) of the invoices settled {span}.", "history",
                    "{days_late_sum} / nullif({settled_n}, 0)", window, monotone=1,
                    reason=Reason(f"paid {{value:.0f}} days late on average {when}",
                                  negative=f"paid {{abs:.0f}} days early on average {when}",
                                  missing=none_settled)),
        FeatureSpec(f"days_late_std_{s}", "Standard deviation (population) of days late of "
                    f"the invoices settled {span}.", "history",
                    "sqrt(({settled_n} * {days_late_sq} - {days_late_sum} * {days_late_sum})"
                    " / nullif({settled_n} * {settled_n}, 0))", window,
                    reason=Reason(f"payment timing varied by {{value:.0f}} days {when}",
                                  missing=none_settled)),
        FeatureSpec(f"days_late_weighted_{s}", "Amount-weighted mean days late of the "
                    f"invoices settled {span}.", "history",
                    "{days_late_c} / nullif({settled_c}, 0)", window, monotone=1,
                    reason=Reason(f"paid {{value:.0f}} days late on average by amount {when}",
                                  negative=f"paid {{abs:.0f}} days early on average by amount "
                                           f"{when}",
                                  missing=none_settled)),
    ]


def shrunk(events: str, trials: str, prior: str) -> str:
    """SQL of the empirical-Bayes rate (k + a) / (n + a + b) around `prior` (see
    `PRIOR_STRENGTH`); NULL when the prior is NULL (no settlement in the population yet)."""
    return f"(({events}) + {PRIOR_STRENGTH:g} * ({prior})) / (({trials}) + {PRIOR_STRENGTH:g})"


def _weekday_counts(window: int) -> list[str]:
    """The customer's payments on each ISO weekday over `window` days (placeholders)."""
    return [f"{{pay_wd{k}_n@{window}}}" for k in range(1, 8)]


def _usual_weekday(window: int) -> str:
    """SQL of the customer's usual payment weekday (ISO number, the earliest of ties), NULL
    without payments."""
    counts = _weekday_counts(window)
    most = f"greatest({', '.join(counts)})"
    cases = " ".join(f"WHEN {c} = {most} THEN {k}" for k, c in enumerate(counts, start=1))
    return f"CASE WHEN {most} > 0 THEN CASE {cases} END END"


PAY_RUN_SHARE = 0.1
"""A weekday is one of the customer's usual payment days when it holds at least this share of
its payments (`due_pay_run_gap`)."""


def _pay_run_gap(counts: list[str]) -> str:
    """SQL of `due_pay_run_gap` from the customer's payments per ISO weekday (`counts`): the
    usual weekdays as a 7-bit mask, and the gap of each due weekday and mask read from one
    constant list (a CASE per weekday and mask made an expression DuckDB took about 20 ms to
    set up on every statement that computes it)."""
    total = f"({' + '.join(counts)})"
    mask = " + ".join(f"{2 ** k} * CAST({c} >= {PAY_RUN_SHARE} * {total} AS INTEGER)"
                      for k, c in enumerate(counts))
    gaps = ", ".join("NULL" if (gap := _run_gap(due, usual)) is None else str(gap)
                     for due in range(7) for usual in range(128))
    return (f"CASE WHEN {total} > 0 THEN "
            f"list_extract([{gaps}], (isodow(due_date) - 1) * 128 + ({mask}) + 1) END")


def _run_gap(due: int, usual: int) -> int | None:
    """Business days strictly between a due date on weekday `due` (0 = Monday) and the next
    weekday in the bit mask `usual` (bit k: weekday k is a usual payment day), -1 when due on
    one; None without usual weekdays."""
    between = 0
    for offset in range(7):
        if usual >> ((due + offset) % 7) & 1:
            return -1 if offset == 0 else between
        if offset:
            between += (due + offset) % 7 < 5  # a Monday-Friday day passed on the way
    return None


_WEEKDAY_SQL = "[" + ", ".join(f"'{d}'" for d in WEEKDAYS) + "]"
_SEQUENCE_TABLES = ("invoices", "payments", "credit_notes")
_NO_CALENDAR = "no holiday calendar for the customer's country"


def _calendar() -> list[FeatureSpec]:
    """Calendar features of the invoice's due date."""
    quarter_end = "CAST(date_trunc('quarter', due_date) + INTERVAL 3 MONTH AS DATE) - 1"
    return [
        FeatureSpec("due_weekday", "Weekday of the due date (Mon..Sun): payment runs, and "
                    "weekends, shift when invoices are paid.", "invoice",
                    f"list_extract({_WEEKDAY_SQL}, isodow(due_date))", dtype="category",
                    categories=WEEKDAYS, extra_tables=("invoices",),
                    reason=Reason("due on a {value}", missing="no due date")),
        FeatureSpec("due_weekend", "1 if the due date falls on a Saturday or Sunday, else 0.",
                    "invoice", "CAST(isodow(due_date) >= 6 AS INTEGER)", dtype="int",
                    extra_tables=("invoices",),
                    reason=Reason("due on a weekend", zero="due on a weekday")),
        FeatureSpec("due_days_to_weekday", "Days from the due date to the next Monday-Friday "
                    "day (0 on a weekday, 2 on a Saturday, 1 on a Sunday).", "invoice",
                    "CASE isodow(due_date) WHEN 6 THEN 2 WHEN 7 THEN 1 ELSE 0 END", dtype="int",
                    extra_tables=("invoices",),
                    reason=Reason("due {value:.0f} days before the next weekday",
                                  zero="due on a weekday")),
        FeatureSpec("due_holiday", "1 if the due date is a public holiday of the customer's "
                    "country, else 0 (null when its calendar is unknown).", "invoice",
                    "due_holiday", dtype="int", extra_tables=("invoices",),
                    reason=Reason("due on a public holiday", zero="not due on a holiday",
                                  missing=_NO_CALENDAR)),
        FeatureSpec("due_days_to_business_day", "Days from the due date to the first business "
                    "day on or after it (weekends and the country's public holidays; null "
                    "when its calendar is unknown).", "invoice", "due_business_shift",
                    dtype="int", extra_tables=("invoices",),
                    reason=Reason("due {value:.0f} days before the next business day",
                                  zero="due on a business day", missing=_NO_CALENDAR)),
        FeatureSpec("due_days_to_month_end", "Days from the due date to the last day of its "
                    "month (0 on that day).", "invoice", "last_day(due_date) - due_date",
                    dtype="int", extra_tables=("invoices",),
                    reason=Reason("due {value:.0f} days before a month end",
                                  zero="due on a month end")),
        FeatureSpec("due_days_to_half_month", "Days from the due date to the next 15th or "
                    "month end, the usual days of twice-monthly and month-end payment runs (0 "
                    "on them).", "invoice",
                    "CASE WHEN day(due_date) <= 15 THEN 15 - day(due_date) "
                    "ELSE last_day(due_date) - due_date END", dtype="int",
                    extra_tables=("invoices",),
                    reason=Reason("due {value:.0f} days before a 15th or month end",
                                  zero="due on a 15th or month end")),
        FeatureSpec("due_days_to_quarter_end", "Days from the due date to the last day of its "
                    "calendar quarter (0 on that day).", "invoice",
                    f"{quarter_end} - due_date", dtype="int", extra_tables=("invoices",),
                    reason=Reason("due {value:.0f} days before a quarter end",
                                  zero="due on a quarter end")),
    ]


def _habits() -> list[FeatureSpec]:
    """The customer's payment habits, point in time, rates shrunk toward the population."""
    w = HABIT_WINDOW
    counts = _weekday_counts(w)
    usual = _usual_weekday(w)
    none_paid = f"no payments over the last {w} days"
    specs = [
        FeatureSpec("pay_weekday_usual", f"Weekday of most of the customer's payments in the "
                    f"last {w} days (the earliest of ties; null without payments).", "history",
                    f"list_extract({_WEEKDAY_SQL}, {usual})", w, dtype="category",
                    categories=WEEKDAYS, model_input=False,
                    reason=Reason("usually pays on a {value}", missing=none_paid)),
        FeatureSpec("pay_weekday_regularity", f"Share of the payments of the last {w} days "
                    "made on the usual weekday, shrunk toward 1/7 (no habit) when payments are "
                    "few.", "history", shrunk(f"greatest({', '.join(counts)})",
                                              " + ".join(counts), "1.0 / 7"), w,
                    reason=Reason("pays {value:.0%} of the time on the same weekday")),
        FeatureSpec("due_to_usual_pay_day", "Days from the due date to the next usual payment "
                    "weekday of the customer (0 when due on it; null without payments).",
                    "invoice", f"({usual} - isodow(due_date) + 7) % 7", w, dtype="int",
                    extra_tables=("invoices",),
                    reason=Reason("due {value:.0f} days before the customer's usual payment "
                                  "day", zero="due on the customer's usual payment day",
                                  missing=none_paid)),
        FeatureSpec("due_pay_run_gap", "Business days (Monday to Friday) strictly between the "
                    "due date and the next weekday on which the customer usually pays (at least "
                    f"{PAY_RUN_SHARE:.0%} of its payments of the last {w} days: one run day for "
                    "a weekly payer, every weekday for one without a habit); -1 when due on "
                    "such a weekday, null without payments. An invoice due just before a "
                    "payment run is paid in it, a day or more late.", "invoice",
                    _pay_run_gap(counts), w, dtype="int", extra_tables=("invoices",),
                    reason=Reason("due {value:.0f} business days before the customer's next "
                                  "payment run", negative="due on one of the customer's usual "
                                  "payment days", missing=none_paid)),
        FeatureSpec("late_share_shrunk", "Share of the invoices settled over all history that "
                    "were late, shrunk toward the population's share before as_of when they "
                    "are few (empirical Bayes).", "history",
                    shrunk("{late_n@all}", "{settled_n@all}", "prior_late_share"), monotone=1,
                    extra_tables=_SEQUENCE_TABLES,
                    reason=Reason("paid about {value:.0%} of invoices late (history weighed "
                                  "against all customers)",
                                  missing="no invoice settled by any customer yet")),
        FeatureSpec("short_late_share", "Share of the customer's late settlements that were "
                    "1-5 days late, shrunk toward the population's share.", "history",
                    shrunk("{late_1_5_n@all}", "{late_n@all}", "prior_short_late_share"),
                    extra_tables=_SEQUENCE_TABLES,
                    reason=Reason("{value:.0%} of late payments were 1 to 5 days late",
                                  missing="no late invoice of any customer yet")),
        FeatureSpec("days_late_median_recent", "Median days late (settlement - due date) of "
                    "the last 10 invoices settled (null if none).", "history",
                    "recent_days_late_median", extra_tables=_SEQUENCE_TABLES,
                    window_label="last 10",
                    reason=Reason("typically pays {value:.0f} days late",
                                  negative="typically pays {abs:.0f} days early",
                                  zero="typically pays on the due date",
                                  missing="no invoices settled")),
        FeatureSpec("days_late_iqr_recent", "Interquartile range of days late of the last 10 "
                    "invoices settled: how regular the timing is (null if none).", "history",
                    "recent_days_late_iqr", extra_tables=_SEQUENCE_TABLES,
                    window_label="last 10",
                    reason=Reason("payment timing spread over {value:.0f} days recently",
                                  missing="no invoices settled")),
    ]
    own = shrunk("{late_n@all}", "{settled_n@all}", "prior_late_share")
    same_weekday = " ".join(
        f"WHEN {k} THEN "
        + shrunk(f"{{late_due_wd{k}_n@all}}", f"{{settled_due_wd{k}_n@all}}", own)
        for k in range(1, 8))
    specs += [
        FeatureSpec("late_share_due_weekday", "Late share of the customer's invoices "
                    "settled before as_of that were due on the same weekday as this one, "
                    "shrunk toward the customer's own shrunk late share when they are few: "
                    "a customer paying in weekly runs is late on the days just before its run "
                    "day, not on it.", "invoice", f"CASE isodow(due_date) {same_weekday} END",
                    extra_tables=_SEQUENCE_TABLES, window_label="all", monotone=1,
                    reason=Reason("paid about {value:.0%} of earlier invoices due on the same "
                                  "weekday late",
                                  missing="no invoice settled by any customer yet")),
        FeatureSpec("pay_month_run_share", f"Share of the customer's payments of the last {w} "
                    "days made around a month's payment runs (the 15th to the 17th, the last "
                    "day of a month, the 1st or 2nd); null without payments. It tells when an "
                    "invoice will be paid against its due date (`due_days_to_half_month`), so "
                    "it is an invoice input, not one of the customer model.", "invoice",
                    f"{{pay_month_run_n@{w}}} / nullif({' + '.join(counts)}, 0)", w,
                    reason=Reason("made {value:.0%} of payments around the 15th or a month end",
                                  missing=none_paid)),
    ]
    for k in (3, 5):
        specs += [
            FeatureSpec(f"last{k}_late_share", f"Share of the last {k} invoices settled that "
                        "were late, shrunk toward the population's late share.", "history",
                        shrunk(f"last{k}_late_n", f"last{k}_n", "prior_late_share"),
                        extra_tables=_SEQUENCE_TABLES, window_label=f"last {k}",
                        monotone=1,
                        reason=Reason(f"about {{value:.0%}} of the last {k} invoices paid late",
                                      missing="no invoice settled by any customer yet")),
            FeatureSpec(f"last{k}_days_late", f"Mean days late of the last {k} invoices "
                        "settled (null if none).", "history",
                        f"last{k}_days_late_sum / nullif(last{k}_n, 0)",
                        extra_tables=_SEQUENCE_TABLES, window_label=f"last {k}",
                        monotone=1,
                        reason=Reason(f"paid the last {k} invoices {{value:.0f}} days late on "
                                      "average",
                                      negative=f"paid the last {k} invoices {{abs:.0f}} days "
                                               "early on average",
                                      missing="no invoices settled")),
        ]
    specs.append(
        FeatureSpec("amount_vs_typical_365d", "Invoice amount over the customer's mean invoice "
                    "amount in the last 365 days (null without invoices then).", "invoice",
                    "amount_c / nullif({invoiced_c} / nullif({invoices_n}, 0), 0)", 365,
                    reason=Reason("invoice {value:.1f} times the customer's typical amount this "
                                  "year", missing="no invoices in the last 365 days")))
    return specs


CHANNEL_FEATURES: tuple[str, ...] = ("paperless", "paperless_share", "late_share_same_channel")
"""Features of the delivery channel (`invoices.paperless`): missing where the ledger has none."""


def _channel() -> list[FeatureSpec]:
    """How invoices are delivered (paper or electronic), known at issue: the invoice's own
    channel, the customer's share of earlier invoices sent electronically, and its late share
    among earlier invoices sent the same way."""
    own = "{late_n@all} / nullif({settled_n@all}, 0)"
    same = {channel: shrunk(f"{{late_{channel}_n@all}}", f"{{settled_{channel}_n@all}}", own)
            for channel in ("paperless", "paper")}
    unknown = "delivery channel unknown"
    return [
        FeatureSpec("paperless", "1 if the invoice was sent electronically (e-mail, EDI, "
                    "portal), 0 if on paper; null when the ledger does not say.", "invoice",
                    "CAST(paperless AS INTEGER)", dtype="int", extra_tables=("invoices",),
                    reason=Reason("invoice sent electronically", zero="invoice sent on paper",
                                  missing=unknown)),
        FeatureSpec("paperless_share", "Share of the customer's invoices issued before as_of "
                    "(with a known channel) that were sent electronically.", "history",
                    "{paperless_n} / nullif({channel_known_n}, 0)",
                    reason=Reason("{value:.0%} of earlier invoices sent electronically",
                                  missing="no earlier invoice with a known delivery channel")),
        FeatureSpec("late_share_same_channel", "Late share of the customer's invoices settled "
                    "before as_of that were sent the way this one is (paper or electronic), "
                    "shrunk toward the customer's own late share when they are few (empirical "
                    "Bayes; null when the channel or every settlement is unknown).", "invoice",
                    f"CASE WHEN paperless THEN {same['paperless']} "
                    f"WHEN NOT paperless THEN {same['paper']} END",
                    extra_tables=("invoices",), window_label="all", monotone=1,
                    reason=Reason("paid about {value:.0%} of earlier invoices sent the same way "
                                  "late", missing="no settled invoice or delivery channel "
                                                  "on record")),
    ]


def _bucket_text(label: str) -> str:
    return label.replace("_plus", "+").replace("_", "-")


def _overdue_words(label: str) -> str:
    return "more than 90 days" if label == "90_plus" else f"{_bucket_text(label)} days"


_STATE_TABLES = ("invoices", "payments", "credit_notes")


@cache
def _catalog() -> tuple[FeatureSpec, ...]:
    specs: list[FeatureSpec] = []
    for window in WINDOWS:
        specs += _history(window)
    t = TREND_WINDOW
    specs += [
        FeatureSpec("late_share_trend", f"Late share in the last {t} days minus late share "
                    "over all history (positive = paying late more often lately).", "history",
                    f"{{late_n@{t}}} / nullif({{settled_n@{t}}}, 0) "
                    "- {late_n@all} / nullif({settled_n@all}, 0)", window_label=f"{t}d vs all",
                    reason=Reason(f"late share up {{abs:.0%}} in the last {t} days against all "
                                  "history",
                                  negative=f"late share down {{abs:.0%}} in the last {t} days "
                                           "against all history",
                                  zero=f"late share unchanged in the last {t} days",
                                  missing=f"no invoices settled in the last {t} days")),
        FeatureSpec("days_late_trend", f"Mean days late in the last {t} days minus mean days "
                    "late over all history.", "history",
                    f"{{days_late_sum@{t}}} / nullif({{settled_n@{t}}}, 0) "
                    "- {days_late_sum@all} / nullif({settled_n@all}, 0)",
                    window_label=f"{t}d vs all",
                    reason=Reason(f"paying {{abs:.0f}} days later in the last {t} days than in "
                                  "all history",
                                  negative=f"paying {{abs:.0f}} days sooner in the last {t} "
                                           "days than in all history",
                                  zero=f"paying as usual in the last {t} days",
                                  missing=f"no invoices settled in the last {t} days")),
        FeatureSpec("days_since_last_late", "Days since the last invoice settled late "
                    "(null if none).", "history", "as_of - {last_late_date}", dtype="int",
                    reason=Reason("last late payment {value:.0f} days ago",
                                  missing="no late payment on record")),
        FeatureSpec("days_since_last_payment", "Days since the customer's last payment (null "
                    "if none): a customer who stopped paying stands out here first.", "history",
                    "as_of - {last_payment_date}", dtype="int",
                    reason=Reason("last payment {value:.0f} days ago",
                                  missing="no payment on record")),
        FeatureSpec("paid_vs_invoiced_90d", "Amount paid in the last 90 days over the amount "
                    "invoiced in them (null when nothing was invoiced).", "history",
                    "{paid_c} / nullif({invoiced_c}, 0)", 90,
                    reason=Reason("paid {value:.0%} of what was invoiced in the last 90 days",
                                  missing="nothing invoiced in the last 90 days")),
        FeatureSpec("open_invoice_count", "Invoices open (issued, not settled).",
                    "exposure", "{open_n}", dtype="int",
                    reason=Reason("{value:.0f} invoices open")),
        FeatureSpec("open_balance_base", "Open amount of all the customer's invoices, in the "
                    "reporting currency.", "exposure", "{open_c} / 100 * rate",
                    reason=Reason("{value:,.0f} open")),
        *(FeatureSpec(f"overdue_{label}_amount", f"Open amount {_bucket_text(label)} days "
                      "past due, in the reporting currency.", "exposure",
                      f"{{overdue_{label}_c}} / 100 * rate",
                      reason=Reason(f"{{value:,.0f}} overdue {_overdue_words(label)}"))
          for label in AGING_LABELS),
        FeatureSpec("overdue_share", "Share of the open amount that is past due.", "exposure",
                    " + ".join(f"{{overdue_{label}_c}}" for label in AGING_LABELS).join(
                        ("(", ") / nullif({open_c}, 0)")), monotone=1,
                    reason=Reason("{value:.0%} of the open balance overdue",
                                  missing="nothing open")),
        FeatureSpec("utilization", "Open amount over the credit limit (null when the limit "
                    "is 0).", "exposure", "{open_c} / nullif(credit_limit_c, 0)",
                    reason=Reason("using {value:.0%} of the credit limit",
                                  missing="no credit limit")),
        FeatureSpec("disputes_opened_all", "Disputes opened over all history.", "history",
                    "{disputes_opened_n}", dtype="int",
                    reason=Reason("{value:.0f} disputes opened in all history")),
        FeatureSpec("disputes_opened_365d", "Disputes opened in the last 365 days.",
                    "history", "{disputes_opened_n}", 365, dtype="int",
                    reason=Reason("{value:.0f} disputes opened over the last 365 days")),
        FeatureSpec("disputes_open", "Disputes open (opened and not yet resolved).",
                    "exposure", "{disputes_open_n}", dtype="int",
                    reason=Reason("{value:.0f} disputes open")),
        FeatureSpec("credit_note_share_all", "Amount credited over amount invoiced, all "
                    "history.", "history", "{credited_c} / nullif({invoiced_c}, 0)",
                    reason=Reason("credit notes worth {value:.0%} of invoiced in all history",
                                  missing="nothing invoiced in all history")),
        FeatureSpec("credit_note_share_365d", "Amount credited over amount invoiced in the "
                    "last 365 days (each by its own date).", "history",
                    "{credited_c} / nullif({invoiced_c}, 0)", 365,
                    reason=Reason("credit notes worth {value:.0%} of invoiced over the last "
                                  "365 days", missing="nothing invoiced over the last 365 days")),
    ]
    for window in (None, 365):
        s, span, when = _suffix(window), _span(window), _when(window)
        specs += [
            FeatureSpec(f"promises_made_{s}", f"Promises to pay made {span}.", "history",
                        "{promises_made_n}", window, dtype="int",
                        reason=Reason(f"{{value:.0f}} promises to pay made {when}")),
            FeatureSpec(f"promises_kept_{s}", f"Promises whose promised date fell {span} and "
                        "that were kept (judged from payments).", "history",
                        "{promises_kept_n}", window, dtype="int",
                        reason=Reason(f"{{value:.0f}} promises to pay kept {when}")),
            FeatureSpec(f"promises_broken_{s}", f"Promises whose promised date fell {span} "
                        "and that were broken (judged from payments).", "history",
                        "{promises_broken_n}", window, dtype="int", monotone=1,
                        reason=Reason(f"{{value:.0f}} promises to pay broken {when}")),
        ]
    specs += [
        FeatureSpec("promises_active", "Promises made whose promised date has not come yet.",
                    "exposure", "{promises_made_n} - {promises_kept_n} - {promises_broken_n}",
                    dtype="int", reason=Reason("{value:.0f} promises to pay not yet due")),
        FeatureSpec("invoice_count_365d", "Invoices issued in the last 365 days.", "activity",
                    "{invoices_n}", 365, dtype="int",
                    reason=Reason("{value:.0f} invoices in the last 365 days")),
        FeatureSpec("invoiced_amount_base_365d", "Amount invoiced in the last 365 days, in the "
                    "reporting currency.", "activity", "{invoiced_c} / 100 * rate", 365,
                    reason=Reason("{value:,.0f} invoiced in the last 365 days")),
        FeatureSpec("invoiced_90d_vs_limit", "Amount invoiced in the last 90 days over the "
                    "credit limit (null when the limit is 0): how fast the customer draws on "
                    "its limit.", "activity", "{invoiced_c} / nullif(credit_limit_c, 0)", 90,
                    reason=Reason("invoiced {value:.0%} of the credit limit in 90 days",
                                  missing="no credit limit")),
        FeatureSpec("log_amount", "Natural log of 1 + the invoice amount in the reporting "
                    "currency.", "invoice", "ln(1 + amount_c / 100 * rate)",
                    extra_tables=("invoices",), reason=Reason("invoice of {amount:,.0f}")),
        FeatureSpec("amount_vs_typical", "Invoice amount over the customer's mean invoice "
                    "amount before as_of (null without earlier invoices).", "invoice",
                    "amount_c / nullif({invoiced_c} / nullif({invoices_n}, 0), 0)",
                    reason=Reason("invoice {value:.1f} times the customer's typical amount",
                                  missing="no earlier invoices")),
        FeatureSpec("terms_days", "Payment terms of the invoice: due date - issue date.",
                    "invoice", "due_date - issue_date", dtype="int", extra_tables=("invoices",),
                    reason=Reason("{value:.0f}-day payment terms on this invoice")),
        FeatureSpec("quarter_end", "1 if the invoice was issued in the last 15 days of a "
                    "calendar quarter, else 0.", "invoice",
                    "CAST(CAST(date_trunc('quarter', issue_date) + INTERVAL 3 MONTH AS DATE) "
                    "- issue_date <= 15 AS INTEGER)", dtype="int", extra_tables=("invoices",),
                    reason=Reason("issued at a quarter end",
                                  zero="issued away from a quarter end")),
        FeatureSpec("days_to_quarter_end", "Days from the issue date to the last day of its "
                    "calendar quarter (0 on that day).", "invoice",
                    "CAST(date_trunc('quarter', issue_date) + INTERVAL 3 MONTH AS DATE) "
                    "- issue_date - 1", dtype="int", extra_tables=("invoices",),
                    reason=Reason("issued {value:.0f} days before a quarter end")),
        *_calendar(),
        *_habits(),
        *_channel(),
        FeatureSpec("country", "Customer country (ISO 3166 alpha-2).", "customer", "country",
                    dtype="category", reason=Reason("country {value}")),
        FeatureSpec("industry", "Customer industry.", "customer", "industry",
                    dtype="category", reason=Reason("industry {value}")),
        FeatureSpec("segment", "Customer size segment.", "customer", "segment",
                    dtype="category", reason=Reason("segment {value}")),
        FeatureSpec("payment_terms_days", "Customer's standard payment terms in days.",
                    "customer", "payment_terms_days", dtype="int",
                    reason=Reason("{value:.0f}-day standard payment terms")),
        FeatureSpec("credit_limit_base", "Customer's current credit limit in the reporting "
                    "currency.", "customer", "credit_limit_c / 100 * rate",
                    reason=Reason("credit limit {value:,.0f}")),
        FeatureSpec("tenure_days", "Days since the account was opened (created_date, else "
                    "the first invoice before as_of).", "customer",
                    "as_of - coalesce(created_date, {first_invoice_date})", dtype="int",
                    reason=Reason("customer for {years:.1f} years")),
        FeatureSpec("currency", "Invoice currency.", "state", "currency", dtype="category",
                    extra_tables=("invoices",), at_issue="not available at issue",
                    model_input=False, reason=Reason("invoice in {value}")),
        FeatureSpec("open_amount", "Open amount of the invoice as of as_of, in its currency.",
                    "state", "inv_open_c / 100", extra_tables=_STATE_TABLES,
                    at_issue="not available at issue", model_input=False,
                    reason=Reason("{value:,.0f} open on the invoice in its currency")),
        FeatureSpec("open_amount_base", "Open amount of the invoice in the reporting "
                    "currency.", "state", "inv_open_c / 100 * rate",
                    extra_tables=_STATE_TABLES, at_issue="not available at issue",
                    model_input=False, reason=Reason("{value:,.0f} open on the invoice")),
        FeatureSpec("days_past_due", "as_of - due date: days past due (negative = days "
                    "until due).", "state", "as_of - due_date", dtype="int",
                    extra_tables=("invoices",), at_issue="minus the payment terms",
                    reason=Reason("{value:.0f} days past due", negative="due in {abs:.0f} days",
                                  zero="due today")),
        FeatureSpec("age_days", "as_of - issue date.", "state", "as_of - issue_date",
                    dtype="int", extra_tables=("invoices",), at_issue="zero at issue",
                    reason=Reason("issued {value:.0f} days ago")),
        FeatureSpec("paid_share", "Share of the invoice amount paid before as_of (partial "
                    "payments).", "state", "inv_paid_c / nullif(amount_c, 0)",
                    extra_tables=("invoices", "payments"), at_issue="zero at issue",
                    reason=Reason("{value:.0%} of the invoice already paid",
                                  missing="invoice of amount 0")),
        FeatureSpec("credited_share", "Share of the invoice amount credited before as_of.",
                    "state", "inv_credited_c / nullif(amount_c, 0)",
                    extra_tables=("invoices", "credit_notes"), at_issue="zero at issue",
                    reason=Reason("{value:.0%} of the invoice credited",
                                  missing="invoice of amount 0")),
        FeatureSpec("payments_count", "Payments received on the invoice before as_of.",
                    "state", "inv_payments_n", dtype="int",
                    extra_tables=("invoices", "payments"), at_issue="zero at issue",
                    reason=Reason("{value:.0f} part payments so far")),
        FeatureSpec("has_open_dispute", "The invoice has a dispute opened before as_of and "
                    "not resolved before as_of.", "state", "inv_open_dispute", dtype="bool",
                    extra_tables=("invoices", "disputes"), at_issue="zero at issue",
                    reason=Reason("invoice in open dispute", zero="no open dispute")),
        FeatureSpec("has_active_promise", "A promise to pay made before as_of, promised for "
                    "as_of or later, covers the invoice (or the customer, naming no invoice).",
                    "state", "inv_active_promise", dtype="bool",
                    extra_tables=("invoices", "promises"), at_issue="zero at issue",
                    reason=Reason("promise to pay not yet due", zero="no active promise")),
        FeatureSpec("has_broken_promise", "A promise on the invoice (or a customer-wide one "
                    "made since its issue) was broken before as_of.", "state",
                    "inv_broken_promise", dtype="bool",
                    extra_tables=("invoices", "promises", "payments", "credit_notes"),
                    at_issue="zero at issue", monotone=1,
                    reason=Reason("a promise to pay was broken", zero="no broken promise")),
    ]
    return tuple(specs)


def feature_catalog(scope: str | None = None) -> list[FeatureSpec]:
    """Every feature in output order; with `scope` ('invoice', 'snapshot', 'customer') only
    the features that builder outputs."""
    if scope not in (None, "invoice", "snapshot", "customer"):
        raise ValueError(f"scope must be None, 'invoice', 'snapshot' or 'customer', "
                         f"got {scope!r}")
    specs = _catalog()
    return [s for s in specs if scope is None or scope in s.scope]


def model_inputs(scope: str | None = None) -> list[FeatureSpec]:
    """The features models may use (the allow-list), in catalog order; with `scope` only
    those that builder outputs. A column not listed here is never a model input."""
    return [s for s in feature_catalog(scope) if s.model_input]


def values_at_issue() -> dict[str, float | bool]:
    """Feature -> its value on an invoice's issue date, for the features that are 0 (False)
    then and that only the snapshot builder computes."""
    return {s.name: False if s.dtype == "bool" else 0.0 for s in feature_catalog("snapshot")
            if s.at_issue == "zero at issue"}


def catalog_rows(scope: str | None = None) -> list[dict[str, str]]:
    """The catalog as printable rows: name, kind, window, dtype, tables, outputs, meaning,
    input (yes/no), monotone (+1, -1 or empty), at_issue."""
    return [
        {"name": spec.name, "kind": spec.kind, "window": spec.window_text,
         "dtype": spec.dtype, "tables": ", ".join(spec.tables),
         "outputs": ", ".join(spec.scope), "meaning": spec.meaning,
         "input": "yes" if spec.model_input else "no",
         "monotone": f"{spec.monotone:+d}" if spec.monotone else "",
         "at_issue": spec.at_issue}
        for spec in feature_catalog(scope)
    ]
