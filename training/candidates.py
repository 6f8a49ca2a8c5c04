"""Choose the model family honestly: candidates of different capacity, scored by rolling-origin
cross-validation inside the training period, never on the validation period.

Candidates (`candidates`), simplest first:
- `late_share`: the customer's late share (a logistic regression on `late_share_all`);
- `logistic_history`: the logistic baseline (`training.baselines.HISTORY_FEATURES`); for a
  task that asks for the delivery channel (`channel`), on a ledger that has one,
  `logistic_channel` instead: the same inputs plus `CHANNEL_INPUTS` (not a baseline rule: the
  gate asks it to beat the baselines by the margin);
- `linear_c<C>`: an L2-regularized logistic regression on every input (`LinearRiskModel`),
  one per `[training.candidates] linear_c`;
- `lightgbm_small`, `lightgbm_medium`, and from 20,000 rows `lightgbm_large`: LightGBM with
  4, 15 and 63 leaves and a minimum leaf size scaled to the rows it is fitted on; for a model
  the API explains per request, also `lightgbm_shallow` (8 leaves at most 3 deep, large steps:
  made to converge within the budget), and each kept within the serving budget
  `[training.candidates] explain_budget`: one that needs more trees
  than the budget explains in time is fitted again with proportionally larger steps (learning
  rate at most `MAX_LEARNING_RATE`), and cut to its first trees within the budget only if it
  still needs more.

Folds (`rolling_folds`): the latest `scored_share` of the training examples, by `as_of` date,
is cut into `folds` consecutive slices; fold k fits every candidate on the examples dated
before slice k whose label was known by then (`known_from`) and scores slice k. The scores
are the candidates' uncalibrated probabilities.

The choice (the one-standard-error rule): the best candidate has the highest mean AUC over the
folds (rounded to three decimals; a tie goes to the lower mean log loss); the chosen one is
the simplest candidate whose mean AUC is below the best's by at most one standard error of
their per-fold AUC differences. A more complex model must be better by more than the folds'
noise: on a few thousand invoices a linear model or a baseline is kept, on large ledgers
LightGBM wins clearly.

The winner is refitted on the whole training period and calibrated (`training.calibration`,
Platt's sigmoid, kept only when it lowers the calibration error) on its scores of the last
fold's slice, which come from a fit on earlier dates only: the latest dates, scored by the fit
closest in size to the refit (scikit-learn's `CalibratedClassifierCV(ensemble=False)` likewise
calibrates a refit on out-of-fold scores).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from models.linear_model import LinearRiskModel, design_layout
from models.risk_model import RiskModel, sigmoid, within_explain_budget
from models.store import ScoringModel
from training.baselines import HISTORY_FEATURES
from training.calibration import choose_calibration
from training.config import TrainingConfig
from training.evaluation import binary_metrics
from training.fit import category_levels, fit_booster, sample_rows

Progress = Callable[[str], None]
FitRule = Callable[[pd.DataFrame], ScoringModel]
"""Training rows -> an uncalibrated model."""

LARGE_FROM_ROWS = 20_000
"""The 63-leaf LightGBM candidate joins from this many training rows."""
MAX_LEARNING_RATE = 0.3
"""A LightGBM candidate refitted to converge within the serving budget steps at most this much."""
SHALLOW_LEAVES, SHALLOW_DEPTH = 8, 3
"""The candidate made for the serving budget: trees of at most 8 leaves 3 deep (TreeSHAP
about 60 steps a tree, so about 150 trees in 10,000 steps), stepped at `MAX_LEARNING_RATE` so
that it converges within them."""
ONE_THREAD_BELOW_ROWS = 50_000
"""LightGBM fits on fewer rows use one thread: on small data a second thread only waits (and
on a busy machine makes a fit many times slower)."""
CHANNEL_INPUTS = ("paperless", "paperless_share")
"""What `logistic_channel` adds to the baseline's inputs: the invoice's delivery channel and the
customer's share of earlier invoices sent electronically. The third channel feature,
`late_share_same_channel`, is left to the candidates on every input: beside `late_share_all`
it is nearly collinear (on the IBM sample +0.0001 AUC, and the late share's coefficient turns
negative, so reason codes would say "paid 0% of invoices late" raises the risk)."""
COMPARISON_COLUMNS = ["candidate", "family", "fold", "n_train", "n_scored", "scored_from",
                      "scored_to", "auc", "log_loss", "brier"]


@dataclass(frozen=True)
class Candidate:
    """One way to fit a model on training rows."""

    name: str
    family: str
    """`linear` or `lightgbm`."""
    fit: FitRule


@dataclass(frozen=True)
class Fold:
    """Row positions a fold fits on and scores; every fitted row is dated before the slice."""

    number: int
    fit_rows: np.ndarray
    scored_rows: np.ndarray
    scored_from: pd.Timestamp
    scored_to: pd.Timestamp


def rolling_folds(
    as_of: pd.Series, *, folds: int, scored_share: float, known_from: pd.Series | None = None,
) -> list[Fold]:
    """Rolling-origin folds over row positions: the latest `scored_share` of rows by `as_of`
    cut into `folds` slices of consecutive dates; fold k fits on the rows dated before its
    slice whose label was known before it (`known_from`, default the row's `as_of`)."""
    dates = pd.to_datetime(as_of).to_numpy()
    known = dates if known_from is None else pd.to_datetime(known_from).to_numpy()
    quantiles = np.linspace(1 - scored_share, 1, folds + 1)
    edges = np.unique(np.quantile(dates.astype("int64"), quantiles, method="lower"))
    edges = edges.astype("datetime64[ns]")
    result = []
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        last = end == edges[-1]
        scored = (dates >= start) & ((dates <= end) if last else (dates < end))
        fit = (dates < start) & (known < start)
        if scored.any() and fit.any():
            result.append(Fold(len(result) + 1, np.flatnonzero(fit), np.flatnonzero(scored),
                               pd.Timestamp(dates[scored].min()),
                               pd.Timestamp(dates[scored].max())))
    return result


def fit_linear(
    train: pd.DataFrame, *, features: list[str], label: str, c: float, seed: int,
) -> LinearRiskModel:
    """An L2-regularized logistic regression (inverse strength `c`) on `features`: numbers
    imputed with their median (plus an indicator where values were missing), categories one-hot,
    every column standardized."""
    categories = category_levels(train, features)
    numeric = [f for f in features if f not in categories]
    values = {f: pd.to_numeric(train[f], errors="raise").astype(float) for f in numeric}
    medians = {f: float(v.median()) if v.notna().any() else 0.0 for f, v in values.items()}
    indicators = [f for f in numeric if values[f].isna().any()]
    width = len(design_layout(features, categories, indicators))
    model = LinearRiskModel(features=features, categories=categories, medians=medians,
                            indicators=indicators, means=[0.0] * width, scales=[1.0] * width,
                            coefficients=[0.0] * width, intercept=0.0,
                            metadata={"family": "linear", "C": c})
    scaler = StandardScaler().fit(model.unscaled_design(train))
    regression = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(
        scaler.transform(model.unscaled_design(train)), train[label].astype(int))
    model.means = [float(v) for v in scaler.mean_]
    model.scales = [float(v) for v in scaler.scale_]
    model.coefficients = [float(v) for v in regression.coef_[0]]
    model.intercept = float(regression.intercept_[0])
    return model


def lightgbm_capacity(rows: int, leaves: int, rows_per_leaf_share: float) -> dict[str, int]:
    """LightGBM settings for `rows` training rows: `leaves` leaves, each holding at least
    `rows_per_leaf_share` of the rows (20 to 2,000)."""
    return {"num_leaves": leaves,
            "min_child_samples": int(min(2000, max(20, rows * rows_per_leaf_share)))}


def _lightgbm_rule(
    leaves: int, share: float, *, features: list[str], label: str, config: TrainingConfig,
    shape: dict[str, float] | None = None,
) -> FitRule:
    """`shape`: further LightGBM settings of the candidate (a depth, a learning rate)."""
    def fit(rows: pd.DataFrame) -> RiskModel:
        settings = config.lightgbm.model_copy(
            update={**lightgbm_capacity(len(rows), leaves, share), **(shape or {})})
        if len(rows) < ONE_THREAD_BELOW_ROWS:
            settings = settings.model_copy(update={"num_threads": 1})
        model, info = fit_booster(rows, config.model_copy(update={"lightgbm": settings}),
                                  features=features, label=label)
        budget = config.candidates.explain_budget
        if budget is None:
            budgeted, cut = model, 0
        else:
            budgeted = within_explain_budget(model, budget)
            cut = budgeted.metadata.get("trees_cut", 0)
        if cut and settings.learning_rate < MAX_LEARNING_RATE:
            # More trees than the serving budget explains in time: fit again with larger steps,
            # so the model converges within the trees it may keep instead of being cut short.
            scored = model.booster.best_iteration or model.booster.num_trees()
            rate = min(MAX_LEARNING_RATE, settings.learning_rate * scored / max(scored - cut, 1))
            settings = settings.model_copy(update={"learning_rate": rate})
            model, info = fit_booster(rows, config.model_copy(update={"lightgbm": settings}),
                                      features=features, label=label)
            budgeted = within_explain_budget(model, budget)
        model = budgeted
        model.metadata.update(family="lightgbm", best_iteration=info["best_iteration"],
                              **settings.model_dump(include={"num_leaves", "min_child_samples",
                                                             "learning_rate", "max_depth"}))
        return model
    return fit


def candidates(
    rows: int, *, features: list[str], label: str, config: TrainingConfig, channel: bool = False,
) -> list[Candidate]:
    """The candidates for `rows` training rows over `features`, simplest first; `channel`: the
    logistic-history candidate sees the delivery channel where `features` have it."""
    seed = config.seed

    def linear(names: list[str], c: float) -> FitRule:
        return lambda frame: fit_linear(frame, features=names, label=label, c=c, seed=seed)

    def lightgbm(leaves: int, share: float, **shape: float) -> FitRule:
        return _lightgbm_rule(leaves, share, features=features, label=label, config=config,
                              shape=shape)

    chosen: list[Candidate] = []
    if "late_share_all" in features:
        chosen.append(Candidate("late_share", "linear", linear(["late_share_all"], 1.0)))
    history = [f for f in HISTORY_FEATURES if f in features]
    channel_inputs = [f for f in CHANNEL_INPUTS if f in features] if channel else []
    if history and channel_inputs:
        chosen.append(Candidate("logistic_channel", "linear",
                                linear(history + channel_inputs, 1.0)))
    elif history:
        chosen.append(Candidate("logistic_history", "linear", linear(history, 1.0)))
    chosen += [Candidate(f"linear_c{c:g}", "linear", linear(features, c))
               for c in sorted(config.candidates.linear_c)]
    chosen.append(Candidate("lightgbm_small", "lightgbm", lightgbm(4, 0.01)))
    if config.candidates.explain_budget is not None:
        chosen.append(Candidate("lightgbm_shallow", "lightgbm", lightgbm(
            SHALLOW_LEAVES, 0.0025, max_depth=SHALLOW_DEPTH, learning_rate=MAX_LEARNING_RATE)))
    chosen.append(Candidate("lightgbm_medium", "lightgbm", lightgbm(15, 0.0025)))
    if rows >= LARGE_FROM_ROWS:
        chosen.append(Candidate("lightgbm_large", "lightgbm", lightgbm(63, 0.0005)))
    return chosen


def choose_model(
    train: pd.DataFrame, *, label: str, features: list[str], config: TrainingConfig,
    progress: Progress | None = None, known_from: pd.Series | None = None,
    channel: bool = False,
) -> tuple[ScoringModel, dict, pd.DataFrame]:
    """Score the candidates by rolling-origin cross-validation on `train`, refit the winner on
    all of `train` and calibrate it on its scores of the last fold.

    `known_from`: the date each row's label became known (default its `as_of`); a fold fits
    only on rows known before the slice it scores. `channel`: see `candidates`. Inputs missing
    on every training row (a ledger without a delivery channel) are left out. Returns the
    model, fit details for the run (`chosen`, `cv_folds`, `cv_<candidate>_auc`, calibration)
    and the comparison (one row per candidate and fold: `COMPARISON_COLUMNS`).
    """
    step = progress or (lambda _message: None)
    missing = [c for c in [label, "as_of", *features] if c not in train.columns]
    if missing:
        raise ValueError(f"training examples lack the columns {', '.join(missing)}")
    features = [f for f in features if train[f].notna().any()]
    settings = config.candidates
    rows_available = len(train)
    train = sample_rows(train, config.max_train_rows, config.seed)
    if known_from is not None:
        known_from = known_from.loc[train.index].reset_index(drop=True)
    train = train.copy(deep=False)  # numbered 0..n-1 without copying the sample's columns
    train.index = pd.RangeIndex(len(train))
    labels = train[label].to_numpy(dtype=int)
    pool = candidates(len(train), features=features, label=label, config=config,
                      channel=channel)
    folds = rolling_folds(train["as_of"], folds=settings.folds,
                          scored_share=settings.scored_share, known_from=known_from)
    folds = [f for f in folds if _both_outcomes(labels[f.fit_rows])
             and _both_outcomes(labels[f.scored_rows])]
    rows, out_of_fold = [], {c.name: ([], []) for c in pool}
    for fold in folds:
        fit_rows = sample_rows(train.iloc[fold.fit_rows], settings.max_fold_rows, config.seed)
        scored = train.iloc[fold.scored_rows]
        for candidate in pool:
            step(f"cross-validating {candidate.name}, fold {fold.number} of {len(folds)}")
            raw = candidate.fit(fit_rows).raw_logit(scored)
            metrics = binary_metrics(labels[fold.scored_rows], sigmoid(raw))
            rows.append({"candidate": candidate.name, "family": candidate.family,
                         "fold": fold.number, "n_train": len(fit_rows),
                         "n_scored": len(scored), "scored_from": str(fold.scored_from.date()),
                         "scored_to": str(fold.scored_to.date()), "auc": metrics["auc"],
                         "log_loss": metrics["log_loss"], "brier": metrics["brier"]})
            out_of_fold[candidate.name][0].append(raw)
            out_of_fold[candidate.name][1].append(labels[fold.scored_rows])
    comparison = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    winner = _winner(comparison, pool)
    step(f"refitting {winner.name} on the training period")
    model = winner.fit(train)
    info: dict[str, object] = {"chosen": winner.name, "family": winner.family,
                               "cv_folds": len(folds), "rows_available": rows_available,
                               "n_fit": len(train)}
    if folds:
        raw, outcome = (part[-1] for part in out_of_fold[winner.name])
        model.calibration, calibration_info = choose_calibration(
            raw, outcome, config.calibration_min_gain)
        info.update(calibration_info, calibration_rows=len(outcome),
                    calibration_from=str(folds[-1].scored_from.date()))
    info.update({f"cv_{name}_auc": float(auc) for name, auc
                 in comparison.groupby("candidate", sort=False)["auc"].mean().items()})
    model.metadata.update(chosen=winner.name, label=label)
    return model, info, comparison


def _both_outcomes(labels: np.ndarray) -> bool:
    return len(labels) > 0 and 0 < labels.sum() < len(labels)


def _winner(comparison: pd.DataFrame, pool: list[Candidate]) -> Candidate:
    """The simplest candidate whose mean AUC is within one standard error of the best one's
    (`within_one_se`); without a usable fold, the most regularized linear candidate on every
    input."""
    if comparison.empty:
        return next((c for c in pool if c.name.startswith("linear_c")), pool[0])
    auc = comparison.pivot(index="fold", columns="candidate", values="auc")
    log_loss = comparison.groupby("candidate")["log_loss"].mean()
    eligible = within_one_se(auc[[c.name for c in pool]], log_loss)
    return next(c for c in pool if c.name in eligible)


def within_one_se(auc: pd.DataFrame, log_loss: pd.Series) -> list[str]:
    """Candidates (columns of `auc`: one row per fold) not worse than the best by more than one
    standard error of their per-fold AUC differences from it. The best has the highest mean
    AUC (three decimals), then the lowest mean log loss."""
    means = auc.mean()
    best = min(means.index, key=lambda name: (-_rounded(means[name]), _finite(log_loss[name])))
    gaps = auc.sub(auc[best], axis=0)
    spread = (gaps.std(ddof=1) / np.sqrt(len(auc)) if len(auc) > 1
              else pd.Series(0.0, index=auc.columns))
    return [name for name in auc.columns
            if name == best or means[best] - means[name] <= spread[name]]


def _rounded(value: float) -> float:
    return round(float(value), 3) if math.isfinite(value) else -1.0


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else math.inf
