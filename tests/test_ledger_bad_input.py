"""Bad ledger files through the real `o2c validate`: exit 1, the problem named, no traceback.

Each case starts from the tiny valid ledger written as CSV and spoils one file the way real
exports go wrong (locale number and date formats, a second header row, semicolons, another
encoding, binary data), or writes an unreadable DuckDB database.
"""

from __future__ import annotations

import codecs
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner, Result

from ledger import LedgerValidationError, load_ledger
from o2c.cli import app
from tests.conftest import tiny_ledger_frames, write_frames

O2C = Path(sys.executable).with_name("o2c")
runner = CliRunner()


def _csv_ledger(folder: Path) -> Path:
    return write_frames(tiny_ledger_frames(), folder, "csv")


def _replace(table: str, old: str, new: str) -> Callable[[Path], None]:
    """Spoil one file: replace the first `old` of `<table>.csv` with `new`."""
    def spoil(folder: Path) -> None:
        path = folder / f"{table}.csv"
        text = path.read_text()
        assert old in text, f"{old!r} not in {path.name}"
        path.write_text(text.replace(old, new, 1))
    return spoil


def _write(table: str, data: bytes | Callable[[bytes], bytes]) -> Callable[[Path], None]:
    """Spoil one file: replace its bytes (or transform them)."""
    def spoil(folder: Path) -> None:
        path = folder / f"{table}.csv"
        path.write_bytes(data(path.read_bytes()) if callable(data) else data)
    return spoil


def _semicolons(text: bytes) -> bytes:
    """The file as a European spreadsheet saves it: ';' between values, ',' in decimals."""
    return text.replace(b",", b";").replace(b".0", b",0")


def _repeat_header(text: bytes) -> bytes:
    """A second header row in the data, as when two exports are concatenated."""
    lines = text.splitlines(keepends=True)
    return b"".join([*lines[:3], lines[0], *lines[3:]])


BAD_FILES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "thousands separator": (
        _replace("invoices", "500.0", '"1,234.50"'),
        ["invoices.amount: value cannot be read as amount", "invoice_id=I2, amount=1,234.50"]),
    "US date": (
        _replace("invoices", "2024-02-10", "12/31/2024"),
        ["invoices.issue_date: value cannot be read as date", "expected a date as YYYY-MM-DD",
         "invoice_id=I2, issue_date=12/31/2024"]),
    "European date": (
        _replace("invoices", "2024-02-10", "31/12/2024"),
        ["invoices.issue_date", "invoice_id=I2, issue_date=31/12/2024"]),
    "currency sign": (
        _replace("invoices", "500.0", "€100"),
        ["invoices.amount", "invoice_id=I2, amount=€100"]),
    "letter O for zero": (
        _replace("invoices", "500.0", '"12,5O"'),
        ["invoices.amount", "invoice_id=I2, amount=12,5O"]),
    "31 February": (
        _replace("invoices", "2024-02-10", "31/02/2023"),
        ["invoices.issue_date", "invoice_id=I2, issue_date=31/02/2023"]),
    "31 February as ISO": (
        _replace("invoices", "2024-02-10", "2023-02-31"),
        ["invoices.issue_date", "invoice_id=I2, issue_date=2023-02-31"]),
    "boolean in French": (
        _write("promises", b"promise_id,customer_id,created_date,promised_date,amount,"
               b"invoice_id,kept\nR1,C2,2024-03-08,2024-03-15,900.0,I3,oui\n"),
        ["promises.kept: value cannot be read as bool (expected true or false)",
         "promise_id=R1, kept=oui"]),
    "repeated header row": (
        _write("invoices", _repeat_header),
        ["invoices: row repeats the header row", "invoice_id=invoice_id"]),
    "semicolons and decimal commas": (
        _write("customers", _semicolons),
        ["customers: customers.csv separates values with semicolons, expected commas",
         "customer_id;country"]),
    "tabs": (
        _write("invoices", lambda text: text.replace(b",", b"\t")),
        ["invoices: invoices.csv separates values with tabs"]),
    "binary": (
        _write("invoices", bytes(range(256)) * 8),
        ["invoices: invoices.csv is a binary file, not CSV text"]),
    "empty": (
        _write("invoices", b""),
        ["invoices: invoices.csv is empty"]),
    "header only": (
        _write("invoices", lambda text: text.splitlines(keepends=True)[0]),
        ["invoices: invoices.csv has no rows"]),
    "UTF-16": (
        _write("invoices", lambda text: text.decode().encode("utf-16")),
        ["invoices: invoices.csv is UTF-16 text (expected UTF-8)"]),
    "UTF-16 without byte-order mark": (
        _write("invoices", lambda text: text.decode().encode("utf-16-le")),
        ["invoices: invoices.csv is UTF-16 text"]),
    "Latin-1": (
        _write("customers", lambda text: text.replace(b"Alpha", "Straße".encode("latin-1"))),
        ["customers: customers.csv is not UTF-8 text (byte 0xdf"]),
    "row with an extra value": (
        _replace("invoices", "500.0,EUR", "500.0,EUR,oops"),
        ["invoices: invoices.csv cannot be read as CSV: line 3: Expected Number of Columns: 6 "
         "Found: 7"]),
    "unterminated quote": (
        _replace("invoices", "I2,C1", '"I2,C1'),
        ["invoices: invoices.csv cannot be read as CSV: line 3",
         "Value with unterminated quote found"]),
    "amount beyond the maximum": (
        _replace("invoices", "500.0", "1e308"),
        ["invoices.amount: amount above the maximum (expected at most 1,000,000,000,000)",
         "invoice_id=I2"]),
    "infinite amount": (
        _replace("invoices", "500.0", "inf"),
        ["invoices.amount: not a finite number", "invoice_id=I2, amount=inf"]),
    "fractional payment terms": (
        _replace("customers", "EUR,30,", "EUR,1.5,"),
        ["customers.payment_terms_days: value cannot be read as int (expected a whole number",
         "customer_id=C1, payment_terms_days=1.5"]),
    "huge exchange rate": (
        _replace("fx_rates", "0.9", "1e300"),
        ["fx_rates.rate_to_base: rate_to_base above the maximum", "currency=USD"]),
}


def _validate(path: Path) -> Result:
    """`o2c validate` in process; an exception other than the CLI's own exit fails the test."""
    return runner.invoke(app, ["validate", str(path)], catch_exceptions=False)


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_csv_exits_1_naming_the_problem(case: str, tmp_path: Path) -> None:
    spoil, expected = BAD_FILES[case]
    folder = _csv_ledger(tmp_path / "ledger")
    spoil(folder)
    result = _validate(folder)
    assert result.exit_code == 1, result.output
    for text in expected:
        assert text in result.output
    assert "Traceback" not in result.output


def test_every_unparseable_value_is_listed_not_just_the_first(tmp_path: Path) -> None:
    """DuckDB stops at the first value it cannot cast; the loader lists them all."""
    folder = _csv_ledger(tmp_path / "ledger")
    _replace("invoices", "2024-02-10", "10.02.2024")(folder)
    _replace("invoices", "2000.0", "\"2.000,00\"")(folder)
    _replace("customers", "EUR,30,", "EUR,net30,")(folder)
    _write("promises", b"promise_id,customer_id,created_date,promised_date,amount,invoice_id,"
           b"kept\nR1,C2,2024-03-08,2024-03-15,900.0,I3,ja\n")(folder)
    with pytest.raises(LedgerValidationError) as caught:
        load_ledger(folder)
    named = {(i.table, i.column) for i in caught.value.issues}
    assert named == {("invoices", "issue_date"), ("invoices", "amount"),
                     ("customers", "payment_terms_days"), ("promises", "kept")}


def test_a_file_with_a_byte_order_mark_and_windows_line_ends_loads(tmp_path: Path) -> None:
    folder = _csv_ledger(tmp_path / "ledger")
    path = folder / "invoices.csv"
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes().replace(b"\n", b"\r\n"))
    assert load_ledger(folder).count("invoices") == 4


def test_fractional_terms_in_parquet_are_not_rounded(tmp_path: Path) -> None:
    frames = tiny_ledger_frames()
    frames["customers"]["payment_terms_days"] = [30.0, 1.5]
    folder = write_frames(frames, tmp_path / "ledger")
    with pytest.raises(LedgerValidationError, match="customer_id=C2, payment_terms_days=1.5"):
        load_ledger(folder)


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "ledger.duckdb cannot be opened as a DuckDB database"),
    (b"SQLite format 3\x00" + bytes(4080), "ledger.duckdb cannot be opened as a DuckDB database"),
])
def test_an_invalid_or_empty_duckdb_file_is_named(
    content: bytes, expected: str, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.duckdb"
    path.write_bytes(content)
    result = _validate(path)
    assert result.exit_code == 1
    assert expected in result.output


def test_a_duckdb_file_without_ledger_tables_names_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE sales (id INTEGER)")
    result = _validate(path)
    assert result.exit_code == 1
    assert "customers: required table is missing (expected a table customers in other.duckdb)" \
        in result.output


def test_a_corrupt_parquet_file_is_named(tmp_path: Path) -> None:
    folder = write_frames(tiny_ledger_frames(), tmp_path / "ledger")
    (folder / "payments.parquet").write_bytes(b"PAR1 not really")
    result = _validate(folder)
    assert result.exit_code == 1
    assert "payments: payments.parquet cannot be read as Parquet" in result.output


@pytest.mark.parametrize("case", ["semicolons and decimal commas", "binary", "boolean in French"])
def test_the_installed_command_prints_no_traceback(case: str, tmp_path: Path) -> None:
    """The same through the `o2c` program itself, as a person runs it."""
    spoil, expected = BAD_FILES[case]
    folder = _csv_ledger(tmp_path / "ledger")
    spoil(folder)
    done = subprocess.run([str(O2C), "validate", str(folder)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1
    assert expected[0] in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
