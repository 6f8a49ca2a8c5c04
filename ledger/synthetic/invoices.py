"""Invoices: counts, dates and amounts, the true late probability, lateness, settlement days."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ledger.synthetic.config import SyntheticConfig
from ledger.synthetic.customers import _Customers
from ledger.synthetic.numeric import _sigmoid
from ledger.synthetic.parameters import (
    _AMOUNT_LOG_SD,
    _EARLY_CLOSE_SHARE,
    _LATE_AMOUNT_WEIGHT,
    _LATE_DAYS_CW_WEIGHT,
    _LATE_DAYS_SCALE,
    _LATE_QUARTER_END,
    _LATE_UTILIZATION_WEIGHT,
    _LONG_DELAY_SCALE,
    _LONG_DELAY_SHARE,
    _MAX_DAYS_LATE,
    _MIN_INVOICE_CENTS,
    _NEVER,
    _PRE_LEDGER_MONTHS,
    _QUARTER_END_BUMP,
    _SEASON,
    _SLIP_DECAY,
    _UTILIZATION_CENTER,
)
from ledger.synthetic.paydays import _Habits, _PayDays
from ledger.synthetic.timeline import _Calendar


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
    delayed: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    """Late for the customer's own reasons (not only a slip to the next pay day)."""
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


def _delay_probability(customers: _Customers, habits: _Habits, invoices: _Invoices,
                       utilization: np.ndarray, cal: _Calendar, config: SyntheticConfig
                       ) -> np.ndarray:
    """Probability of each invoice being delayed for the customer's own reasons."""
    customer = invoices.customer
    relative_size = np.log(invoices.cents / customers.typical_cents[customer])
    quarter_end = (cal.calendar_month[invoices.month] % 3 == 0)
    logit = (config.late_intercept + customers.risk[customer] - invoices.cw
             + habits.laxity[customer]
             + _LATE_AMOUNT_WEIGHT * relative_size
             + _LATE_UTILIZATION_WEIGHT * np.clip(utilization - _UTILIZATION_CENTER, -1.0, 2.0)
             + _LATE_QUARTER_END * quarter_end
             + config.shock_logit * (invoices.month >= cal.shock_index))
    return _sigmoid(logit)


def _slip_probability(invoices: _Invoices, habits: _Habits, paydays: _PayDays) -> np.ndarray:
    """Probability of each invoice slipping to the customer's first pay day after its due date.

    Zero when the due date is a pay day; otherwise the customer's slip propensity, times
    _SLIP_DECAY for each business day between the due date and that pay day (an invoice due
    on a Saturday slips to Monday as often as one due on a Thursday to a Friday run, more often
    than one due on a Tuesday). With no pay day between issue and due date, the propensity.
    """
    customer, due = invoices.customer, invoices.due.astype(np.int64)
    following = paydays.next_on_or_after(customer, due)
    between = paydays.business_days_between(customer, due + 1, following)
    slip = habits.slip[customer] * _SLIP_DECAY ** between * (following > due)
    no_run = paydays.last_on_or_before(customer, due) < invoices.issue
    return np.where(no_run, np.maximum(slip, habits.slip[customer]), slip)


def _draw_lateness(rng: np.random.Generator, invoices: _Invoices, p_delay: np.ndarray,
                   p_slip: np.ndarray) -> _Invoices:
    """late ~ Bernoulli(p_late) with one uniform u each; invoices due at/after default: late.

    An invoice is late when delayed or slipped, independently: p_late = 1 - (1 - p_delay)
    (1 - p_slip). The same uniform tells why: u < p_delay is a delay, which happens with
    probability p_delay / p_late given late, as it should.
    """
    draws = rng.random(len(invoices))
    doomed = invoices.due >= invoices.default_day
    p_late = 1.0 - (1.0 - p_delay) * (1.0 - p_slip)
    return replace(invoices, p_late=np.where(doomed, 1.0, p_late),
                   late=(draws < p_late) | doomed, delayed=(draws < p_delay) & ~doomed,
                   doomed=doomed)


def _settlement_dates(rng: np.random.Generator, invoices: _Invoices, cal: _Calendar,
                      config: SyntheticConfig, paydays: _PayDays) -> np.ndarray:
    """Day each invoice would be settled (_NEVER when doomed), ignoring the ledger end.

    Always a pay day of the customer when there is one in range. On time: the last pay day on
    or before the due date, some on an earlier one, never before issue (with no pay day within
    the terms, the first business day after issue). Slipped: the first pay day after the due
    date. Delayed: the first pay day from 1 + exponential days after due (a short delay or, for
    some, a long one), longer for low creditworthiness and after a shock.
    """
    n = len(invoices)
    close, early = rng.random(n), rng.random(n)
    customer = invoices.customer
    issue, due = invoices.issue.astype(np.int64), invoices.due.astype(np.int64)
    target = np.where(close < _EARLY_CLOSE_SHARE, due,
                      issue + np.floor(early * (due - issue + 1)).astype(np.int64))
    on_time = paydays.within(customer, target, issue, due)
    long_delay = rng.random(n) < _LONG_DELAY_SHARE
    scale = (np.where(long_delay, _LONG_DELAY_SCALE, _LATE_DAYS_SCALE)
             * np.exp(-_LATE_DAYS_CW_WEIGHT * invoices.cw)
             * np.where(invoices.due >= cal.shock_start, config.shock_delay_factor, 1.0))
    days_late = np.minimum(1 + np.floor(rng.exponential(size=n) * scale), _MAX_DAYS_LATE)
    late_from = due + np.where(invoices.delayed, days_late, 1).astype(np.int64)
    settle = np.where(invoices.late, paydays.next_on_or_after(customer, late_from), on_time)
    return np.where(invoices.doomed, _NEVER, settle).astype(np.int32)
