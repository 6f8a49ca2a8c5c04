"""The payment-date model and the cash forecast, trained for real (slow): the IBM sample's
acceptance (P50 beats both rules, P10-P90 holds 80% ± 7%), `o2c train --predictions-out`,
`o2c forecast` and `o2c backtest forecast` on a small generated ledger."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from ledger.loader import load_ledger
from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
from o2c.cli import app
from o2c.settings import Settings
from tests.test_import_ibm import ibm_ledger  # noqa: F401 (the imported sample, a fixture)
from training.config import TrainingConfig
from training.tasks import PAYMENT_DATES
from training.trainer import train_task

runner = CliRunner()


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.slow
def test_on_the_ibm_sample_the_p50_beats_both_rules_and_the_interval_holds_80_percent(
    ibm_ledger: Path, tmp_path: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    work = tmp_path / "work"
    predictions = tmp_path / "predictions.parquet"
    result = runner.invoke(app, [
        "train", "--ledger", str(ibm_ledger), "--valid-from", "2013-07-01", "--json",
        "--model", "late-payment-risk", "--model", "payment-date",
        "--predictions-out", str(predictions)], env={"O2C_WORKDIR": str(work), "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    summary = _last_json(result.output)["payment_date"]
    rules = summary["baselines"]
    assert set(rules) == {"due_date", "customer_median"}
    assert summary["mae"] < min(rule["mae"] for rule in rules.values()), summary
    assert 0.73 <= summary["coverage"] <= 0.87, summary
    assert summary["promoted"] and "beats the rules" in summary["promotion_reason"]
    written = pd.read_parquet(predictions)
    assert len(written) == 536  # every late-payment validation invoice, with its dates
    dates = written[["pay_date_p10", "pay_date_p50", "pay_date_p90"]]
    assert dates.notna().all().all()
    assert (dates["pay_date_p10"] <= dates["pay_date_p50"]).all()
    assert (dates["pay_date_p50"] <= dates["pay_date_p90"]).all()
    client = MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
    plots = {a.path for a in client.list_artifacts(summary["run_id"], "plots")}
    assert {"plots/predicted_vs_actual.png", "plots/coverage.png"} <= plots
    segments = {a.path for a in client.list_artifacts(summary["run_id"], "evaluation")}
    assert "evaluation/segments.json" in segments


@pytest.fixture(scope="module")
def small_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("forecast") / "ledger"
    write_ledger(generate_ledger(SyntheticConfig(customers=250, months=24, seed=5)), path)
    return path


FAST = TrainingConfig(snapshot_max_dates=4)


@pytest.mark.slow
def test_the_forecast_comes_from_the_champion_and_the_backtest_from_the_past(
    small_ledger: Path, tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    env = {"O2C_WORKDIR": str(work), "COLUMNS": "200", "O2C_TRAINING__SNAPSHOT_MAX_DATES": "4"}
    args = ["--ledger", str(small_ledger), "--as-of", "2025-06-02", "--weeks", "8",
            "--simulations", "300", "--json"]
    refused = runner.invoke(app, ["forecast", *args], env=env)
    assert refused.exit_code == 1 and "no champion of model 'payment-date'" in refused.output
    assert "Traceback" not in refused.output
    ledger = load_ledger(small_ledger)
    registry = Settings(workdir=work).registry()
    run = train_task(PAYMENT_DATES, ledger, valid_from=dt.date(2025, 3, 1), config=FAST,
                     registry=registry)
    if not run.promoted:
        registry.promote(PAYMENT_DATES.name, run.version, "test: champion by hand")
    predicted = run.predictions
    assert (predicted["days_p10"] <= predicted["days_p90"]).all()
    ledger.close()
    listed = runner.invoke(app, ["models", "list", "--model", "payment-date", "--json"],
                           env=env)
    assert listed.exit_code == 0 and "P50 MAE days" in listed.output, listed.output
    [version] = _last_json(listed.output)["payment-date"]
    assert set(version["validation_metrics"]) >= {"mae", "coverage"}
    assert version["best_baseline_mae"] > 0 and version["best_baseline_auc"] is None

    plot = tmp_path / "forecast.png"
    result = runner.invoke(app, ["forecast", *args, "--out", str(plot)], env=env)
    assert result.exit_code == 0, result.output
    summary = _last_json(result.output)
    weeks = pd.DataFrame(summary["weeks"])
    assert len(weeks) == 8 and plot.stat().st_size > 0
    assert (weeks["low"] <= weeks["expected"]).all() and (weeks["expected"] <= weeks["high"]).all()
    assert 0 < summary["total_expected"] <= summary["open_amount"]
    assert "not yet issued" in result.output

    backtest_plot = tmp_path / "backtest.png"
    result = runner.invoke(app, ["backtest", "forecast", *args, "--out", str(backtest_plot)],
                           env=env)
    assert result.exit_code == 0, result.output
    figures = _last_json(result.output)
    for method in ("forecast", "due_date", "average_delay"):
        assert figures[f"{method}_weekly_mae"] >= 0
    assert figures["actual_total"] > 0 and backtest_plot.stat().st_size > 0
    client = MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
    [logged] = client.search_runs([registry.experiment_id()],
                                  "tags.task = 'forecast_backtest'")
    assert logged.data.metrics["forecast_weekly_mae"] == pytest.approx(
        figures["forecast_weekly_mae"])
    assert "plots/forecast_vs_actual.png" in {
        a.path for a in client.list_artifacts(logged.info.run_id, "plots")}
    late = runner.invoke(app, ["backtest", "forecast", "--ledger", str(small_ledger),
                               "--as-of", "2025-12-01"], env=env)
    assert late.exit_code == 1 and "are not all observed" in late.output


@pytest.mark.slow
def test_a_valid_from_too_recent_for_known_payments_judges_an_earlier_window(
    small_ledger: Path,
) -> None:
    """A month before the ledger's end no validation invoice has a known payment (90 days
    after its due date): the window moves back until enough do, training stays before it."""
    from ledger.summary import ledger_end
    from training.payment_dates import LABEL, MIN_ROWS, STEP_BACK_DAYS, payment_date_examples

    ledger = load_ledger(small_ledger)
    try:
        asked = ledger_end(ledger) - dt.timedelta(days=30)
        examples = payment_date_examples(ledger, asked, FAST)
    finally:
        ledger.close()
    assert examples.valid_from < asked
    assert (asked - examples.valid_from).days % STEP_BACK_DAYS == 0
    assert examples.trained_before == examples.valid_from
    assert examples.params["valid_from_asked"] == str(asked)
    assert examples.params["valid_from"] == str(examples.valid_from)
    assert examples.valid[LABEL].notna().sum() >= MIN_ROWS
    assert (examples.train["as_of"] < pd.Timestamp(examples.valid_from)).all()
    assert (examples.valid["as_of"] >= pd.Timestamp(examples.valid_from)).all()
