"""A regularized logistic regression scoring model, saved as data (JSON only, no pickle).

A `LinearRiskModel` has the surface of `models.risk_model.RiskModel` (`features`,
`categories`, `predict_proba`, `raw_logit`, `contributions`, `save`, `load`, `FILES`), so the
registry, serving and reason codes take either. Its design matrix, built from the stored
numbers alone:

- a number: missing values imputed with the training median, plus a `<feature>:missing`
  indicator column when the feature was missing in training;
- a category: one column per training category (`<feature>=<value>`); an unseen or missing
  value sets none of them;
- every column then standardized with its training mean and scale.

The raw log-odds are `intercept + Σ coef × standardized column`; a feature's contribution
(for reason codes) is the sum of `coef × standardized column` over its columns, so the
contributions add up to the raw log-odds minus the intercept.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from models.risk_model import META_FILE, Calibration

KIND = "linear"
"""`model.json`'s `"kind"` for this class (`models.store.load_model` dispatches on it)."""


@dataclass
class LinearRiskModel:
    """A calibrated logistic regression over named features, every parameter plain data."""

    features: list[str]
    categories: dict[str, list[str]]
    medians: dict[str, float]
    """Per numeric feature: the value that replaces a missing one."""
    indicators: list[str]
    """Numeric features with a `:missing` indicator column."""
    means: list[float]
    """Per design column (`columns`): its training mean."""
    scales: list[float]
    """Per design column: its training standard deviation (1 when constant)."""
    coefficients: list[float]
    """Per design column: the coefficient on its standardized value."""
    intercept: float
    calibration: Calibration = field(default_factory=Calibration)
    metadata: dict[str, object] = field(default_factory=dict)

    FILES: ClassVar[tuple[str, ...]] = (META_FILE,)
    """The files `save` writes and `load` reads."""

    def __post_init__(self) -> None:
        width = len(self.columns)
        for name in ("means", "scales", "coefficients"):
            if len(getattr(self, name)) != width:
                raise ValueError(f"linear model: {name} has {len(getattr(self, name))} "
                                 f"values, expected one per design column ({width})")
        numeric = {f for f in self.features if f not in self.categories}
        if set(self.medians) != numeric:
            raise ValueError(f"linear model: medians must cover exactly the numeric features; "
                             f"missing {sorted(numeric - set(self.medians))}, extra "
                             f"{sorted(set(self.medians) - numeric)}")

    @property
    def columns(self) -> list[str]:
        """The design columns, in order."""
        return [name for name, _ in self._layout()]

    def _layout(self) -> list[tuple[str, str]]:
        return design_layout(self.features, self.categories, self.indicators)

    def unscaled_design(self, frame: pd.DataFrame) -> np.ndarray:
        """The design columns before standardization: imputed values, indicators, one-hots."""
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(f"feature frame lacks the model's columns: {', '.join(missing)}")
        parts = []
        for feature in self.features:
            values = frame[feature]
            if feature in self.categories:
                text = values.astype("string")
                parts += [(text == level).fillna(False).to_numpy(dtype=float)
                          for level in self.categories[feature]]
                continue
            number = pd.to_numeric(values, errors="raise").astype(float).to_numpy()
            absent = np.isnan(number)
            parts.append(np.where(absent, self.medians[feature], number))
            if feature in self.indicators:
                parts.append(absent.astype(float))
        if not parts:
            return np.empty((len(frame), 0))
        return np.column_stack(parts)

    def _terms(self, frame: pd.DataFrame) -> np.ndarray:
        """coef × standardized value, per row and design column."""
        z = (self.unscaled_design(frame) - np.asarray(self.means)) / np.asarray(self.scales)
        return z * np.asarray(self.coefficients)

    def raw_logit(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds."""
        return self.intercept + self._terms(frame).sum(axis=1)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the positive class, one per row."""
        if len(frame) == 0:
            return np.empty(0)
        return self.calibration.apply(self.raw_logit(frame))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per row and feature: Σ coef × standardized value over the feature's columns (log-odds
        relative to an average training example)."""
        if len(frame) == 0:
            return pd.DataFrame(columns=self.features, dtype=float)
        terms = pd.DataFrame(self._terms(frame), index=frame.index,
                             columns=[owner for _, owner in self._layout()])
        return terms.T.groupby(level=0, sort=False).sum().T.reindex(columns=self.features)

    def save(self, folder: str | Path) -> Path:
        """Write `model.json` into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "kind": KIND,
            "features": self.features,
            "categories": self.categories,
            "medians": self.medians,
            "indicators": self.indicators,
            "columns": self.columns,
            "means": self.means,
            "scales": self.scales,
            "coefficients": self.coefficients,
            "intercept": self.intercept,
            "calibration": asdict(self.calibration),
            "metadata": self.metadata,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> LinearRiskModel:
        """Read a model written by `save`; a field missing or of the wrong kind is named."""
        path = Path(folder) / META_FILE
        meta = json.loads(path.read_text())
        if meta.get("kind") != KIND:
            raise ValueError(f"{path}: kind {meta.get('kind')!r}, expected {KIND!r}")
        try:
            model = cls(
                features=[str(f) for f in meta["features"]],
                categories={str(k): [str(v) for v in values]
                            for k, values in meta["categories"].items()},
                medians={str(k): float(v) for k, v in meta["medians"].items()},
                indicators=[str(f) for f in meta["indicators"]],
                means=[float(v) for v in meta["means"]],
                scales=[float(v) for v in meta["scales"]],
                coefficients=[float(v) for v in meta["coefficients"]],
                intercept=float(meta["intercept"]),
                calibration=Calibration(**meta["calibration"]),
                metadata=dict(meta.get("metadata", {})),
            )
        except KeyError as exc:
            raise ValueError(f"{path}: lacks the field {exc.args[0]!r}") from exc
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"{path}: a field has the wrong type ({exc})") from exc
        if model.columns != meta.get("columns", model.columns):
            raise ValueError(f"{path}: columns do not match its features and categories")
        return model


def design_layout(
    features: list[str], categories: dict[str, list[str]], indicators: list[str]
) -> list[tuple[str, str]]:
    """(design column, the feature it belongs to), in order: a category feature gives one
    column per level, a number its value and, if it has an indicator, `<feature>:missing`."""
    layout = []
    for feature in features:
        if feature in categories:
            layout += [(f"{feature}={level}", feature) for level in categories[feature]]
        else:
            layout.append((feature, feature))
            if feature in indicators:
                layout.append((f"{feature}:missing", feature))
    return layout
