"""A cash forecast: expected collections per week from the open invoices' payment-date
distributions, with an interval per week from a Monte Carlo simulation.

Each open invoice has quantiles of its days from due date to payment (P10, P50, P90 of the
payment-date model, never before the as-of date). Its distribution is read as a piecewise-linear
quantile function through them, extended beyond P10 and P90 by a quarter of the neighbouring
span, within the model's bounds; a draw of `CAP_DAYS` or more ("90 days late or more") is not
collected within the forecast. The weekly totals are simulated `simulations` times: invoices of
one customer are paid together more often than not (payment runs), so their draws share a
Gaussian copula with correlation `customer_correlation` (0: independent invoices, whose sums
would give far too narrow weekly intervals; 1: a customer pays all its invoices at the same
quantile). The forecast of a week is the mean of its simulated totals, the interval their
P10-P90: quantiles of the sums, not sums of quantiles.

Only invoices issued before the as-of date are forecast; invoices not yet issued are not (a
sales forecast is not part of this project), so later weeks hold less than the cash that will
come in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

from features import build_snapshot
from ledger.loader import Ledger
from ledger.summary import reporting_currency
from models.payment_dates import CAP_DAYS, PaymentDateModel

TAIL_SHARE = 0.25
"""Beyond P10 (P90) the quantile function goes on to P0 (P100) by this share of P50 - P10
(P90 - P50)."""
CHUNK = 100
"""Simulations drawn at a time (bounds memory: invoices x CHUNK floats)."""


@dataclass(frozen=True)
class ForecastConfig:
    """How the weekly forecast is simulated."""

    weeks: int = 13
    """Weeks forecast, each the 7 days from the as-of date + 7k."""
    simulations: int = 2000
    """Monte Carlo draws of every invoice's payment day."""
    customer_correlation: float = 0.6
    """Correlation of the draws of one customer's invoices (Gaussian copula)."""
    interval: tuple[float, float] = (0.1, 0.9)
    """Quantiles of the simulated weekly totals reported as the interval."""
    seed: int = 0
    """Seed of the draws: the same inputs and seed give the same forecast."""

    def __post_init__(self) -> None:
        if self.weeks < 1 or self.simulations < 10:
            raise ValueError("weeks must be at least 1 and simulations at least 10")
        if not 0 <= self.customer_correlation <= 1:
            raise ValueError("customer_correlation must lie in [0, 1]")


def week_starts(as_of: dt.date, weeks: int) -> list[dt.date]:
    """The first day of each forecast week."""
    return [as_of + dt.timedelta(days=7 * k) for k in range(weeks)]


def quantile_knots(days: np.ndarray, floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Levels (0, .1, .5, .9, 1) and, per invoice, the days at each (rows of `days`: P10, P50,
    P90), the tails extended by `TAIL_SHARE` and kept within [floor, CAP_DAYS]."""
    p10, p50, p90 = days[:, 0], days[:, 1], days[:, 2]
    knots = np.column_stack([p10 - TAIL_SHARE * (p50 - p10), p10, p50, p90,
                             p90 + TAIL_SHARE * (p90 - p50)])
    knots = np.clip(np.maximum(knots, floor[:, None]), None, CAP_DAYS)
    return np.array([0.0, 0.1, 0.5, 0.9, 1.0]), knots


def draw_days(levels: np.ndarray, knots: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Days at uniform draws `u` (invoices x draws) through each invoice's quantile function."""
    segment = np.clip(np.searchsorted(levels, u, side="right") - 1, 0, len(levels) - 2)
    rows = np.arange(len(knots))[:, None]
    low, high = knots[rows, segment], knots[rows, segment + 1]
    share = (u - levels[segment]) / (levels[segment + 1] - levels[segment])
    return low + share * (high - low)


def correlated_uniforms(customers: np.ndarray, draws: int, rho: float,
                        rng: np.random.Generator) -> np.ndarray:
    """Uniform draws (invoices x draws), those of one customer correlated by `rho`."""
    codes, _ = pd.factorize(customers)
    shared = rng.standard_normal((codes.max() + 1 if len(codes) else 0, draws))
    own = rng.standard_normal((len(codes), draws))
    return ndtr(np.sqrt(rho) * shared[codes] + np.sqrt(1 - rho) * own)


def simulate_weeks(
    invoices: pd.DataFrame, as_of: dt.date, config: ForecastConfig,
) -> np.ndarray:
    """Simulated collections per week (draws x weeks) of `invoices`: columns `customer_id`,
    `due_date`, `amount` (reporting currency), `days_p10/p50/p90`, `days_past_due`."""
    rng = np.random.default_rng(config.seed)
    floor = invoices["days_past_due"].to_numpy(dtype=float)
    levels, knots = quantile_knots(invoices[["days_p10", "days_p50", "days_p90"]]
                                   .to_numpy(dtype=float), floor)
    start = (pd.to_datetime(invoices["due_date"]) - pd.Timestamp(as_of)).dt.days.to_numpy()
    amounts = invoices["amount"].to_numpy(dtype=float)
    customers = invoices["customer_id"].astype(str).to_numpy()
    totals = []
    for done in range(0, config.simulations, CHUNK):
        draws = min(CHUNK, config.simulations - done)
        days = draw_days(levels, knots, correlated_uniforms(
            customers, draws, config.customer_correlation, rng))
        paid_on = start[:, None] + np.floor(days)  # days after the as-of date
        week = np.floor(paid_on / 7).astype(int)
        week[(days >= CAP_DAYS) | (week < 0) | (week >= config.weeks)] = config.weeks
        index = week + (config.weeks + 1) * np.arange(draws)[None, :]
        sums = np.bincount(index.ravel(), weights=np.repeat(amounts, draws),
                           minlength=(config.weeks + 1) * draws)
        totals.append(sums.reshape(draws, config.weeks + 1)[:, :config.weeks])
    return np.vstack(totals)


def forecast_weeks(
    invoices: pd.DataFrame, as_of: dt.date, config: ForecastConfig,
) -> pd.DataFrame:
    """One row per week: `week_start`, `expected` (mean simulated collections), `low` and
    `high` (the `interval` quantiles of the simulated totals)."""
    simulated = simulate_weeks(invoices, as_of, config)
    low, high = np.quantile(simulated, config.interval, axis=0)
    return pd.DataFrame({"week_start": pd.to_datetime(week_starts(as_of, config.weeks)),
                         "expected": simulated.mean(axis=0), "low": low, "high": high})


def rule_weeks(invoices: pd.DataFrame, days: np.ndarray, as_of: dt.date,
               weeks: int) -> np.ndarray:
    """Collections per week if every invoice were paid `days` after its due date (a date
    before `as_of`: in the first week)."""
    paid_on = ((pd.to_datetime(invoices["due_date"]) - pd.Timestamp(as_of)).dt.days.to_numpy()
               + np.floor(days))
    week = np.floor(np.maximum(paid_on, 0) / 7).astype(int)
    inside = week < weeks
    return np.bincount(week[inside], weights=invoices["amount"].to_numpy(float)[inside],
                       minlength=weeks)


NOT_ISSUED = ("invoices not yet issued at the as-of date are not forecast: estimating them "
              "needs a sales forecast, which this project does not make; later weeks "
              "therefore show only the collections of invoices already issued")
"""What the forecast leaves out, and why (printed with it)."""


@dataclass(frozen=True)
class CashForecast:
    """Expected collections per week of the invoices open at `as_of`."""

    as_of: dt.date
    currency: str
    weeks: pd.DataFrame
    """`forecast_weeks` rows."""
    invoices: pd.DataFrame
    """The open invoices with their amount (reporting currency) and payment-day quantiles."""
    config: ForecastConfig

    def summary(self) -> dict:
        """JSON-friendly figures (what `o2c forecast --json` prints)."""
        return {
            "as_of": str(self.as_of), "currency": self.currency, "weeks": [
                {"week_start": str(r.week_start.date()), "expected": round(r.expected, 2),
                 "low": round(r.low, 2), "high": round(r.high, 2)}
                for r in self.weeks.itertuples()],
            "total_expected": round(float(self.weeks["expected"].sum()), 2),
            "open_invoices": len(self.invoices),
            "open_amount": round(float(self.invoices["amount"].sum()), 2),
            "simulations": self.config.simulations, "not_issued": NOT_ISSUED,
        }


def open_invoices(ledger: Ledger, as_of: dt.date, model: PaymentDateModel) -> pd.DataFrame:
    """The invoices open at `as_of` (`build_snapshot`) with `amount` (open, in the reporting
    currency) and the model's `days_p10/p50/p90`."""
    snapshot = build_snapshot(ledger, as_of)
    days = model.predict_days(snapshot)
    return snapshot.assign(amount=snapshot["open_amount_base"].fillna(0.0),
                           days_p10=days[:, 0], days_p50=days[:, 1], days_p90=days[:, 2])


def cash_forecast(
    ledger: Ledger, as_of: dt.date, model: PaymentDateModel, config: ForecastConfig,
) -> CashForecast:
    """The weekly forecast of the collections of the invoices open at `as_of`."""
    invoices = open_invoices(ledger, as_of, model)
    return CashForecast(as_of=as_of, currency=reporting_currency(ledger),
                        weeks=forecast_weeks(invoices, as_of, config), invoices=invoices,
                        config=config)
