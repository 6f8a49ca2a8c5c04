"""Bad settings, options and windows through the real `o2c`: a named error, never a traceback."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from ledger import load_ledger
from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
from o2c.cli import app
from o2c.monitor import VERDICT_EXIT_CODES
from tests.conftest import train_champion
from training.config import TrainingConfig
from training.registry import Registry
from training.tasks import LATE_PAYMENT

O2C = Path(sys.executable).with_name("o2c")
runner = CliRunner()


def _o2c(args: list[str], env: dict[str, str] | None = None) -> Result:
    """`o2c` in process; an exception other than the CLI's own exit fails the test."""
    return runner.invoke(app, args, env=env, catch_exceptions=False)


def _small_ledger(folder: Path, **changes: object) -> Path:
    config = {"customers": 60, "months": 8, "seed": 3, **changes}
    write_ledger(generate_ledger(SyntheticConfig(**config)), folder)
    return folder


@pytest.mark.parametrize(("toml", "expected"), [
    ("[training\ngrace_days = 5\n", ["o2c.toml is not valid TOML",
                                     "at the end of a table declaration (at line 1, column 10)"]),
    ('[training]\ngrace_days = "five"\n', ["invalid settings in", "training.grace_days",
                                           "(got 'five')"]),
    ("[training]\ngrace_dayz = 5\n", ["training.grace_dayz: Extra inputs are not permitted"]),
])
def test_a_malformed_config_file_is_named(toml: str, expected: list[str], tmp_path: Path) -> None:
    config = tmp_path / "o2c.toml"
    config.write_text(toml)
    result = _o2c(["train", "--ledger", str(tmp_path), "--valid-from", "2024-06-01"],
                  env={"O2C_CONFIG": str(config)})
    assert result.exit_code == 1
    assert "error: configuration:" in result.output
    for text in expected:
        assert text in result.output


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    result = _o2c(["worklist", "--ledger", str(tmp_path), "--as-of", "2024-06-01"],
                  env={"O2C_CONFIG": str(tmp_path / "nope.toml")})
    assert result.exit_code == 1
    assert "O2C_CONFIG names" in result.output and "nope.toml, which is not a file" in \
        result.output


def test_the_installed_command_names_a_bad_config_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "o2c.toml"
    config.write_text("workdir = [\n")
    done = subprocess.run([str(O2C), "train", "--ledger", str(tmp_path), "--valid-from",
                           "2024-06-01"], capture_output=True, text=True, timeout=120,
                          check=False, env={"O2C_CONFIG": str(config), "PATH": "/usr/bin"})
    assert done.returncode == 1
    assert "o2c.toml is not valid TOML" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("start", ["9999-06-01", "1800-01-01"])
def test_generate_refuses_a_start_date_out_of_range(start: str, tmp_path: Path) -> None:
    result = _o2c(["generate", "--customers", "5", "--months", "3", "--start-date", start,
                   "--out", str(tmp_path / "ledger")])
    assert result.exit_code == 2
    assert f"got {start}" in result.output
    assert not (tmp_path / "ledger").exists()


def test_generate_names_an_out_folder_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = _o2c(["generate", "--customers", "5", "--months", "3",
                   "--out", str(blocker / "ledger")])
    assert result.exit_code == 1
    assert f"cannot write the ledger to {blocker / 'ledger'}: " in result.output
    assert f"File exists: {blocker}\n" in result.output
    assert blocker.read_text() == "not a folder"


def test_train_says_the_validation_window_is_empty(tmp_path: Path) -> None:
    """The ledger ends on 2024-09-01: from 2024-08-31 no invoice can have an outcome."""
    ledger = _small_ledger(tmp_path / "ledger")
    result = _o2c(["train", "--ledger", str(ledger), "--valid-from", "2024-08-31"],
                  env={"O2C_WORKDIR": str(tmp_path / "work")})
    assert result.exit_code == 1
    assert "the validation window is empty" in result.output
    assert "No objects to concatenate" not in result.output


@pytest.mark.slow
def test_monitor_works_when_every_credit_limit_is_zero(tmp_path: Path) -> None:
    """A limit of 0 (no credit) leaves utilization without values: the model leaves it out
    (an input missing on every training row), it is not compared, and the monitor still gives
    its verdict."""
    ledger = _small_ledger(tmp_path / "ledger", customers=120, months=16, seed=5)
    customers = pd.read_parquet(ledger / "customers.parquet")
    customers["credit_limit"] = 0.0
    customers.to_parquet(ledger / "customers.parquet", index=False)
    work = tmp_path / "work"
    tracking = Registry(f"sqlite:///{(work / 'mlflow.db').resolve()}", "o2c-risk",
                        (work / "mlartifacts").resolve().as_uri())
    run = train_champion(LATE_PAYMENT, load_ledger(ledger), valid_from=dt.date(2024, 11, 1),
                         config=TrainingConfig(), registry=tracking)
    assert "utilization" not in run.model.features
    result = _o2c(["monitor", "--ledger", str(ledger), "--current-from", "2024-11-01",
                   "--current-to", "2025-03-31", "--out", str(tmp_path / "mon"), "--json"],
                  env={"O2C_WORKDIR": str(work), "O2C_MONITORING__SAMPLE_ROWS": "1000"})
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.exit_code == VERDICT_EXIT_CODES[summary["verdict"]], result.output
    assert "utilization" not in summary["feature_drift"]["tests"]
    assert summary["feature_drift"]["features"] > 0
