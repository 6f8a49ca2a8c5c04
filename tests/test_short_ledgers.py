"""Issue 14 acceptance on short histories, through the CLI: on a 30-month ledger, as of months
13, 20 and 29, `o2c train` then `o2c limits` work and every customer who owes or buys has a
grade and a limit (all 17 months on the 2,000-customer ledger: benchmarks/check_short_ledgers.py).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.check_short_ledgers import month_start, owing_or_buying
from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
from o2c.cli import app
from o2c.settings import Settings
from tests.conftest import train_champions_cli

pytestmark = pytest.mark.slow  # trains the three models once and the customer model thrice

runner = CliRunner()
GRADES = {"A", "B", "C", "D", "E"}


def _invoke(args: list[str], env: dict[str, str]) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_customer_who_owes_or_buys_is_graded_from_month_13_on(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    write_ledger(generate_ledger(SyntheticConfig(customers=300, months=30, seed=11)), ledger)
    env = {"O2C_WORKDIR": str(tmp_path / "work"), "COLUMNS": "200"}
    labels = []
    for i, month in enumerate((13, 20, 29)):
        day = month_start(dt.date(2024, 1, 1), month)
        if i == 0:
            train_champions_cli(ledger, str(day), env)
        else:
            _invoke(["train", "--ledger", str(ledger), "--valid-from", str(day),
                     "--model", "serious-delinquency"], env)
        args = ["--ledger", str(ledger), "--as-of", str(day), "--json"]
        limits = {r["customer_id"]: r for r in json.loads(
            _invoke(["limits", *args], env).strip().splitlines()[-1])["limits"]}
        top = [r["customer_id"] for r in json.loads(_invoke(
            ["worklist", "--top", "10", *args], env).strip().splitlines()[-1])["worklist"]]
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
    registry = Settings(workdir=tmp_path / "work").registry()
    runs = {}
    for version in registry.client.search_model_versions("name='serious-delinquency'"):
        run = registry.get_run(version.run_id)
        model = registry.load_model("serious-delinquency", version.version)
        assert run.data.params["label_text"] == model.metadata["label_text"]
        assert run.data.params["horizon_days"] == str(model.metadata["horizon_days"])
        runs[run.data.params["valid_from"]] = int(model.metadata["horizon_days"])
    assert runs["2025-01-01"] == 182 and len(runs) == 3
