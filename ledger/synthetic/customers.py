"""Customers and their latent state: attributes, monthly creditworthiness, default dates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledger.synthetic.config import SyntheticConfig
from ledger.synthetic.numeric import _choose, _sigmoid
from ledger.synthetic.parameters import (
    _COUNTRIES,
    _CREDIT_LIMIT_MONTHS,
    _CW_LEVEL_SD,
    _CW_MONTHLY_SD,
    _CW_PERSISTENCE,
    _CW_SHOCK_DROP,
    _CW_SHOCK_JOINER_DROP,
    _CW_SIZE_EFFECT,
    _CW_START_SD,
    _DEFAULT_CW_WEIGHT,
    _DEFAULT_INDUSTRY_WEIGHT,
    _DEFAULT_INTERCEPT,
    _DEFAULT_MIN_HISTORY_DAYS,
    _FX_TO_USD,
    _INDUSTRIES,
    _MEDIAN_SALES_USD,
    _NAME_PREFIXES,
    _NEVER,
    _OTHER_METHODS,
    _PO_USE_BY_SEGMENT,
    _RATE_SIZE_ELASTICITY,
    _SALES_LOG_SD,
    _SEGMENT_UPPER_SALES_USD,
    _SHOCK_JOINER_LOG_SALES_SHIFT,
    _STATED_SALES_LOG_SD,
    _TERMS_BY_SEGMENT,
    _TERMS_DAYS,
    _USUAL_METHOD_SHARE,
)
from ledger.synthetic.timeline import _Calendar


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
