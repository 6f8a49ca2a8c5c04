"""o2c import: a real export becomes a validated ledger; every bad value is named by row."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ledger import load_ledger
from ledger.importer import ImportFailed, import_ledger
from o2c.cli import app

runner = CliRunner()

EXPORT = """\
invoiceNumber,customerID,InvoiceDate,DueDate,InvoiceAmount,SettledDate,Disputed,countryCode
1001,C-1,1/5/2013,2/4/2013,"1,250.00",2/1/2013,No,391
1002,C-1,1/20/2013,2/19/2013,300.50,3/2/2013,Yes,391
1003,C-2,1/12/2013,2/26/2013,99.99,,No,406
1004,C-2,2/1/2013,3/18/2013,45.00,1/28/2013,no,406
1005,C-3,2/14/2013,3/16/2013,"2,000.00",3/20/2013,YES,770
"""
"""A flat export: settlement on the row, a prepayment (1004), an open invoice (1003)."""

MAPPING = """\
source = "export.csv"
date_format = "%m/%d/%Y"
thousands = ","

[columns]
invoice_id = "invoiceNumber"
customer_id = "customerID"
issue_date = "InvoiceDate"
due_date = "DueDate"
amount = "InvoiceAmount"
paid_date = "SettledDate"
disputed = "Disputed"
country = "countryCode"

[defaults]
currency = "USD"
"""


def write_export(folder: Path, export: str = EXPORT, mapping: str = MAPPING) -> Path:
    """The export and its mapping in `folder`; returns the mapping file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "export.csv").write_text(export)
    (folder / "mapping.toml").write_text(mapping)
    return folder / "mapping.toml"


def run_import(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["import", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_a_flat_export_becomes_a_valid_ledger(tmp_path: Path) -> None:
    mapping = write_export(tmp_path / "export")
    code, output = run_import("--mapping", str(mapping), "--out", str(tmp_path / "L"))
    assert code == 0, output
    assert "credit_limit: unknown for all customers" in output
    ledger = load_ledger(tmp_path / "L")
    invoices = ledger.df("invoices").set_index("invoice_id")
    assert invoices.loc["1001", "amount"] == 1250.0
    assert str(invoices.loc["1002", "issue_date"].date()) == "2013-01-20"
    payments = ledger.df("payments").set_index("invoice_id")
    assert "1003" not in payments.index  # still open
    assert str(payments.loc["1004", "payment_date"].date()) == "2013-01-28"  # prepayment kept
    disputes = ledger.df("disputes").set_index("invoice_id")
    assert sorted(disputes.index) == ["1002", "1005"]
    assert str(disputes.loc["1002", "opened_date"].date()) == "2013-03-02"  # at settlement
    customers = ledger.df("customers").set_index("customer_id")
    assert customers["credit_limit"].isna().all()
    assert customers.loc["C-2", "payment_terms_days"] == 45  # median of due - issue
    assert customers.loc["C-3", "country"] == "770"
    ledger.close()
    notes = json.loads((tmp_path / "L" / "import.json").read_text())
    assert notes["rows"] == {"customers": 3, "invoices": 5, "payments": 4, "disputes": 2}
    assert any("prepayments" in n for n in notes["assumptions"])
    validated = runner.invoke(app, ["validate", str(tmp_path / "L")])
    assert validated.exit_code == 0, validated.output


def test_days_to_pay_two_digit_month_names_no_ids_no_country_in_a_few_lines(
    tmp_path: Path,
) -> None:
    export = textwrap.dedent("""\
        Customer;Invoice date;Due;Amount;Days
        K1;26-Apr-11;26-May-11;1.234,50 €;12
        K1;03-May-11;02-Jun-11;99,00 €;
        K2;15-Apr-11;15-Apr-11;10,00 €;-3
        """)
    mapping = textwrap.dedent("""\
        source = "export.csv"
        delimiter = ";"
        decimal = ","
        thousands = "."
        [columns]
        customer_id = "Customer"
        issue_date = "Invoice date"
        due_date = "Due"
        amount = "Amount"
        days_to_pay = "Days"
        [defaults]
        currency = "EUR"
        """)
    code, output = run_import("--mapping", str(write_export(tmp_path / "e", export, mapping)),
                              "--out", str(tmp_path / "L"))
    assert code == 0, output
    assert "invoice_id: made from the row order" in output
    assert "country: 'unknown' (no column, no default) for all customers" in output
    ledger = load_ledger(tmp_path / "L")
    invoices = ledger.df("invoices")
    assert list(invoices["invoice_id"]) == ["INV0000001", "INV0000002", "INV0000003"]
    assert list(invoices["amount"]) == [1234.5, 99.0, 10.0]
    payments = ledger.df("payments").set_index("invoice_id")
    assert str(payments.loc["INV0000001", "payment_date"].date()) == "2011-05-08"
    assert str(payments.loc["INV0000003", "payment_date"].date()) == "2011-04-12"
    assert "INV0000002" not in payments.index
    ledger.close()


def _replace_line(row: int, old: str, new: str) -> str:
    lines = EXPORT.splitlines(keepends=True)
    assert old in lines[row - 1]
    lines[row - 1] = lines[row - 1].replace(old, new, 1)
    return "".join(lines)


CORRUPTED: dict[str, tuple[str, str, list[str]]] = {
    "a bad date": (_replace_line(3, "1/20/2013", "13/45/2013"), MAPPING,
                   ["export.csv row 3, column InvoiceDate", "'13/45/2013'", "%m/%d/%Y"]),
    "a text amount": (_replace_line(4, "99.99", "ninety-nine"), MAPPING,
                      ["export.csv row 4, column InvoiceAmount", "'ninety-nine'",
                       "expected a number"]),
    "a missing mapped column": (EXPORT.replace("DueDate", "Due date"), MAPPING,
                                ["export.csv row 1, column DueDate",
                                 "mapped column for due_date is missing"]),
    "a duplicate invoice id": (_replace_line(5, "1004", "1002"), MAPPING,
                               ["export.csv row 5, column invoiceNumber", "'1002'",
                                "duplicate invoice id (also on row 3)"]),
    "an empty file": ("", MAPPING, ["export.csv", "is empty"]),
    "a wrong delimiter": (EXPORT.replace(",", ";").replace('"1;250.00"', "1250")
                          .replace('"2;000.00"', "2000"), MAPPING,
                          ["column invoiceNumber", "is the file separated by ';'",
                           "set delimiter = ';'"]),
    "an empty required value": (_replace_line(2, "C-1", ""), MAPPING,
                                ["export.csv row 2, column customerID",
                                 "is empty (required for customer_id)"]),
    "a row with too few fields": (EXPORT + "1006,C-3,2/20/2013\n", MAPPING,
                                  ["export.csv row 7", "has 3 fields, the header 8"]),
    "due before issue (a contract rule)": (_replace_line(6, "3/16/2013", "2/1/2013"), MAPPING,
                                           ["export.csv row 6, column due_date",
                                            "due date before issue date"]),
    "a thousands separator the mapping does not declare": (
        EXPORT, MAPPING.replace('thousands = ","\n', ""),
        ["export.csv, column InvoiceAmount", "2 rows", "row 2 '1,250.00'", "set thousands"]),
    "an unknown mapping key": (EXPORT, MAPPING.replace("[defaults]", "[defaults]\ncurency = 1"),
                               ["mapping.toml, column defaults.curency", "unknown key"]),
    "ambiguous dates without a format": (
        EXPORT.replace("1/20/2013", "1/2/2013").replace("1/12/2013", "1/1/2013")
        .replace("2/14/2013", "2/4/2013"),
        MAPPING.replace('date_format = "%m/%d/%Y"\n', ""),
        ["column InvoiceDate", "several formats", "set date_format"]),
}


@pytest.mark.parametrize("case", sorted(CORRUPTED))
def test_a_corrupted_export_exits_1_naming_row_and_column(case: str, tmp_path: Path) -> None:
    export, mapping, expected = CORRUPTED[case]
    mapping_file = write_export(tmp_path / "e", export, mapping)
    code, output = run_import("--mapping", str(mapping_file), "--out", str(tmp_path / "L"))
    assert code == 1, output
    flat = " ".join(output.split())
    for text in expected:
        assert text in flat, f"{text!r} not in {output}"
    assert not (tmp_path / "L").exists()


def test_every_problem_is_reported_at_once_and_in_the_report(tmp_path: Path) -> None:
    export = _replace_line(3, "1/20/2013", "20.01.2013").replace("99.99", "n/a")
    mapping_file = write_export(tmp_path / "e", export)
    report = tmp_path / "problems.csv"
    code, output = run_import("--mapping", str(mapping_file), "--out", str(tmp_path / "L"),
                              "--report", str(report))
    assert code == 1
    with report.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["row"], r["column"], r["value"]) for r in rows] == [
        ("3", "InvoiceDate", "20.01.2013"), ("4", "InvoiceAmount", "n/a")]
    assert str(report) in " ".join(output.split()).replace(" ", "") or "problems.csv" in output


def test_a_failed_import_keeps_the_previous_ledger(tmp_path: Path) -> None:
    mapping_file = write_export(tmp_path / "e")
    assert run_import("--mapping", str(mapping_file), "--out", str(tmp_path / "L"))[0] == 0
    (tmp_path / "e" / "export.csv").write_text(_replace_line(4, "99.99", "x"))
    assert run_import("--mapping", str(mapping_file), "--out", str(tmp_path / "L"))[0] == 1
    assert load_ledger(tmp_path / "L").count("invoices") == 5


def test_source_on_the_command_line_overrides_the_mapping(tmp_path: Path) -> None:
    mapping_file = write_export(tmp_path / "e")
    other = tmp_path / "elsewhere.csv"
    other.write_text(EXPORT.replace("C-3", "C-9"))
    code, output = run_import("--mapping", str(mapping_file), "--source", str(other),
                              "--out", str(tmp_path / "L"))
    assert code == 0, output
    assert "C-9" in set(load_ledger(tmp_path / "L").df("customers")["customer_id"])


def _rows() -> pd.DataFrame:
    return pd.read_csv(pd.io.common.StringIO(EXPORT), dtype=str, keep_default_na=False)


def test_excel_and_parquet_exports_read_their_own_cell_types(tmp_path: Path) -> None:
    frame = _rows()
    typed = frame.assign(
        InvoiceDate=pd.to_datetime(frame["InvoiceDate"], format="%m/%d/%Y"),
        InvoiceAmount=frame["InvoiceAmount"].str.replace(",", "").astype(float),
        invoiceNumber=frame["invoiceNumber"].astype(int))
    results = {}
    for suffix in ("xlsx", "parquet"):
        folder = tmp_path / suffix
        folder.mkdir()
        path = folder / f"export.{suffix}"
        typed.to_excel(path, index=False) if suffix == "xlsx" else typed.to_parquet(path)
        (folder / "mapping.toml").write_text(MAPPING.replace("export.csv", path.name))
        ledger = import_ledger(folder / "mapping.toml", folder / "L")
        results[suffix] = load_ledger(ledger.out).df("invoices")
    csv_ledger = import_ledger(write_export(tmp_path / "csv"), tmp_path / "csv" / "L")
    expected = load_ledger(csv_ledger.out).df("invoices")
    for frame in results.values():
        pd.testing.assert_frame_equal(frame, expected)


def test_an_excel_cell_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    frame = _rows()
    frame.loc[2, "InvoiceAmount"] = "about 100"
    frame.to_excel(tmp_path / "export.xlsx", index=False)
    (tmp_path / "mapping.toml").write_text(MAPPING.replace("export.csv", "export.xlsx"))
    with pytest.raises(ImportFailed) as caught:
        import_ledger(tmp_path / "mapping.toml", tmp_path / "L")
    assert [(p.file, p.row, p.column, p.value) for p in caught.value.problems] == [
        ("export.xlsx", 4, "InvoiceAmount", "about 100")]


def test_the_tables_layout_renames_each_file(tmp_path: Path) -> None:
    (tmp_path / "inv.csv").write_text(textwrap.dedent("""\
        DocNo,Account,DocDate,NetDue,Gross
        A1,K1,2024-01-05,2024-02-04,100.00
        A2,K2,2024-01-06,2024-02-20,50.00
        """))
    (tmp_path / "pay.csv").write_text(textwrap.dedent("""\
        Id,invoice_id,Account,Cleared,amount
        Z1,A1,K1,2024-02-01,60.00
        Z2,A1,K1,2024-02-10,40.00
        """))
    (tmp_path / "cust.csv").write_text("Account,Land,Limit\nK1,DE,5000\nK2,AT,\n")
    (tmp_path / "mapping.toml").write_text(textwrap.dedent("""\
        source = "."
        layout = "tables"
        [tables.invoices]
        file = "inv.csv"
        [tables.invoices.columns]
        invoice_id = "DocNo"
        customer_id = "Account"
        issue_date = "DocDate"
        due_date = "NetDue"
        amount = "Gross"
        [tables.payments]
        file = "pay.csv"
        columns = {payment_id = "Id", customer_id = "Account", payment_date = "Cleared"}
        [tables.customers]
        file = "cust.csv"
        columns = {customer_id = "Account", country = "Land", credit_limit = "Limit"}
        [defaults]
        currency = "EUR"
        """))
    result = import_ledger(tmp_path / "mapping.toml", tmp_path / "L")
    assert "credit_limit: unknown for 1 of 2 customers" in result.assumptions
    ledger = load_ledger(tmp_path / "L")
    customers = ledger.df("customers").set_index("customer_id")
    assert customers.loc["K1", "credit_limit"] == 5000.0
    assert pd.isna(customers.loc["K2", "credit_limit"])
    assert list(customers["payment_terms_days"]) == [30, 45]
    assert ledger.count("payments") == 2
    ledger.close()
