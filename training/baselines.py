"""The rules people use today, scored on the same validation set as the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

HISTORY_FEATURES = (
    "late_share_all", "late_share_180d", "days_late_mean_all", "days_late_mean_180d",
    "overdue_share", "utilization", "log_amount", "days_past_due",
)
"""The handful of history features the logistic-regression baseline uses."""


def late_share_baseline(
    train: pd.DataFrame, frame: pd.DataFrame, label: str = "late"
) -> np.ndarray:
    """The customer's historical share paid late; the training rate of `label` when it has
    none."""
    fallback = float(train[label].mean())
    return frame["late_share_all"].fillna(fallback).to_numpy(dtype=float)


def fit_logistic_baseline(train: pd.DataFrame, seed: int, label: str = "late") -> Pipeline:
    """Logistic regression on `HISTORY_FEATURES`, missing values imputed and flagged."""
    pipeline = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(max_iter=2000, random_state=seed),
    )
    return pipeline.fit(train[list(HISTORY_FEATURES)], train[label].astype(int))


def logistic_baseline(pipeline: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """Probabilities of the fitted logistic baseline."""
    return pipeline.predict_proba(frame[list(HISTORY_FEATURES)])[:, 1]
