"""Shared fixtures: a tiny hand-made ledger that satisfies the contract."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.pg import db_url, postgres  # noqa: F401 (fixtures: a real PostgreSQL, both backends)


def tiny_ledger_frames() -> dict[str, pd.DataFrame]:
    """Two customers in two currencies, four invoices and one fact of every other kind."""
    return {
        "customers": pd.DataFrame({
            "customer_id": ["C1", "C2"],
            "country": ["DE", "US"],
            "currency": ["EUR", "USD"],
            "payment_terms_days": [30, 45],
            "credit_limit": [10_000.0, 25_000.0],
            "name": ["Alpha GmbH", "Beta Inc"],
            "industry": ["retail", "construction"],
            "segment": ["small", "mid"],
            "created_date": pd.to_datetime(["2020-01-01", "2021-06-15"]),
        }),
        "invoices": pd.DataFrame({
            "invoice_id": ["I1", "I2", "I3", "I4"],
            "customer_id": ["C1", "C1", "C2", "C2"],
            "issue_date": pd.to_datetime(["2024-01-05", "2024-02-10", "2024-01-20",
                                          "2024-03-01"]),
            "due_date": pd.to_datetime(["2024-02-04", "2024-03-11", "2024-03-05",
                                        "2024-04-15"]),
            "amount": [1000.0, 500.0, 2000.0, 750.0],
            "currency": ["EUR", "EUR", "USD", "USD"],
        }),
        "payments": pd.DataFrame({
            "payment_id": ["P1", "P2", "P3"],
            "invoice_id": ["I1", "I3", "I3"],
            "customer_id": ["C1", "C2", "C2"],
            "payment_date": pd.to_datetime(["2024-02-01", "2024-03-01", "2024-03-20"]),
            "amount": [1000.0, 1000.0, 900.0],
        }),
        "credit_notes": pd.DataFrame({
            "credit_note_id": ["N1"],
            "invoice_id": ["I3"],
            "customer_id": ["C2"],
            "issue_date": pd.to_datetime(["2024-03-10"]),
            "amount": [100.0],
        }),
        "disputes": pd.DataFrame({
            "dispute_id": ["D1"],
            "invoice_id": ["I2"],
            "opened_date": pd.to_datetime(["2024-02-20"]),
            "resolved_date": pd.to_datetime([None]),
        }),
        "promises": pd.DataFrame({
            "promise_id": ["R1"],
            "customer_id": ["C2"],
            "created_date": pd.to_datetime(["2024-03-08"]),
            "promised_date": pd.to_datetime(["2024-03-15"]),
            "amount": [900.0],
            "invoice_id": ["I3"],
        }),
        "fx_rates": pd.DataFrame({"currency": ["EUR", "USD"], "rate_to_base": [1.0, 0.9]}),
    }


def facts_before(frames: dict[str, pd.DataFrame], cut: dt.date) -> dict[str, pd.DataFrame]:
    """The ledger as it was known on the morning of `cut`: every fact dated on/after it gone.

    A dispute opened before `cut` and resolved later is open; a promise made before `cut`
    keeps its promised date (known when it was made) but loses its recorded `kept`.
    """
    t = pd.Timestamp(cut)

    def before(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame[pd.to_datetime(frame[column]) < t].copy()

    out = {name: frame.copy() for name, frame in frames.items()}
    out["invoices"] = before(frames["invoices"], "issue_date")
    out["payments"] = before(frames["payments"], "payment_date")
    out["credit_notes"] = before(frames["credit_notes"], "issue_date")
    disputes = before(frames["disputes"], "opened_date")
    resolved = pd.to_datetime(disputes["resolved_date"])
    disputes["resolved_date"] = resolved.where(resolved < t)
    out["disputes"] = disputes
    promises = before(frames["promises"], "created_date")
    if "kept" in promises:
        promises["kept"] = None
    out["promises"] = promises
    return out


def write_frames(frames: dict[str, pd.DataFrame], folder: Path, fmt: str = "parquet") -> Path:
    """Write ledger frames as `<table>.parquet` or `<table>.csv` files into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if fmt == "parquet":
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        else:
            frame.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d")
    return folder


@pytest.fixture
def tiny_frames() -> dict[str, pd.DataFrame]:
    """A fresh copy of the tiny valid ledger, safe to modify."""
    return tiny_ledger_frames()


API_AS_OF = "2026-03-01"
"""The date of the snapshot `api_workdir` holds."""


@pytest.fixture(scope="session")
def api_workdir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A generated ledger and a working folder with the champions trained on it and a snapshot
    as of API_AS_OF, for the API tests: (ledger, work). Trained once per test run: the first
    pytest-xdist worker builds it under a file lock in the run's shared temporary folder, and
    every worker (or a run without xdist) works on its own copy, so no test sees another's
    writes."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the folder all workers of this run share
    built = shared / "api-built"
    with FileLock(str(built) + ".lock"):
        if not (built / "done").exists():
            _build_api_workdir(built)
    root = tmp_path_factory.mktemp("api")
    shutil.copytree(built, root, dirs_exist_ok=True)
    return root / "ledger", root / "work"


def _build_api_workdir(root: Path) -> None:
    """Generate the API tests' ledger, train its champions and score it into `root`."""
    from typer.testing import CliRunner

    from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
    from o2c.cli import app

    shutil.rmtree(root, ignore_errors=True)
    ledger = root / "ledger"
    write_ledger(generate_ledger(SyntheticConfig(customers=300, months=30, seed=8)), ledger)
    env = {"O2C_WORKDIR": str(root / "work")}
    train_champions_cli(ledger, "2025-12-01", env)
    result = CliRunner().invoke(app, ["score", "--ledger", str(ledger), "--as-of", API_AS_OF],
                                env=env)
    assert result.exit_code == 0, result.output
    (root / "done").touch()


def train_champions_cli(ledger: Path, valid_from: str, env: dict[str, str]) -> dict:
    """`o2c train --json`, then `o2c models promote` for each model the gate kept out (test
    ledgers are too small for its minimum of outcomes); the train summary."""
    import json

    from typer.testing import CliRunner

    from o2c.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["train", "--ledger", str(ledger), "--valid-from", valid_from,
                                 "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    for model in summary.values():
        if isinstance(model, dict) and not model["promoted"]:
            promoted = runner.invoke(app, [
                "models", "promote", "--model", model["model_name"], "--version",
                model["model_version"], "--reason", "test ledger: champion by hand"], env=env)
            assert promoted.exit_code == 0, promoted.output
    return summary


def train_champion(task, ledger, *, valid_from: dt.date, config, registry):  # noqa: ANN001, ANN201
    """Train `task` through the real trainer and make the version champion, by hand when the
    gate kept it out (tests of what a champion does, on ledgers too small to judge one)."""
    from training.trainer import train_task

    run = train_task(task, ledger, valid_from=valid_from, config=config, registry=registry)
    if not run.promoted:
        registry.promote(task.name, run.version, f"test: champion by hand ({run.decision.reason})")
    return run
