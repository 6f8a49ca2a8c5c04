"""`o2c serve`: the API over the champion models and the latest portfolio snapshot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from o2c.common import fail, load_settings_or_fail

SERVICE = "serving.service:O2CRisk"
"""The BentoML service `o2c serve` starts (`bentoml serve` takes the same)."""


def serve(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")]
    = 3000,
    host: Annotated[str, typer.Option(
        help="Address to listen on; 0.0.0.0 for every interface.")] = "127.0.0.1",
) -> None:
    """Serve the API (BentoML): scores, worklist, credit limits, customer profiles.

    Uses the champions of the MLflow registry and the latest snapshot of `o2c score` in the
    working folder (settings: O2C_WORKDIR, O2C_MLFLOW_TRACKING_URI); API keys from
    O2C_API_KEYS or O2C_API_KEYS_FILE. Runs until interrupted.
    """
    from serving.auth import ApiKeyError, load_api_keys
    from serving.champions import describe_champion
    from serving.portfolio import latest_portfolio_dir
    from serving.state import REQUIRED_MODELS, check_snapshot

    settings = load_settings_or_fail()
    try:
        keys = load_api_keys(settings.api_keys, settings.api_keys_file)
    except ApiKeyError as exc:
        fail(str(exc))
    folder = latest_portfolio_dir(settings.snapshots_dir)
    if folder is None:
        fail(f"no portfolio snapshot in {settings.snapshots_dir}: run `o2c score` first")
    try:
        check_snapshot(folder)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    tracking = settings.registry()
    try:
        for name in REQUIRED_MODELS:
            describe_champion(name, tracking)
    except LookupError as exc:
        fail(str(exc))
    if not keys:
        typer.echo("warning: no API keys (O2C_API_KEYS or O2C_API_KEYS_FILE): every endpoint "
                   "but health and metrics answers 401", err=True)
    _pin_environment(settings.workdir, settings.tracking_uri)
    import bentoml

    root = Path(__file__).resolve().parent.parent
    bentoml.serve(SERVICE, host=host, port=port, working_dir=str(root), blocking=True)


def _pin_environment(workdir: Path, tracking_uri: str) -> None:
    """Absolute paths for the server's processes, whatever folder they run in."""
    os.environ["O2C_WORKDIR"] = str(workdir.resolve())
    os.environ["O2C_MLFLOW_TRACKING_URI"] = tracking_uri
    if os.environ.get("O2C_CONFIG"):
        os.environ["O2C_CONFIG"] = str(Path(os.environ["O2C_CONFIG"]).resolve())
    elif Path("o2c.toml").is_file():
        os.environ["O2C_CONFIG"] = str(Path("o2c.toml").resolve())
    if os.environ.get("O2C_API_KEYS_FILE"):
        os.environ["O2C_API_KEYS_FILE"] = str(Path(os.environ["O2C_API_KEYS_FILE"]).resolve())
    if os.environ.get("O2C_LEDGER"):
        os.environ["O2C_LEDGER"] = str(Path(os.environ["O2C_LEDGER"]).resolve())
    os.environ.setdefault("OMP_NUM_THREADS", "1")
