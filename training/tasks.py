"""Model tasks: one declarative spec per model, run by one trainer (`training.trainer`).

A task says what its examples are and how they are built (out of time, labels only once
matured), its label and horizon, the baselines scored on the same validation rows, the
segments and headline metrics of its evaluation, its plot titles, and its registry name.
A new model (payment dates, say) is a new spec, not a new trainer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ledger.loader import Ledger
from training.baselines import fit_logistic_baseline, late_share_baseline, logistic_baseline
from training.collections import (
    COLLECTIONS_MODEL_NAME,
    HORIZON_DAYS,
    LABEL,
    collections_task_examples,
)
from training.config import TrainingConfig
from training.delinquency import HORIZON_DAYS as SERIOUS_HORIZON_DAYS
from training.delinquency import (
    SERIOUS_DPD,
    SERIOUS_MODEL_NAME,
    inner_share_for,
    serious_task_examples,
)
from training.evaluation import age_band, size_band
from training.examples import TaskExamples
from training.kind import TaskKind
from training.payment_dates import CAP_DAYS, QUANTILES, payment_date_examples
from training.payment_dates import HEADLINE as DAYS_HEADLINE
from training.payment_dates import LABEL as DAYS_LABEL
from training.payment_dates import MODEL_NAME as PAYMENT_DATE_MODEL_NAME
from training.payment_dates import SEGMENTS as DAYS_SEGMENTS
from training.pipeline import MODEL_NAME, late_payment_examples
from training.tracking import HEADLINE

ExampleBuilder = Callable[[Ledger, dt.date, TrainingConfig], TaskExamples]
"""(ledger, valid_from, config) -> the task's out-of-time examples; ValueError when they
cannot give a model (too few, one outcome, a valid_from outside the ledger)."""
RowFilter = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Baseline:
    """A rule of thumb scored on the model's validation rows."""

    name: str
    score: Callable[[pd.DataFrame, pd.DataFrame, str, TrainingConfig], np.ndarray]
    """(training rows, validation rows, label column, config) -> a score per validation row."""


LATE_SHARE = Baseline(
    "late_share", lambda train, rows, label, _config: late_share_baseline(train, rows, label))
"""The customer's share of invoices paid late (the training rate without history)."""
LOGISTIC = Baseline("logistic", lambda train, rows, label, config: logistic_baseline(
    fit_logistic_baseline(train, config.seed, label), rows))
"""A logistic regression on a handful of history features."""


@dataclass(frozen=True)
class Segments:
    """How validation rows are cut for per-segment metrics."""

    by: tuple[str, ...]
    bands: Callable[[pd.DataFrame], pd.DataFrame] = lambda frame: frame
    """Adds the banded columns `by` names (e.g. `size_band`) to the validation rows."""


@dataclass(frozen=True)
class PlotTitles:
    """Titles of the run's plots, in the words of the task's outcome."""

    roc: str
    calibration: str
    score_distribution: str
    contributions: str


@dataclass(frozen=True)
class ModelTask:
    """Everything that makes one model different from another."""

    name: str
    """Registered model name."""
    key: str
    """Short name in `o2c train` output (`late_payment`)."""
    example: str
    """What one example is."""
    label: str
    """Label column of the examples (True = the outcome the model predicts)."""
    outcomes: tuple[str, str]
    """The label's True and False outcomes in words ("late", "on time")."""
    horizon_days: int | None
    """Days after the as-of date within which the outcome counts (None: the due date)."""
    maturity: str
    """When an example's label is known."""
    build_examples: ExampleBuilder
    score: str
    """Column of the model's probability in the predictions."""
    keys: tuple[str, ...]
    """Columns identifying a validation row in the predictions."""
    baselines: tuple[Baseline, ...]
    segments: Segments
    titles: PlotTitles
    headline: tuple[str, ...] = HEADLINE
    """Validation metrics reported for the model and each baseline."""
    judged_rows: RowFilter | None = None
    """The validation rows the headline metrics, baselines and gate use (None: all)."""
    more_metrics: Mapping[str, RowFilter] = field(default_factory=dict)
    """Further validation rows whose metrics are logged with a prefix (`aged_auc`)."""
    fit_config: Callable[[TrainingConfig, pd.DataFrame], TrainingConfig] | None = None
    """Adjusts the training configuration to the training rows (None: as given)."""
    channel_inputs: bool = False
    """The logistic-history candidate also sees the delivery channel where the ledger has it
    (`training.candidates`): how an invoice is sent bears on paying it on time."""
    explained_per_request: bool = False
    """The API explains this model's scores request by request (`/score_invoices` reasons),
    so its LightGBM candidates keep to `[training.candidates] explain_budget`; the others
    are explained in batch scoring and keep all the trees they need."""
    kind: TaskKind | None = None
    """How the model is fitted, evaluated and judged (`training.kind`); None: a binary
    classifier (`training.trainer.BINARY`)."""

    def judged(self, valid: pd.DataFrame) -> pd.DataFrame:
        """The validation rows the model is judged on."""
        return valid if self.judged_rows is None else valid[self.judged_rows(valid)]


def _invoice_bands(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(size_band=size_band(frame["log_amount"]),
                        age_band=age_band(frame["age_days"]))


def _collections_bands(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(age_band=age_band(frame["age_days"]),
                        overdue=np.where(frame["days_past_due"] > 0, "overdue", "not due"))


LATE_PAYMENT = ModelTask(
    name=MODEL_NAME, key="late_payment",
    example="an invoice at issue, or open and not yet late at a snapshot date",
    label="late", outcomes=("late", "on time"), horizon_days=None,
    maturity="settled, or open and past its due date + grace days, before the cut-off",
    build_examples=late_payment_examples, score="p_late", keys=("invoice_id",),
    baselines=(LATE_SHARE, LOGISTIC),
    segments=Segments(("country", "size_band", "age_band", "kind"), _invoice_bands),
    titles=PlotTitles(
        roc="ROC curve: how well each model ranks late invoices first",
        calibration="Calibration: predicted vs observed late rate",
        score_distribution="Scores of late and on-time invoices",
        contributions="What drives the late-payment scores"),
    judged_rows=lambda frame: frame["kind"] == "issue",
    more_metrics={"aged": lambda frame: frame["kind"] == "snapshot"},
    channel_inputs=True,
    explained_per_request=True,
)

COLLECTIONS = ModelTask(
    name=COLLECTIONS_MODEL_NAME, key="collections",
    example="an invoice open at a periodic as-of date",
    label=LABEL, outcomes=("unpaid", "paid"), horizon_days=HORIZON_DAYS,
    maturity=f"as-of date + {HORIZON_DAYS} days before the cut-off",
    build_examples=collections_task_examples, score="p_unpaid_30d",
    keys=("as_of", "invoice_id"), baselines=(LATE_SHARE, LOGISTIC),
    segments=Segments(("country", "age_band", "overdue"), _collections_bands),
    titles=PlotTitles(
        roc="ROC curve: ranking invoices still unpaid 30 days later",
        calibration="Calibration: predicted vs observed share unpaid 30 days later",
        score_distribution="Scores of invoices unpaid and paid in 30 days",
        contributions="What drives the unpaid-in-30-days scores"),
)

SERIOUS_DELINQUENCY = ModelTask(
    name=SERIOUS_MODEL_NAME, key="serious_delinquency",
    example="a customer with invoices, not already 90+ days past due, at a month start (a "
            "week on short ledgers)",
    label="serious", outcomes=("serious", "not serious"), horizon_days=SERIOUS_HORIZON_DAYS,
    maturity=f"as-of date + the horizon before the cut-off (serious: an invoice "
             f"{SERIOUS_DPD}+ days past due within {SERIOUS_HORIZON_DAYS} days, or the first "
             "shorter horizon or lower threshold with enough matured examples: "
             "training.delinquency.choose_horizon; the examples carry `label_known_from`)",
    build_examples=serious_task_examples, score="p_serious", keys=("customer_id", "as_of"),
    baselines=(LATE_SHARE,), segments=Segments(("country",)),
    titles=PlotTitles(
        roc="ROC curve: ranking customers by serious delinquency",
        calibration="Calibration: predicted vs observed serious delinquency",
        score_distribution="Scores of customers seriously delinquent or not within the horizon",
        contributions="What drives the serious-delinquency scores"),
    fit_config=inner_share_for,
)

PAYMENT_DATES = ModelTask(
    name=PAYMENT_DATE_MODEL_NAME, key="payment_date",
    example="an invoice at issue, or open (overdue too) at a snapshot date",
    label=DAYS_LABEL, outcomes=("days to payment", "days to payment"), horizon_days=None,
    maturity=f"due date + {CAP_DAYS} days before the cut-off (the target is capped there)",
    build_examples=payment_date_examples, score="days_p50", keys=("as_of", "invoice_id"),
    baselines=(), segments=Segments(DAYS_SEGMENTS),
    titles=PlotTitles(
        roc="Predicted P50 against the actual days from due date to payment",
        calibration="Share of payments inside the P10-P90 interval, by segment",
        score_distribution="Days from due date to payment: predicted P50 and actual",
        contributions="What drives the predicted days to payment (P50 booster)"),
    headline=DAYS_HEADLINE, kind=QUANTILES,
)
"""Quantiles (P10, P50, P90) of days from due date to settlement (`training.payment_dates`);
its rules (due date, customer's median) and gate belong to its kind."""

TASKS = (LATE_PAYMENT, COLLECTIONS, SERIOUS_DELINQUENCY, PAYMENT_DATES)
"""The models `o2c train` trains, in order."""


def task_named(name: str) -> ModelTask:
    """The task of a registered model name; LookupError listing the names."""
    for task in TASKS:
        if name == task.name:
            return task
    raise LookupError(f"unknown model {name!r}; the models are "
                      f"{', '.join(t.name for t in TASKS)}")
