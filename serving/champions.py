"""The champion models from the MLflow registry, handed to the scoring code, never fetched by it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from models.risk_model import RiskModel
from training.tracking import CHAMPION, HEADLINE, Tracking, load_risk_model


@dataclass(frozen=True)
class Champion:
    """A registered model version aliased `champion`, loaded."""

    name: str
    version: str
    run_id: str
    model: RiskModel


def champion_version(client: MlflowClient, name: str, tracking: Tracking) -> ModelVersion:
    """The registry's version of `name` aliased `champion`; LookupError when there is none."""
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        raise LookupError(f"no champion of model {name!r} in {tracking.tracking_uri}; "
                          "run `o2c train` first") from None


def load_champion(name: str, tracking: Tracking) -> Champion:
    """Load the version of `name` aliased `champion`, reading its data only (nothing in the
    artifact store runs or is written); LookupError when there is none or it is unreadable."""
    mlflow.set_tracking_uri(tracking.tracking_uri)
    version = champion_version(MlflowClient(), name, tracking)
    return Champion(name, str(version.version), version.run_id,
                    load_risk_model(name, str(version.version)))


def describe_champion(name: str, tracking: Tracking) -> dict:
    """What the registry says of a champion, without loading it: version, aliases, run,
    training date and validation metrics (the model's own, not its baselines')."""
    client = MlflowClient(tracking.tracking_uri)
    version = champion_version(client, name, tracking)
    run = client.get_run(version.run_id)
    metrics = {k: v for k, v in sorted(run.data.metrics.items())
               if k in HEADLINE or k.startswith("aged_")}
    return {"name": name, "version": str(version.version), "aliases": sorted(version.aliases),
            "run_id": version.run_id, "trained_at": _iso(run.info.start_time),
            "registered_at": _iso(version.creation_timestamp),
            "validation_metrics": metrics}


def _iso(millis: int | None) -> str | None:
    if millis is None:
        return None
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC).isoformat(timespec="seconds")
