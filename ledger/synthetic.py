"""Synthetic receivables ledger: a realistic B2B accounts-receivable book with a known truth.

`generate_ledger` simulates customers, invoices and everything that happens to them (payments,
partial payments, credit notes, disputes, promises to pay, defaults), fully vectorized with one
numpy Generator, and returns the contract tables of `ledger.schema` plus two truth tables the
product never reads:

- `truth_invoices`: `invoice_id`, `p_late_true`, the probability the simulator used to draw
  whether the invoice is settled after its due date (one uniform per invoice compared with it,
  so no model can do better);
- `truth_customers`: `customer_id`, `creditworthiness_end` (the latent state at the last ledger
  month, higher is better) and `default_date` (null when the customer did not default).

The story, in draw order:

1. customers: country and currency, industry (each with a base risk), lognormal annual sales
   and a size segment, payment terms, a risk-blind credit limit (about two months of the sales
   stated at onboarding) and an account opening date (before or during the ledger);
2. creditworthiness: an AR(1) process per customer-month around a customer's long-run level;
3. defaults: a monthly hazard driven by low creditworthiness and industry risk;
4. invoices: Poisson counts per customer-month (size x seasonality x quarter-end bump),
   lognormal amounts around the customer's typical invoice, due = issue + terms;
5. lateness: p_late_true = sigmoid(intercept + industry risk - creditworthiness
   + b log(amount / typical) + c utilization + quarter-end + shock), late ~ Bernoulli exactly.
   An invoice due on or after its customer's default date is never paid: p_late_true = 1;
6. outcomes given lateness: settlement dates, disputes (more likely when late; a late disputed
   invoice is settled after the dispute resolves, an on-time one is resolved and paid by its due
   date), credit notes, partial payments, promises to pay (kept or broken);
7. censoring: nothing dated on or after the ledger end is written, and a defaulted customer
   pays and is credited nothing from its default date on.

Amounts are in the customer's currency; `fx_rates` converts them into the base currency, USD.
"""

from __future__ import annotations

import calendar
import datetime
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ledger.schema import TABLES

BASE_CURRENCY = "USD"
"""The reporting currency of `fx_rates`."""

ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "text": pa.string(),
    "date": pa.date32(),
    "amount": pa.float64(),
    "int": pa.int32(),
    "bool": pa.bool_(),
    "rate": pa.float64(),
}
"""The Arrow type each contract column type is generated as."""

TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    "truth_invoices": pa.schema([("invoice_id", pa.string()), ("p_late_true", pa.float64())]),
    "truth_customers": pa.schema([
        ("customer_id", pa.string()),
        ("creditworthiness_end", pa.float64()),
        ("default_date", pa.date32()),
    ]),
}
"""Schemas of the truth tables (not part of the ledger contract)."""

LEDGER_TABLES: tuple[str, ...] = tuple(TABLES)
TABLE_NAMES: tuple[str, ...] = LEDGER_TABLES + tuple(TRUTH_SCHEMAS)
"""Every key `generate_ledger` returns, contract tables first."""

_EPOCH = datetime.date(1970, 1, 1)
_NEVER = 100_000_000
"""Epoch-day sentinel for an event that never happens (far beyond any ledger end)."""

# country, currency, weight, legal form of names, usual payment method
_COUNTRIES: tuple[tuple[str, str, float, str, str], ...] = (
    ("US", "USD", 0.34, "Inc.", "ach"),
    ("CA", "CAD", 0.07, "Ltd.", "wire"),
    ("GB", "GBP", 0.12, "Ltd", "bacs"),
    ("DE", "EUR", 0.13, "GmbH", "sepa"),
    ("FR", "EUR", 0.09, "SAS", "sepa"),
    ("NL", "EUR", 0.07, "B.V.", "sepa"),
    ("ES", "EUR", 0.05, "S.L.", "sepa"),
    ("SE", "SEK", 0.05, "AB", "sepa"),
    ("CH", "CHF", 0.08, "AG", "wire"),
)
_FX_TO_USD: dict[str, float] = {
    "USD": 1.0, "CAD": 0.73, "GBP": 1.27, "EUR": 1.09, "SEK": 0.095, "CHF": 1.13,
}
_OTHER_METHODS: tuple[tuple[str, float], ...] = (("wire", 0.7), ("card", 0.15), ("check", 0.15))
_USUAL_METHOD_SHARE = 0.7

# industry, weight, weight among customers joining after a shock, logit risk, name nouns
_INDUSTRIES: tuple[tuple[str, float, float, float, tuple[str, str, str]], ...] = (
    ("manufacturing", 0.20, 0.12, 0.00, ("Manufacturing", "Industries", "Components")),
    ("wholesale", 0.16, 0.12, 0.15, ("Trading", "Distribution", "Supply")),
    ("retail", 0.14, 0.18, 0.45, ("Retail", "Stores", "Outlets")),
    ("construction", 0.10, 0.18, 0.70, ("Construction", "Builders", "Contracting")),
    ("technology", 0.12, 0.08, -0.25, ("Systems", "Software", "Technologies")),
    ("healthcare", 0.10, 0.06, -0.40, ("Health", "Medical", "Care")),
    ("transportation", 0.10, 0.13, 0.35, ("Logistics", "Freight", "Transport")),
    ("hospitality", 0.08, 0.13, 0.80, ("Hospitality", "Hotels", "Catering")),
)
_NAME_PREFIXES: tuple[str, ...] = (
    "Apex", "Northwind", "Bluewater", "Summit", "Granite", "Harbor", "Evergreen", "Silverline",
    "Redwood", "Ironbridge", "Brightpath", "Crescent", "Oakridge", "Pioneer", "Keystone",
    "Meridian", "Riverside", "Stonegate", "Westfield", "Horizon", "Lakeshore", "Pinnacle",
    "Cobalt", "Sterling",
)

_SEGMENTS: tuple[str, ...] = ("small", "mid", "large", "enterprise")
_SEGMENT_UPPER_SALES_USD: tuple[float, ...] = (1e6, 5e6, 25e6)
_MEDIAN_SALES_USD = 1.5e6
_SALES_LOG_SD = 1.25
_SHOCK_JOINER_LOG_SALES_SHIFT = -0.6
_PO_USE_BY_SEGMENT: tuple[float, ...] = (0.3, 0.5, 0.8, 0.95)

_TERMS_DAYS: tuple[int, ...] = (15, 30, 45, 60, 90)
_TERMS_BY_SEGMENT: tuple[tuple[float, ...], ...] = (
    (0.20, 0.50, 0.15, 0.10, 0.05),
    (0.10, 0.45, 0.20, 0.15, 0.10),
    (0.05, 0.30, 0.25, 0.25, 0.15),
    (0.00, 0.20, 0.20, 0.30, 0.30),
)
_CREDIT_LIMIT_MONTHS = 2.0
_STATED_SALES_LOG_SD = 0.3
"""Noise of the sales figure the naive credit-limit rule is fed at onboarding."""

_SEASON: tuple[float, ...] = (0.92, 0.95, 1.0, 1.0, 1.02, 1.0, 0.95, 0.85, 1.02, 1.05, 1.05, 0.9)
_QUARTER_END_BUMP = 1.2
_RATE_SIZE_ELASTICITY = 0.45
_AMOUNT_LOG_SD = 0.7
_MIN_INVOICE_CENTS = 500

_CW_SIZE_EFFECT = 0.25
_CW_LEVEL_SD = 0.9
_CW_START_SD = 0.5
_CW_PERSISTENCE = 0.92
_CW_MONTHLY_SD = 0.2
_CW_SHOCK_DROP = 0.5
_CW_SHOCK_JOINER_DROP = 0.4

_DEFAULT_INTERCEPT = -8.0
_DEFAULT_INDUSTRY_WEIGHT = 0.8
_DEFAULT_CW_WEIGHT = 1.6
_DEFAULT_MIN_HISTORY_DAYS = 60

_LATE_AMOUNT_WEIGHT = 0.3
_LATE_UTILIZATION_WEIGHT = 0.5
_LATE_QUARTER_END = 0.25
_UTILIZATION_CENTER = 0.75
_PRE_LEDGER_MONTHS = 3

_EARLY_CLOSE_SHARE = 0.6
_LATE_DAYS_SCALE = 9.0
_LATE_DAYS_CW_WEIGHT = 0.6
_MAX_DAYS_LATE = 720

_DISPUTE_IF_LATE = 0.08
_DISPUTE_IF_ON_TIME = 0.015
_DISPUTE_RESOLUTION_DAYS = 20.0
_DISPUTE_CREDIT_SHARE = 0.45
_DISPUTE_FULL_CREDIT_SHARE = 0.2
_DISPUTE_REASONS: tuple[tuple[str, float], ...] = (
    ("pricing", 0.30), ("delivery", 0.20), ("quality", 0.20), ("quantity", 0.15),
    ("billing_error", 0.10), ("missing_po", 0.05),
)
_CREDIT_NOTE_SHARE = 0.03
_CREDIT_FULL_RETURN_SHARE = 0.15
_CREDIT_REASONS: tuple[tuple[str, float], ...] = (
    ("pricing", 0.40), ("return", 0.30), ("rebate", 0.20), ("damaged_goods", 0.10),
)

_PARTIAL_SHARE = 0.10
_THREE_INSTALMENT_SHARE = 0.3
_MIN_SPLIT_CENTS = 1000

_PROMISE_SHARE = 0.35
_PROMISE_MIN_DAYS_LATE = 5
_PROMISE_PARTIAL_SHARE = 0.2
_DOOMED_PROMISE_HORIZON = 60


@dataclass(frozen=True)
class SyntheticConfig:
    """What synthetic ledger to generate; invalid values raise ValueError on construction.

    About 2.2 invoices per customer-month: 1500 customers x 30 months give ~100k invoices,
    75000 customers x 60 months ~10M.
    """

    customers: int
    """Number of customer accounts, > 0."""
    months: int
    """Ledger length in months, > 0; the ledger ends at start_date + months (exclusive)."""
    seed: int = 0
    """Seed (>= 0) of the one numpy Generator: the same config gives byte-identical files."""
    shock_month: int | None = None
    """1-based ledger month from which a macro shock applies (1..months), None for none."""
    start_date: datetime.date = datetime.date(2024, 1, 1)
    """First day of the ledger."""
    invoices_per_month: float = 2.2
    """Mean monthly invoice count of a median-size customer (> 0): scales the ledger."""
    existing_share: float = 0.75
    """Share of customers opened before start_date (0..1); the others join during the ledger."""
    late_intercept: float = -1.4
    """Intercept of the late-payment logit; higher means a later-paying book."""
    shock_logit: float = 0.8
    """Added to the late-payment logit of invoices issued from the shock month on (>= 0)."""
    shock_delay_factor: float = 1.6
    """Multiplies the days late of invoices due from the shock month on (>= 1)."""

    def __post_init__(self) -> None:
        _require_int(self.customers, "customers", "an integer > 0", minimum=1)
        _require_int(self.months, "months", "an integer > 0", minimum=1)
        _require_int(self.seed, "seed", "an integer >= 0", minimum=0)
        if self.shock_month is not None:
            _require_int(self.shock_month, "shock_month",
                         f"None or an integer in 1..{self.months}", minimum=1,
                         maximum=self.months)
        if not isinstance(self.start_date, datetime.date) or isinstance(
                self.start_date, datetime.datetime):
            _invalid("start_date", "a datetime.date", self.start_date)
        _require_number(self.invoices_per_month, "invoices_per_month", "a number > 0",
                        above=0.0)
        _require_number(self.existing_share, "existing_share", "a number in 0..1",
                        at_least=0.0, at_most=1.0)
        _require_number(self.late_intercept, "late_intercept", "a finite number")
        _require_number(self.shock_logit, "shock_logit", "a number >= 0", at_least=0.0)
        _require_number(self.shock_delay_factor, "shock_delay_factor", "a number >= 1",
                        at_least=1.0)


def _invalid(field_name: str, allowed: str, value: object) -> NoReturn:
    raise ValueError(f"SyntheticConfig.{field_name} must be {allowed}, got {value!r}")


def _require_int(value: object, field_name: str, allowed: str, *, minimum: int,
                 maximum: int | None = None) -> None:
    """Check an integer (not a bool) in minimum..maximum."""
    if (isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum
            or (maximum is not None and value > maximum)):
        _invalid(field_name, allowed, value)


def _require_number(value: object, field_name: str, allowed: str, *, above: float | None = None,
                    at_least: float | None = None, at_most: float | None = None) -> None:
    """Check a finite real number against the given bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        _invalid(field_name, allowed, value)
    number = float(value)
    if (not np.isfinite(number) or (above is not None and number <= above)
            or (at_least is not None and number < at_least)
            or (at_most is not None and number > at_most)):
        _invalid(field_name, allowed, value)


# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class _Calendar:
    """Month boundaries of the ledger as epoch days."""

    month_start: np.ndarray
    """int32 epoch day each ledger month starts; one more entry: the ledger end."""
    calendar_month: np.ndarray
    """Calendar month (1..12) of each ledger month."""
    shock_index: int
    """0-based index of the first shocked month; the number of months when there is none."""

    @property
    def months(self) -> int:
        return len(self.month_start) - 1

    @property
    def end(self) -> int:
        return int(self.month_start[-1])

    @property
    def shock_start(self) -> int:
        """Epoch day the shock starts (_NEVER without a shock)."""
        if self.shock_index >= self.months:
            return _NEVER
        return int(self.month_start[self.shock_index])

    @property
    def month_length(self) -> np.ndarray:
        return np.diff(self.month_start)


def _add_months(day: datetime.date, months: int) -> datetime.date:
    """`day` moved by whole months, clamped to the month's last day."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    last = calendar.monthrange(year, month0 + 1)[1]
    return datetime.date(year, month0 + 1, min(day.day, last))


def _epoch_day(day: datetime.date) -> int:
    return (day - _EPOCH).days


def _calendar(config: SyntheticConfig) -> _Calendar:
    starts = [_add_months(config.start_date, m) for m in range(config.months + 1)]
    shock_index = config.months if config.shock_month is None else config.shock_month - 1
    return _Calendar(
        month_start=np.array([_epoch_day(d) for d in starts], dtype=np.int32),
        calendar_month=np.array([d.month for d in starts[:-1]], dtype=np.int8),
        shock_index=shock_index,
    )


# --------------------------------------------------------------------------- customers


@dataclass(frozen=True)
class _Customers:
    """Customer attributes, one entry per customer."""

    country: np.ndarray
    industry: np.ndarray
    segment: np.ndarray
    sales_usd: np.ndarray
    terms: np.ndarray
    credit_limit_cents: np.ndarray
    created: np.ndarray
    joined_after_shock: np.ndarray
    invoice_rate: np.ndarray
    typical_cents: np.ndarray
    uses_po: np.ndarray
    method: np.ndarray
    name_prefix: np.ndarray
    name_noun: np.ndarray

    @property
    def risk(self) -> np.ndarray:
        """Industry logit risk of each customer."""
        return np.array([row[3] for row in _INDUSTRIES])[self.industry]

    @property
    def size_z(self) -> np.ndarray:
        """Standardized log annual sales."""
        return (np.log(self.sales_usd) - np.log(_MEDIAN_SALES_USD)) / _SALES_LOG_SD


def _choose(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the given weights (rows of a 2-D `weights` per draw)."""
    cumulative = np.cumsum(weights / weights.sum(axis=-1, keepdims=True), axis=-1)
    draws = rng.random(size)
    if cumulative.ndim == 1:
        return np.minimum(np.searchsorted(cumulative, draws, side="right"),
                          len(cumulative) - 1)
    return np.minimum((draws[:, None] >= cumulative).sum(axis=1), cumulative.shape[1] - 1)


def _opening_dates(rng: np.random.Generator, config: SyntheticConfig, cal: _Calendar
                   ) -> np.ndarray:
    """Account opening day: up to ten years before the start, or during the ledger."""
    n = config.customers
    existing = rng.random(n) < config.existing_share
    before = cal.month_start[0] - 30 - np.floor(rng.random(n) * 3620)
    during = cal.month_start[0] + np.floor(rng.random(n) * (cal.end - cal.month_start[0]))
    return np.where(existing, before, during).astype(np.int32)


def _segments(sales_usd: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array(_SEGMENT_UPPER_SALES_USD), sales_usd, side="right")


def _credit_limits(rng: np.random.Generator, monthly_sales_local: np.ndarray) -> np.ndarray:
    """Naive risk-blind limit: two months of stated sales, rounded to two digits (cents)."""
    stated = monthly_sales_local * np.exp(rng.normal(0.0, _STATED_SALES_LOG_SD,
                                                     len(monthly_sales_local)))
    raw = _CREDIT_LIMIT_MONTHS * stated
    unit = 10.0 ** (np.floor(np.log10(raw)) - 1)
    return (np.maximum(np.round(raw / unit) * unit, 1000.0) * 100).astype(np.int64)


def _draw_customers(rng: np.random.Generator, config: SyntheticConfig, cal: _Calendar
                    ) -> _Customers:
    n = config.customers
    created = _opening_dates(rng, config, cal)
    joined_after_shock = created >= cal.shock_start
    country = _choose(rng, np.array([row[2] for row in _COUNTRIES]), n)
    industry_weights = np.array([[row[1] for row in _INDUSTRIES],
                                 [row[2] for row in _INDUSTRIES]])
    industry = _choose(rng, industry_weights[joined_after_shock.astype(int)], n)
    log_sales = (np.log(_MEDIAN_SALES_USD) + _SALES_LOG_SD * rng.standard_normal(n)
                 + _SHOCK_JOINER_LOG_SALES_SHIFT * joined_after_shock)
    sales_usd = np.exp(log_sales)
    segment = _segments(sales_usd)
    terms = np.array(_TERMS_DAYS, dtype=np.int32)[
        _choose(rng, np.array(_TERMS_BY_SEGMENT)[segment], n)]
    fx = np.array([_FX_TO_USD[row[1]] for row in _COUNTRIES])[country]
    monthly_sales_local = sales_usd / 12.0 / fx
    invoice_rate = np.clip(
        config.invoices_per_month
        * (sales_usd / _MEDIAN_SALES_USD) ** _RATE_SIZE_ELASTICITY, 0.2, 40.0)
    uses_po = rng.random(n) < np.array(_PO_USE_BY_SEGMENT)[segment]
    method = _payment_methods(rng, country)
    return _Customers(
        country=country, industry=industry, segment=segment, sales_usd=sales_usd,
        terms=terms, credit_limit_cents=_credit_limits(rng, monthly_sales_local),
        created=created, joined_after_shock=joined_after_shock, invoice_rate=invoice_rate,
        typical_cents=monthly_sales_local / invoice_rate * 100.0, uses_po=uses_po,
        method=method, name_prefix=rng.integers(0, len(_NAME_PREFIXES), n),
        name_noun=rng.integers(0, 3, n),
    )


def _method_names() -> list[str]:
    """All payment methods: each country's usual one, then the others, without repeats."""
    names = [row[4] for row in _COUNTRIES] + [m for m, _ in _OTHER_METHODS]
    return list(dict.fromkeys(names))


def _payment_methods(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """Index into `_method_names()`: the country's usual method, else wire, card or check."""
    names = _method_names()
    usual = np.array([names.index(row[4]) for row in _COUNTRIES])[country]
    other = np.array([names.index(m) for m, _ in _OTHER_METHODS])[
        _choose(rng, np.array([w for _, w in _OTHER_METHODS]), len(country))]
    return np.where(rng.random(len(country)) < _USUAL_METHOD_SHARE, usual, other)


# --------------------------------------------------------------------------- latent state


def _creditworthiness(rng: np.random.Generator, customers: _Customers, cal: _Calendar
                      ) -> np.ndarray:
    """Latent creditworthiness, customers x months: AR(1) around a long-run level.

    From the shock month on the level drops, and customers joining after it start lower.
    """
    n, months = len(customers.created), cal.months
    level = (_CW_SIZE_EFFECT * customers.size_z
             - _CW_SHOCK_JOINER_DROP * customers.joined_after_shock
             + _CW_LEVEL_SD * rng.standard_normal(n))
    shocks = _CW_MONTHLY_SD * rng.standard_normal((n, months))
    state = level + _CW_START_SD * rng.standard_normal(n)
    cw = np.empty((n, months))
    for month in range(months):
        target = level - _CW_SHOCK_DROP * (month >= cal.shock_index)
        if month > 0:
            state = target + _CW_PERSISTENCE * (state - target) + shocks[:, month]
        cw[:, month] = state
    return cw


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _default_dates(rng: np.random.Generator, customers: _Customers, cw: np.ndarray,
                   cal: _Calendar) -> np.ndarray:
    """Epoch day each customer defaults (_NEVER if not): first month whose hazard hits."""
    seasoned = cal.month_start[:-1][None, :] >= (customers.created[:, None]
                                                 + _DEFAULT_MIN_HISTORY_DAYS)
    hazard = _sigmoid(_DEFAULT_INTERCEPT + _DEFAULT_INDUSTRY_WEIGHT * customers.risk[:, None]
                      - _DEFAULT_CW_WEIGHT * cw) * seasoned
    hit = rng.random(hazard.shape) < hazard
    first = hit.argmax(axis=1)
    day = cal.month_start[first] + np.floor(rng.random(len(first)) * cal.month_length[first])
    return np.where(hit.any(axis=1), day, _NEVER).astype(np.int32)


# --------------------------------------------------------------------------- invoices


@dataclass(frozen=True)
class _Invoices:
    """Invoice attributes and whether each is late, one entry per invoice in id order."""

    customer: np.ndarray
    month: np.ndarray
    issue: np.ndarray
    due: np.ndarray
    cents: np.ndarray
    cw: np.ndarray
    default_day: np.ndarray
    cut: np.ndarray
    """First day nothing more is recorded for the invoice: min(ledger end, default day)."""
    p_late: np.ndarray = field(default_factory=lambda: np.empty(0))
    """p_late_true; empty until `_draw_lateness`."""
    late: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    """Settled after the due date (or never); empty until `_draw_lateness`."""
    doomed: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    """Due on or after the customer's default day: never paid, p_late_true = 1."""

    def __len__(self) -> int:
        return len(self.issue)


def _active_windows(customers: _Customers, default_day: np.ndarray, cal: _Calendar
                    ) -> tuple[np.ndarray, np.ndarray]:
    """First day and length (days) each customer can be invoiced in each month."""
    first = np.maximum(cal.month_start[:-1][None, :], customers.created[:, None])
    stop = np.minimum(cal.month_start[1:][None, :], default_day[:, None])
    return first, np.clip(stop - first, 0, None)


def _season(cal: _Calendar) -> np.ndarray:
    """Invoicing intensity of each ledger month: seasonality with a quarter-end bump."""
    season = np.array(_SEASON)[cal.calendar_month - 1]
    return season * np.where(cal.calendar_month % 3 == 0, _QUARTER_END_BUMP, 1.0)


def _draw_invoices(rng: np.random.Generator, customers: _Customers, cw: np.ndarray,
                   default_day: np.ndarray, cal: _Calendar) -> _Invoices:
    """Poisson counts per customer-month, uniform issue days, lognormal amounts."""
    n_customers, months = cw.shape
    first, length = _active_windows(customers, default_day, cal)
    expected = (customers.invoice_rate[:, None] * _season(cal)[None, :]
                * length / cal.month_length[None, :])
    counts = rng.poisson(expected).ravel()
    cell = np.repeat(np.arange(n_customers * months, dtype=np.int64), counts)
    issue = (first.ravel()[cell]
             + np.floor(rng.random(len(cell)) * length.ravel()[cell])).astype(np.int32)
    customer = (cell // months).astype(np.int32)
    order = np.argsort(issue.astype(np.int64) * n_customers + customer, kind="stable")
    cell, issue, customer = cell[order], issue[order], customer[order]
    month = (cell % months).astype(np.int32)
    del order
    noise = np.exp(_AMOUNT_LOG_SD * rng.standard_normal(len(cell)) - _AMOUNT_LOG_SD ** 2 / 2)
    cents = np.maximum(np.rint(customers.typical_cents[customer] * noise),
                       _MIN_INVOICE_CENTS).astype(np.int64)
    invoice_default = default_day[customer]
    return _Invoices(
        customer=customer, month=month, issue=issue,
        due=issue + customers.terms[customer], cents=cents, cw=cw.ravel()[cell],
        default_day=invoice_default, cut=np.minimum(invoice_default, cal.end),
    )


def _utilization(customers: _Customers, invoices: _Invoices, cal: _Calendar) -> np.ndarray:
    """Per invoice: billing of the months before its own over the terms window / credit limit.

    A vectorized proxy of the open balance against the limit (no balance simulation); months
    before the ledger count as average billing for customers that existed then.
    """
    n_customers, months = len(customers.created), cal.months
    billed = np.bincount(invoices.customer.astype(np.int64) * months + invoices.month,
                         weights=invoices.cents, minlength=n_customers * months
                         ).reshape(n_customers, months)
    months_before = np.arange(_PRE_LEDGER_MONTHS, 0, -1)
    existed = customers.created[:, None] < cal.month_start[0] - 30 * months_before[None, :]
    pre = existed * (customers.invoice_rate * customers.typical_cents)[:, None]
    cumulative = np.hstack([np.zeros((n_customers, 1)),
                            np.cumsum(np.hstack([pre, billed]), axis=1)])
    window = np.ceil(customers.terms / 30.0).astype(np.int64)
    own = invoices.month.astype(np.int64) + _PRE_LEDGER_MONTHS
    customer = invoices.customer
    rolling = cumulative[customer, own] - cumulative[customer, own - window[customer]]
    return rolling / customers.credit_limit_cents[customer]


def _late_probability(customers: _Customers, invoices: _Invoices, utilization: np.ndarray,
                      cal: _Calendar, config: SyntheticConfig) -> np.ndarray:
    """p_late_true of each invoice from the latent state, before the default override."""
    customer = invoices.customer
    relative_size = np.log(invoices.cents / customers.typical_cents[customer])
    quarter_end = (cal.calendar_month[invoices.month] % 3 == 0)
    logit = (config.late_intercept + customers.risk[customer] - invoices.cw
             + _LATE_AMOUNT_WEIGHT * relative_size
             + _LATE_UTILIZATION_WEIGHT * np.clip(utilization - _UTILIZATION_CENTER, -1.0, 2.0)
             + _LATE_QUARTER_END * quarter_end
             + config.shock_logit * (invoices.month >= cal.shock_index))
    return _sigmoid(logit)


def _draw_lateness(rng: np.random.Generator, invoices: _Invoices, p_late: np.ndarray
                   ) -> _Invoices:
    """late ~ Bernoulli(p_late) with one uniform each; invoices due at/after default: late."""
    draws = rng.random(len(invoices))
    doomed = invoices.due >= invoices.default_day
    return replace(invoices, p_late=np.where(doomed, 1.0, p_late),
                   late=(draws < p_late) | doomed, doomed=doomed)


# --------------------------------------------------------------------------- outcomes


def _settlement_dates(rng: np.random.Generator, invoices: _Invoices, cal: _Calendar,
                      config: SyntheticConfig) -> np.ndarray:
    """Day each invoice would be settled (_NEVER when doomed), ignoring the ledger end.

    On time: on or a few days before the due date, some much earlier, never before issue.
    Late: 1 + exponential days after due, longer for low creditworthiness and after a shock.
    """
    n = len(invoices)
    close, early = rng.random(n), rng.random(n)
    terms = invoices.due - invoices.issue
    early_days = np.where(close < _EARLY_CLOSE_SHARE, np.floor(early * 4),
                          np.floor(early * terms))
    on_time = np.maximum(invoices.due - early_days, invoices.issue)
    scale = (_LATE_DAYS_SCALE * np.exp(-_LATE_DAYS_CW_WEIGHT * invoices.cw)
             * np.where(invoices.due >= cal.shock_start, config.shock_delay_factor, 1.0))
    days_late = np.minimum(1 + np.floor(rng.exponential(size=n) * scale), _MAX_DAYS_LATE)
    settle = np.where(invoices.late, invoices.due + days_late, on_time)
    return np.where(invoices.doomed, _NEVER, settle).astype(np.int32)


@dataclass(frozen=True)
class _Disputes:
    """Disputes, one entry per disputed invoice."""

    invoice: np.ndarray
    opened: np.ndarray
    resolved: np.ndarray
    reason: np.ndarray
    credit_cents: np.ndarray


def _draw_disputes(rng: np.random.Generator, invoices: _Invoices, settle: np.ndarray
                   ) -> tuple[_Disputes, np.ndarray]:
    """Disputes drawn given lateness, and the settlement days they imply.

    On time: opened in the first half of the terms, resolved and paid by the due date.
    Late: opened up to 20 days after due, settled after it is resolved (never when doomed).
    Some disputes end in a credit note dated at resolution (a full one settles the invoice).
    """
    rate = np.where(invoices.late, _DISPUTE_IF_LATE, _DISPUTE_IF_ON_TIME)
    index = np.flatnonzero(rng.random(len(invoices)) < rate)
    late, doomed = invoices.late[index], invoices.doomed[index]
    issue, due = invoices.issue[index], invoices.due[index]
    terms = due - issue
    u_open, u_resolve, u_pay, u_outcome, u_full, u_share = rng.random((6, len(index)))
    resolution_days = np.floor(rng.exponential(size=len(index)) * _DISPUTE_RESOLUTION_DAYS)

    opened_on_time = issue + np.floor(u_open * terms * 0.5)
    resolved_on_time = opened_on_time + 1 + np.floor(u_resolve * (due - opened_on_time - 1))
    settle_on_time = resolved_on_time + np.floor(u_pay * (due - resolved_on_time + 1))
    opened_late = issue + np.floor(u_open * (terms + 20))
    resolved_late = opened_late + 2 + resolution_days
    settle_late = np.maximum(due + 1, resolved_late + np.floor(u_pay * 10))

    credited = ~doomed & (u_outcome < _DISPUTE_CREDIT_SHARE)
    full = credited & (u_full < _DISPUTE_FULL_CREDIT_SHARE)
    opened = np.where(late, opened_late, opened_on_time)
    resolved = np.where(late, resolved_late, resolved_on_time)
    resolved = np.where(full & late, np.maximum(resolved, due + 1), resolved)
    new_settle = np.where(full, resolved, np.where(late, settle_late, settle_on_time))
    resolved = np.where(doomed, _NEVER, resolved)
    amount = invoices.cents[index]
    share = 0.1 + 0.5 * u_share
    credit = np.where(full, amount, np.where(credited, np.rint(amount * share), 0))

    settle = settle.copy()
    settle[index] = np.where(doomed, _NEVER, new_settle)
    reason = _choose(rng, np.array([w for _, w in _DISPUTE_REASONS]), len(index))
    disputes = _Disputes(invoice=index, opened=opened.astype(np.int32),
                         resolved=resolved.astype(np.int32), reason=reason,
                         credit_cents=credit.astype(np.int64))
    return disputes, settle


@dataclass(frozen=True)
class _CreditNotes:
    """Credit notes, at most one per invoice, sorted by invoice."""

    invoice: np.ndarray
    day: np.ndarray
    cents: np.ndarray
    reason: np.ndarray
    """Index into _credit_reason_names(): a _CREDIT_REASONS entry or the dispute settlement."""


def _draw_credit_notes(rng: np.random.Generator, invoices: _Invoices, settle: np.ndarray,
                       disputes: _Disputes, disputed: np.ndarray) -> _CreditNotes:
    """Pricing, return, rebate credits on a few undisputed invoices, plus dispute outcomes.

    A full return (on-time invoices only) is dated at settlement and settles the invoice;
    a partial credit falls between issue and settlement.
    """
    n = len(invoices)
    chosen = (rng.random(n) < _CREDIT_NOTE_SHARE) & ~disputed & ~invoices.doomed
    index = np.flatnonzero(chosen)
    u_full, u_day, u_share = rng.random((3, len(index)))
    full = ~invoices.late[index] & (u_full < _CREDIT_FULL_RETURN_SHARE)
    issue, end = invoices.issue[index], settle[index]
    day = np.where(full, end, issue + np.floor(u_day * (end - issue + 1)))
    amount = invoices.cents[index]
    cents = np.where(full, amount, np.rint(amount * (0.05 + 0.25 * u_share)))
    full_return = _credit_reason_names().index("return")
    reason = np.where(full, full_return, _choose(
        rng, np.array([w for _, w in _CREDIT_REASONS]), len(index)))
    from_dispute = disputes.credit_cents > 0
    invoice = np.concatenate([index, disputes.invoice[from_dispute]])
    order = np.argsort(invoice, kind="stable")
    return _CreditNotes(
        invoice=invoice[order],
        day=np.concatenate([day, disputes.resolved[from_dispute]]).astype(np.int32)[order],
        cents=np.concatenate([cents, disputes.credit_cents[from_dispute]]).astype(
            np.int64)[order],
        reason=np.concatenate([reason, np.full(from_dispute.sum(), len(_CREDIT_REASONS))]
                              )[order],
    )


@dataclass(frozen=True)
class _Payments:
    """Payments, one entry per instalment (before censoring)."""

    invoice: np.ndarray
    day: np.ndarray
    cents: np.ndarray
    instalment: np.ndarray


def _draw_payments(rng: np.random.Generator, invoices: _Invoices, settle: np.ndarray,
                   credits: _CreditNotes, disputed: np.ndarray) -> _Payments:
    """What credit notes leave open is paid at settlement, sometimes in 2-3 instalments.

    Earlier instalments fall between issue and settlement; the last one takes the remainder
    so that payments plus credits equal the amount to the cent.
    """
    n = len(invoices)
    credited = np.bincount(credits.invoice, weights=credits.cents, minlength=n)
    remaining = invoices.cents - credited.astype(np.int64)
    u_split, u_three, u_a, u_b, u_fa, u_fb = rng.random((6, n))
    split = ((u_split < _PARTIAL_SHARE) & ~disputed & ~invoices.doomed
             & (remaining >= _MIN_SPLIT_CENTS))
    count = np.where(remaining > 0, 1, 0) + split * (1 + (u_three < _THREE_INSTALMENT_SHARE))
    count[invoices.doomed] = 0
    span = settle - invoices.issue + 1
    day_a = invoices.issue + np.floor(u_a * span)
    day_b = invoices.issue + np.floor(u_b * span)
    three = count == 3
    first_cents = np.where(count >= 2, np.floor(
        remaining * np.where(three, 0.2 + 0.2 * u_fa, 0.3 + 0.4 * u_fa)), 0)
    second_cents = np.where(three, np.floor(remaining * (0.2 + 0.2 * u_fb)), 0)
    instalments = [  # (invoices having it, day, cents), in instalment order
        (np.flatnonzero(count >= 2), np.where(three, np.minimum(day_a, day_b), day_a),
         first_cents),
        (np.flatnonzero(three), np.maximum(day_a, day_b), second_cents),
        (np.flatnonzero(count >= 1), settle, remaining - first_cents - second_cents),
    ]
    return _Payments(
        invoice=np.concatenate([index for index, _, _ in instalments]),
        day=np.concatenate([day[index] for index, day, _ in instalments]).astype(np.int32),
        cents=np.concatenate([cents[index] for index, _, cents in instalments]
                             ).astype(np.int64),
        instalment=np.concatenate([np.full(len(index), number, dtype=np.int8)
                                   for number, (index, _, _) in enumerate(instalments)]),
    )


@dataclass(frozen=True)
class _Promises:
    """Promises to pay, one entry per promise (before censoring)."""

    invoice: np.ndarray
    created: np.ndarray
    promised: np.ndarray
    cents: np.ndarray
    kept: np.ndarray


def _draw_promises(rng: np.random.Generator, invoices: _Invoices, settle: np.ndarray,
                   credits: _CreditNotes, disputed: np.ndarray) -> _Promises:
    """Promises on some invoices at least 5 days overdue, kept or broken.

    Reliable (creditworthy) customers keep them: settlement on or before the promised day.
    A broken promise's day passes before payment (or the customer defaults first).
    """
    n = len(invoices)
    days_late = settle.astype(np.int64) - invoices.due
    eligible = invoices.late & ~disputed & (days_late >= _PROMISE_MIN_DAYS_LATE)
    index = np.flatnonzero(eligible & (rng.random(n) < _PROMISE_SHARE))
    u_keep, u_lag, u_wait, u_partial = rng.random((4, len(index)))
    due, end = invoices.due[index], settle[index].astype(np.int64)
    reliability = _sigmoid(0.5 + 1.2 * invoices.cw[index])
    kept = (u_keep < reliability) & (end < invoices.default_day[index])

    kept_promised = end + np.floor(u_wait * 4)
    kept_created = np.maximum(due + 1, kept_promised - 3 - np.floor(u_lag * 12))
    horizon = np.where(invoices.doomed[index], _DOOMED_PROMISE_HORIZON, days_late[index])
    broken_created = due + 1 + np.floor(u_lag * (horizon - 4))
    broken_promised = np.minimum(broken_created + 3 + np.floor(u_wait * 11), due + horizon - 1)

    credited = np.bincount(credits.invoice, weights=credits.cents, minlength=n)[index]
    open_cents = invoices.cents[index] - credited
    cents = np.where(u_partial < _PROMISE_PARTIAL_SHARE,
                     np.maximum(np.floor(open_cents / 2), 1), open_cents)
    return _Promises(
        invoice=index,
        created=np.where(kept, kept_created, broken_created).astype(np.int32),
        promised=np.where(kept, kept_promised, broken_promised).astype(np.int32),
        cents=cents.astype(np.int64), kept=kept,
    )


# --------------------------------------------------------------------------- arrow tables


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


def _credit_reason_names() -> list[str]:
    return [r for r, _ in _CREDIT_REASONS] + ["dispute_settlement"]


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
                  invoice_ids: pa.Array, customer_ids: pa.Array) -> dict[str, pa.Table]:
    return {
        "truth_invoices": pa.table({"invoice_id": invoice_ids, "p_late_true": invoices.p_late},
                                   schema=TRUTH_SCHEMAS["truth_invoices"]),
        "truth_customers": pa.table({
            "customer_id": customer_ids,
            "creditworthiness_end": cw[:, -1],
            "default_date": _dates(default_day, default_day < _NEVER),
        }, schema=TRUTH_SCHEMAS["truth_customers"]),
    }


# --------------------------------------------------------------------------- public API


def generate_ledger(config: SyntheticConfig) -> dict[str, pa.Table]:
    """Simulate a receivables ledger; keys are `TABLE_NAMES` (contract tables, then truth)."""
    rng = np.random.default_rng(config.seed)
    cal = _calendar(config)
    customers = _draw_customers(rng, config, cal)
    cw = _creditworthiness(rng, customers, cal)
    default_day = _default_dates(rng, customers, cw, cal)
    invoices = _draw_invoices(rng, customers, cw, default_day, cal)
    utilization = _utilization(customers, invoices, cal)
    p_late = _late_probability(customers, invoices, utilization, cal, config)
    del utilization
    invoices = _draw_lateness(rng, invoices, p_late)
    del p_late
    settle = _settlement_dates(rng, invoices, cal, config)
    disputes, settle = _draw_disputes(rng, invoices, settle)
    disputed = np.zeros(len(invoices), dtype=bool)
    disputed[disputes.invoice] = True
    credits = _draw_credit_notes(rng, invoices, settle, disputes, disputed)
    payments = _draw_payments(rng, invoices, settle, credits, disputed)
    promises = _draw_promises(rng, invoices, settle, credits, disputed)

    customer_ids = _ids("C", len(customers.created), 6)
    invoice_ids = _ids("INV", len(invoices), 8)
    tables = {
        "customers": _customers_table(customers, customer_ids),
        "invoices": _invoices_table(rng, invoices, customers, invoice_ids, customer_ids),
        "payments": _payments_table(payments, invoices, customers, invoice_ids, customer_ids),
        "credit_notes": _credit_notes_table(credits, invoices, invoice_ids, customer_ids),
        "disputes": _disputes_table(disputes, invoices, invoice_ids),
        "promises": _promises_table(promises, invoices, invoice_ids, customer_ids, cal.end),
        "fx_rates": _fx_table(customers),
    }
    tables.update(_truth_tables(invoices, cw, default_day, invoice_ids, customer_ids))
    return tables


def write_ledger(tables: dict[str, pa.Table], out_dir: Path) -> None:
    """Write `<name>.parquet` per table into `out_dir`, replacing it as a whole, atomically.

    Files are written into a temporary sibling directory which then takes `out_dir`'s place,
    so a failure never leaves a half-written ledger nor destroys an existing one. An existing
    `out_dir` may only hold `.parquet` files of ledger tables (FileExistsError otherwise), so a
    wrong path cannot wipe unrelated files.
    """
    out_dir = Path(out_dir)
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".writing",
                                    dir=out_dir.parent))
    try:
        for name, table in tables.items():
            pq.write_table(table, staging / f"{name}.parquet")
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a path that is not a directory of ledger Parquet files."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a directory")
    foreign = sorted(p.name for p in out_dir.iterdir()
                     if not (p.is_file() and p.suffix == ".parquet"
                             and p.stem in set(TABLE_NAMES)))
    if foreign:
        raise FileExistsError(
            f"{out_dir} holds files that are not ledger tables ({', '.join(foreign[:5])}); "
            "refusing to replace it")


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Rename `staging` to `out_dir`; an existing `out_dir` is kept until that succeeded."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    backup_root = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old",
                                        dir=out_dir.parent))
    backup = backup_root / out_dir.name
    try:
        os.replace(out_dir, backup)
        try:
            os.replace(staging, out_dir)
        except BaseException:
            os.replace(backup, out_dir)
            raise
    finally:
        shutil.rmtree(backup_root, ignore_errors=True)
