"""Monitoring on generated ledgers with a macro shock: alert after it, no alert before it.

Per seed: 300 customers over 24 months, shock from month 19 (2025-07); the champion is
trained once (valid_from 2024-11-01); the reference is months 4-10, the stable window months
11-17 and the shocked window months 20-24. The CLI test and the leakage test reuse seed 1.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from ledger import load_ledger
from ledger.loader import Ledger, ledger_from_frames
from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
from monitoring.config import MonitoringConfig
from monitoring.run import champion_window, monitor
from monitoring.windows import Window, outcomes_at_end, window_frame
from o2c.cli import app
from serving.champions import load_champion
from tests.conftest import facts_before, train_champion
from training.config import CandidatesConfig, TrainingConfig
from training.pipeline import MODEL_NAME
from training.registry import Registry
from training.tasks import LATE_PAYMENT

pytestmark = pytest.mark.slow  # trains a model on three shocked ledgers

D = dt.date.fromisoformat
SEEDS = (1, 2, 3)
VALID_FROM = D("2024-11-01")
REFERENCE = Window("reference", D("2024-04-01"), D("2024-10-31"))
STABLE = Window("current", D("2024-11-01"), D("2025-05-31"))
SHOCKED = Window("current", D("2025-08-01"), D("2025-12-31"))
CONFIG = MonitoringConfig(sample_rows=2000)
TRAINING = TrainingConfig(candidates=CandidatesConfig(folds=2))
"""A champion worth monitoring, chosen on 2 folds instead of 4: choosing it is tested elsewhere
(a larger learning rate and fewer snapshot dates too left seed 3's calm window miscalibrated)."""


@dataclass
class Monitored:
    root: Path
    ledger_path: Path
    ledger: Ledger
    tracking: Registry
    stable: dict
    shocked: dict


def _tracking(root: Path) -> Registry:
    """The store `o2c` uses with O2C_WORKDIR=<root>/work."""
    work = root / "work"
    return Registry(f"sqlite:///{(work / 'mlflow.db').resolve()}", "o2c-risk",
                    (work / "mlartifacts").resolve().as_uri())


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def monitored(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Monitored:
    """A shocked ledger, its champion, and the monitoring summaries of both windows."""
    seed = request.param
    root = tmp_path_factory.mktemp(f"monitoring-seed{seed}")
    path = root / "ledger"
    # shock_logit 1.5: about +22 points of late share after the shock, a shock as plain as
    # this test was written for (the default 0.8 gives +13 since the payment calendar's
    # slips, which the shock does not touch, make up part of the late share)
    write_ledger(generate_ledger(SyntheticConfig(customers=300, months=24, seed=seed,
                                                 shock_month=19, shock_logit=1.5)), path)
    ledger = load_ledger(path)
    tracking = _tracking(root)
    train_champion(LATE_PAYMENT, ledger, valid_from=VALID_FROM, config=TRAINING,
                   registry=tracking)
    summaries = {
        name: monitor(ledger, tracking=tracking, config=CONFIG, current=window,
                      reference=REFERENCE, out=root / f"out-{name}")
        for name, window in (("stable", STABLE), ("shocked", SHOCKED))
    }
    return Monitored(root, path, ledger, tracking, **summaries)


def test_a_window_after_the_shock_gets_alert(monitored: Monitored) -> None:
    summary = monitored.shocked
    assert summary["verdict"] == "alert", summary["reasons"]
    alerts = {r["check"] for r in summary["reasons"] if r["level"] == "alert"}
    assert alerts & {"calibration_gap", "brier_rise"}, summary["reasons"]
    quality = summary["quality"]["current"]
    assert quality["base_rate"] > quality["mean_p"] + 0.06  # more late than expected


def test_a_stable_window_before_the_shock_does_not_alert(monitored: Monitored) -> None:
    summary = monitored.stable
    assert summary["verdict"] != "alert", summary["reasons"]
    # on 300 customers a calm window can still warn (seed 1: 4.3 points since the payment
    # calendar); it must not reach the alert level
    assert abs(summary["quality"]["calibration_gap"]) < CONFIG.calibration_gap_alert
    assert summary["label_delay"]["matured_share"] == 1.0


def test_label_delay_of_the_latest_window(monitored: Monitored) -> None:
    delay = monitored.shocked["label_delay"]
    assert 0.5 < delay["matured_share"] < 1.0  # the last months' invoices are not due yet
    assert delay["immature"] == delay["rows"] - delay["matured"] > 0
    assert 0 < delay["expected_late_share"] < 1
    assert delay["paid_so_far_share"] + delay["still_open_share"] == pytest.approx(1.0)
    # Only matured invoices enter quality.
    assert monitored.shocked["quality"]["current"]["n"] == delay["matured"]


def test_the_monitoring_run_is_in_mlflow_tied_to_the_model_version(
    monitored: Monitored
) -> None:
    summary = monitored.shocked
    run = MlflowClient(monitored.tracking.tracking_uri).get_run(summary["mlflow_run_id"])
    assert run.data.tags["model_name"] == MODEL_NAME
    assert run.data.tags["model_version"] == summary["model"]["version"]
    assert run.data.tags["verdict"] == "alert"
    assert run.data.metrics["calibration_gap"] == pytest.approx(
        summary["quality"]["calibration_gap"])
    client = MlflowClient(monitored.tracking.tracking_uri)
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "monitoring")}
    assert {"monitoring/summary.json", "monitoring/data_drift.html",
            "monitoring/model_quality.html"} <= logged


def _cli_env(root: Path) -> dict[str, str]:
    return {"O2C_WORKDIR": str(root / "work"), "COLUMNS": "200"}


@pytest.mark.parametrize("monitored", [1], indirect=True, ids=["seed1"])
def test_cli_writes_reports_summary_and_latest_and_repeats(monitored: Monitored) -> None:
    out = monitored.root / "cli-out"
    args = ["monitor", "--ledger", str(monitored.ledger_path),
            "--reference-from", str(REFERENCE.start), "--reference-to", str(REFERENCE.end),
            "--current-from", str(STABLE.start), "--current-to", str(STABLE.end),
            "--out", str(out), "--json"]
    env = {**_cli_env(monitored.root), "O2C_MONITORING__SAMPLE_ROWS": "2000"}
    result = CliRunner().invoke(app, args, env=env)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["verdict"] in ("ok", "warn")
    assert result.exit_code == {"ok": 0, "warn": 3}[summary["verdict"]], result.output
    assert "Verdict:" in result.stdout and "data_drift.html" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["data_drift.html", "model_quality.html",
                                                     "summary.json"]
    assert json.loads((out / "summary.json").read_text()) == summary
    latest = monitored.root / "work" / "monitoring" / "latest.json"
    assert json.loads(latest.read_text()) == summary
    run = MlflowClient(monitored.tracking.tracking_uri).get_run(summary["mlflow_run_id"])
    assert run.data.tags["model_version"] == summary["model"]["version"]
    # The same inputs give the same summary, but for where it went and the MLflow run.
    moving = ("out", "mlflow_run_id")
    assert ({k: v for k, v in summary.items() if k not in moving}
            == {k: v for k, v in monitored.stable.items() if k not in moving})
    # Run again into the same folder: replaced as a whole.
    again = CliRunner().invoke(app, args, env=env)
    assert again.exit_code == result.exit_code, again.output
    assert json.loads(again.stdout.strip().splitlines()[-1])["verdict"] == summary["verdict"]


@pytest.mark.parametrize("monitored", [1], indirect=True, ids=["seed1"])
def test_cli_exits_4_on_alert_so_a_scheduler_can_tell(monitored: Monitored) -> None:
    args = ["monitor", "--ledger", str(monitored.ledger_path),
            "--reference-from", str(REFERENCE.start), "--reference-to", str(REFERENCE.end),
            "--current-from", str(SHOCKED.start), "--current-to", str(SHOCKED.end),
            "--out", str(monitored.root / "cli-alert")]
    env = {**_cli_env(monitored.root), "O2C_MONITORING__SAMPLE_ROWS": "2000"}
    result = CliRunner().invoke(app, args, env=env)
    assert "Verdict: alert" in result.stdout, result.output
    assert result.exit_code == 4
    assert "Traceback" not in result.output


@pytest.mark.parametrize("monitored", [1], indirect=True, ids=["seed1"])
@pytest.mark.parametrize(("args", "message"), [
    (["--current-from", "2025-13-01", "--current-to", "2025-12-31"], "--current-from"),
    (["--current-from", "2025-12-31", "--current-to", "2025-08-01"], "before it starts"),
    (["--current-from", "2030-01-01", "--current-to", "2030-06-30"], "after the ledger"),
    (["--current-from", "2025-08-01", "--current-to", "2025-12-31",
      "--reference-from", "2024-04-01"], "give both --reference-from"),
])
def test_cli_bad_dates_and_empty_windows_fail_clearly(
    monitored: Monitored, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["monitor", "--ledger", str(monitored.ledger_path),
                                      "--out", str(monitored.root / "bad-out"), *args],
                                env=_cli_env(monitored.root))
    assert result.exit_code == 1
    assert message in result.output
    assert not (monitored.root / "bad-out").exists()


@pytest.mark.parametrize("monitored", [1], indirect=True, ids=["seed1"])
def test_window_features_scores_and_labels_use_no_later_facts(monitored: Monitored) -> None:
    """Dropping every fact dated after the window changes none of its features or scores, and
    an invoice's label appears only once matured and never changes afterwards."""
    model = load_champion(MODEL_NAME, monitored.tracking).model
    window = Window("current", D("2025-03-01"), D("2025-04-30"))
    cut = window.end + dt.timedelta(days=1)
    frames = {name: pd.read_parquet(path) for name, path in
              ((p.stem, p) for p in monitored.ledger_path.glob("*.parquet"))
              if not name.startswith("truth_")}
    early = ledger_from_frames(facts_before(frames, cut))
    full_end, full_outcomes = outcomes_at_end(monitored.ledger, grace_days=0)
    early_end, early_outcomes = outcomes_at_end(early, grace_days=0)
    assert early_end <= cut < full_end
    full = window_frame(monitored.ledger, window, model, full_outcomes)
    known = window_frame(early, window, model, early_outcomes)
    features = [c for c in full.columns if c not in ("matured", "late", "settled_by_end")]
    pd.testing.assert_frame_equal(known[features], full[features])
    # At the cut, invoices not yet due are unlabelled; those labelled keep their label.
    due_later = pd.to_datetime(known["due_date"]) >= pd.Timestamp(early_end)
    assert due_later.any() and not known.loc[due_later, "matured"].any()
    assert known.loc[due_later, "late"].isna().all()
    labelled = known["matured"].to_numpy()
    assert labelled.any() and full.loc[labelled, "matured"].all()
    assert (known.loc[labelled, "late"] == full.loc[labelled, "late"]).all()


@pytest.mark.parametrize("monitored", [1], indirect=True, ids=["seed1"])
def test_default_reference_is_the_champions_training_window(monitored: Monitored) -> None:
    champion = load_champion(MODEL_NAME, monitored.tracking)
    trained = champion_window(champion)
    first_invoice = monitored.ledger.scalar("SELECT min(issue_date) FROM invoices")
    assert trained.reference == Window("reference", first_invoice,
                                       VALID_FROM - dt.timedelta(days=1))
    assert trained.grace_days == 0


def test_cli_without_a_champion_fails_clearly(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    write_ledger(generate_ledger(SyntheticConfig(customers=20, months=6, seed=1)), ledger)
    result = CliRunner().invoke(app, ["monitor", "--ledger", str(ledger), "--current-from",
                                      "2024-03-01", "--current-to", "2024-05-31", "--out",
                                      str(tmp_path / "out")], env=_cli_env(tmp_path))
    assert result.exit_code == 1
    assert "no champion of model 'late-payment-risk'" in result.output
    assert not (tmp_path / "out").exists()
