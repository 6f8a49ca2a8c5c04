"""The scoring model tuned for serving: a numeric design matrix, parallel TreeSHAP for batches.

`RiskModel.design_matrix` builds a pandas frame column by column, which LightGBM then turns
back into numbers (about 15 ms and 3 ms per call for one row of 70 features). `ServingModel`
hands LightGBM the numbers directly: floats, and each categorical as its code in the model's
training categories (NaN when unseen or missing), which is what LightGBM makes of the pandas
categoricals itself. Its contributions are the same LightGBM call, on every core for large
frames. The rest is `RiskModel`'s own code; the tests check that both give identical
probabilities and contributions.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from models.risk_model import RiskModel

PARALLEL_ROWS = 200
"""Frames of at least this many rows get their contributions (TreeSHAP) computed on every
core; smaller ones on one thread (on a busy machine extra threads only slow them down)."""


class ServingModel(RiskModel):
    """A `RiskModel` whose design matrix is a float array (same predictions)."""

    @classmethod
    def of(cls, model: RiskModel) -> ServingModel:
        """The same booster, features, categories, calibration and metadata."""
        served = cls(booster=model.booster, features=list(model.features),
                     categories=dict(model.categories), calibration=model.calibration,
                     metadata=dict(model.metadata))
        trained = served.booster.pandas_categorical or []
        if [list(c) for c in trained] != [served.categories[f] for f in served.features
                                           if f in served.categories]:
            raise ValueError("the booster's categories differ from the model's: cannot "
                             "encode categoricals as codes")
        served._codes = {f: {v: float(i) for i, v in enumerate(served.categories[f])}
                         for f in served.categories}
        return served

    def design_matrix(self, frame: pd.DataFrame) -> np.ndarray:  # type: ignore[override]
        """The model's inputs as floats, categoricals as codes of the training categories."""
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(f"feature frame lacks the model's columns: {', '.join(missing)}")
        matrix = np.empty((len(frame), len(self.features)))
        numeric = [j for j, f in enumerate(self.features) if f not in self._codes]
        columns = [self.features[j] for j in numeric]
        try:  # one selection and conversion for all numeric columns
            matrix[:, numeric] = frame[columns].to_numpy(dtype=float)
        except (TypeError, ValueError):
            for j, column in zip(numeric, columns, strict=True):
                matrix[:, j] = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float)
        for j, column in enumerate(self.features):
            if column in self._codes:
                codes = self._codes[column]
                matrix[:, j] = [codes.get(v, np.nan) if isinstance(v, str) else np.nan
                                for v in frame[column].astype(object)]
        return matrix

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row, per-feature contributions to the raw log-odds (TreeSHAP), bias dropped;
        large frames on every core (the same values: rows are independent)."""
        if len(frame) == 0:
            return pd.DataFrame(columns=self.features, dtype=float)
        threads = (os.cpu_count() or 1) if len(frame) >= PARALLEL_ROWS else 1
        values = self.booster.predict(self.design_matrix(frame), pred_contrib=True,
                                      num_threads=threads)
        return pd.DataFrame(values[:, :-1], columns=self.features, index=frame.index)
