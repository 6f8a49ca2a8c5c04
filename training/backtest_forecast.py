"""Back-test of the cash forecast as of a date D: what the invoices open at D actually brought
in each week, against the forecast and two rules.

The payment-date model is fitted on what was known before D only (examples and labels from
facts dated before D, `training.payment_dates`; no MLflow run), then the open invoices at D are
forecast (`models.forecast`). Rules:
- `due_date`: every open invoice paid in the week of its due date (overdue ones in the first);
- `average_delay`: paid at its due date + the customer's mean days late so far
  (`days_late_mean_all`, 0 without history), a date before D in the first week.
Actual: the payments dated in each week on those invoices, in the reporting currency (each at
its invoice's rate: open amount in the reporting currency over open amount). Figures: the mean
weekly absolute error of each forecast, the error of its total over the weeks, and the share
of weeks whose actual falls inside the forecast's interval.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import build_invoice_features
from ledger.loader import Ledger
from models.forecast import CashForecast, ForecastConfig, cash_forecast, rule_weeks
from models.payment_dates import PaymentDateModel
from training.config import TrainingConfig
from training.examples import issue_examples
from training.payment_dates import examples_in, fit_payment_dates

METHODS = ("forecast", "due_date", "average_delay")


@dataclass(frozen=True)
class ForecastBacktest:
    """The forecast as of D beside the rules and what happened."""

    forecast: CashForecast
    weeks: pd.DataFrame
    """Per week: `week_start`, `actual`, `forecast` (expected), `low`, `high`, `due_date`,
    `average_delay`."""
    n_train: int

    def figures(self) -> dict[str, float]:
        """Weekly mean absolute error and total error (forecast - actual) of each method,
        the interval's weekly coverage, and sizes."""
        actual = self.weeks["actual"]
        out: dict[str, float] = {}
        for method in METHODS:
            out[f"{method}_weekly_mae"] = float((self.weeks[method] - actual).abs().mean())
            out[f"{method}_total_error"] = float(self.weeks[method].sum() - actual.sum())
        inside = (actual >= self.weeks["low"]) & (actual <= self.weeks["high"])
        out.update(interval_coverage=float(inside.mean()), actual_total=float(actual.sum()),
                   open_invoices=float(len(self.forecast.invoices)),
                   open_amount=float(self.forecast.invoices["amount"].sum()),
                   n_train=float(self.n_train))
        return out


def fit_known_before(ledger: Ledger, as_of: dt.date,
                     config: TrainingConfig) -> tuple[PaymentDateModel, int]:
    """The payment-date model from facts dated before `as_of`, and its training rows."""
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    if first is None or not first < as_of:
        raise ValueError(f"as-of date {as_of} must follow the ledger's first invoice ({first})")
    invoices = issue_examples(build_invoice_features(ledger))
    train, _ = examples_in(ledger, invoices, first, as_of, config=config,
                           max_dates=config.snapshot_max_dates, warmup_days=90)
    if len(train) < 100 or train["as_of"].nunique() < 2:
        raise ValueError(f"too little known before {as_of} to fit the payment-date model "
                         f"({len(train)} examples); choose a later date")
    model, _ = fit_payment_dates(train, config)
    return model, len(train)


def actual_weeks(ledger: Ledger, invoices: pd.DataFrame, as_of: dt.date,
                 weeks: int) -> np.ndarray:
    """Payments on `invoices` per week from `as_of`, in the reporting currency."""
    end = as_of + dt.timedelta(days=7 * weeks)
    paid = ledger.con.sql(
        "SELECT invoice_id, payment_date, amount FROM payments "
        f"WHERE payment_date >= DATE '{as_of}' AND payment_date < DATE '{end}'").df()
    rate = (invoices["open_amount_base"] / invoices["open_amount"]).where(
        invoices["open_amount"] != 0)
    rates = pd.Series(rate.to_numpy(), index=invoices["invoice_id"].astype(str))
    paid = paid.assign(rate=paid["invoice_id"].astype(str).map(rates)).dropna(subset=["rate"])
    week = (pd.to_datetime(paid["payment_date"]) - pd.Timestamp(as_of)).dt.days // 7
    return np.bincount(week.to_numpy(dtype=int),
                       weights=(paid["amount"] * paid["rate"]).to_numpy(dtype=float),
                       minlength=weeks)[:weeks]


def backtest_forecast(
    ledger: Ledger, as_of: dt.date, *, config: TrainingConfig, forecast: ForecastConfig,
) -> ForecastBacktest:
    """Fit on the past, forecast the open invoices at `as_of`, compare with what was paid."""
    last = ledger.scalar("SELECT max(payment_date) FROM payments")
    end = as_of + dt.timedelta(days=7 * forecast.weeks)
    if last is None or last < end - dt.timedelta(days=1):
        raise ValueError(f"the ledger's payments end {last}: {forecast.weeks} weeks from "
                         f"{as_of} are not all observed; choose an as-of date before "
                         f"{(last or as_of) - dt.timedelta(days=7 * forecast.weeks - 1)}")
    model, n_train = fit_known_before(ledger, as_of, config)
    cash = cash_forecast(ledger, as_of, model, forecast)
    invoices = cash.invoices
    delay = invoices["days_late_mean_all"].fillna(0.0).to_numpy(dtype=float)
    table = cash.weeks.rename(columns={"expected": "forecast"}).assign(
        actual=actual_weeks(ledger, invoices, as_of, forecast.weeks),
        due_date=rule_weeks(invoices, np.zeros(len(invoices)), as_of, forecast.weeks),
        average_delay=rule_weeks(invoices, delay, as_of, forecast.weeks))
    return ForecastBacktest(forecast=cash, weeks=table, n_train=n_train)
