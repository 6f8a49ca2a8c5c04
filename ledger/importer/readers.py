"""Reading an export as it is: CSV as text, Excel and Parquet with their own cell types.

Every row keeps its file and its row number as a spreadsheet shows it (header = row 1), so
each problem can name where it is.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ledger.importer.problems import ImportFailed, ImportProblem

SUFFIXES = (".csv", ".xlsx", ".parquet")
_LIKELY_DELIMITERS = (";", "\t", "|", ",")


@dataclass(frozen=True)
class Export:
    """Rows of one or more export files: the frame as read, and where each row came from."""

    frame: pd.DataFrame
    files: np.ndarray
    rows: np.ndarray

    def problem(self, position: int, column: str, value: object, problem: str) -> ImportProblem:
        """A problem of the value at `position` (0-based row of the frame) in `column`."""
        shown = None if value is None or (isinstance(value, float) and np.isnan(value)) \
            else str(value)
        return ImportProblem(str(self.files[position]), int(self.rows[position]), column, shown,
                             problem)


@dataclass(frozen=True)
class ReadOptions:
    """CSV and Excel details from the mapping."""

    delimiter: str = ","
    encoding: str = "utf-8-sig"
    sheet: str | None = None


def read_export(path: Path, options: ReadOptions) -> Export:
    """Read a file, or every export file of a folder (by name), as one table."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise _failed(path.name, f"folder holds no {', '.join(SUFFIXES)} file")
        parts = [read_file(f, options) for f in files]
        columns = list(parts[0].frame.columns)
        for file, part in zip(files[1:], parts[1:], strict=True):
            if list(part.frame.columns) != columns:
                raise _failed(file.name, f"its columns differ from {files[0].name}'s "
                              f"({', '.join(columns)})")
        return Export(pd.concat([p.frame for p in parts], ignore_index=True),
                      np.concatenate([p.files for p in parts]),
                      np.concatenate([p.rows for p in parts]))
    return read_file(path, options)


def read_file(path: Path, options: ReadOptions) -> Export:
    """One export file, by its suffix."""
    if not path.exists():
        raise _failed(path.name, f"no such file or folder: {path}")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise _failed(path.name, f"cannot read {suffix or 'a file without suffix'} "
                      f"(expected {', '.join(SUFFIXES)})")
    reader = {".csv": _read_csv, ".xlsx": _read_xlsx, ".parquet": _read_parquet}[suffix]
    frame, first_row = reader(path, options)
    if frame.empty:
        raise _failed(path.name, "holds no rows" if len(frame.columns) else "is empty")
    _check_header(path.name, frame.columns)
    return Export(frame.reset_index(drop=True), np.full(len(frame), path.name, dtype=object),
                  np.arange(first_row, first_row + len(frame)))


def _read_csv(path: Path, options: ReadOptions) -> tuple[pd.DataFrame, int]:
    """Every field as text; a record with another number of fields than the header, or a
    file that is not text in the mapping's encoding, is refused naming the row."""
    try:
        with path.open(newline="", encoding=options.encoding) as handle:
            records = list(csv.reader(handle, delimiter=options.delimiter, strict=True))
    except csv.Error as exc:
        raise _failed(path.name, f"cannot be read as CSV separated by "
                      f"{options.delimiter!r}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise _failed(path.name, f"is not {options.encoding} text ({exc.reason} at byte "
                      f"{exc.start}); set encoding in the mapping") from None
    while records and not any(field.strip() for field in records[-1]):
        records.pop()
    if not records:
        return pd.DataFrame(), 2
    header, body = [c.strip() for c in records[0]], records[1:]
    wrong = [ImportProblem(path.name, row, "*", None,
                           f"has {len(record)} fields, the header {len(header)} (separated by "
                           f"{options.delimiter!r})")
             for row, record in enumerate(body, start=2) if len(record) != len(header)]
    if wrong:
        raise ImportFailed(wrong, source=str(path))
    return pd.DataFrame(body, columns=header, dtype=object), 2


def _read_xlsx(path: Path, options: ReadOptions) -> tuple[pd.DataFrame, int]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise _failed(path.name, f"cannot be read as an Excel workbook: {exc}") from None
    try:
        if options.sheet is not None and options.sheet not in book.sheetnames:
            raise _failed(path.name, f"has no sheet {options.sheet!r} (sheets: "
                          f"{', '.join(book.sheetnames)})")
        sheet = book[options.sheet] if options.sheet else book.worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
    finally:
        book.close()
    if not rows:
        return pd.DataFrame(), 2
    header = ["" if v is None else str(v).strip() for v in rows[0]]
    body = [row for row in rows[1:]]
    while body and all(v is None for v in body[-1]):
        body.pop()
    return pd.DataFrame(body, columns=header, dtype=object), 2


def _read_parquet(path: Path, options: ReadOptions) -> tuple[pd.DataFrame, int]:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several kinds for a file that is not Parquet
        raise _failed(path.name, f"cannot be read as Parquet: {exc}") from None
    return frame.astype(object), 1


def _check_header(name: str, columns: pd.Index) -> None:
    blank = [i + 1 for i, c in enumerate(columns) if not str(c).strip()]
    if blank:
        raise _failed(name, f"header has empty column names (columns {blank})")
    duplicated = sorted({str(c) for c in columns if list(columns).count(c) > 1})
    if duplicated:
        raise _failed(name, f"header repeats column names {duplicated}")


def delimiter_hint(columns: pd.Index, delimiter: str) -> str:
    """A hint when a one-column header looks separated by another delimiter."""
    if len(columns) != 1:
        return ""
    header = str(columns[0])
    for other in _LIKELY_DELIMITERS:
        if other != delimiter and other in header:
            return (f"; the header is one column {header[:60]!r}: is the file separated by "
                    f"{other!r}? set delimiter = {other!r} in the mapping")
    return ""


def _failed(name: str, problem: str) -> ImportFailed:
    return ImportFailed([ImportProblem(name, None, "*", None, problem)], source=name)
