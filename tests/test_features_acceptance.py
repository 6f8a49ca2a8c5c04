"""Issue acceptance through the CLI: a feature file as of D does not see facts dated on/after D."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
from o2c.cli import app
from tests.conftest import facts_before, write_frames

CUT = dt.date(2024, 11, 1)
runner = CliRunner()


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The full ledger, and the same ledger with every fact dated on or after CUT removed."""
    root = tmp_path_factory.mktemp("acceptance")
    tables = generate_ledger(SyntheticConfig(customers=150, months=14, seed=21))
    write_ledger(tables, root / "full")
    frames = {name: t.to_pandas() for name, t in tables.items() if not name.startswith("truth")}
    return root / "full", write_frames(facts_before(frames, CUT), root / "known")


def _build(ledger: Path, out: Path, *args: str) -> pd.DataFrame:
    result = runner.invoke(app, ["features", "build", "--ledger", str(ledger), "--out",
                                 str(out), *args])
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out)


def test_snapshot_file_is_the_same_without_later_facts(ledgers: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    full, known = ledgers
    a = _build(full, tmp_path / "a.parquet", "--as-of", str(CUT))
    b = _build(known, tmp_path / "b.parquet", "--as-of", str(CUT))
    assert len(a) > 100 and {"invoice_id", "customer_id"} <= set(a.columns)
    pd.testing.assert_frame_equal(a, b)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_per_invoice_file_is_the_same_for_invoices_issued_before(
    ledgers: tuple[Path, Path], tmp_path: Path
) -> None:
    full, known = ledgers
    a = _build(full, tmp_path / "a.parquet", "--per-invoice")
    b = _build(known, tmp_path / "b.parquet", "--per-invoice")
    before = a[pd.to_datetime(a["issue_date"]) < pd.Timestamp(CUT)].reset_index(drop=True)
    assert len(before) == len(b) > 1000 and len(a) > len(b)
    pd.testing.assert_frame_equal(before, b)


def test_build_needs_exactly_one_of_as_of_and_per_invoice(ledgers: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", "build", "--ledger", str(ledgers[0]), "--out",
                                 str(tmp_path / "x.parquet")])
    assert result.exit_code == 2
    assert "exactly one of --as-of DATE and --per-invoice" in result.output
    assert not (tmp_path / "x.parquet").exists()


def test_features_list_prints_every_feature_with_its_window() -> None:
    from features import feature_catalog

    result = runner.invoke(app, ["features", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for spec in feature_catalog():
        assert spec.name in result.output
