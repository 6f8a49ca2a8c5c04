"""The customer-level model: probability of serious delinquency within 12 months.

Label as of A: some invoice of the customer reaches 90+ days past due within the horizon,
i.e. for some invoice the day `due_date + 91` falls in (A, A + 365] and the invoice is still
not settled (payments plus credit notes dated before that day do not cover it). Invoices open
at A count, and so do invoices issued later.

Population as of A: customers with at least one invoice issued before A, except those already
90+ days past due at A (`overdue_90_plus_amount > 0`): they are in serious delinquency
already, so a forecast of it says nothing; the limit policy flags them for review instead.

Maturity: a label as of A is known once A + 365 days <= the cut-off C (labels use only
payments and credit notes dated before C). Out of time, given the invoice model's
`valid_from` V and the ledger's end E: validation is as of A_v, the latest month start
<= min(V, E - 365 days), labelled with everything in the ledger; training is as of the
month starts A <= A_v - 365 days (labels known before A_v), at least 90 days into the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from features import build_customer_features, invoice_settlements
from ledger.loader import Ledger
from ledger.summary import ledger_end
from models.risk_model import RiskModel
from training.config import TrainingConfig
from training.examples import TaskExamples
from training.fit import fit_risk_model

SERIOUS_MODEL_NAME = "serious-delinquency"
HORIZON_DAYS = 365
"""The label's horizon: 12 months after the as-of date."""
SERIOUS_DPD = 90
"""An invoice is seriously delinquent when it is open more than this many days past due."""
WARMUP_DAYS = 90
"""The earliest training as-of date is at least this many days into the ledger."""
MIN_EXAMPLES = 200
"""Fewer training examples than this (or fewer than 10 of either outcome) is an error."""


# --------------------------------------------------------------------------- dates


def month_start(day: dt.date) -> dt.date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The month start `months` after (or before) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def training_dates(first: dt.date, cutoff: dt.date) -> list[dt.date]:
    """Month starts A with A + 365 days <= `cutoff` and A >= `first` + 90 days, in order."""
    latest = month_start(cutoff - dt.timedelta(days=HORIZON_DAYS))
    if latest + dt.timedelta(days=HORIZON_DAYS) > cutoff:
        latest = add_months(latest, -1)
    earliest = first + dt.timedelta(days=WARMUP_DAYS)
    dates = []
    day = latest
    while day >= earliest:
        dates.append(day)
        day = add_months(day, -1)
    return sorted(dates)


def validation_date(valid_from: dt.date, end: dt.date) -> dt.date:
    """A_v: the latest month start <= min(valid_from, end - 365 days)."""
    return month_start(min(valid_from, end - dt.timedelta(days=HORIZON_DAYS)))


# --------------------------------------------------------------------------- labels


def serious_outcomes(
    settlements: pd.DataFrame, as_of: dt.date, *, horizon_end: dt.date
) -> pd.DataFrame:
    """Per customer with an invoice before `as_of`: `already_serious` (90+ past due at
    `as_of`) and `serious` (an invoice reaches 90+ past due in (as_of, horizon_end]).

    `settlements` is `invoice_settlements(ledger, before=C)` with C >= `horizon_end`, so that
    an invoice without a settlement date is open up to C.
    """
    t = pd.Timestamp(as_of)
    due = pd.to_datetime(settlements["due_date"])
    settled = pd.to_datetime(settlements["settle_date"])
    serious_day = due + pd.Timedelta(days=SERIOUS_DPD + 1)
    open_then = settled.isna() | (settled >= serious_day)
    frame = pd.DataFrame({
        "customer_id": settlements["customer_id"].to_numpy(),
        "known": (pd.to_datetime(settlements["issue_date"]) < t).to_numpy(),
        "already": (open_then & (serious_day <= t)).to_numpy(),
        "serious": (open_then & (serious_day > t)
                    & (serious_day <= pd.Timestamp(horizon_end))).to_numpy(),
    })
    grouped = frame.groupby("customer_id", sort=True).agg(
        known=("known", "any"), already_serious=("already", "any"), serious=("serious", "any"))
    grouped = grouped[grouped["known"]].drop(columns="known")
    return grouped.reset_index()


@dataclass
class CustomerExamples:
    """Customer feature rows with the `serious` label, and what was left out."""

    frame: pd.DataFrame
    """`build_customer_features` columns plus `serious` (bool), sorted by as_of, customer."""
    counts: dict[str, int]
    dates: list[dt.date]


def customer_examples(
    ledger: Ledger, dates: list[dt.date], *, cutoff: dt.date
) -> CustomerExamples:
    """Labelled customer rows as of each of `dates`; labels use facts dated before `cutoff`.

    Raises ValueError when a date's horizon does not end by `cutoff` (immature label).
    """
    settlements = invoice_settlements(ledger, before=cutoff)
    frames, counts = [], {"customers_with_invoices": 0, "already_serious_left_out": 0}
    for day in dates:
        horizon_end = day + dt.timedelta(days=HORIZON_DAYS)
        if horizon_end > cutoff:
            raise ValueError(f"labels as of {day} mature only on {horizon_end}, after the "
                             f"cut-off {cutoff}")
        outcomes = serious_outcomes(settlements, day, horizon_end=horizon_end)
        counts["customers_with_invoices"] += len(outcomes)
        counts["already_serious_left_out"] += int(outcomes["already_serious"].sum())
        outcomes = outcomes[~outcomes["already_serious"]]
        features = build_customer_features(ledger, day)
        labels = outcomes[["customer_id", "serious"]].astype(
            {"customer_id": features["customer_id"].dtype})
        frames.append(features.merge(labels, on="customer_id", how="inner"))
    frame = (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())
    if len(frame):
        frame["serious"] = frame["serious"].astype(bool)
        frame = frame.sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)
    counts["examples"] = len(frame)
    counts["serious"] = int(frame["serious"].sum()) if len(frame) else 0
    return CustomerExamples(frame, counts, list(dates))


def check_examples(examples: CustomerExamples, name: str) -> None:
    """Refuse examples too few, or too one-sided, for a model or an evaluation."""
    n = len(examples.frame)
    positives = examples.counts.get("serious", 0)
    minimum = MIN_EXAMPLES if name == "training" else 20
    if n < minimum or positives < 10 or n - positives < 10:
        raise ValueError(
            f"too few {name} examples for the serious-delinquency model: {n} customer rows "
            f"({positives} serious) as of {[str(d) for d in examples.dates]}; it needs at "
            f"least {minimum} rows and 10 of each outcome (a longer ledger, more customers "
            "or a later valid_from)")


# --------------------------------------------------------------------------- fitting


def training_examples(ledger: Ledger, cutoff: dt.date) -> CustomerExamples:
    """Training rows as of the monthly dates whose 12-month labels are known before `cutoff`,
    checked."""
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    if first is None:
        raise ValueError("the ledger has no invoices")
    dates = training_dates(first, cutoff)
    if len(dates) < 3:
        raise ValueError(
            f"too few training as-of dates for the serious-delinquency model: labels need 365 "
            f"days after each as-of date and before {cutoff}, and the ledger starts on {first} "
            "(at least 90 days of history first); three monthly dates are needed")
    examples = customer_examples(ledger, dates, cutoff=cutoff)
    check_examples(examples, "training")
    return examples


def serious_task_examples(
    ledger: Ledger, valid_from: dt.date, config: TrainingConfig
) -> TaskExamples:
    """The task's examples: validation as of A_v (`validation_date`), training before it."""
    end = ledger_end(ledger)
    if end is None:
        raise ValueError("the ledger has no dated facts")
    valid_as_of = validation_date(valid_from, end)
    valid = customer_examples(ledger, [valid_as_of], cutoff=end)
    check_examples(valid, "validation")
    train = training_examples(ledger, valid_as_of)
    return TaskExamples(
        train=train.frame, valid=valid.frame, trained_before=valid_as_of,
        valid_from=valid_as_of, counts={"train": train.counts, "valid": valid.counts},
        params={"valid_from": str(valid_from), "valid_as_of": str(valid_as_of),
                "train_as_of_first": str(train.dates[0]),
                "train_as_of_last": str(train.dates[-1]), "horizon_days": HORIZON_DAYS,
                "serious_dpd": SERIOUS_DPD})


def fit_serious_model(
    ledger: Ledger, *, cutoff: dt.date, config: TrainingConfig
) -> tuple[RiskModel, dict, CustomerExamples]:
    """Fit on monthly as-of dates whose 12-month labels are known before `cutoff` (no MLflow)."""
    examples = training_examples(ledger, cutoff)
    model, info = fit_risk_model(examples.frame.rename(columns={"serious": "late"}),
                                 inner_share_for(config, examples.frame))
    model.metadata.update(target="serious delinquency (90+ days past due) within 365 days",
                          trained_before=str(cutoff))
    return model, info, examples


def inner_share_for(config: TrainingConfig, train: pd.DataFrame) -> TrainingConfig:
    """With few monthly dates, widen the inner (early stopping, calibration) slice so that
    it holds at least the latest date (at most 45% of the rows)."""
    n_dates = train["as_of"].nunique()
    share = min(0.45, max(config.inner_valid_share, 1.05 / n_dates))
    return config.model_copy(update={"inner_valid_share": share})
