"""The registry (champion lookup, promotion, rollback, history) and the promotion gate end to
end through `o2c train` and `o2c models`, on real MLflow stores and generated ledgers."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from ledger import load_ledger
from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
from o2c.cli import app
from tests.conftest import write_frames
from training.config import GateConfig, TrainingConfig
from training.registry import HISTORY_TAG, Registry
from training.tasks import LATE_PAYMENT
from training.trainer import train_task

runner = CliRunner()
NAME = "late-payment-risk"
FAST_ENV = {"O2C_TRAINING__SNAPSHOT_MAX_DATES": "2",
            "O2C_TRAINING__LIGHTGBM__LEARNING_RATE": "0.1", "COLUMNS": "200"}
LENIENT_GATE = {"O2C_TRAINING__GATE__AUC_MARGIN": "0", "O2C_TRAINING__GATE__BRIER_MARGIN": "0.05",
                "O2C_TRAINING__GATE__MIN_OUTCOMES": "1"}
"""For tests of another rule of the gate: any model about as good as the baselines passes."""


def _registry(folder: Path) -> Registry:
    return Registry(f"sqlite:///{folder / 'mlflow.db'}", "test", (folder / "art").as_uri())


def _versions(registry: Registry, name: str, count: int) -> list[str]:
    """`count` registered versions of `name` (no model inside: registry operations only)."""
    versions = []
    for _ in range(count):
        with registry.start_run("fake") as run:
            mlflow.log_text("not a model", "model/README")
        versions.append(str(registry.register(name, f"{run.info.artifact_uri}/model",
                                              run_id=run.info.run_id).version))
    return versions


# --------------------------------------------------------------------------- the registry


def test_no_champion_is_told_apart_from_a_broken_store(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    assert registry.champion("never-registered") is None
    _versions(registry, "m", 1)
    assert registry.champion("m") is None  # registered, alias not set
    with pytest.raises(LookupError, match="no champion of model 'm' in sqlite:"):
        registry.champion_version("m")
    broken = tmp_path / "broken.db"
    broken.write_text("not a database")
    with pytest.raises(Exception) as raised:  # noqa: PT011 (whatever the store raises)
        Registry(f"sqlite:///{broken}").champion("m")
    assert not isinstance(raised.value, LookupError)


def test_promote_and_rollback_keep_a_history_with_who_when_why(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    v1, v2, v3 = _versions(registry, "m", 3)
    assert registry.version("m", v3).aliases == ["challenger"]
    for version in (v1, v2, v3):
        registry.promote("m", version, f"good v{version}")
    assert registry.history("m") == [v1, v2, v3]
    assert registry.client.get_registered_model("m").tags[HISTORY_TAG] == "1,2,3"
    tags = registry.version("m", v2).tags
    assert tags["promoted_reason"] == "good v2" and tags["promoted_by"] and tags["promoted_at"]
    assert registry.rollback("m", "v3 scores badly").version == int(v2)
    assert registry.champion_version("m").version == int(v2)
    assert registry.version("m", v3).tags["rolled_back_reason"] == "v3 scores badly"
    assert "rollback from v3" in registry.version("m", v2).tags["restored_reason"]
    registry.rollback("m")
    assert registry.champion_version("m").version == int(v1)
    with pytest.raises(LookupError, match="no previous champion to roll back to"):
        registry.rollback("m")
    with pytest.raises(LookupError, match="model 'm' has no version 9"):
        registry.promote("m", "9", "nope")
    assert [str(v.version) for v in registry.list_versions("m")] == [v1, v2, v3]


def test_models_commands_name_what_is_missing(tmp_path: Path) -> None:
    env = {"O2C_WORKDIR": str(tmp_path / "work")}
    result = runner.invoke(app, ["models", "rollback", "--model", NAME], env=env)
    assert result.exit_code == 1
    assert f"no model '{NAME}'" in result.output or "no champion" in result.output
    result = runner.invoke(app, ["models", "promote", "--model", "nope", "--version", "1"],
                           env=env)
    assert result.exit_code == 2 and "unknown model 'nope'" in result.output
    result = runner.invoke(app, ["models", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "collections-risk": [], "late-payment-risk": [], "payment-date": [],
        "serious-delinquency": []}


# --------------------------------------------------------------------------- the gate, end to end


@pytest.fixture(scope="module")
def short_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 months: too short for the serious-delinquency model's 12-month labels."""
    path = tmp_path_factory.mktemp("short") / "ledger"
    write_ledger(generate_ledger(SyntheticConfig(customers=150, months=24, seed=6)), path)
    return path


def _json(result) -> dict:  # noqa: ANN001
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_failing_task_makes_train_exit_1_and_changes_no_champion(
    short_ledger: Path, tmp_path: Path
) -> None:
    env = {"O2C_WORKDIR": str(tmp_path / "work"), **LENIENT_GATE, **FAST_ENV}
    result = runner.invoke(app, ["train", "--ledger", str(short_ledger), "--valid-from",
                                 "2025-07-01", "--json"], env=env)
    assert result.exit_code == 1
    assert "serious-delinquency not trained: too few" in result.output
    assert "error: serious-delinquency failed to train; no champion was changed" in \
        result.output
    summary = _json(result)
    assert summary["failed"] == ["serious-delinquency"]
    trained = [summary["late_payment"], summary["collections"]]
    assert not any(s["promoted"] for s in trained)
    for passed in (s for s in trained if s["gate_passed"]):
        assert "not promoted because serious-delinquency failed" in passed["promotion_reason"]
    listed = _json(runner.invoke(app, ["models", "list", "--json"], env=env))
    for name in ("late-payment-risk", "collections-risk"):
        assert [v["aliases"] for v in listed[name]] == [["challenger"]]


@pytest.mark.slow
def test_twelve_validation_rows_register_a_version_and_promote_nothing(
    short_ledger: Path, tmp_path: Path
) -> None:
    """Every invoice issued from valid_from on is gone but the first 12."""
    frames = {p.stem: pd.read_parquet(p) for p in short_ledger.glob("*.parquet")
              if not p.stem.startswith("truth_")}
    invoices = frames["invoices"].sort_values(["issue_date", "invoice_id"])
    later = invoices[pd.to_datetime(invoices["issue_date"]) >= pd.Timestamp("2025-07-01")]
    gone = set(later["invoice_id"].iloc[12:])
    for table, frame in frames.items():
        if "invoice_id" in frame.columns:
            frames[table] = frame[~frame["invoice_id"].isin(gone)]
    ledger = write_frames(frames, tmp_path / "twelve")
    env = {"O2C_WORKDIR": str(tmp_path / "work"), **FAST_ENV}
    result = runner.invoke(app, ["train", "--ledger", str(ledger), "--valid-from", "2025-07-01",
                                 "--model", NAME, "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary = _json(result)["late_payment"]
    assert summary["n_valid"] == 12 and summary["model_version"] == "1"
    assert summary["promoted"] is False
    assert summary["promotion_reason"].startswith("too few validation examples to judge: ")
    assert "the gate needs at least 30 of each" in summary["promotion_reason"]
    assert f"{NAME} v1 not promoted (challenger): too few validation examples" in \
        result.output.replace("\n", " ")
    listed = _json(runner.invoke(app, ["models", "list", "--model", NAME, "--json"], env=env))
    assert [(v["version"], v["aliases"], v["gate_passed"]) for v in listed[NAME]] == \
        [("1", ["challenger"], "False")]


@pytest.mark.slow
def test_a_model_that_loses_to_the_baseline_is_registered_not_promoted(
    short_ledger: Path, tmp_path: Path
) -> None:
    """A margin over the best baseline no model reaches: the model loses by the gate's rule."""
    strict = TrainingConfig(snapshot_max_dates=2, gate=GateConfig(auc_margin=0.5,
                                                                  min_outcomes=1))
    registry = _registry(tmp_path)
    run = train_task(LATE_PAYMENT, load_ledger(short_ledger), valid_from=dt.date(2025, 7, 1),
                     config=strict, registry=registry)
    assert not run.promoted and not run.decision.promote
    assert run.decision.reason.startswith("does not beat the best baseline by the margin")
    assert registry.champion(NAME) is None
    assert registry.version(NAME, run.version).aliases == ["challenger"]
    logged = registry.get_run(run.run_id).data
    assert logged.tags["promoted"] == "False" and logged.metrics["gate_passed"] == 0.0
    assert logged.metrics["gate_auc_vs_baseline"] < 0.5
    assert registry.load_model(NAME, run.version).features == run.model.features  # inspectable


@pytest.mark.slow
def test_another_ledger_needs_force_and_rollback_restores_the_champion_score_uses(
    api_workdir: tuple[Path, Path], tmp_path: Path
) -> None:
    root = tmp_path
    ours, trained = api_workdir  # our ledger and its champions, each v1
    shutil.copytree(trained, root / "work")
    env = {"O2C_WORKDIR": str(root / "work"), **FAST_ENV}
    # another company's books: the same shape, none of our customers
    frames = {p.stem: pd.read_parquet(p) for p in ours.glob("*.parquet")
              if not p.stem.startswith("truth_")}
    for frame in frames.values():
        if "customer_id" in frame.columns:
            frame["customer_id"] = "OTHER-" + frame["customer_id"].astype(str)
    theirs = write_frames(frames, root / "theirs")
    lenient = {**env, **LENIENT_GATE}  # the ledger check is on trial
    args = ["train", "--ledger", str(theirs), "--valid-from", "2025-12-01", "--model", NAME,
            "--json"]

    kept = runner.invoke(app, args, env=lenient)
    assert kept.exit_code == 0, kept.output
    summary = _json(kept)["late_payment"]
    assert summary["promoted"] is False
    assert "champion v1 was trained on another ledger (this one holds 0% of its customers): " \
           "kept it; --force replaces it" in summary["promotion_reason"]

    forced = runner.invoke(app, [*args, "--force"], env=lenient)
    assert forced.exit_code == 0, forced.output
    summary = _json(forced)["late_payment"]
    assert summary["promoted"] is True and "(--force)" in summary["promotion_reason"]
    assert summary["model_version"] == "3"

    rolled = runner.invoke(app, ["models", "rollback", "--model", NAME], env=env)
    assert rolled.exit_code == 0, rolled.output
    assert f"{NAME}: v1 is champion again (v3 rolled back)" in rolled.output
    scored = runner.invoke(app, ["score", "--ledger", str(ours), "--as-of", "2026-03-01"],
                           env=env)
    assert scored.exit_code == 0, scored.output
    manifest = json.loads((root / "work" / "snapshots" / "2026-03-01" / "manifest.json")
                          .read_text())
    assert manifest["models"][NAME] == "1"
    listed = _json(runner.invoke(app, ["models", "list", "--model", NAME, "--json"], env=env))
    v3 = listed[NAME][2]
    assert v3["history"]["rolled_back_reason"] == "rolled back by hand (o2c models rollback)"
    assert listed[NAME][0]["aliases"] == ["champion"]
