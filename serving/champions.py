"""The champion models from the MLflow registry, handed to the scoring code, never fetched by it."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.risk_model import RiskModel
from training.tracking import CHAMPION, Tracking


@dataclass(frozen=True)
class Champion:
    """A registered model version aliased `champion`, loaded."""

    name: str
    version: str
    run_id: str
    model: RiskModel


def load_champion(name: str, tracking: Tracking) -> Champion:
    """Load `models:/<name>@champion`; a clear error when there is none yet."""
    mlflow.set_tracking_uri(tracking.tracking_uri)
    try:
        version = MlflowClient().get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        raise LookupError(f"no champion of model {name!r} in {tracking.tracking_uri}; "
                          "run `o2c train` first") from None
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@{CHAMPION}")
    return Champion(name, str(version.version), version.run_id,
                    loaded.unwrap_python_model().model)
