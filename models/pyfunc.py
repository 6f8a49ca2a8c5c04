"""The MLflow pyfunc face of a `RiskModel`: `predict` returns calibrated probabilities.

A model is logged with `loader_module="models.pyfunc"` and its data folder (`booster.txt` and
`model.json`): the MLmodel file records only this module's name, and `mlflow.pyfunc.load_model`
reads the data with the installed package's code. No code is stored with the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.risk_model import RiskModel

LOADER_MODULE = __name__
DATA_FOLDER = "risk_model"
"""The name of the model's data folder; MLflow stores it under `data/` of the logged model."""


class RiskModelPyfunc:
    """A loaded `RiskModel` with the `predict` MLflow's pyfunc wrapper calls."""

    def __init__(self, model: RiskModel) -> None:
        self.model = model

    def predict(self, model_input: pd.DataFrame, params: dict | None = None) -> np.ndarray:
        """Probability of the positive class for each row of `model_input`."""
        return np.asarray(self.model.predict_proba(pd.DataFrame(model_input)))

    def get_raw_model(self) -> RiskModel:
        """The `RiskModel` itself (`PyFuncModel.get_raw_model()`)."""
        return self.model


def _load_pyfunc(data_path: str) -> RiskModelPyfunc:
    """MLflow's entry point for `loader_module` models: the model from its data folder."""
    return RiskModelPyfunc(RiskModel.load(data_path))
