"""Kinds of model task: what differs between a classifier and a quantile model in training.

The trainer (`training.trainer`) runs every task the same way: examples -> fit -> evaluation
-> MLflow run -> registered version -> gate. A task's kind supplies the steps that depend on
what the model predicts: how it is fitted, how it is scored against its baselines, which plots
show it, and the gate's rule. Binary classification is `training.trainer.BINARY`; quantiles of
days to payment are `training.payment_dates.QUANTILES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from training.config import TrainingConfig
from training.examples import TaskExamples
from training.gate import Decision

if TYPE_CHECKING:
    from training.registry import Registry
    from training.tasks import ModelTask

Progress = Callable[[str], None]


@dataclass(kw_only=True)
class Evaluation:
    """A model on its out-of-time validation rows, beside its baselines."""

    valid: pd.DataFrame
    """Every validation row with the model's prediction column(s)."""
    judged: pd.DataFrame
    """The rows the headline metrics, baselines and gate use."""
    comparison: pd.DataFrame
    """One row per model (`model` for the model, then each baseline): the task's headline
    metrics on the judged rows."""
    metrics: dict[str, float]
    """The model's metrics on the judged rows."""
    segments: pd.DataFrame
    """The model's metrics per segment value."""
    predictions: pd.DataFrame
    """The judged rows' keys, predictions and label (`o2c train --predictions-out`)."""
    scores: dict[str, Any]
    """Per model name, its predictions on the judged rows (for plots and the gate)."""


class TaskKind(Protocol):
    """The steps of training that depend on what a task's model predicts."""

    def fit(self, task: ModelTask, train: pd.DataFrame, config: TrainingConfig,
            progress: Progress | None = None) -> tuple[Any, dict, pd.DataFrame]:
        """The fitted model, fit details for the run, and a comparison of candidates (one row
        per candidate and fold; empty when there were none)."""
        ...

    def evaluate(self, task: ModelTask, examples: TaskExamples, model: Any,
                 config: TrainingConfig) -> Evaluation:
        """The model and its baselines on the validation rows."""
        ...

    def log(self, task: ModelTask, model: Any, evaluation: Evaluation, fit_info: dict,
            candidates: pd.DataFrame) -> None:
        """Metrics beyond the headline, tables and plots, in the active MLflow run."""
        ...

    def judge(self, task: ModelTask, evaluation: Evaluation, *, registry: Registry,
              customers: list[str], force: bool, config: TrainingConfig,
              fit_info: dict) -> Decision:
        """The gate's verdict on the new version (against its baselines and the champion)."""
        ...
