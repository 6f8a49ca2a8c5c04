"""Issue 14 acceptance on short histories, through the CLI: on a 30-month ledger, as of months
13, 20 and 29, `o2c train` then `o2c limits` work and every customer who owes or buys has a
grade and a limit (all 17 months on the 2,000-customer ledger: benchmarks/check_short_ledgers.py).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.check_short_ledgers import month_start, owing_or_buying
from o2c.cli import app
from o2c.settings import Settings

pytestmark = pytest.mark.slow  # trains the customer model thrice (the API's champions reused)

runner = CliRunner()
GRADES = {"A", "B", "C", "D", "E"}
MODEL = "serious-delinquency"


def _invoke(args: list[str], env: dict[str, str]) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def _last_json(args: list[str], env: dict[str, str]) -> dict:
    return json.loads(_invoke(args, env).strip().splitlines()[-1])


def test_every_customer_who_owes_or_buys_is_graded_from_month_13_on(
    api_workdir: tuple[Path, Path], tmp_path: Path
) -> None:
    """The API tests' ledger (300 customers, 30 months) and a copy of their MLflow store (the
    invoice models' champions); the customer model trained as of each month in a new
    experiment, made champion by hand when the gate keeps it out (too few customers)."""
    ledger, api_work = api_workdir
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(api_work / "mlflow.db", work / "mlflow.db")
    env = {"O2C_WORKDIR": str(work), "O2C_EXPERIMENT": "short-ledgers", "COLUMNS": "200"}
    labels = []
    for month in (13, 20, 29):
        day = month_start(dt.date(2024, 1, 1), month)
        trained = _last_json(["train", "--ledger", str(ledger), "--valid-from", str(day),
                              "--model", MODEL, "--json"], env)["serious_delinquency"]
        if not trained["promoted"]:
            _invoke(["models", "promote", "--model", MODEL, "--version",
                     trained["model_version"], "--reason", "test: champion by hand"], env)
        args = ["--ledger", str(ledger), "--as-of", str(day)]
        _invoke(["score", *args], env)
        limits = {r["customer_id"]: r for r in _last_json(["limits", *args, "--json"], env)[
            "limits"]}
        top = [r["customer_id"] for r in _last_json(["worklist", "--top", "10", *args, "--json"],
                                                    env)["worklist"]]
        expected = owing_or_buying(ledger, day) | set(top)
        assert expected and expected <= set(limits), (day, sorted(expected - set(limits))[:5])
        assert all(limits[c]["grade"] in GRADES and limits[c]["recommended_limit"] >= 0
                   for c in expected)
        holds = [r for r in limits.values() if r["review_reasons"][:1]
                 == ["invoices more than 90 days past due: credit hold"]]
        assert all(r["grade"] == "E" and r["recommended_limit"] == 0 for r in holds)
        assert sum(r["review_flag"] for r in limits.values()) <= max(
            len(holds), 0.15 * len(limits) + 1)
        labels.append(next(iter(limits.values()))["probability_of"])
    assert "within 6 months" in labels[0]  # 12 months of maturity do not exist yet at month 13
    registry = Settings(workdir=work, experiment="short-ledgers").registry()
    horizons = {}
    for version in registry.client.search_model_versions(f"name='{MODEL}'"):
        run = registry.get_run(version.run_id)
        if run.data.params.get("valid_from", "").startswith("2025-01"):
            model = registry.load_model(MODEL, version.version)
            assert run.data.params["label_text"] == model.metadata["label_text"]
            horizons[run.data.params["horizon_days"]] = model.metadata["horizon_days"]
    assert horizons in ({"182": 182}, {"91": 91})
