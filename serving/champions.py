"""The champion models from the MLflow registry, handed to the scoring code, never fetched by it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from models.risk_model import RiskModel
from training.registry import Registry
from training.tracking import HEADLINE


@dataclass(frozen=True)
class Champion:
    """A registered model version aliased `champion`, loaded."""

    name: str
    version: str
    run_id: str
    model: RiskModel
    run_params: dict[str, str] = field(default_factory=dict)
    """Parameters of its training run (windows, grace days)."""
    run_tags: dict[str, str] = field(default_factory=dict)


def load_champion(name: str, registry: Registry) -> Champion:
    """Load the version of `name` aliased `champion`, reading its data only (nothing in the
    artifact store runs or is written); LookupError when there is none or it is unreadable."""
    version = registry.champion_version(name)
    run = registry.get_run(version.run_id)
    return Champion(name, str(version.version), version.run_id,
                    registry.load_model(name, str(version.version)),
                    run_params=dict(run.data.params), run_tags=dict(run.data.tags))


def describe_champion(name: str, registry: Registry) -> dict:
    """What the registry says of a champion, without loading it: version, aliases, run,
    training date and validation metrics (the model's own, not its baselines')."""
    version = registry.champion_version(name)
    run = registry.get_run(version.run_id)
    metrics = {k: v for k, v in sorted(run.data.metrics.items())
               if k in HEADLINE or k.startswith("aged_")}
    return {"name": name, "version": str(version.version), "aliases": sorted(version.aliases),
            "run_id": version.run_id, "trained_at": iso_time(run.info.start_time),
            "registered_at": iso_time(version.creation_timestamp),
            "validation_metrics": metrics}


def iso_time(millis: int | None) -> str | None:
    """An MLflow timestamp (milliseconds) as ISO 8601 UTC, to the second."""
    if millis is None:
        return None
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC).isoformat(timespec="seconds")
