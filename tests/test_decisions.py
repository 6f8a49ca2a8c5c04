"""End to end through the CLI: train the three models, score, worklist and limits as JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
from o2c.cli import app

pytestmark = pytest.mark.slow  # the API tests' trained folder (trained once per run)

runner = CliRunner()
AS_OF = "2025-12-01"
WORKLIST_FIELDS = {"rank", "customer_id", "priority", "open_amount", "overdue_amount",
                   "amount_at_risk", "currency", "invoice_count", "oldest_days_past_due",
                   "reasons", "action", "invoices"}
LIMIT_FIELDS = {"customer_id", "current_limit", "recommended_limit", "change", "utilization",
                "grade", "probability", "reasons", "review_flag"}


@pytest.fixture(scope="module")
def trained(api_workdir: tuple[Path, Path],
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A ledger, and a working folder whose MLflow store holds the champions (a copy of the API
    tests' trained folder: `o2c train` on it is tested there and in test_training)."""
    ledger, work = api_workdir
    root = tmp_path_factory.mktemp("decisions")
    shutil.copytree(work, root / "work")
    return ledger, root


def _env(root: Path) -> dict[str, str]:
    return {"O2C_WORKDIR": str(root / "work"), "COLUMNS": "200"}


def _json(args: list[str], root: Path) -> object:
    result = runner.invoke(app, args, env=_env(root))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_worklist_and_limits_json_have_the_fields_and_repeat(trained: tuple[Path, Path]) -> None:
    ledger, root = trained
    args = ["--ledger", str(ledger), "--as-of", AS_OF, "--json"]
    worklist = _json(["worklist", *args], root)["worklist"]
    limits = _json(["limits", *args], root)["limits"]
    assert worklist and set(worklist[0]) >= WORKLIST_FIELDS
    assert [row["rank"] for row in worklist] == list(range(1, len(worklist) + 1))
    assert limits and set(limits[0]) >= LIMIT_FIELDS
    assert _json(["worklist", *args], root)["worklist"] == worklist
    assert _json(["limits", *args], root)["limits"] == limits


def test_score_writes_a_stamped_snapshot_that_worklist_then_reads(
    trained: tuple[Path, Path]
) -> None:
    ledger, root = trained
    result = runner.invoke(app, ["score", "--ledger", str(ledger), "--as-of", AS_OF],
                           env=_env(root))
    assert result.exit_code == 0, result.output
    folder = root / "work" / "snapshots" / AS_OF
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["as_of"] == AS_OF
    assert set(manifest["models"]) == {"late-payment-risk", "collections-risk",
                                       "serious-delinquency", "payment-date"}
    for name in ("invoice_scores", "worklist", "limits"):
        assert (folder / f"{name}.parquet").exists()
    top = _json(["worklist", "--ledger", str(ledger), "--as-of", AS_OF, "--top", "5",
                 "--json"], root)["worklist"]
    assert len(top) == 5


def test_worklist_without_champions_fails_clearly(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    write_ledger(generate_ledger(SyntheticConfig(customers=20, months=6, seed=1)), ledger)
    result = runner.invoke(app, ["worklist", "--ledger", str(ledger), "--as-of", "2024-05-01"],
                           env=_env(tmp_path))
    assert result.exit_code == 1
    assert "no champion of model 'late-payment-risk'" in result.output


def test_previous_grades_come_from_the_latest_snapshot_before_the_date(tmp_path: Path) -> None:
    import datetime as dt

    import pandas as pd

    from serving.portfolio import previous_grades

    for day, grade in (("2025-10-01", "A"), ("2025-11-01", "B"), ("2025-12-01", "E")):
        folder = tmp_path / day
        folder.mkdir()
        (folder / "manifest.json").write_text(json.dumps({"as_of": day}))
        pd.DataFrame({"customer_id": ["C1"], "grade": [grade]}).to_parquet(
            folder / "limits.parquet")
    assert previous_grades(tmp_path, dt.date(2025, 12, 1)).to_dict() == {"C1": "B"}
    assert previous_grades(tmp_path, dt.date(2026, 1, 1)).to_dict() == {"C1": "E"}
    assert previous_grades(tmp_path, dt.date(2025, 10, 1)) is None
    assert previous_grades(tmp_path / "absent", dt.date(2026, 1, 1)) is None
