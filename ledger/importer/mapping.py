"""The mapping file: how an export's columns and values become the ledger contract (TOML)."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ledger.importer.problems import ImportFailed, ImportProblem
from ledger.schema import TABLES

TRUE_VALUES: tuple[str, ...] = ("yes", "y", "true", "t", "1")
FALSE_VALUES: tuple[str, ...] = ("no", "n", "false", "f", "0")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class FlatColumns(_Strict):
    """Contract name = column of the export, for an export of one row per invoice."""

    customer_id: str
    issue_date: str
    due_date: str
    amount: str
    invoice_id: str | None = None
    """Without it, stable ids are made from the row order (INV0000001, ...)."""
    paid_date: str | None = None
    """Settlement date; empty = still open."""
    days_to_pay: str | None = None
    """Days from issue to settlement (instead of paid_date); empty = still open."""
    paid_amount: str | None = None
    """Amount paid, for partly paid invoices; empty = the whole amount once paid."""
    disputed: str | None = None
    """A yes/no flag: the invoice was disputed."""
    paperless: str | None = None
    """A yes/no flag: the invoice was delivered electronically (false: on paper)."""
    currency: str | None = None
    document_type: str | None = None
    po_number: str | None = None
    country: str | None = None
    name: str | None = None
    industry: str | None = None
    segment: str | None = None
    payment_terms_days: str | None = None
    credit_limit: str | None = None
    created_date: str | None = None

    @model_validator(mode="after")
    def _one_settlement(self) -> FlatColumns:
        if self.paid_date is not None and self.days_to_pay is not None:
            raise ValueError("give paid_date or days_to_pay, not both")
        if self.paid_amount is not None and self.paid_date is None and self.days_to_pay is None:
            raise ValueError("paid_amount needs paid_date or days_to_pay")
        return self


class TableFile(_Strict):
    """One contract table read from one file (tables layout)."""

    file: str
    """The file, relative to `source` (a folder)."""
    columns: dict[str, str] = Field(default_factory=dict)
    """Contract name = column in the file; columns already named as the contract need none."""


class FlagValues(_Strict):
    """How one yes/no column writes its values, e.g. PaperlessBill's Electronic / Paper."""

    true: tuple[str, ...] = Field(min_length=1)
    """Values meaning true (case does not matter)."""
    false: tuple[str, ...] = Field(min_length=1)
    """Values meaning false."""

    @model_validator(mode="after")
    def _disjoint(self) -> FlagValues:
        both = {v.strip().lower() for v in self.true} & {v.strip().lower() for v in self.false}
        if both:
            raise ValueError(f"{sorted(both)} cannot mean both true and false")
        return self


FLAG_COLUMNS: frozenset[str] = frozenset(
    {"disputed"} | {c.name for t in TABLES.values() for c in t.columns if c.type == "bool"})
"""Contract (and flat-layout) columns holding yes/no flags: the keys `[values]` accepts."""


class Defaults(_Strict):
    """Constants for contract columns the export lacks."""

    currency: str | None = None
    country: str | None = None
    payment_terms_days: int | None = Field(None, ge=0)
    credit_limit: float | None = Field(None, ge=0)
    industry: str | None = None
    segment: str | None = None


class ImportMapping(_Strict):
    """A mapping file: where the export is, its layout, how its values are written."""

    source: Path
    """A .csv, .xlsx or .parquet file, or a folder of them; relative to the mapping file."""
    layout: Literal["flat", "tables"] = "flat"
    date_format: str | None = None
    """strptime format of every date; without it a column's format is inferred and must be
    unambiguous."""
    decimal: Literal[".", ","] = "."
    thousands: Literal[",", ".", " ", "'"] | None = None
    delimiter: str = Field(",", min_length=1, max_length=1)
    """Field separator of CSV files."""
    encoding: str = "utf-8-sig"
    sheet: str | None = None
    """Worksheet of .xlsx files (default: the first)."""
    true_values: tuple[str, ...] = TRUE_VALUES
    false_values: tuple[str, ...] = FALSE_VALUES
    export_date: dt.date | None = None
    """Date of the export (default: its latest date): disputes of invoices still open are
    dated then, since a flag without a date is known only at the export."""
    values: dict[str, FlagValues] = Field(default_factory=dict)
    """Per yes/no column, its own spellings instead of true_values / false_values:
    `[values.paperless] true = ["Electronic"], false = ["Paper"]`."""
    columns: FlatColumns | None = None
    tables: dict[str, TableFile] | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    fx_rates: dict[str, float] = Field(default_factory=dict)
    """Units of the reporting currency per unit of each currency, for several currencies."""

    @model_validator(mode="after")
    def _layout_parts(self) -> ImportMapping:
        if self.decimal == self.thousands:
            raise ValueError("decimal and thousands must differ")
        unknown_flags = sorted(set(self.values) - FLAG_COLUMNS)
        if unknown_flags:
            raise ValueError(f"values: {unknown_flags} are not yes/no columns; expected some "
                             f"of {sorted(FLAG_COLUMNS)}")
        if self.layout == "flat" and self.columns is None:
            raise ValueError('layout "flat" needs a [columns] table')
        if self.layout == "flat" and self.tables is not None:
            raise ValueError('[tables.*] belongs to layout "tables", not "flat"')
        if self.layout == "tables":
            if not self.tables:
                raise ValueError('layout "tables" needs [tables.invoices] (and more tables)')
            unknown = sorted(set(self.tables) - set(TABLES))
            if unknown:
                raise ValueError(f"unknown tables {unknown}; expected some of {sorted(TABLES)}")
            if "invoices" not in self.tables:
                raise ValueError('layout "tables" needs [tables.invoices]')
            for name, spec in self.tables.items():
                bad = sorted(set(spec.columns) - set(TABLES[name].column_names))
                if bad:
                    raise ValueError(f"tables.{name}.columns: {bad} are not columns of "
                                     f"{name} ({', '.join(TABLES[name].column_names)})")
        return self


def load_mapping(path: str | Path, *, source: str | Path | None = None) -> ImportMapping:
    """Read and check a mapping file; `source` (relative to the working folder) overrides its
    own. The returned `source` is resolved against the mapping's folder."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _failed(path, "*", "no such mapping file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _failed(path, "*", f"not valid TOML: {exc}") from None
    if source is not None:
        raw["source"] = str(Path(source).resolve())
    try:
        mapping = ImportMapping.model_validate(raw)
    except ValidationError as exc:
        problems = [ImportProblem(path.name, None, ".".join(str(p) for p in e["loc"]) or "*",
                                  None, _pydantic_message(e)) for e in exc.errors()]
        raise ImportFailed(problems, source=str(path)) from None
    return mapping.model_copy(update={"source": (path.parent / mapping.source).resolve()})


def _pydantic_message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (not part of the mapping format)"
    return error["msg"].removeprefix("Value error, ")


def _failed(path: Path, key: str, problem: str) -> ImportFailed:
    return ImportFailed([ImportProblem(path.name, None, key, None, problem)], source=str(path))
