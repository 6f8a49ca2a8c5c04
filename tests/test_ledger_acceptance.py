"""Issue acceptance, end to end through the CLI: generate, validate, and catch corrupted files."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from o2c.cli import app

runner = CliRunner()
ARGS = ["--customers", "300", "--months", "18", "--seed", "7"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "ledger"
    result = runner.invoke(app, ["generate", *ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_generate_twice_gives_identical_files(generated: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    result = runner.invoke(app, ["generate", *ARGS, "--out", str(again)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in generated.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert "invoices.parquet" in names and "truth_invoices.parquet" in names
    for name in names:
        assert (generated / name).read_bytes() == (again / name).read_bytes(), name


def test_generated_ledger_validates(generated: Path) -> None:
    result = runner.invoke(app, ["validate", str(generated)])
    assert result.exit_code == 0, result.output
    assert "Open balance by days past due" in result.output


def _duplicate(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    return pd.concat([df, df.iloc[[10]]], ignore_index=True), df.invoice_id.iloc[10]


def _negative(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    df.loc[20, "amount"] = -df.loc[20, "amount"]
    return df, df.invoice_id.iloc[20]


def _due_before_issue(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    df.loc[30, "due_date"] = df.loc[30, "issue_date"] - pd.Timedelta(days=1)
    return df, df.invoice_id.iloc[30]


def _unknown_customer(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    df.loc[40, "customer_id"] = "C-NOBODY"
    return df, "C-NOBODY"


@pytest.mark.parametrize("corrupt", [_duplicate, _negative, _due_before_issue, _unknown_customer])
def test_one_bad_invoice_is_caught_and_named(
    corrupt: Callable[[pd.DataFrame], tuple[pd.DataFrame, str]], generated: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    shutil.copytree(generated, ledger)
    invoices = pd.read_parquet(ledger / "invoices.parquet")
    bad, named = corrupt(invoices)
    bad.to_parquet(ledger / "invoices.parquet", index=False)
    result = runner.invoke(app, ["validate", str(ledger)])
    assert result.exit_code == 1
    assert named in result.output


def test_generate_refuses_to_replace_a_folder_of_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["generate", "--customers", "5", "--months", "2",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "not ledger tables" in result.output
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_nothing_is_dropped_on_load(generated: Path) -> None:
    from ledger import load_ledger

    ledger = load_ledger(generated)
    for table in ("customers", "invoices", "payments", "credit_notes", "disputes", "promises"):
        assert ledger.count(table) == len(pd.read_parquet(generated / f"{table}.parquet"))
