"""The customer-level model: probability of serious delinquency within a horizon.

Label as of A, for a horizon of H days and a threshold of D days past due
(`models.limits.SeriousLabel`): some invoice of the customer is open more than D days past
due on some day in (A, A + H], i.e. its day `due_date + D + 1` (or A + 1 if later) falls by
A + H and the invoice is not settled before it (payments plus credit notes dated before
that day do not cover it). Invoices open at A count, and so do invoices issued later. The
design's label is D = 90 within H = 365.

Population as of A: customers with at least one invoice issued before A, except those already
90+ days past due at A (an invoice more than 90 days past due and still open at A:
`overdue_90_plus_amount > 0`): they are in serious delinquency already, so a forecast of it
says nothing; the limit policy puts them on credit hold instead. This holds whatever D is.

Maturity: a label as of A is known once A + H <= the cut-off C (labels use only payments and
credit notes dated before C). Out of time, given the invoice model's `valid_from` V and the
ledger's end E: validation is as of A_v, the latest month start <= min(V, E - H), labelled
with everything in the ledger; training is as of dates A <= A_v - H (labels known before A_v),
at least 90 days into the ledger: month starts, or every 7 days when fewer than
`MIN_MONTHLY_DATES` month starts fit (short ledgers).

Choosing the horizon (`choose_horizon`): the first of `HORIZONS` (the most serious threshold
first, then the longest horizon: 90+ days past due within 12, 6 and 3 months, then 60+,
30+, 15+ and 5+) whose matured examples suffice: at least `MIN_TRAIN_DATES` training dates,
`MIN_EXAMPLES` training rows and, in training and in validation alike, the gate's
`min_outcomes` of each outcome. On a 30-month ledger validated from its last year this is the
design's 12 months; on a 14-month ledger or early in a longer one a shorter horizon; on a
ledger without any 90+ days past due (the IBM sample: 5+ within 6 months) a lower threshold.
The label chosen is logged (`horizon_days`, `serious_dpd`, `label_text` run parameters, with
the labels passed over and why) and kept in the model's metadata with its training base rate
(`label_base_rate`); the limit policy puts its probabilities on the design's scale and says
which label they come from (`models.limits`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import build_customer_features, invoice_settlements
from ledger.loader import Ledger
from ledger.summary import ledger_end
from models.limits import DESIGN_LABEL, SeriousLabel
from training.config import TrainingConfig
from training.examples import TaskExamples

SERIOUS_MODEL_NAME = "serious-delinquency"
HORIZON_DAYS = DESIGN_LABEL.days
"""The design's horizon: 12 months after the as-of date."""
SERIOUS_DPD = DESIGN_LABEL.dpd
"""The design's threshold, and the population's: an invoice is seriously delinquent when it
is open more than this many days past due."""
WARMUP_DAYS = 90
"""The earliest training as-of date is at least this many days into the ledger."""
MIN_EXAMPLES = 200
"""Fewer training examples than this (or fewer than 10 of either outcome) is an error."""
MIN_MONTHLY_DATES = 6
"""With fewer month starts than this to train on, training as-of dates are weekly."""
MIN_TRAIN_DATES = 3
"""A horizon needs at least this many training as-of dates."""


HORIZONS: tuple[SeriousLabel, ...] = tuple(
    SeriousLabel(days, dpd)
    for dpd in (SERIOUS_DPD, 60, 30, 15, 5) for days in (HORIZON_DAYS, 182, 91))
"""Labels tried in order by `choose_horizon`: the most serious threshold first, then the
longest horizon."""


# --------------------------------------------------------------------------- dates


def month_start(day: dt.date) -> dt.date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The month start `months` after (or before) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def training_dates(
    first: dt.date, cutoff: dt.date, horizon_days: int = HORIZON_DAYS
) -> list[dt.date]:
    """As-of dates A with A + `horizon_days` <= `cutoff` and A >= `first` + 90 days, in
    order: month starts, or every 7 days back from the latest possible A when fewer than
    `MIN_MONTHLY_DATES` month starts fit."""
    latest = cutoff - dt.timedelta(days=horizon_days)
    earliest = first + dt.timedelta(days=WARMUP_DAYS)
    day = month_start(latest)
    monthly = []
    while day >= earliest:
        monthly.append(day)
        day = add_months(day, -1)
    if len(monthly) >= MIN_MONTHLY_DATES:
        return sorted(monthly)
    weekly = []
    day = latest
    while day >= earliest:
        weekly.append(day)
        day -= dt.timedelta(days=7)
    return sorted(weekly)


def validation_date(
    valid_from: dt.date, end: dt.date, horizon_days: int = HORIZON_DAYS
) -> dt.date:
    """A_v: the latest month start <= min(valid_from, end - horizon_days)."""
    return month_start(min(valid_from, end - dt.timedelta(days=horizon_days)))


# --------------------------------------------------------------------------- labels


def serious_outcomes(
    settlements: pd.DataFrame, as_of: dt.date, *, horizon_end: dt.date, dpd: int = SERIOUS_DPD
) -> pd.DataFrame:
    """Per customer with an invoice before `as_of`: `already_serious` (an invoice more than 90
    days past due and still open at `as_of`) and `serious` (an invoice open more than `dpd`
    days past due on some day in (as_of, horizon_end]).

    `settlements` is `invoice_settlements(ledger, before=C)` with C >= `horizon_end`, so that
    an invoice without a settlement date is open up to C.
    """
    t = np.datetime64(pd.Timestamp(as_of), "ns")
    due = _days(settlements["due_date"])
    settled = _days(settlements["settle_date"])
    ninety_day = due + np.timedelta64(SERIOUS_DPD + 1, "D")
    first_day = np.maximum(due + np.timedelta64(dpd + 1, "D"), t + np.timedelta64(1, "D"))
    codes, customers = pd.factorize(settlements["customer_id"], sort=True)

    def still_open(day: np.ndarray) -> np.ndarray:  # settled on or after `day`, or not at all
        return np.isnat(settled) | (settled >= day)

    def any_by_customer(mask: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=mask, minlength=len(customers)) > 0

    known = any_by_customer(_days(settlements["issue_date"]) < t)
    frame = pd.DataFrame({
        "customer_id": customers,
        "already_serious": any_by_customer((ninety_day <= t) & still_open(t)),
        "serious": any_by_customer((first_day <= np.datetime64(pd.Timestamp(horizon_end), "ns"))
                                   & still_open(first_day)),
    })
    return frame[known].reset_index(drop=True)


def _days(column: pd.Series) -> np.ndarray:
    """A date column as datetime64[ns] values (NaT for none)."""
    values = column.to_numpy()
    if values.dtype == "datetime64[ns]":
        return values
    return pd.to_datetime(column).to_numpy(dtype="datetime64[ns]")


@dataclass
class CustomerExamples:
    """Customer feature rows with the `serious` label, and what was left out."""

    frame: pd.DataFrame
    """`build_customer_features` columns plus `serious` (bool) and `label_known_from` (as_of
    + the horizon), sorted by as_of, customer."""
    counts: dict[str, int]
    dates: list[dt.date]
    horizon: SeriousLabel = DESIGN_LABEL


Settlements = Callable[[dt.date], pd.DataFrame]
"""cut-off -> `invoice_settlements(ledger, before=cut-off)`."""


def settlements_of(ledger: Ledger) -> Settlements:
    """`invoice_settlements` by cut-off, each computed once."""
    cache: dict[dt.date, pd.DataFrame] = {}

    def get(cutoff: dt.date) -> pd.DataFrame:
        if cutoff not in cache:
            frame = invoice_settlements(ledger, before=cutoff)
            for column in ("issue_date", "due_date", "settle_date"):
                frame[column] = pd.to_datetime(frame[column])
            cache[cutoff] = frame
        return cache[cutoff]

    return get


def labelled_outcomes(
    settlements: pd.DataFrame, dates: list[dt.date], *, cutoff: dt.date, horizon: SeriousLabel
) -> list[pd.DataFrame]:
    """`serious_outcomes` as of each of `dates`; ValueError when a date's horizon does not end
    by `cutoff` (immature label)."""
    outcomes = []
    for day in dates:
        horizon_end = day + dt.timedelta(days=horizon.days)
        if horizon_end > cutoff:
            raise ValueError(f"labels as of {day} mature only on {horizon_end}, after the "
                             f"cut-off {cutoff}")
        outcomes.append(serious_outcomes(settlements, day, horizon_end=horizon_end,
                                         dpd=horizon.dpd))
    return outcomes


def customer_examples(
    ledger: Ledger, dates: list[dt.date], *, cutoff: dt.date,
    horizon: SeriousLabel = DESIGN_LABEL, settlements: Settlements | None = None,
) -> CustomerExamples:
    """Labelled customer rows as of each of `dates`; labels use facts dated before `cutoff`.

    Raises ValueError when a date's horizon does not end by `cutoff` (immature label).
    """
    settled = (settlements or settlements_of(ledger))(cutoff)
    per_date = labelled_outcomes(settled, dates, cutoff=cutoff, horizon=horizon)
    frames, counts = [], {"customers_with_invoices": 0, "already_serious_left_out": 0}
    for day, outcomes in zip(dates, per_date, strict=True):
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
        frame["label_known_from"] = frame["as_of"] + pd.Timedelta(days=horizon.days)
        frame = frame.sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)
    counts["examples"] = len(frame)
    counts["serious"] = int(frame["serious"].sum()) if len(frame) else 0
    return CustomerExamples(frame, counts, list(dates), horizon)


def check_examples(examples: CustomerExamples, name: str) -> None:
    """Refuse examples too few, or too one-sided, for a model or an evaluation."""
    n = len(examples.frame)
    positives = examples.counts.get("serious", 0)
    minimum = MIN_EXAMPLES if name == "training" else 20
    if n < minimum or positives < 10 or n - positives < 10:
        raise ValueError(
            f"too few {name} examples for the serious-delinquency model ({examples.horizon.text})"
            f": {n} customer rows ({positives} serious) as of "
            f"{_dates_text(examples.dates)}; it needs at least {minimum} rows and 10 of each "
            "outcome (a longer ledger, more customers or a later valid_from)")


def _dates_text(dates: list[dt.date]) -> str:
    if len(dates) <= 3:
        return str([str(d) for d in dates])
    return f"{len(dates)} dates from {dates[0]} to {dates[-1]}"


# --------------------------------------------------------------------------- the horizon


@dataclass(frozen=True)
class LabelPlan:
    """The label chosen and the dates it is learnt and judged on."""

    horizon: SeriousLabel
    valid_as_of: dt.date
    train_dates: list[dt.date]
    tried: list[str]
    """Why each more serious or longer label before it was not chosen."""


def choose_horizon(
    ledger: Ledger, valid_from: dt.date, *, min_outcomes: int,
    settlements: Settlements | None = None,
) -> LabelPlan:
    """The first of `HORIZONS` with enough matured examples (module docstring); ValueError
    saying why each fell short when none has."""
    end = ledger_end(ledger)
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    if end is None or first is None:
        raise ValueError("the ledger has no invoices")
    settled = settlements or settlements_of(ledger)
    tried = []
    for horizon in HORIZONS:
        valid_as_of = validation_date(valid_from, end, horizon.days)
        dates = training_dates(first, valid_as_of, horizon.days)
        short = _shortfall(settled, horizon, valid_as_of, dates, end, min_outcomes)
        if short is None:
            return LabelPlan(horizon, valid_as_of, dates, tried)
        tried.append(f"{horizon.text}: {short}")
    raise ValueError(
        "no label of the serious-delinquency model has enough matured examples in this ledger "
        f"({first} to {end}); each needs {MIN_TRAIN_DATES} training dates with labels known "
        f"before the validation date and {WARMUP_DAYS} days into the ledger, {MIN_EXAMPLES} "
        f"training rows and {min_outcomes} of each outcome in training and validation: "
        + "; ".join(tried))


def _shortfall(
    settlements: Settlements, horizon: SeriousLabel, valid_as_of: dt.date,
    dates: list[dt.date], end: dt.date, min_outcomes: int,
) -> str | None:
    """What `horizon` lacks on these dates (None: nothing)."""
    if len(dates) < MIN_TRAIN_DATES:
        return f"{len(dates)} training dates before {valid_as_of}"
    counts = {}
    for split, days, cutoff in (("training", dates, valid_as_of),
                                ("validation", [valid_as_of], end)):
        outcomes = pd.concat(labelled_outcomes(settlements(cutoff), days, cutoff=cutoff,
                                               horizon=horizon))
        outcomes = outcomes[~outcomes["already_serious"]]
        counts[split] = (len(outcomes), int(outcomes["serious"].sum()))
    rows, positives = counts["training"]
    if rows < MIN_EXAMPLES:
        return f"{rows} training rows"
    for split, (rows, positives) in counts.items():
        if min(positives, rows - positives) < min_outcomes:
            return f"{positives} serious of {rows} {split} rows"
    return None


# --------------------------------------------------------------------------- fitting


def training_examples(
    ledger: Ledger, cutoff: dt.date, horizon: SeriousLabel = DESIGN_LABEL,
    settlements: Settlements | None = None,
) -> CustomerExamples:
    """Training rows as of the dates whose labels are known before `cutoff`, checked."""
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    if first is None:
        raise ValueError("the ledger has no invoices")
    dates = training_dates(first, cutoff, horizon.days)
    if len(dates) < MIN_TRAIN_DATES:
        raise ValueError(
            f"too few training as-of dates for the serious-delinquency model: labels need "
            f"{horizon.days} days after each as-of date and before {cutoff}, and the ledger "
            f"starts on {first} (at least {WARMUP_DAYS} days of history first); "
            f"{MIN_TRAIN_DATES} dates are needed")
    examples = customer_examples(ledger, dates, cutoff=cutoff, horizon=horizon,
                                 settlements=settlements)
    check_examples(examples, "training")
    return examples


def serious_task_examples(
    ledger: Ledger, valid_from: dt.date, config: TrainingConfig
) -> TaskExamples:
    """The task's examples for the label `choose_horizon` picks: validation as of A_v,
    training before it."""
    end = ledger_end(ledger)
    if end is None:
        raise ValueError("the ledger has no dated facts")
    settlements = settlements_of(ledger)
    plan = choose_horizon(ledger, valid_from, min_outcomes=config.gate.min_outcomes,
                          settlements=settlements)
    valid = customer_examples(ledger, [plan.valid_as_of], cutoff=end, horizon=plan.horizon,
                              settlements=settlements)
    check_examples(valid, "validation")
    train = training_examples(ledger, plan.valid_as_of, plan.horizon, settlements)
    return TaskExamples(
        train=train.frame, valid=valid.frame, trained_before=plan.valid_as_of,
        valid_from=plan.valid_as_of, counts={"train": train.counts, "valid": valid.counts},
        params={"valid_from": str(valid_from), "valid_as_of": str(plan.valid_as_of),
                "train_as_of_first": str(train.dates[0]),
                "train_as_of_last": str(train.dates[-1]), "train_as_of_count": len(train.dates),
                **plan.horizon.metadata, "horizons_passed_over": "; ".join(plan.tried) or "none"},
        model_metadata={**plan.horizon.metadata,
                        "label_base_rate": train.counts["serious"] / len(train.frame)})


def inner_share_for(config: TrainingConfig, train: pd.DataFrame) -> TrainingConfig:
    """With few as-of dates, widen the inner (early stopping, calibration) slice so that
    it holds at least the latest date (at most 45% of the rows)."""
    n_dates = train["as_of"].nunique()
    share = min(0.45, max(config.inner_valid_share, 1.05 / n_dates))
    return config.model_copy(update={"inner_valid_share": share})
