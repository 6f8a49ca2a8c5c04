"""One training run of the late-payment model, from ledger to registered MLflow model.

examples (out of time) -> LightGBM + calibration -> baselines -> evaluation and plots ->
MLflow run (parameters, metrics, plots, data fingerprint, features, git commit) -> model
registered as `challenger`, promoted to `champion` only if it beats the champion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd

from ledger.loader import Ledger
from models.risk_model import RiskModel
from training import plots
from training.baselines import fit_logistic_baseline, late_share_baseline, logistic_baseline
from training.config import TrainingConfig
from training.evaluation import age_band, binary_metrics, compare_models, segment_metrics, size_band
from training.examples import SplitExamples, build_examples
from training.fit import fit_risk_model
from training.tracking import (
    HEADLINE,
    Tracking,
    TrainingRun,
    json_number,
    log_comparison,
    log_run_context,
    publish_model,
)

MODEL_NAME = "late-payment-risk"

Progress = Callable[[str], None]


@dataclass(kw_only=True)
class TrainingResult(TrainingRun):
    """A late-payment training run: metrics on the validation invoices at issue; predictions
    `invoice_id`, `p_late`, `late`."""

    model_name = MODEL_NAME
    summary_metrics = HEADLINE

    comparison: pd.DataFrame
    """Model, baselines (and more) side by side on the same validation invoices."""
    segments: pd.DataFrame

    def summary(self) -> dict:
        """`TrainingRun.summary` and the baselines' headline metrics."""
        baselines = {row["model"]: {k: json_number(row[k]) for k in HEADLINE}
                     for _, row in self.comparison.iterrows() if row["model"] != "lightgbm"}
        return {**super().summary(), "baselines": baselines}


def train_late_payment_model(
    ledger: Ledger, *, valid_from: dt.date, config: TrainingConfig, tracking: Tracking,
    progress: Progress | None = None,
) -> TrainingResult:
    """Train, evaluate out of time, log to MLflow and apply the champion/challenger rule."""
    step = progress or (lambda _message: None)
    step("building examples")
    examples = build_examples(
        ledger, valid_from=valid_from, grace_days=config.grace_days,
        snapshot_every_days=config.snapshot_every_days,
        snapshot_max_dates=config.snapshot_max_dates,
    )
    train, valid = examples.train.frame, examples.valid.frame
    _check_examples(train, valid)
    step("fitting LightGBM")
    model, fit_info = fit_risk_model(train, config)
    step("fitting baselines")
    logistic = fit_logistic_baseline(train, config.seed)

    step("evaluating")
    valid = valid.assign(p_late=model.predict_proba(valid))
    at_issue = valid[valid["kind"] == "issue"]
    labels = at_issue["late"].to_numpy(dtype=int)
    scores = {
        "lightgbm": at_issue["p_late"].to_numpy(),
        "late_share": late_share_baseline(train, at_issue),
        "logistic": logistic_baseline(logistic, at_issue),
    }
    comparison = compare_models(labels, scores)
    metrics = binary_metrics(labels, scores["lightgbm"])
    segments = _segments(valid)

    step("logging to MLflow")
    tracking.activate()
    with mlflow.start_run(run_name=f"late-payment valid_from={valid_from}") as run:
        _log_run(ledger, examples, config, fit_info, comparison, segments, valid, model)
        _log_plots(model, valid, at_issue, labels, scores)
        step("registering")
        promotion = publish_model(MODEL_NAME, model, at_issue, labels, metrics,
                                  run.info.run_id)
    predictions = at_issue[["invoice_id", "p_late", "late"]].reset_index(drop=True)
    return TrainingResult(metrics=metrics, comparison=comparison, segments=segments,
                          n_train=len(train), n_valid=len(at_issue), run_id=run.info.run_id,
                          promotion=promotion, predictions=predictions, model=model)


def _check_examples(train: pd.DataFrame, valid: pd.DataFrame) -> None:
    """Refuse to train on examples that cannot give a meaningful model or evaluation."""
    empty = {
        "training": "the training window is empty: no invoice issued before --valid-from has "
                    "an outcome known by then; move --valid-from later",
        "validation": "the validation window is empty: no invoice issued from --valid-from "
                      "has an outcome known by the ledger's end; move --valid-from earlier",
    }
    for name, frame in (("training", train), ("validation", valid)):
        if len(frame) == 0:
            raise ValueError(empty[name])
        if frame["late"].nunique() < 2:
            outcome = "late" if frame["late"].iloc[0] else "on time"
            raise ValueError(f"{name} examples are all {outcome}; the model needs both outcomes")
    if (valid["kind"] == "issue").sum() == 0:
        raise ValueError("no validation invoices issued from --valid-from have matured by the "
                         "ledger's end; move --valid-from earlier")


def _segments(valid: pd.DataFrame) -> pd.DataFrame:
    """Validation metrics by country, invoice size band and invoice age band."""
    frame = valid.assign(
        size_band=size_band(valid["log_amount"]),
        age_band=age_band(valid["age_days"]),
        late=valid["late"].astype(int),
    )
    return segment_metrics(frame, label="late", score="p_late",
                           by=["country", "size_band", "age_band", "kind"])


def _log_run(
    ledger: Ledger, examples: SplitExamples, config: TrainingConfig, fit_info: dict,
    comparison: pd.DataFrame, segments: pd.DataFrame, valid: pd.DataFrame, model: RiskModel,
) -> None:
    log_run_context(ledger, MODEL_NAME, model, config_params=config.model_dump(),
                    fit_info=fit_info,
                    counts={"train": examples.train.counts, "valid": examples.valid.counts},
                    train_from=str(ledger.scalar("SELECT min(issue_date) FROM invoices")),
                    valid_from=str(examples.valid_from), valid_to=str(examples.end))
    log_comparison(comparison)
    aged = valid[valid["kind"] == "snapshot"]
    if len(aged) and aged["late"].nunique() == 2:
        aged_metrics = binary_metrics(aged["late"].to_numpy(dtype=int), aged["p_late"].to_numpy())
        mlflow.log_metrics({f"aged_{k}": float(aged_metrics[k]) for k in HEADLINE})
    mlflow.log_table(segments, "evaluation/segments.json")
    mlflow.log_table(comparison, "evaluation/model_comparison.json")


def _log_plots(
    model: RiskModel, valid: pd.DataFrame, at_issue: pd.DataFrame, labels: np.ndarray,
    scores: dict[str, np.ndarray],
) -> None:
    sample = at_issue.sample(n=min(len(at_issue), 2000), random_state=0)
    gains = model.booster.feature_importance(importance_type="gain")
    figures = {
        "roc.png": plots.roc_plot(labels, scores),
        "calibration.png": plots.calibration_plot(labels, scores["lightgbm"]),
        "feature_importance.png": plots.feature_importance_plot(model.features, gains,
                                                                xlabel="Total gain"),
        "score_distribution.png": plots.score_distribution_plot(labels, scores["lightgbm"]),
        "contribution_summary.png": plots.contribution_summary_plot(
            model.contributions(sample).to_numpy(), model.features),
    }
    for name, figure in figures.items():
        mlflow.log_figure(figure, f"plots/{name}")

