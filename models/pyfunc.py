"""The MLflow pyfunc face of a `RiskModel`: `predict` returns calibrated probabilities."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

from models.risk_model import RiskModel

ARTIFACT_KEY = "risk_model"


class RiskModelPyfunc(mlflow.pyfunc.PythonModel):
    """Loads the model folder logged as the `risk_model` artifact."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.model = RiskModel.load(context.artifacts[ARTIFACT_KEY])

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict | None = None,
    ) -> np.ndarray:
        """Probability of the positive class for each row of `model_input`."""
        return np.asarray(self.model.predict_proba(pd.DataFrame(model_input)))
