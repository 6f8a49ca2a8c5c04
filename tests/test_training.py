"""Training: labels with maturity, out-of-time examples, the model, MLflow and the registry."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from features import build_invoice_features, write_invoice_features
from ledger import Ledger, ledger_from_frames, load_ledger
from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
from models.reasons import describe, reason_codes
from o2c.cli import app
from tests.conftest import facts_before
from training.config import LightGBMParams, TrainingConfig
from training.examples import (
    build_examples,
    examples_between,
    invoice_outcomes,
    issue_examples,
    label_outcomes,
)
from training.fit import fit_risk_model
from training.pipeline import MODEL_NAME
from training.registry import Registry
from training.tasks import LATE_PAYMENT
from training.trainer import TrainingRun, train_task

VALID_FROM = dt.date(2025, 7, 1)
FAST = TrainingConfig(snapshot_max_dates=4,
                      lightgbm=LightGBMParams(learning_rate=0.1, max_rounds=300))


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("train") / "ledger"
    write_ledger(generate_ledger(SyntheticConfig(customers=500, months=24, seed=5)), path)
    return path


@pytest.fixture(scope="module")
def ledger(ledger_dir: Path) -> Ledger:
    return load_ledger(ledger_dir)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    folder = tmp_path_factory.mktemp("mlflow")
    return Registry(f"sqlite:///{folder / 'mlflow.db'}", "test",
                    (folder / "artifacts").as_uri())


@pytest.fixture(scope="module")
def first_run(ledger: Ledger, registry: Registry) -> TrainingRun:
    return train_task(LATE_PAYMENT, ledger, valid_from=VALID_FROM, config=FAST,
                      registry=registry)


def test_labels_follow_settlement_grace_and_maturity() -> None:
    outcomes = pd.DataFrame({
        "invoice_id": ["on_time", "late", "grace", "open_overdue", "open_not_due"],
        "due_date": pd.to_datetime(["2024-03-01"] * 4 + ["2024-03-30"]),
        "settle_date": pd.to_datetime(["2024-02-28", "2024-03-10", "2024-03-03", None, None]),
    })
    labelled = label_outcomes(outcomes, cutoff=dt.date(2024, 3, 20), grace_days=2)
    assert labelled["late"].tolist() == [False, True, False, True, True]
    assert labelled["matured"].tolist() == [True, True, True, True, False]
    strict = label_outcomes(outcomes, cutoff=dt.date(2024, 3, 20), grace_days=0)
    assert strict.loc[2, "late"]


def test_training_examples_use_only_what_was_known_before_valid_from(
    ledger: Ledger, ledger_dir: Path, tmp_path: Path
) -> None:
    """Removing every fact dated on or after valid_from leaves the training set unchanged."""
    cut = pd.Timestamp(VALID_FROM)
    frames = {p.stem: pd.read_parquet(p) for p in ledger_dir.glob("*.parquet")
              if not p.stem.startswith("truth_")}
    frames = facts_before(frames, VALID_FROM)
    truncated = ledger_from_frames(frames)

    def training_set(source: Ledger) -> pd.DataFrame:
        first = source.scalar("SELECT min(issue_date) FROM invoices")
        features = tmp_path / f"{source.count('payments')}.parquet"
        write_invoice_features(source, features)
        return examples_between(source, features, first, VALID_FROM, grace_days=0,
                                every_days=28, max_dates=4).frame

    full, known = training_set(ledger), training_set(truncated)
    assert len(full) > 1000 and full["late"].nunique() == 2
    assert (full["as_of"] < cut).all()
    pd.testing.assert_frame_equal(full, known)


def test_examples_at_issue_are_the_invoice_features_with_matured_labels(ledger: Ledger) -> None:
    """DuckDB's assembly of the examples keeps the per-invoice features at issue
    (`issue_examples`) and the labels of `label_outcomes`, matured ones only, by date."""
    train = build_examples(ledger, valid_from=VALID_FROM, grace_days=0, snapshot_every_days=28,
                           snapshot_max_dates=2).train.frame
    assert set(train["kind"]) == {"issue", "snapshot"} and train["late"].dtype == bool
    assert train.equals(train.sort_values(["as_of", "invoice_id"]))
    issued = train[train["kind"] == "issue"].set_index("invoice_id")
    at_issue = issue_examples(build_invoice_features(ledger)).set_index("invoice_id")
    columns = list(at_issue.columns)
    pd.testing.assert_frame_equal(issued[columns], at_issue.loc[issued.index, columns])
    assert issued[["currency", "open_amount", "open_amount_base"]].isna().all().all()
    outcomes = label_outcomes(invoice_outcomes(ledger, known_before=VALID_FROM),
                              cutoff=VALID_FROM, grace_days=0).set_index("invoice_id")
    labels = outcomes.loc[train["invoice_id"]]
    assert labels["matured"].all()
    np.testing.assert_array_equal(train["late"].to_numpy(), labels["late"].to_numpy())


def test_validation_is_out_of_time(first_run: TrainingRun, ledger: Ledger) -> None:
    issued = ledger.df("invoices").set_index("invoice_id")["issue_date"]
    assert (issued[first_run.predictions["invoice_id"]] >= pd.Timestamp(VALID_FROM)).all()
    assert set(first_run.predictions.columns) == {"invoice_id", "p_late", "late"}
    assert first_run.predictions["p_late"].between(0, 1).all()


def test_model_beats_both_baselines(first_run: TrainingRun) -> None:
    auc = first_run.comparison.set_index("model")["auc"]
    assert auc["model"] > auc["late_share"]
    assert auc["model"] > auc["logistic"]
    assert first_run.metrics["ece"] < 0.05


def test_same_ledger_and_seed_give_the_same_model(ledger: Ledger) -> None:
    examples = build_examples(ledger, valid_from=VALID_FROM, grace_days=0,
                              snapshot_every_days=28, snapshot_max_dates=2)
    first, _ = fit_risk_model(examples.train.frame, FAST)
    second, _ = fit_risk_model(examples.train.frame, FAST)
    valid = examples.valid.frame
    assert first.booster.model_to_string() == second.booster.model_to_string()
    np.testing.assert_array_equal(first.predict_proba(valid), second.predict_proba(valid))


def test_paying_later_never_lowers_the_risk(first_run: TrainingRun) -> None:
    model = first_run.model
    base = pd.DataFrame({f: [np.nan] for f in model.features})
    base["country"], base["industry"], base["segment"] = "US", "retail", "mid"
    for column, values in {"late_share_all": np.linspace(0, 1, 11),
                           "days_late_mean_180d": np.linspace(0, 60, 13)}.items():
        grid = pd.concat([base] * len(values), ignore_index=True)
        grid[column] = values
        p = model.predict_proba(grid)
        assert np.all(np.diff(p) >= -1e-12), column


def test_mlflow_holds_the_run_plots_and_champion(
    first_run: TrainingRun, registry: Registry
) -> None:
    client = MlflowClient(registry.tracking_uri)
    run = client.get_run(first_run.run_id)
    assert run.data.metrics["auc"] == pytest.approx(first_run.metrics["auc"])
    assert "baseline_late_share_auc" in run.data.metrics
    assert run.data.tags["ledger_sha256"]
    assert run.data.params["valid_from"] == str(VALID_FROM)
    plots = {a.path for a in client.list_artifacts(first_run.run_id, "plots")}
    assert {"plots/roc.png", "plots/calibration.png", "plots/feature_importance.png",
            "plots/score_distribution.png", "plots/contribution_summary.png"} <= plots
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert str(champion.version) == first_run.version
    assert run.data.tags["promoted"] == "True"
    assert run.data.tags["promotion_reason"].startswith("no champion yet; beats the best")
    assert run.data.metrics["gate_passed"] == 1.0


def test_registered_pyfunc_predicts_the_models_probabilities(
    first_run: TrainingRun, ledger: Ledger, registry: Registry, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MLflow's own pyfunc loader (into a local copy) and the project's loader agree."""
    from serving.champions import load_champion
    from training.tracking import pyfunc_input

    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
    examples = build_examples(ledger, valid_from=VALID_FROM, grace_days=0,
                              snapshot_every_days=28, snapshot_max_dates=1)
    rows = examples.valid.frame.head(20)
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion", dst_path=str(tmp_path))
    expected = first_run.model.predict_proba(rows)
    np.testing.assert_allclose(loaded.predict(pyfunc_input(rows)), expected)
    np.testing.assert_allclose(loaded.get_raw_model().predict_proba(rows), expected)
    np.testing.assert_allclose(load_champion(MODEL_NAME, registry).model.predict_proba(rows),
                               expected)


def test_retraining_registers_a_challenger_promoted_only_if_better(
    first_run: TrainingRun, ledger: Ledger, registry: Registry
) -> None:
    again = train_task(LATE_PAYMENT, ledger, valid_from=VALID_FROM, config=FAST,
                       registry=registry)
    assert int(again.version) == int(first_run.version) + 1
    assert not again.promoted  # the same model does not beat itself
    assert "does not beat champion v" in again.decision.reason
    assert str(registry.version(MODEL_NAME, again.version).aliases) == "['challenger']"
    assert str(registry.champion_version(MODEL_NAME).version) == first_run.version


def test_reason_codes_name_features_in_words(first_run: TrainingRun, ledger: Ledger) -> None:
    examples = build_examples(ledger, valid_from=VALID_FROM, grace_days=0,
                              snapshot_every_days=28, snapshot_max_dates=1)
    rows = examples.valid.frame.head(30)
    reasons = reason_codes(first_run.model, rows)
    assert len(reasons) == len(rows)
    for reason in reasons:
        assert 0 < len(reason["raises"]) + len(reason["lowers"]) <= 6
        assert all(r["contribution"] > 0 for r in reason["raises"])
        assert all(r["contribution"] < 0 for r in reason["lowers"])
        assert all(r["text"] and "_" not in r["text"] for r in reason["raises"])


def test_describe_uses_the_customers_own_values() -> None:
    assert describe("days_late_mean_180d", 18.2) == \
        "paid 18 days late on average over the last 180 days"
    assert describe("late_share_all", 0.25) == "paid 25% of invoices late in all history"
    assert describe("days_since_last_late", float("nan")) == "no late payment on record"
    assert describe("days_past_due", -5.0) == "due in 5 days"
    assert describe("late_share_180d", float("nan")) == \
        "no invoices settled over the last 180 days"
    assert describe("invoiced_90d_vs_limit", 0.42) == \
        "invoiced 42% of the credit limit in 90 days"


def test_cli_train_prints_metrics_json_and_predictions(
    ledger_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("O2C_TRAINING__SNAPSHOT_MAX_DATES", "2")
    monkeypatch.setenv("O2C_TRAINING__LIGHTGBM__LEARNING_RATE", "0.1")
    out = tmp_path / "p.parquet"
    result = CliRunner().invoke(app, ["train", "--ledger", str(ledger_dir), "--valid-from",
                                      str(VALID_FROM), "--json", "--predictions-out", str(out),
                                      "--model", MODEL_NAME])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])["late_payment"]
    for key in ("auc", "pr_auc", "brier", "ece", "n_train", "n_valid", "run_id",
                "model_version", "promoted", "promotion_reason", "baselines"):
        assert key in summary
    assert summary["promoted"] is True
    assert (tmp_path / "work" / "mlflow.db").exists()
    assert list(pd.read_parquet(out).columns) == ["invoice_id", "p_late", "late"]


def test_cli_train_rejects_a_valid_from_outside_the_ledger(ledger_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "--ledger", str(ledger_dir), "--valid-from",
                                      "2030-01-01"])
    assert result.exit_code == 1
    assert "valid_from 2030-01-01 must fall inside" in result.output


def test_trains_on_a_ledger_of_customers_invoices_and_payments_only(
    ledger_dir: Path, tmp_path: Path
) -> None:
    frames = {t: pd.read_parquet(ledger_dir / f"{t}.parquet")
              for t in ("customers", "invoices", "payments")}
    frames["customers"]["currency"] = "USD"
    frames["invoices"]["currency"] = "USD"
    minimal = ledger_from_frames(frames)
    assert minimal.present == frozenset({"customers", "invoices", "payments"})
    registry = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}", "minimal",
                        (tmp_path / "artifacts").as_uri())
    result = train_task(LATE_PAYMENT, minimal, valid_from=VALID_FROM, config=FAST,
                        registry=registry)
    assert result.n_valid > 500
    assert 0.5 < result.metrics["auc"] <= 1.0
    assert result.promoted
