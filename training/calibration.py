"""Calibration of a model's raw log-odds on a later slice than the one it was fitted on.

scikit-learn fits the map (`CalibratedClassifierCV` over a `FrozenEstimator`, Platt's sigmoid);
its two numbers are kept as a `Calibration` (plain data, saved in `model.json`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from models.risk_model import Calibration
from training.evaluation import expected_calibration_error


class _RawLogits(ClassifierMixin, BaseEstimator):
    """A fitted 'classifier' whose decision function is its single input column: the raw
    log-odds a model already computed."""

    def __init__(self) -> None:
        self.classes_ = np.array([0, 1])

    def fit(self, x: np.ndarray, y: np.ndarray) -> _RawLogits:  # noqa: ARG002 (frozen)
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=float)[:, 0]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (self.decision_function(x) > 0).astype(int)


def fit_platt(raw: np.ndarray, y: np.ndarray) -> Calibration:
    """Platt scaling of raw log-odds `raw` against outcomes `y` (scikit-learn's sigmoid)."""
    calibrated = CalibratedClassifierCV(FrozenEstimator(_RawLogits()), method="sigmoid")
    calibrated.fit(np.asarray(raw, dtype=float).reshape(-1, 1), np.asarray(y).astype(int))
    sigmoid = calibrated.calibrated_classifiers_[0].calibrators[0]
    # scikit-learn's sigmoid is 1 / (1 + exp(a * raw + b)).
    return Calibration("platt", slope=float(-sigmoid.a_), intercept=float(-sigmoid.b_))


def choose_calibration(
    raw: np.ndarray, y: np.ndarray, min_gain: float
) -> tuple[Calibration, dict]:
    """Platt scaling fitted on (`raw`, `y`), kept only if it lowers their expected calibration
    error by at least `min_gain`; else the raw probabilities (identity)."""
    identity = Calibration()
    platt = fit_platt(raw, y)
    ece_raw = expected_calibration_error(y, identity.apply(raw))
    ece_platt = expected_calibration_error(y, platt.apply(raw))
    chosen = platt if ece_raw - ece_platt >= min_gain else identity
    return chosen, {"calibration_ece_raw": ece_raw, "calibration_ece_platt": ece_platt,
                    "calibration": chosen.method}
