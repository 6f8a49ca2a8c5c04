"""One trainer for every model task: examples -> fit -> baselines -> evaluation and plots ->
MLflow run -> registered version (alias `challenger`) -> the promotion gate -> champion or not,
with the decision and its reason logged on the run and the version, and returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd

from ledger.loader import Ledger
from models.store import ScoringModel
from training import plots
from training.candidates import choose_model
from training.config import TrainingConfig
from training.evaluation import binary_metrics, compare_models, segment_metrics
from training.examples import TaskExamples
from training.fingerprint import customers_fingerprint, ledger_customers
from training.fit import feature_columns
from training.gate import ChampionCheck, Decision, champion_window, judge
from training.kind import Evaluation, TaskKind
from training.registry import Registry
from training.tasks import TASKS, ModelTask
from training.tracking import (
    MODEL_ROW,
    json_number,
    log_comparison,
    log_risk_model,
    log_run_context,
)

Progress = Callable[[str], None]
BASELINE_CANDIDATES = ("late_share", "logistic_history")
"""Candidates of `choose_model` that are the baseline rules themselves: when one is chosen,
the gate asks it to match the best baseline, not to beat it by a margin."""


@dataclass(kw_only=True)
class TrainingRun:
    """What training one task produced and decided."""

    task: ModelTask
    metrics: dict[str, float]
    """The model on its judged validation rows."""
    comparison: pd.DataFrame
    """The model (row `model`) and its baselines on the same validation rows."""
    segments: pd.DataFrame
    n_train: int
    n_valid: int
    run_id: str
    version: str
    decision: Decision
    promoted: bool
    """Whether the version became champion (the decision, unless promotion was held back)."""
    predictions: pd.DataFrame
    """The judged validation rows: the task's keys, its score and its label."""
    model: ScoringModel

    def summary(self) -> dict:
        """Headline metrics beside the baselines', sizes, run and registry decision,
        JSON-friendly (what the CLI prints)."""
        rows = {row["model"]: {k: json_number(row[k]) for k in self.task.headline}
                for _, row in self.comparison.iterrows()}
        return {**rows.pop(MODEL_ROW), "baselines": rows, "n_train": self.n_train,
                "n_valid": self.n_valid, "run_id": self.run_id, "model_name": self.task.name,
                "model_version": self.version, "promoted": self.promoted,
                "gate_passed": self.decision.promote, "promotion_reason": self.decision.reason}


def fit_model(
    task: ModelTask, train: pd.DataFrame, config: TrainingConfig,
    progress: Progress | None = None,
) -> tuple[ScoringModel, dict, pd.DataFrame]:
    """The fit step of every task, by its kind (`kind_of`). For a classifier: candidates
    scored by rolling-origin cross-validation inside the training period, the winner refitted
    and calibrated (`training.candidates`). Returns the model, fit details and the candidates'
    comparison (a row per candidate and fold)."""
    return kind_of(task).fit(task, train, config, progress)


def kind_of(task: ModelTask) -> TaskKind:
    """The task's own kind, or binary classification (`BINARY`)."""
    return BINARY if task.kind is None else task.kind


def label_known_from(task: ModelTask, train: pd.DataFrame, config: TrainingConfig) -> pd.Series:
    """The date by which each example's label is known: the rows' own `label_known_from` when
    they carry one (a horizon chosen from the data), else its as-of date plus the task's
    horizon, or (no horizon) its due date plus the grace days."""
    if "label_known_from" in train:
        return train["label_known_from"]
    if task.horizon_days is None:
        return train["due_date"] + pd.Timedelta(days=config.grace_days)
    return train["as_of"] + pd.Timedelta(days=task.horizon_days)


def train_task(
    task: ModelTask, ledger: Ledger, *, valid_from: dt.date, config: TrainingConfig,
    registry: Registry, progress: Progress | None = None, force: bool = False,
    promote: bool = True,
) -> TrainingRun:
    """Train `task` out of time, log and register it, and promote it if the gate says so.

    `force` lets it replace a champion trained on another ledger; `promote=False` decides but
    leaves the champion as it is (`train_tasks` promotes only when every task trained).
    ValueError when the examples cannot give a model.
    """
    step = progress or (lambda _message: None)
    kind = kind_of(task)
    step("building examples")
    examples = task.build_examples(ledger, valid_from, config)
    step("fitting")
    model, fit_info, candidates = kind.fit(task, examples.train, config, step)
    model.metadata.update(examples.model_metadata)
    step("evaluating")
    evaluation = kind.evaluate(task, examples, model, config)
    customers = ledger_customers(ledger)
    step("logging to MLflow")
    with registry.start_run(f"{task.name} valid_from={valid_from}") as run:
        run_id = run.info.run_id
        _log_run(task, ledger, examples, config, fit_info, evaluation, model)
        kind.log(task, model, evaluation, fit_info, candidates)
        step("registering")
        logged = log_risk_model(model, evaluation.judged)
        version = str(registry.register(task.name, logged.model_uri, run_id=run_id,
                                        model_id=logged.model_id,
                                        tags=_version_tags(examples, customers)).version)
        step("judging")
        decision = kind.judge(task, evaluation, registry=registry, customers=customers,
                              force=force, config=config, fit_info=fit_info)
        promoted = decision.promote and promote
        if promoted:
            registry.promote(task.name, version, decision.reason)
        log_decision(registry, task.name, version, decision, promoted)
    return TrainingRun(task=task, metrics=evaluation.metrics, comparison=evaluation.comparison,
                       segments=evaluation.segments, n_train=len(examples.train),
                       n_valid=len(evaluation.judged), run_id=run_id, version=version,
                       decision=decision, promoted=promoted,
                       predictions=evaluation.predictions, model=model)


class BinaryKind:
    """Binary classification (`training.kind.TaskKind`): candidates chosen by rolling-origin
    cross-validation, AUC and Brier score beside the baselines, ROC and calibration plots, the
    gate's margin over the best baseline and the champion."""

    def fit(self, task: ModelTask, train: pd.DataFrame, config: TrainingConfig,
            progress: Progress | None = None) -> tuple[ScoringModel, dict, pd.DataFrame]:
        """Candidates by rolling-origin CV, the winner refitted and calibrated."""
        if task.fit_config is not None:
            config = task.fit_config(config, train)
        if not task.explained_per_request:
            config = config.model_copy(update={"candidates": config.candidates.model_copy(
                update={"explain_budget": None})})
        model, info, candidates = choose_model(
            train, label=task.label, features=feature_columns(train), config=config,
            progress=progress, known_from=label_known_from(task, train, config),
            channel=task.channel_inputs)
        model.metadata.update(task=task.name, label=task.label)
        return model, info, candidates

    def evaluate(self, task: ModelTask, examples: TaskExamples, model: ScoringModel,
                 config: TrainingConfig) -> Evaluation:
        """Probabilities of the judged rows beside the baselines'; segments of all rows."""
        valid = examples.valid.assign(**{task.score: model.predict_proba(examples.valid)})
        judged = task.judged(valid)
        labels = judged[task.label].to_numpy(dtype=int)
        scores = {MODEL_ROW: judged[task.score].to_numpy()}
        for baseline in task.baselines:
            scores[baseline.name] = baseline.score(examples.train, judged, task.label, config)
        bands = task.segments.bands(valid).assign(**{task.label: valid[task.label].astype(int)})
        segments = segment_metrics(bands, label=task.label, score=task.score,
                                   by=[c for c in task.segments.by if c in bands.columns])
        return Evaluation(valid=valid, judged=judged, comparison=compare_models(labels, scores),
                          metrics=binary_metrics(labels, scores[MODEL_ROW]), segments=segments,
                          predictions=judged[[*task.keys, task.score, task.label]]
                          .reset_index(drop=True), scores=scores)

    def log(self, task: ModelTask, model: ScoringModel, evaluation: Evaluation, fit_info: dict,
            candidates: pd.DataFrame) -> None:
        """Metrics of further row sets, the candidates' comparison and the plots."""
        valid = evaluation.valid
        for prefix, rows in task.more_metrics.items():
            subset = valid[rows(valid)]
            if len(subset) and subset[task.label].nunique() == 2:
                values = binary_metrics(subset[task.label].to_numpy(dtype=int),
                                        subset[task.score].to_numpy())
                mlflow.log_metrics({f"{prefix}_{k}": float(values[k]) for k in task.headline
                                    if np.isfinite(values[k])})
        judged = evaluation.judged
        _log_plots(task, model, judged, judged[task.label].to_numpy(dtype=int),
                   evaluation.scores)
        mlflow.log_table(candidates, "evaluation/candidates.json")
        mlflow.log_figure(plots.candidate_plot(candidates, chosen=str(fit_info["chosen"])),
                          "plots/candidates.png")

    def judge(self, task: ModelTask, evaluation: Evaluation, *, registry: Registry,
              customers: list[str], force: bool, config: TrainingConfig,
              fit_info: dict) -> Decision:
        """The gate (`training.gate.judge`) against the baselines and the champion."""
        champion = _champion_check(task, registry, evaluation.judged, customers)
        return judge(evaluation.comparison, outcomes=task.outcomes, champion=champion,
                     force=force, config=config.gate,
                     is_baseline=fit_info.get("chosen") in BASELINE_CANDIDATES)


BINARY = BinaryKind()
"""The kind of every task without its own: binary classification."""


@dataclass(frozen=True)
class TaskFailure:
    """A task that could not be trained, and why."""

    task: ModelTask
    error: str


def train_tasks(
    ledger: Ledger, *, valid_from: dt.date, config: TrainingConfig, registry: Registry,
    tasks: tuple[ModelTask, ...] = TASKS, progress: Callable[[ModelTask], Progress] | None = None,
    force: bool = False,
) -> list[TrainingRun | TaskFailure]:
    """Train every task; promote the versions the gate passed only if no task failed (a
    failure leaves every champion as it was, and says so on the versions)."""
    results: list[TrainingRun | TaskFailure] = []
    for task in tasks:
        try:
            results.append(train_task(task, ledger, valid_from=valid_from, config=config,
                                      registry=registry, force=force, promote=False,
                                      progress=progress(task) if progress else None))
        except ValueError as exc:
            results.append(TaskFailure(task, str(exc)))
    failed = [r.task.name for r in results if isinstance(r, TaskFailure)]
    for result in results:
        if isinstance(result, TaskFailure) or not result.decision.promote:
            continue
        if failed:
            held = Decision(False, f"{result.decision.reason}; not promoted because "
                            f"{', '.join(failed)} failed to train", result.decision.checks)
            result.decision = held
            log_decision(registry, result.task.name, result.version, held, False,
                         run_id=result.run_id)
        else:
            registry.promote(result.task.name, result.version, result.decision.reason)
            result.promoted = True
            log_decision(registry, result.task.name, result.version, result.decision, True,
                         run_id=result.run_id)
    return results


def log_decision(
    registry: Registry, name: str, version: str, decision: Decision, promoted: bool,
    run_id: str | None = None,
) -> None:
    """The gate's decision as tags of the run (the active one, or `run_id`) and the version,
    and its figures as `gate_*` metrics of the run."""
    tags = {"model_version": version, "gate_passed": str(decision.promote),
            "promoted": str(promoted), "promotion_reason": decision.reason}
    metrics = {"gate_passed": float(decision.promote),
               **{f"gate_{k}": float(v) for k, v in decision.checks.items() if np.isfinite(v)}}
    client = registry.client
    run_id = run_id or mlflow.active_run().info.run_id
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    for key in ("gate_passed", "promotion_reason"):
        client.set_model_version_tag(name, version, key, tags[key])


def _version_tags(examples: TaskExamples, customers: list[str]) -> dict[str, str]:
    """What the gate needs to know of a version later: its windows and its ledger."""
    return {"trained_before": str(examples.trained_before),
            "valid_from": str(examples.valid_from), **customers_fingerprint(customers)}


def _champion_check(
    task: ModelTask, registry: Registry, judged: pd.DataFrame, customers: list[str],
) -> ChampionCheck | None:
    """The champion before this run, scored on the judged rows after its training window."""
    window = champion_window(registry, task.name, judged, customers)
    if window is None:
        return None
    check = ChampionCheck(version=window.version, customers_held=window.customers_held,
                          trained_before=window.trained_before)
    rows = window.rows
    labels = rows[task.label].to_numpy(dtype=int)
    n_positive = int(labels.sum())
    counts = {"n_positive": n_positive, "n_negative": len(labels) - n_positive}
    if min(counts.values()) == 0:
        return ChampionCheck(**{**check.__dict__, **counts})
    try:
        old = registry.load_model(task.name, check.version).predict_proba(rows)
    except (LookupError, ValueError, KeyError) as exc:
        return ChampionCheck(**{**check.__dict__, **counts, "error": str(exc)})
    before = binary_metrics(labels, old)
    now = binary_metrics(labels, rows[task.score].to_numpy())
    return ChampionCheck(**{**check.__dict__, **counts, "auc": before["auc"],
                            "brier": before["brier"], "new_auc": now["auc"],
                            "new_brier": now["brier"]})


def _log_run(
    task: ModelTask, ledger: Ledger, examples: TaskExamples, config: TrainingConfig,
    fit_info: dict, evaluation: Evaluation, model: ScoringModel,
) -> None:
    log_run_context(ledger, task.name, model, config_params=config.model_dump(),
                    fit_info=fit_info, counts=examples.counts, **examples.params)
    mlflow.set_tags({"task": task.key, "label": task.label})
    log_comparison(evaluation.comparison, task.headline)
    mlflow.log_table(evaluation.segments, "evaluation/segments.json")
    mlflow.log_table(evaluation.comparison, "evaluation/model_comparison.json")


def _log_plots(
    task: ModelTask, model: ScoringModel, judged: pd.DataFrame, labels: np.ndarray,
    scores: dict[str, np.ndarray],
) -> None:
    sample = judged.sample(n=min(len(judged), 2000), random_state=0)
    contributions = model.contributions(sample).to_numpy()
    titles = task.titles
    figures = {
        "roc.png": plots.roc_plot(labels, scores, title=titles.roc),
        "calibration.png": plots.calibration_plot(labels, scores[MODEL_ROW],
                                                  title=titles.calibration),
        "feature_importance.png": plots.feature_importance_plot(
            model.features, np.abs(contributions).mean(axis=0),
            xlabel="Mean |contribution| (log-odds)"),
        "score_distribution.png": plots.score_distribution_plot(
            labels, scores[MODEL_ROW], title=titles.score_distribution),
        "contribution_summary.png": plots.contribution_summary_plot(
            contributions, model.features, title=titles.contributions),
    }
    for name, figure in figures.items():
        mlflow.log_figure(figure, f"plots/{name}")
