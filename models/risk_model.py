"""The scoring model: a LightGBM booster, its calibration and its inputs, saved without pickle.

A `RiskModel` turns a feature frame into calibrated probabilities and per-feature
contributions. It is saved as a folder of plain files (`booster.txt`, LightGBM's own text
format, and `model.json`), which MLflow logs as the data of a pyfunc model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd

BOOSTER_FILE = "booster.txt"
META_FILE = "model.json"
_EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities, clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Inverse of `logit`."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


@dataclass(frozen=True)
class Calibration:
    """A monotone map from raw model log-odds to calibrated probabilities.

    `platt`: p = sigmoid(slope * raw_logit + intercept). `identity`: the raw probability.
    """

    method: Literal["identity", "platt"] = "identity"
    slope: float = 1.0
    intercept: float = 0.0

    def apply(self, raw_logit: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from raw log-odds."""
        if self.method == "identity":
            return sigmoid(raw_logit)
        return sigmoid(self.slope * np.asarray(raw_logit) + self.intercept)


def design_matrix(
    frame: pd.DataFrame, features: list[str], categories: dict[str, list[str]]
) -> pd.DataFrame:
    """`features` of `frame` as LightGBM input: floats, and categoricals with fixed categories
    (values unseen in training become missing)."""
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValueError(f"feature frame lacks the model's columns: {', '.join(missing)}")
    matrix = frame[features].copy()
    for column in features:
        if column in categories:
            matrix[column] = pd.Categorical(matrix[column].astype("string"),
                                            categories=categories[column])
        else:
            matrix[column] = pd.to_numeric(matrix[column], errors="raise").astype(float)
    return matrix


@dataclass
class RiskModel:
    """A calibrated LightGBM classifier over named features."""

    booster: lgb.Booster
    features: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    calibration: Calibration = field(default_factory=Calibration)
    metadata: dict[str, object] = field(default_factory=dict)

    FILES: ClassVar[tuple[str, ...]] = (BOOSTER_FILE, META_FILE)
    """The files `save` writes and `load` reads."""

    def design_matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input columns in order; categoricals with the training categories."""
        return design_matrix(frame, self.features, self.categories)

    def raw_logit(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds from the booster."""
        return self.booster.predict(self.design_matrix(frame), raw_score=True)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the positive class, one per row."""
        if len(frame) == 0:
            return np.empty(0)
        return self.calibration.apply(self.raw_logit(frame))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row, per-feature contributions to the raw log-odds (TreeSHAP), bias dropped."""
        if len(frame) == 0:
            return pd.DataFrame(columns=self.features, dtype=float)
        values = self.booster.predict(self.design_matrix(frame), pred_contrib=True)
        return pd.DataFrame(values[:, :-1], columns=self.features, index=frame.index)

    def save(self, folder: str | Path) -> Path:
        """Write `booster.txt` and `model.json` into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(folder / BOOSTER_FILE)
        meta = {
            "features": self.features,
            "categories": self.categories,
            "calibration": {"method": self.calibration.method, "slope": self.calibration.slope,
                            "intercept": self.calibration.intercept},
            "metadata": self.metadata,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> RiskModel:
        """Read a model written by `save`."""
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text())
        return cls(
            booster=lgb.Booster(model_file=str(folder / BOOSTER_FILE)),
            features=list(meta["features"]),
            categories={k: list(v) for k, v in meta["categories"].items()},
            calibration=Calibration(**meta["calibration"]),
            metadata=dict(meta.get("metadata", {})),
        )
