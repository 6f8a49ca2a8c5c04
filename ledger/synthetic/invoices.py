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
    _MAX_DAYS_LATE,
    _MIN_INVOICE_CENTS,
    _NEVER,
    _PRE_LEDGER_MONTHS,
    _QUARTER_END_BUMP,
    _SEASON,
    _UTILIZATION_CENTER,
)
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
