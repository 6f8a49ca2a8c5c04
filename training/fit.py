"""Fit the LightGBM late-payment model: early stopping and calibration on a later time slice."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from models.risk_model import Calibration, RiskModel, design_matrix
from training.config import TrainingConfig
from training.evaluation import expected_calibration_error

NOT_FEATURES = frozenset({
    "invoice_id", "customer_id", "as_of", "issue_date", "due_date", "kind", "late",
    "currency", "open_amount", "open_amount_base",
})
"""Columns of an example frame that are keys, labels or amounts in a local currency."""

CATEGORICAL = ("country", "industry", "segment")
"""String features LightGBM treats as categories."""

MONOTONE_INCREASING = (
    "late_share_all", "late_share_90d", "late_share_180d", "late_share_365d",
    "days_late_mean_all", "days_late_mean_90d", "days_late_mean_180d", "days_late_mean_365d",
    "days_late_weighted_all", "days_late_weighted_90d", "days_late_weighted_180d",
    "days_late_weighted_365d", "overdue_share", "promises_broken_all", "promises_broken_365d",
    "has_broken_promise",
)
"""Features whose direction is certain: more of them never lowers the risk of paying late."""


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model's input columns, in the frame's order."""
    return [c for c in frame.columns if c not in NOT_FEATURES]


def inner_split(frame: pd.DataFrame, share: float) -> tuple[pd.Series, pd.Series]:
    """Masks for the earlier (fit) and the latest `share` (inner validation) of rows by date."""
    cut = frame["as_of"].quantile(1 - share, interpolation="lower")
    later = frame["as_of"] > cut
    if later.sum() == 0 or later.all():
        raise ValueError("training examples span too few dates for a time-ordered inner split")
    return ~later, later


def fit_risk_model(train: pd.DataFrame, config: TrainingConfig) -> tuple[RiskModel, dict]:
    """Train on the earlier part of `train`, stop early and calibrate on its latest part."""
    rows_available = len(train)
    if rows_available > config.max_train_rows:
        train = train.sample(n=config.max_train_rows, random_state=config.seed).sort_index()
    features = feature_columns(train)
    categories = {c: sorted(train[c].dropna().astype(str).unique()) for c in CATEGORICAL
                  if c in features}
    fit_mask, inner_mask = inner_split(train, config.inner_valid_share)
    x_fit = design_matrix(train[fit_mask], features, categories)
    x_inner = design_matrix(train[inner_mask], features, categories)
    y_fit, y_inner = train.loc[fit_mask, "late"], train.loc[inner_mask, "late"]
    params = _lightgbm_params(features, config)
    fit_set = lgb.Dataset(x_fit, y_fit.astype(int), categorical_feature=list(categories),
                          free_raw_data=False)
    inner_set = lgb.Dataset(x_inner, y_inner.astype(int), reference=fit_set)
    booster = lgb.train(
        params, fit_set, num_boost_round=config.lightgbm.max_rounds, valid_sets=[inner_set],
        valid_names=["inner"],
        callbacks=[lgb.early_stopping(config.lightgbm.early_stopping_rounds, verbose=False)],
    )
    model = RiskModel(booster=booster, features=features, categories=categories)
    calibration, info = _choose_calibration(model.raw_logit(train[inner_mask]),
                                            y_inner.to_numpy(), config.calibration_min_gain)
    model.calibration = calibration
    info.update(best_iteration=booster.best_iteration, rows_available=rows_available,
                n_fit=int(fit_mask.sum()),
                n_inner=int(inner_mask.sum()),
                inner_from=str(train.loc[inner_mask, "as_of"].min().date()))
    return model, info


def _lightgbm_params(features: list[str], config: TrainingConfig) -> dict:
    lgbm = config.lightgbm
    return {
        "objective": "binary",
        "metric": "binary_logloss",
        "learning_rate": lgbm.learning_rate,
        "num_leaves": lgbm.num_leaves,
        "min_child_samples": lgbm.min_child_samples,
        "feature_fraction": lgbm.feature_fraction,
        "bagging_fraction": lgbm.bagging_fraction,
        "bagging_freq": 1,
        "lambda_l2": lgbm.lambda_l2,
        "monotone_constraints": [1 if f in MONOTONE_INCREASING else 0 for f in features],
        "monotone_constraints_method": "intermediate",
        "num_threads": lgbm.num_threads,
        "seed": config.seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
    }


def _choose_calibration(
    raw: np.ndarray, y: np.ndarray, min_gain: float
) -> tuple[Calibration, dict]:
    """Platt scaling fitted on the inner slice, kept only if it lowers its calibration error."""
    identity = Calibration()
    ece_raw = expected_calibration_error(y, identity.apply(raw))
    platt_fit = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y.astype(int))
    platt = Calibration("platt", float(platt_fit.coef_[0, 0]), float(platt_fit.intercept_[0]))
    ece_platt = expected_calibration_error(y, platt.apply(raw))
    chosen = platt if ece_raw - ece_platt >= min_gain else identity
    return chosen, {"inner_ece_raw": ece_raw, "inner_ece_platt": ece_platt,
                    "calibration": chosen.method}
