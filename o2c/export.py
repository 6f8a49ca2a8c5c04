"""Rows of the worklist or the limits written to a .csv or .parquet file for people to open.

CSV cells that a spreadsheet would run as a formula are escaped (OWASP, CSV injection): text
starting with = + - @, a tab or a carriage return gets a leading `'`, unless it is a plain
number such as `-12.5`. Numeric columns are written as numbers, negative ones too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import typer

from ledger.atomic import atomic_file

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(value: object) -> object:
    """`value`, with a leading `'` if it is text a spreadsheet would read as a formula."""
    if (isinstance(value, str) and value.startswith(FORMULA_STARTS)
            and not PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def csv_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """`rows` as CSV cells: lists become JSON text, then every text cell `spreadsheet_safe`."""
    flat = rows.copy()
    for column in flat.columns:
        if pd.api.types.is_numeric_dtype(flat[column]):
            continue
        if flat[column].map(lambda v: isinstance(v, list | tuple) or hasattr(v, "tolist")).any():
            flat[column] = flat[column].map(lambda v: json.dumps(list(v), default=str))
        flat[column] = flat[column].map(spreadsheet_safe)
    return flat


def write_rows(rows: pd.DataFrame, out: Path | None) -> None:
    """Write rows to `out` (.csv or .parquet) atomically; nothing when `out` is None."""
    if out is None:
        return
    if out.suffix not in (".csv", ".parquet"):
        raise typer.BadParameter(f"expected a .csv or .parquet file, got {out}",
                                 param_hint="--out")
    with atomic_file(out) as temporary:
        if out.suffix == ".parquet":
            rows.to_parquet(temporary, index=False)
        else:
            csv_frame(rows).to_csv(temporary, index=False)
