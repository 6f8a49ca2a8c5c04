"""The MLflow pyfunc face of a scoring model: `predict` returns calibrated probabilities.

A model is logged with `loader_module="models.pyfunc"` and its data folder (`model.json`, and
`booster.txt` for LightGBM; `models.store` reads either kind): the MLmodel file records only
this module's name, and `mlflow.pyfunc.load_model` reads the data with the installed package's
code. No code is stored with the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.payment_dates import PaymentDateModel
from models.store import StoredModel, load_model

LOADER_MODULE = __name__
DATA_FOLDER = "risk_model"
"""The name of the model's data folder; MLflow stores it under `data/` of the logged model."""


class RiskModelPyfunc:
    """A loaded scoring model with the `predict` MLflow's pyfunc wrapper calls."""

    def __init__(self, model: StoredModel) -> None:
        self.model = model

    def predict(self, model_input: pd.DataFrame, params: dict | None = None) -> np.ndarray:
        """Probability of the positive class for each row of `model_input` (a payment-date
        model: its quantiles of days from due date to settlement, one column per level)."""
        frame = pd.DataFrame(model_input)
        if isinstance(self.model, PaymentDateModel):
            return self.model.predict_days(frame)
        return np.asarray(self.model.predict_proba(frame))

    def get_raw_model(self) -> StoredModel:
        """The model itself (`PyFuncModel.get_raw_model()`)."""
        return self.model


def _load_pyfunc(data_path: str) -> RiskModelPyfunc:
    """MLflow's entry point for `loader_module` models: the model from its data folder."""
    return RiskModelPyfunc(load_model(data_path))
