"""The tables layout: one export file per contract table, each with a column rename.

Contract columns a file already names as the contract need no rename. A missing customers
table is made from the invoices; customer columns the export lacks are completed as in the
flat layout (`ledger.importer.customers`); invoices without a currency take their customer's.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ledger.importer.columns import Converted, origin_of, pick, report_duplicates, require_values
from ledger.importer.customers import complete_customers, customers_from_invoices
from ledger.importer.mapping import ImportMapping, TableFile
from ledger.importer.problems import ImportProblem
from ledger.importer.readers import Export, ReadOptions, read_file
from ledger.importer.values import ValueFormat
from ledger.schema import TABLES

COMPLETED = {"customers": {"country", "currency", "payment_terms_days", "credit_limit"},
             "invoices": {"currency"}}
"""Required contract columns an import can complete when the export lacks them."""


def tables_from_files(mapping: ImportMapping, options: ReadOptions, fmt: ValueFormat,
                      problems: list[ImportProblem]) -> Converted | None:
    """Contract tables from one file per table; None when `problems` grew."""
    before = len(problems)
    frames: dict[str, pd.DataFrame] = {}
    origin: dict[str, dict[str, tuple[str, int]]] = {}
    for name, spec in (mapping.tables or {}).items():
        export = read_file(_file(mapping.source, spec), options)
        frame = _table(name, export, spec, fmt, problems, mapping.delimiter)
        frames[name] = frame
        origin[name] = origin_of(export, frame[TABLES[name].key])
    if len(problems) > before:
        return None
    notes: list[str] = []
    invoices = frames["invoices"]
    customers = frames.get("customers")
    if customers is None:
        customers, notes = customers_from_invoices(invoices, pd.DataFrame(index=invoices.index))
        notes.append("customers: made from the invoices' customer ids")
    if invoices["currency"].isna().any() and "currency" in customers:
        own = invoices["customer_id"].map(customers.set_index("customer_id")["currency"])
        invoices["currency"] = invoices["currency"].where(invoices["currency"].notna(), own)
        notes.append("invoices.currency: the customer's currency")
    if invoices["currency"].isna().any():
        if mapping.defaults.currency is None:
            problems.append(ImportProblem("mapping", None, "defaults.currency", None,
                                          "invoices have no currency column: set "
                                          "[defaults] currency"))
            return None
        invoices["currency"] = invoices["currency"].fillna(mapping.defaults.currency)
        notes.append(f"invoices.currency: default {mapping.defaults.currency!r}")
    frames["customers"], completed = complete_customers(customers, invoices, mapping.defaults)
    return Converted(frames, origin, notes + completed)


def _file(source: Path, spec: TableFile) -> Path:
    return (source if source.is_dir() else source.parent) / spec.file


def _table(name: str, export: Export, spec: TableFile, fmt: ValueFormat,
           problems: list[ImportProblem], delimiter: str) -> pd.DataFrame:
    """The contract columns of one table, parsed; problems of every value added."""
    table = TABLES[name]
    wanted = {c: c for c in table.column_names if c in export.frame.columns}
    wanted.update(spec.columns)
    for column in table.required_columns:
        if column not in wanted and column not in COMPLETED.get(name, set()):
            wanted[column] = column  # reported by pick as missing
    kinds = {c.name: c.type for c in table.columns}
    frame = pick(export, wanted, kinds, fmt, problems, delimiter=delimiter)
    require_values(export, frame, wanted, table.required_columns, problems)
    report_duplicates(export, frame[table.key], wanted[table.key], table.key.replace("_", " "),
                      problems)
    for column in table.column_names:
        if column not in frame:
            frame[column] = None
    return frame[table.column_names]
