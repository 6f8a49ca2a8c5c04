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
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import ndtr

from features import build_snapshot
from ledger.loader import Ledger
from ledger.summary import reporting_currency
from models.paydays import PayCalendar, pay_calendar, pay_habits
from models.payment_dates import CAP_DAYS, PaymentDateModel

TAIL_SHARE = 0.25
"""Beyond P10 (P90) the quantile function goes on to P0 (P100) by this share of P50 - P10
(P90 - P50)."""
TAIL_FROM = 2
"""From the P50 (segment 2 of the levels) up, days grow geometrically with the level instead
of linearly: most late payments come soon after the P50, a few much later."""
DEFAULT_CORRELATIONS = {"customer_correlation": 0.1, "common_correlation": 0.0}
"""Copula correlations of a model that estimated none (about what the payment-date model
estimates on the generated ledger: 0.06 and 0.002)."""
WEEK_ERROR = 0.08
"""Default `week_error`: chosen on the back-test of the generated ledger (2,000 customers, 30
months, seed 11) as of 2025-09-01 so that the P10-P90 holds about 80% of the weeks, then
checked as of 2026-01-05 and 2026-03-02 (docs/payment_dates.md); `o2c backtest forecast`
shows it for any ledger, `--week-error` sets it."""
CHUNK = 100
"""Simulations drawn at a time (bounds memory: invoices x CHUNK floats)."""


@dataclass(frozen=True)
class ForecastConfig:
    """How the weekly forecast is simulated."""

    weeks: int = 13
    """Weeks forecast, each the 7 days from the as-of date + 7k."""
    simulations: int = 2000
    """Monte Carlo draws of every invoice's payment day."""
    customer_correlation: float | None = None
    """Correlation of the draws of one customer's invoices (Gaussian copula); None: the
    payment-date model's estimate (`metadata["customer_correlation"]`, from its errors on its
    latest training dates), `DEFAULT_CORRELATIONS` without one."""
    common_correlation: float | None = None
    """Correlation of the draws of all invoices: the part of the model's errors shared by the
    whole book (everyone paying earlier or later than predicted); None as above."""
    week_error: float = WEEK_ERROR
    """Log-normal spread of each simulated week's total, drawn per week and simulation: the
    relative error of a week's forecast that the invoice-level draws leave out (see
    `WEEK_ERROR`)."""
    interval: tuple[float, float] = (0.1, 0.9)
    """Quantiles of the simulated weekly totals reported as the interval."""
    seed: int = 0
    """Seed of the draws: the same inputs and seed give the same forecast."""

    def __post_init__(self) -> None:
        if self.week_error < 0:
            raise ValueError("week_error must be at least 0")
        if self.weeks < 1 or self.simulations < 10:
            raise ValueError("weeks must be at least 1 and simulations at least 10")
        customer, common = self.correlations()
        if min(customer, common) < 0 or customer + common > 1:
            raise ValueError("customer_correlation and common_correlation must be at least 0 "
                             "and add up to at most 1")

    def correlations(self) -> tuple[float, float]:
        """(customer, common) correlations, the defaults where None."""
        customer = self.customer_correlation
        common = self.common_correlation
        return (DEFAULT_CORRELATIONS["customer_correlation"] if customer is None else customer,
                DEFAULT_CORRELATIONS["common_correlation"] if common is None else common)

    def for_model(self, model: PaymentDateModel) -> ForecastConfig:
        """This configuration with the model's estimated correlations where it has None."""
        return replace(self, **{name: float(model.metadata[name])
                                for name in DEFAULT_CORRELATIONS
                                if getattr(self, name) is None and name in model.metadata})


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
    linear = low + share * (high - low)
    tail = low + np.expm1(share * np.log1p(high - low))  # (1 + span) ** share - 1 days on
    return np.where(segment >= TAIL_FROM, tail, linear)


def outcome_levels(levels: np.ndarray, knots: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The level of each outcome in its row's quantile function (the inverse of `draw_days`:
    its probability integral transform), for `days` one per row."""
    days = np.clip(days, knots[:, 0], knots[:, -1])
    segment = np.clip((days[:, None] > knots[:, 1:-1]).sum(axis=1), 0, len(levels) - 2)
    rows = np.arange(len(knots))
    low, high = knots[rows, segment], knots[rows, segment + 1]
    span = np.maximum(high - low, 1e-9)
    share = np.where(segment >= TAIL_FROM, np.log1p(days - low) / np.log1p(span),
                     (days - low) / span)
    return levels[segment] + np.clip(share, 0, 1) * (levels[segment + 1] - levels[segment])


def cash_shares(invoices: pd.DataFrame) -> np.ndarray:
    """The share of each invoice's open amount expected as cash rather than credit notes: one
    minus its customer's credit-note share of the last 365 days (`credit_note_share_365d`,
    a point-in-time feature; 1 where absent)."""
    if "credit_note_share_365d" not in invoices:
        return np.ones(len(invoices))
    credited = invoices["credit_note_share_365d"].to_numpy(dtype=float, na_value=0.0)
    return 1.0 - np.clip(np.nan_to_num(credited), 0.0, 1.0)


def correlated_uniforms(customers: np.ndarray, draws: int, rho: float,
                        rng: np.random.Generator, common: float = 0.0) -> np.ndarray:
    """Uniform draws (invoices x draws): those of one customer correlated by `rho` + `common`,
    all of them by `common` (a one-factor Gaussian copula per customer and for the book)."""
    codes, _ = pd.factorize(customers)
    shared = rng.standard_normal((codes.max() + 1 if len(codes) else 0, draws))
    book = rng.standard_normal(draws)
    own = rng.standard_normal((len(codes), draws))
    return ndtr(np.sqrt(common) * book[None, :] + np.sqrt(rho) * shared[codes]
                + np.sqrt(1 - rho - common) * own)


def simulate_weeks(
    invoices: pd.DataFrame, as_of: dt.date, config: ForecastConfig,
    calendar: PayCalendar | None = None,
) -> np.ndarray:
    """Simulated collections per week (draws x weeks) of `invoices`: columns `customer_id`,
    `due_date`, `amount` (reporting currency), `days_p10/p50/p90`, `days_past_due`; each
    payment day moved to the customer's nearest pay day (`calendar`, when given)."""
    rng = np.random.default_rng(config.seed)
    floor = invoices["days_past_due"].to_numpy(dtype=float)
    levels, knots = quantile_knots(invoices[["days_p10", "days_p50", "days_p90"]]
                                   .to_numpy(dtype=float), floor)
    start = (pd.to_datetime(invoices["due_date"]) - pd.Timestamp(as_of)).dt.days.to_numpy()
    amounts = invoices["amount"].to_numpy(dtype=float) * cash_shares(invoices)
    customers = invoices["customer_id"].astype(str).to_numpy()
    customer_rho, common_rho = config.correlations()
    templates = None if calendar is None else calendar.rows(customers)
    totals = []
    for done in range(0, config.simulations, CHUNK):
        draws = min(CHUNK, config.simulations - done)
        days = draw_days(levels, knots, correlated_uniforms(
            customers, draws, customer_rho, rng, common_rho))
        paid_on = start[:, None] + np.floor(days)  # days after the as-of date
        if calendar is not None:
            paid_on = calendar.snap(templates, paid_on)
        week = np.floor(paid_on / 7).astype(int)
        week[(days >= CAP_DAYS) | (week < 0) | (week >= config.weeks)] = config.weeks
        index = week + (config.weeks + 1) * np.arange(draws)[None, :]
        sums = np.bincount(index.ravel(), weights=np.repeat(amounts, draws),
                           minlength=(config.weeks + 1) * draws)
        totals.append(sums.reshape(draws, config.weeks + 1)[:, :config.weeks])
    simulated = np.vstack(totals)
    noise = rng.standard_normal(simulated.shape)
    return simulated * np.exp(config.week_error * noise - config.week_error**2 / 2)


def forecast_weeks(
    invoices: pd.DataFrame, as_of: dt.date, config: ForecastConfig,
    calendar: PayCalendar | None = None,
) -> pd.DataFrame:
    """One row per week: `week_start`, `expected` (mean simulated collections), `low` and
    `high` (the `interval` quantiles of the simulated totals)."""
    simulated = simulate_weeks(invoices, as_of, config, calendar)
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
            "simulations": self.config.simulations, "week_error": self.config.week_error,
            **dict(zip(DEFAULT_CORRELATIONS, self.config.correlations(), strict=True)),
            "not_issued": NOT_ISSUED,
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
    """The weekly forecast of the collections of the invoices open at `as_of`: the model's
    quantiles, its estimated correlations, the customers' pay days."""
    invoices = open_invoices(ledger, as_of, model)
    config = config.for_model(model)
    calendar = pay_calendar(pay_habits(ledger, as_of), as_of, 7 * config.weeks + 14)
    return CashForecast(as_of=as_of, currency=reporting_currency(ledger),
                        weeks=forecast_weeks(invoices, as_of, config, calendar),
                        invoices=invoices, config=config)
