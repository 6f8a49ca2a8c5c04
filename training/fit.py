"""Fit the LightGBM late-payment model: early stopping and calibration on a later time slice."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.catalog import model_inputs
from models.risk_model import RiskModel, numeric_design
from training.calibration import choose_calibration
from training.config import TrainingConfig

_INPUTS = {spec.name: spec for spec in model_inputs()}

CATEGORICAL = tuple(name for name, spec in _INPUTS.items() if spec.dtype == "category")
"""Category features (strings) LightGBM treats as categories."""

MONOTONE = {name: spec.monotone for name, spec in _INPUTS.items() if spec.monotone}
"""Feature -> the direction (+1, -1) the catalog says is certain; the models keep to it."""

MONOTONE_INCREASING = tuple(name for name, sign in MONOTONE.items() if sign > 0)
"""Features whose direction is certain: more of them never lowers the risk."""


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model's input columns, in the frame's order: the catalog's model inputs the frame
    has (keys, labels and any other column are never inputs)."""
    return [c for c in frame.columns if c in _INPUTS]


def category_levels(frame: pd.DataFrame, features: list[str]) -> dict[str, list[str]]:
    """Per category feature among `features`: the catalog's fixed categories, else the ones
    seen in `frame`."""
    return {c: list(_INPUTS[c].categories or sorted(frame[c].dropna().astype(str).unique()))
            for c in features if c in CATEGORICAL}


def inner_split(frame: pd.DataFrame, share: float) -> tuple[pd.Series, pd.Series]:
    """Masks for the earlier (fit) and the latest `share` (inner validation) of rows by date."""
    cut = frame["as_of"].quantile(1 - share, interpolation="lower")
    later = frame["as_of"] > cut
    if later.sum() == 0 or later.all():
        raise ValueError("training examples span too few dates for a time-ordered inner split")
    return ~later, later


def fit_risk_model(
    train: pd.DataFrame, config: TrainingConfig, *, features: list[str] | None = None,
    label: str = "late",
) -> tuple[RiskModel, dict]:
    """Train on the earlier part of `train`, stop early and calibrate on its latest part."""
    rows_available = len(train)
    train = sample_rows(train, config.max_train_rows, config.seed)
    model, info = fit_booster(train, config, features=features, label=label)
    _, inner_mask = inner_split(train, config.inner_valid_share)
    calibration, calibration_info = choose_calibration(
        model.raw_logit(train[inner_mask]), train.loc[inner_mask, label].to_numpy(dtype=int),
        config.calibration_min_gain)
    model.calibration = calibration
    info.update(calibration_info, rows_available=rows_available)
    return model, info


def sample_rows(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    """`frame`, or a seeded sample of `limit` of its rows (in their order) when it is larger:
    the rows `frame.sample(n=limit, random_state=seed)` picks."""
    if len(frame) <= limit:
        return frame
    positions = np.random.RandomState(seed).choice(len(frame), size=limit, replace=False)
    if frame.index.is_monotonic_increasing and frame.index.is_unique:  # one copy, not two
        return frame.take(np.sort(positions))
    return frame.take(positions).sort_index()


def fit_booster(
    train: pd.DataFrame, config: TrainingConfig, *, features: list[str] | None = None,
    label: str = "late",
) -> tuple[RiskModel, dict]:
    """LightGBM with `config.lightgbm`'s settings, fitted on the earlier part of `train` and
    stopped early on its latest `inner_valid_share`; uncalibrated (identity). Examples of a
    single date (a short ledger, an early cross-validation fold) cannot be split in time:
    they are fitted whole for `config.lightgbm.unsplit_rounds` rounds, without early stopping."""
    features = feature_columns(train) if features is None else features
    categories = category_levels(train, features)
    params = _lightgbm_params(features, config)
    labels = train[label].to_numpy(dtype=int)

    def dataset(rows: np.ndarray | None = None, **options: object) -> lgb.Dataset:
        """The rows' design matrix and labels, handed over (freed once LightGBM has binned
        them)."""
        return lgb.Dataset(numeric_design(train, features, categories, rows),
                           labels if rows is None else labels[rows], feature_name=features,
                           categorical_feature=list(categories), **options)

    try:
        fit_mask, inner_mask = inner_split(train, config.inner_valid_share)
    except ValueError:
        rounds = config.lightgbm.unsplit_rounds
        booster = lgb.train(params, dataset(), num_boost_round=rounds)
        model = RiskModel(booster=booster, features=features, categories=categories)
        return model, {"best_iteration": rounds, "n_fit": len(train), "n_inner": 0,
                       "inner_from": None}
    fit_set = dataset(fit_mask.to_numpy())
    inner_set = dataset(inner_mask.to_numpy(), reference=fit_set)
    booster = lgb.train(
        params, fit_set, num_boost_round=config.lightgbm.max_rounds, valid_sets=[inner_set],
        valid_names=["inner"],
        callbacks=[lgb.early_stopping(config.lightgbm.early_stopping_rounds, verbose=False)],
    )
    model = RiskModel(booster=booster, features=features, categories=categories)
    info = {"best_iteration": booster.best_iteration, "n_fit": int(fit_mask.sum()),
            "n_inner": int(inner_mask.sum()),
            "inner_from": str(train.loc[inner_mask, "as_of"].min().date())}
    return model, info


def _lightgbm_params(features: list[str], config: TrainingConfig) -> dict:
    lgbm = config.lightgbm
    return {
        "objective": "binary",
        "metric": "binary_logloss",
        "learning_rate": lgbm.learning_rate,
        "num_leaves": lgbm.num_leaves,
        "max_depth": lgbm.max_depth,
        "min_child_samples": lgbm.min_child_samples,
        "feature_fraction": lgbm.feature_fraction,
        "bagging_fraction": lgbm.bagging_fraction,
        "bagging_freq": 1,
        "lambda_l2": lgbm.lambda_l2,
        "monotone_constraints": [MONOTONE.get(f, 0) for f in features],
        "monotone_constraints_method": "intermediate",
        "num_threads": lgbm.num_threads,
        "seed": config.seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
    }
