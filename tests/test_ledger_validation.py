"""The ledger contract: every kind of bad input gets an error naming table, column and rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from ledger import LedgerValidationError, ledger_from_frames, load_ledger
from ledger.summary import ledger_end, summarize
from o2c.cli import app
from tests.conftest import write_frames

Frames = dict[str, pd.DataFrame]


def _issues(frames: Frames, tmp_path: Path, fmt: str = "parquet") -> LedgerValidationError:
    folder = write_frames(frames, tmp_path / "ledger", fmt)
    with pytest.raises(LedgerValidationError) as caught:
        load_ledger(folder)
    return caught.value


def _set(frames: Frames, table: str, row: int, column: str, value: object) -> Frames:
    frames[table].loc[row, column] = value
    return frames


BAD_INPUTS: dict[str, tuple[Callable[[Frames], Frames], str, list[str]]] = {
    "duplicate invoice id": (
        lambda f: _set(f, "invoices", 1, "invoice_id", "I1"),
        "invoices.invoice_id: duplicate invoice_id", ["invoice_id=I1"]),
    "negative invoice amount": (
        lambda f: _set(f, "invoices", 3, "amount", -750.0),
        "invoices.amount: non-positive amount", ["invoice_id=I4", "amount=-750.0"]),
    "zero invoice amount": (
        lambda f: _set(f, "invoices", 3, "amount", 0.0),
        "invoices.amount: non-positive amount", ["invoice_id=I4"]),
    "due before issue": (
        lambda f: _set(f, "invoices", 1, "due_date", pd.Timestamp("2024-02-01")),
        "invoices.due_date: due date before issue date", ["invoice_id=I2"]),
    "invoice of unknown customer": (
        lambda f: _set(f, "invoices", 0, "customer_id", "C404"),
        "invoices.customer_id: unknown customer_id", ["invoice_id=I1", "customer_id=C404"]),
    "payment of unknown invoice": (
        lambda f: _set(f, "payments", 0, "invoice_id", "I404"),
        "payments.invoice_id: unknown invoice_id", ["payment_id=P1", "invoice_id=I404"]),
    "payment of unknown customer": (
        lambda f: _set(f, "payments", 0, "customer_id", "C404"),
        "payments.customer_id: unknown customer_id", ["payment_id=P1"]),
    "payment by another customer": (
        lambda f: _set(f, "payments", 0, "customer_id", "C2"),
        "payments.customer_id: customer_id differs", ["payment_id=P1"]),
    "credit note of unknown invoice": (
        lambda f: _set(f, "credit_notes", 0, "invoice_id", "I404"),
        "credit_notes.invoice_id: unknown invoice_id", ["credit_note_id=N1"]),
    "dispute of unknown invoice": (
        lambda f: _set(f, "disputes", 0, "invoice_id", "I404"),
        "disputes.invoice_id: unknown invoice_id", ["dispute_id=D1"]),
    "promise of unknown customer": (
        lambda f: _set(f, "promises", 0, "customer_id", "C404"),
        "promises.customer_id: unknown customer_id", ["promise_id=R1"]),
    "promise of unknown invoice": (
        lambda f: _set(f, "promises", 0, "invoice_id", "I404"),
        "promises.invoice_id: unknown invoice_id", ["promise_id=R1"]),
    "dispute before its invoice": (
        lambda f: _set(f, "disputes", 0, "opened_date", pd.Timestamp("2024-01-01")),
        "disputes.opened_date: dispute opened before its invoice", ["dispute_id=D1"]),
    "invoice currency differs from customer's": (
        lambda f: _set(f, "invoices", 2, "currency", "EUR"),
        "invoices.currency: invoice currency differs", ["invoice_id=I3", "customer_currency=USD"]),
    "mixed currencies without rates": (
        lambda f: {k: v for k, v in f.items() if k != "fx_rates"},
        "customers.currency: mixed currencies without an exchange rate", ["currency=EUR"]),
    "payments exceed the invoice": (
        lambda f: _set(f, "payments", 0, "amount", 1500.0),
        "invoices.amount: payments and credit notes exceed", ["invoice_id=I1"]),
    "negative payment": (
        lambda f: _set(f, "payments", 1, "amount", -1.0),
        "payments.amount: non-positive amount", ["payment_id=P2"]),
    "promise due before it was made": (
        lambda f: _set(f, "promises", 0, "promised_date", pd.Timestamp("2024-03-01")),
        "promises.promised_date: promised date before", ["promise_id=R1"]),
    "negative credit limit": (
        lambda f: _set(f, "customers", 0, "credit_limit", -1.0),
        "customers.credit_limit: negative credit limit", ["customer_id=C1"]),
    "missing invoices table": (
        lambda f: {k: v for k, v in f.items() if k != "invoices"},
        "invoices: required table is missing", []),
    "missing due_date column": (
        lambda f: {**f, "invoices": f["invoices"].drop(columns="due_date")},
        "invoices.due_date: required column is missing", []),
    "empty required value": (
        lambda f: _set(f, "invoices", 2, "customer_id", None),
        "invoices.customer_id: required value is empty", ["invoice_id=I3"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_named(case: str, tiny_frames: Frames, tmp_path: Path) -> None:
    corrupt, problem, shown = BAD_INPUTS[case]
    error = _issues(corrupt(tiny_frames), tmp_path)
    message = str(error)
    assert problem in message
    for text in shown:
        assert text in message


def test_the_tiny_ledger_is_valid(tiny_frames: Frames, tmp_path: Path) -> None:
    ledger = load_ledger(write_frames(tiny_frames, tmp_path / "ledger"))
    assert ledger.count("invoices") == 4
    assert ledger.present == frozenset(tiny_frames)


def test_every_problem_is_reported_at_once(tiny_frames: Frames, tmp_path: Path) -> None:
    _set(tiny_frames, "invoices", 1, "invoice_id", "I1")
    _set(tiny_frames, "invoices", 3, "amount", -3.0)
    _set(tiny_frames, "payments", 0, "invoice_id", "I404")
    error = _issues(tiny_frames, tmp_path)
    problems = {(i.table, i.column) for i in error.issues}
    assert {("invoices", "invoice_id"), ("invoices", "amount"),
            ("payments", "invoice_id")} <= problems


def test_many_offending_rows_are_counted_with_first_examples(tmp_path: Path) -> None:
    frames = {
        "customers": pd.DataFrame({"customer_id": ["C1"], "country": ["DE"],
                                   "currency": ["EUR"], "payment_terms_days": [30],
                                   "credit_limit": [1.0]}),
        "invoices": pd.DataFrame({
            "invoice_id": [f"I{i:02d}" for i in range(12)], "customer_id": "C1",
            "issue_date": pd.Timestamp("2024-01-01"), "due_date": pd.Timestamp("2024-01-31"),
            "amount": -1.0, "currency": "EUR"}),
    }
    issue = _issues(frames, tmp_path).issues[0]
    assert (issue.table, issue.column, issue.count) == ("invoices", "amount", 12)
    assert [e["invoice_id"] for e in issue.examples] == ["I00", "I01", "I02", "I03", "I04"]
    assert "12 rows, e.g. (first 5)" in str(issue)


def test_unparseable_csv_values_name_the_row(tiny_frames: Frames, tmp_path: Path) -> None:
    folder = write_frames(tiny_frames, tmp_path / "ledger", "csv")
    text = (folder / "invoices.csv").read_text()
    text = text.replace("2024-02-10", "2024-13-45").replace("750.0", "\"7,50\"")
    (folder / "invoices.csv").write_text(text)
    with pytest.raises(LedgerValidationError) as caught:
        load_ledger(folder)
    message = str(caught.value)
    assert "invoices.issue_date: value cannot be read as date" in message
    assert "invoice_id=I2, issue_date=2024-13-45" in message
    assert "invoices.amount: value cannot be read as amount" in message
    assert "invoice_id=I4, amount=7,50" in message


def test_parquet_and_csv_of_one_table_is_ambiguous(tiny_frames: Frames, tmp_path: Path) -> None:
    folder = write_frames(tiny_frames, tmp_path / "ledger")
    tiny_frames["payments"].to_csv(folder / "payments.csv", index=False)
    with pytest.raises(LedgerValidationError, match="payments: both a Parquet and a CSV"):
        load_ledger(folder)


def test_missing_ledger_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(LedgerValidationError, match="no ledger at .*nowhere"):
        load_ledger(tmp_path / "nowhere")


def test_csv_and_parquet_load_the_same(tiny_frames: Frames, tmp_path: Path) -> None:
    from_parquet = load_ledger(write_frames(tiny_frames, tmp_path / "pq", "parquet"))
    from_csv = load_ledger(write_frames(tiny_frames, tmp_path / "csv", "csv"))
    for table in tiny_frames:
        pd.testing.assert_frame_equal(from_parquet.df(table), from_csv.df(table))


def test_csv_round_trip_keeps_every_value(tiny_frames: Frames, tmp_path: Path) -> None:
    first = load_ledger(write_frames(tiny_frames, tmp_path / "a", "csv"))
    again = write_frames({t: first.df(t) for t in tiny_frames}, tmp_path / "b", "csv")
    second = load_ledger(again)
    for table in tiny_frames:
        pd.testing.assert_frame_equal(first.df(table), second.df(table))


def test_duckdb_database_ledger(tiny_frames: Frames, tmp_path: Path) -> None:
    path = tmp_path / "ledger.duckdb"
    with duckdb.connect(str(path)) as con:
        for name, frame in tiny_frames.items():
            con.register("frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")
    ledger = load_ledger(path)
    assert ledger.count("payments") == 3
    assert ledger.df("invoices")["invoice_id"].tolist() == ["I1", "I2", "I3", "I4"]


def test_absent_optional_tables_are_empty(tiny_frames: Frames) -> None:
    only = {k: tiny_frames[k] for k in ("customers", "invoices", "payments", "fx_rates")}
    ledger = ledger_from_frames(only)
    assert ledger.count("disputes") == 0
    assert list(ledger.df("promises").columns) == [
        "promise_id", "customer_id", "created_date", "promised_date", "amount", "invoice_id",
        "kept"]


def test_extra_columns_are_reported_not_hidden(tiny_frames: Frames) -> None:
    tiny_frames["invoices"]["sales_rep"] = "ann"
    ledger = ledger_from_frames(tiny_frames)
    assert ledger.ignored_columns == {"invoices": ["sales_rep"]}


def test_summary_balances_by_hand(tiny_frames: Frames) -> None:
    ledger = ledger_from_frames(tiny_frames)
    summary = summarize(ledger, dt.date(2024, 3, 12))
    # I2 500 EUR 1 day past due; I3 2000 USD less 1000 paid and 100 credited = 900 USD
    # (810 EUR) 7 days past due; I4 750 USD (675 EUR) not yet due.
    assert summary.open_invoices == 3
    assert summary.aging == {"current": 675.0, "1-30": 1310.0, "31-60": 0.0, "61-90": 0.0,
                             "90+": 0.0}
    assert summary.open_balance == 1985.0
    assert summary.overdue_balance == 1310.0
    assert summary.reporting_currency == "EUR"
    assert ledger_end(ledger) == dt.date(2024, 3, 21)
    assert summarize(ledger).open_invoices == 2


runner = CliRunner()


def test_cli_validate_prints_summary(tiny_frames: Frames, tmp_path: Path) -> None:
    folder = write_frames(tiny_frames, tmp_path / "ledger")
    result = runner.invoke(app, ["validate", str(folder), "--as-of", "2024-03-12"])
    assert result.exit_code == 0, result.output
    assert "1,985.00 EUR" in result.output
    assert "1,310.00 EUR" in result.output


def test_cli_validate_exits_1_naming_the_invoice(tiny_frames: Frames, tmp_path: Path) -> None:
    _set(tiny_frames, "invoices", 1, "due_date", pd.Timestamp("2024-01-01"))
    folder = write_frames(tiny_frames, tmp_path / "ledger")
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "invoice_id=I2" in result.output


def test_cli_rejects_a_bad_date_option(tiny_frames: Frames, tmp_path: Path) -> None:
    folder = write_frames(tiny_frames, tmp_path / "ledger")
    result = runner.invoke(app, ["validate", str(folder), "--as-of", "12/03/2024"])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_atomic_file_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    from ledger.atomic import atomic_file

    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with atomic_file(target) as temporary:
        temporary.write_text("new")
    assert target.read_text() == "new"


def test_atomic_directory_replaces_a_folder_whole_or_not_at_all(tmp_path: Path) -> None:
    from ledger.atomic import atomic_directory

    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(target) as staging:
        (staging / "new.txt").write_text("half")
        raise RuntimeError("failed halfway")
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    with atomic_directory(target) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or backup left
