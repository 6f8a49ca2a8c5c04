"""Build the API's `Scorer` from the MLflow registry and the latest portfolio snapshot."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from serving.champions import describe_champion, load_champion
from serving.config import ApiConfig
from serving.history import check_history_columns
from serving.portfolio import latest_portfolio_dir, read_portfolio, require_parts
from serving.scoring import Scorer
from training.collections import COLLECTIONS_MODEL_NAME
from training.delinquency import SERIOUS_MODEL_NAME
from training.pipeline import MODEL_NAME
from training.tracking import Tracking

MODEL_NAMES = (MODEL_NAME, COLLECTIONS_MODEL_NAME, SERIOUS_MODEL_NAME)
"""The champions the service answers with (and tells of in /model_info)."""


def check_snapshot(folder: Path) -> None:
    """Fail early and clearly on a snapshot the service cannot use (FileNotFoundError or
    ValueError naming what is missing), reading only its manifest and file schemas."""
    require_parts(folder)
    check_history_columns(pq.read_schema(folder / "customers.parquet").names)


def load_scorer(*, tracking: Tracking, snapshots_dir: Path, api: ApiConfig) -> Scorer:
    """The late-payment champion, the other champions' descriptions and the latest snapshot.

    Raises LookupError naming what is missing (a champion, a snapshot) and what to run.
    """
    folder = latest_portfolio_dir(snapshots_dir)
    if folder is None:
        raise LookupError(f"no portfolio snapshot in {snapshots_dir}: run `o2c score` first")
    portfolio = read_portfolio(folder)
    models = [describe_champion(name, tracking) for name in MODEL_NAMES]
    late_payment = load_champion(MODEL_NAME, tracking)
    return Scorer(late_payment=late_payment.model, portfolio=portfolio, models=models,
                  collectors=api.collectors, max_batch=api.max_batch)
