"""The collections model: will an invoice open today still be unpaid 30 days from now?

The late-payment model answers "paid after its due date?", which is trivially yes for an
invoice already overdue. Collectors need the other question: of what is open at an as-of date
A, what will NOT be paid anyway within the next `horizon_days` (30)? That probability times
the open amount is the amount at risk the worklist ranks by.

Examples: `build_snapshot` at periodic as-of dates A (every open invoice, overdue or not),
label `late` := not settled by A + horizon (the settlement date of `invoice_settlements`, the
first day payments plus credit notes cover the amount, is on or after A + horizon, or there
is none). An example is matured as of a cut-off C when A + horizon <= C: its label then uses
only facts dated before C. Out of time, given `valid_from` V and the ledger's end E: training
as of dates with A + horizon <= V (labels from facts before V), validation as of dates in
[V, E - horizon] (labels from facts before E).

`collections_training_set` + `fit_collections_model` run without MLflow (the back-test uses
them); `train_collections_model` adds evaluation, the MLflow run and the registry rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd

from features import build_snapshot, invoice_settlements
from ledger.loader import Ledger
from ledger.summary import ledger_end
from models.risk_model import RiskModel
from training import plots
from training.baselines import fit_logistic_baseline, late_share_baseline, logistic_baseline
from training.config import TrainingConfig
from training.evaluation import age_band, binary_metrics, compare_models, segment_metrics
from training.examples import ExampleSet, snapshot_dates
from training.fit import fit_risk_model
from training.tracking import (
    Tracking,
    TrainingRun,
    log_comparison,
    log_run_context,
    publish_model,
)

COLLECTIONS_MODEL_NAME = "collections-risk"
HORIZON_DAYS = 30
"""Days after the as-of date by which an open invoice counts as paid."""

Progress = Callable[[str], None]


def unpaid_labels(
    settlements: pd.DataFrame, invoice_ids: pd.Series, as_of: dt.date, *, horizon_days: int,
) -> np.ndarray:
    """True where an invoice is not settled before `as_of` + `horizon_days`.

    `settlements` are rows of `invoice_settlements` (NaT settle_date = not settled by the
    cut-off they were computed with); ids missing from them count as unpaid.
    """
    settle = pd.to_datetime(settlements.set_index("invoice_id")["settle_date"])
    dates = settle.reindex(pd.Index(invoice_ids)).to_numpy()
    deadline = np.datetime64(pd.Timestamp(as_of + dt.timedelta(days=horizon_days)))
    return ~(dates < deadline)  # NaT compares False: unpaid


def collections_examples(
    ledger: Ledger, dates: list[dt.date], *, cutoff: dt.date, horizon_days: int = HORIZON_DAYS,
) -> ExampleSet:
    """Open invoices as of each of `dates` with label `late` (unpaid `horizon_days` later).

    Labels use only facts dated before `cutoff`; dates whose label has not matured by then
    (date + horizon > cutoff) are left out and counted.
    """
    settlements = invoice_settlements(ledger, before=cutoff)
    counts = {"dates": 0, "dates_immature_left_out": 0, "rows": 0}
    frames = []
    for day in sorted(dates):
        if day + dt.timedelta(days=horizon_days) > cutoff:
            counts["dates_immature_left_out"] += 1
            continue
        snapshot = build_snapshot(ledger, day)
        snapshot["late"] = unpaid_labels(settlements, snapshot["invoice_id"], day,
                                         horizon_days=horizon_days)
        frames.append(snapshot)
        counts["dates"] += 1
    if not frames:
        return ExampleSet(pd.DataFrame(), counts)
    frame = pd.concat(frames, ignore_index=True)
    frame["late"] = frame["late"].astype(bool)
    frame = frame.sort_values(["as_of", "invoice_id"], kind="stable").reset_index(drop=True)
    counts["rows"] = len(frame)
    counts["unpaid"] = int(frame["late"].sum())
    return ExampleSet(frame, counts)


def training_dates(
    ledger: Ledger, before: dt.date, config: TrainingConfig, horizon_days: int = HORIZON_DAYS,
) -> list[dt.date]:
    """Snapshot dates whose labels are known before `before`: every `snapshot_every_days` back
    from `before` - horizon, at most `snapshot_max_dates` (at least one), after a warm-up."""
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    last = before - dt.timedelta(days=horizon_days)
    if first is None:
        return []
    return snapshot_dates(first, last, every_days=config.snapshot_every_days,
                          max_dates=max(1, config.snapshot_max_dates))


def collections_training_set(
    ledger: Ledger, *, known_before: dt.date, config: TrainingConfig,
    horizon_days: int = HORIZON_DAYS,
) -> ExampleSet:
    """Training examples from facts dated before `known_before` only."""
    dates = training_dates(ledger, known_before, config, horizon_days)
    return collections_examples(ledger, dates, cutoff=known_before, horizon_days=horizon_days)


def fit_collections_model(
    examples: ExampleSet, config: TrainingConfig
) -> tuple[RiskModel, dict]:
    """LightGBM on collections examples (`fit_risk_model`: early stopping and calibration on
    the latest dates); refuses sets without both outcomes or with a single date."""
    _check_examples(examples.frame, "training")
    if examples.frame["as_of"].nunique() < 2:
        raise ValueError("collections training needs at least two as-of dates; lower "
                         "snapshot_every_days or move the date later")
    model, info = fit_risk_model(examples.frame, config)
    model.metadata.update(target=f"unpaid {HORIZON_DAYS} days after the as-of date")
    return model, info


@dataclass
class CollectionsSplit:
    """Out-of-time collections examples."""

    train: ExampleSet
    valid: ExampleSet
    valid_from: dt.date
    end: dt.date


def build_collections_examples(
    ledger: Ledger, *, valid_from: dt.date, config: TrainingConfig,
    horizon_days: int = HORIZON_DAYS,
) -> CollectionsSplit:
    """Training as of dates with date + horizon <= `valid_from`; validation as of dates in
    [`valid_from`, end - horizon] (every `snapshot_every_days`), labels known by the end."""
    end = ledger_end(ledger)
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    last_valid = None if end is None else end - dt.timedelta(days=horizon_days)
    if first is None or last_valid is None or not first < valid_from <= last_valid:
        raise ValueError(f"valid_from {valid_from} must fall between the ledger's first invoice "
                         f"({first}) and {horizon_days} days before its end ({last_valid})")
    train = collections_training_set(ledger, known_before=valid_from, config=config,
                                     horizon_days=horizon_days)
    valid_dates = snapshot_dates(valid_from, last_valid, every_days=config.snapshot_every_days,
                                 max_dates=max(1, config.snapshot_max_dates), warmup_days=0)
    valid = collections_examples(ledger, valid_dates, cutoff=end, horizon_days=horizon_days)
    return CollectionsSplit(train, valid, valid_from, end)


@dataclass(kw_only=True)
class CollectionsTrainingResult(TrainingRun):
    """A collections training run; predictions `as_of`, `invoice_id`, `p_unpaid_30d`, `late`."""

    model_name = COLLECTIONS_MODEL_NAME

    comparison: pd.DataFrame
    """Model and baselines on the same validation examples."""


def train_collections_model(
    ledger: Ledger, *, valid_from: dt.date, config: TrainingConfig, tracking: Tracking,
    progress: Progress | None = None,
) -> CollectionsTrainingResult:
    """Train, evaluate out of time, log to MLflow, register `collections-risk` as challenger
    and promote it to champion only if it beats the champion on the same validation rows."""
    step = progress or (lambda _message: None)
    step("building collections examples")
    split = build_collections_examples(ledger, valid_from=valid_from, config=config)
    train, valid = split.train.frame, split.valid.frame
    _check_examples(valid, "validation")
    step("fitting LightGBM")
    model, fit_info = fit_collections_model(split.train, config)
    step("evaluating")
    valid = valid.assign(p_unpaid_30d=model.predict_proba(valid))
    labels = valid["late"].to_numpy(dtype=int)
    scores = {"lightgbm": valid["p_unpaid_30d"].to_numpy(),
              "late_share": late_share_baseline(train, valid),
              "logistic": logistic_baseline(fit_logistic_baseline(train, config.seed), valid)}
    comparison = compare_models(labels, scores)
    metrics = binary_metrics(labels, scores["lightgbm"])
    step("logging to MLflow")
    tracking.activate()
    with mlflow.start_run(run_name=f"collections valid_from={valid_from}") as run:
        _log_run(ledger, split, config, fit_info, comparison, valid, model)
        _log_plots(model, valid, labels, scores)
        step("registering")
        promotion = publish_model(COLLECTIONS_MODEL_NAME, model, valid, labels, metrics,
                                  run.info.run_id)
    predictions = valid[["as_of", "invoice_id", "p_unpaid_30d", "late"]].reset_index(drop=True)
    return CollectionsTrainingResult(metrics=metrics, comparison=comparison,
                                     n_train=len(train), n_valid=len(valid),
                                     run_id=run.info.run_id, promotion=promotion,
                                     predictions=predictions, model=model)


def _check_examples(frame: pd.DataFrame, name: str) -> None:
    if len(frame) == 0:
        raise ValueError(f"the {name} window of the collections model is empty: no open "
                         f"invoice at its as-of dates has an outcome {HORIZON_DAYS} days later "
                         "known; move --valid-from")
    if frame["late"].nunique() < 2:
        raise ValueError(f"{name} examples of the collections model have a single outcome")


def _log_run(
    ledger: Ledger, split: CollectionsSplit, config: TrainingConfig, fit_info: dict,
    comparison: pd.DataFrame, valid: pd.DataFrame, model: RiskModel,
) -> None:
    log_run_context(ledger, COLLECTIONS_MODEL_NAME, model, config_params=config.model_dump(),
                    fit_info=fit_info,
                    counts={"train": split.train.counts, "valid": split.valid.counts},
                    valid_from=str(split.valid_from), valid_to=str(split.end),
                    horizon_days=HORIZON_DAYS)
    log_comparison(comparison)
    segments = segment_metrics(
        valid.assign(age_band=age_band(valid["age_days"]),
                     overdue=np.where(valid["days_past_due"] > 0, "overdue", "not due"),
                     late=valid["late"].astype(int)),
        label="late", score="p_unpaid_30d", by=["country", "age_band", "overdue"])
    mlflow.log_table(segments, "evaluation/segments.json")
    mlflow.log_table(comparison, "evaluation/model_comparison.json")


def _log_plots(
    model: RiskModel, valid: pd.DataFrame, labels: np.ndarray, scores: dict[str, np.ndarray],
) -> None:
    sample = valid.sample(n=min(len(valid), 2000), random_state=0)
    gains = model.booster.feature_importance(importance_type="gain")
    title = "Calibration: predicted vs observed share unpaid 30 days later"
    figures = {
        "roc.png": plots.roc_plot(labels, scores),
        "calibration.png": plots.calibration_plot(labels, scores["lightgbm"], title=title),
        "feature_importance.png": plots.feature_importance_plot(model.features, gains,
                                                                xlabel="Total gain"),
        "score_distribution.png": plots.score_distribution_plot(
            labels, scores["lightgbm"], title="Scores of invoices unpaid and paid in 30 days"),
        "contribution_summary.png": plots.contribution_summary_plot(
            model.contributions(sample).to_numpy(), model.features,
            title="What drives the unpaid-in-30-days scores"),
    }
    for name, figure in figures.items():
        mlflow.log_figure(figure, f"plots/{name}")

