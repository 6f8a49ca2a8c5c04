"""Exact population stability index per column, over all rows, in DuckDB.

PSI = sum over bins of (c - r) * ln(c / r), where r and c are the shares of the reference and
current rows in a bin. Bins come from the reference alone:

- numeric columns: edges at the 1/n, 2/n, ... (n-1)/n quantiles of the reference values
  (`quantile_disc`, so edges are observed values; repeated edges merge, so a column that is
  mostly 0 gets fewer bins); a bin holds the values up to and including its upper edge, the
  last bin everything above the top edge; missing values (NULL or NaN) are a bin of their own
  (see `numeric_edges` on NaN);
- categorical columns: one bin per reference category, one for values the reference never
  had, one for missing.

An empty bin's share is floored at `EMPTY_SHARE` so that the logarithm stays finite. Counting
is one pass per table (an UNPIVOT of the bin indices, grouped), so the figures are exact
whatever the number of rows. Common reading: < 0.1 stable, 0.1-0.25 moderate, > 0.25 large.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

EMPTY_SHARE = 1e-4
"""Share used in place of 0 for a bin that is empty in one of the two tables."""

MISSING_BIN = -1
"""Bin index of missing values."""

UNSEEN_BIN = 10_000
"""Bin index of categories the reference does not have."""

PSI_COLUMNS = ("column", "kind", "psi", "bins", "reference_rows", "current_rows")


def psi_from_counts(reference: Sequence[float], current: Sequence[float]) -> float:
    """PSI of two aligned vectors of bin counts (shares are taken here; empty bins floored)."""
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    if r.shape != c.shape or r.ndim != 1 or r.size == 0:
        raise ValueError(f"bin counts must be two non-empty vectors of one length, got "
                         f"{r.shape} and {c.shape}")
    if r.sum() <= 0 or c.sum() <= 0:
        raise ValueError("each table needs at least one row to compare")
    r_share = np.maximum(r / r.sum(), EMPTY_SHARE)
    c_share = np.maximum(c / c.sum(), EMPTY_SHARE)
    return float(np.sum((c_share - r_share) * np.log(c_share / r_share)))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    number = float(value)
    return repr(number) if math.isfinite(number) else f"'{number}'::DOUBLE"


def numeric_edges(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], n_bins: int
) -> dict[str, list[float]]:
    """Distinct inner bin edges per numeric column: quantiles of the reference's values.

    NULLs are ignored. (DuckDB reads pandas NaN as NULL; a NaN that reaches here, e.g. from
    Parquet, sorts above every number, and a NaN edge is dropped: the bins stay quantile bins
    of the reference, only coarser. Filtering NaN inside the aggregate triples its time.)
    """
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins!r}")
    if not columns:
        return {}
    probabilities = ", ".join(f"{k / n_bins:.6f}" for k in range(1, n_bins))
    selects = ", ".join(f"quantile_disc(CAST({_quote(c)} AS DOUBLE), [{probabilities}])"
                        for c in columns)
    row = con.sql(f"SELECT {selects} FROM {table}").fetchall()[0]
    return {c: sorted({float(v) for v in (values or []) if v is not None and math.isfinite(v)})
            for c, values in zip(columns, row, strict=True)}


def categorical_levels(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]
) -> dict[str, list[str]]:
    """The reference's categories per column, sorted."""
    levels = {}
    for column in columns:
        rows = con.sql(f"SELECT DISTINCT CAST({_quote(column)} AS VARCHAR) AS v FROM {table} "
                       f"WHERE {_quote(column)} IS NOT NULL ORDER BY v").fetchall()
        levels[column] = [r[0] for r in rows]
    return levels


def _numeric_bin(column: str, edges: list[float]) -> str:
    x = f"CAST({_quote(column)} AS DOUBLE)"
    cases = " ".join(f"WHEN {x} <= {_literal(e)} THEN {i}" for i, e in enumerate(edges))
    return (f"CASE WHEN {x} IS NULL OR isnan({x}) THEN {MISSING_BIN} {cases} "
            f"ELSE {len(edges)} END")


def _categorical_bin(column: str, levels: list[str]) -> str:
    x = f"CAST({_quote(column)} AS VARCHAR)"
    cases = " ".join(f"WHEN {_literal(v)} THEN {i}" for i, v in enumerate(levels))
    inner = f"CASE {x} {cases} ELSE {UNSEEN_BIN} END" if levels else str(UNSEEN_BIN)
    return f"CASE WHEN {x} IS NULL THEN {MISSING_BIN} ELSE {inner} END"


def _bin_counts(
    con: duckdb.DuckDBPyConnection, table: str, expressions: dict[str, str]
) -> pd.DataFrame:
    """Rows per (column, bin) of `table`, one pass."""
    binned = ", ".join(f"CAST({expr} AS INTEGER) AS {_quote(name)}"
                       for name, expr in expressions.items())
    return con.sql(f"""
        SELECT name AS column, bin, count(*) AS n FROM (
            UNPIVOT (SELECT {binned} FROM {table})
            ON COLUMNS(*) INTO NAME name VALUE bin)
        GROUP BY ALL""").df()


def population_stability(
    con: duckdb.DuckDBPyConnection, reference: str, current: str, *,
    numeric: Sequence[str] = (), categorical: Sequence[str] = (), n_bins: int = 10,
) -> pd.DataFrame:
    """PSI of every column between two tables (or views) of `con`, over all their rows.

    Returns one row per column, in the order given (numeric first): `column`, `kind`, `psi`,
    `bins` (bins the reference defines, the missing bin included), `reference_rows`,
    `current_rows`.
    """
    overlap = set(numeric) & set(categorical)
    if overlap:
        raise ValueError(f"columns both numeric and categorical: {sorted(overlap)}")
    columns = [*numeric, *categorical]
    if not columns:
        raise ValueError("no columns to compare: pass numeric and/or categorical column names")
    n_ref = con.sql(f"SELECT count(*) FROM {reference}").fetchall()[0][0]
    n_cur = con.sql(f"SELECT count(*) FROM {current}").fetchall()[0][0]
    if n_ref == 0 or n_cur == 0:
        raise ValueError(f"cannot compare an empty table: reference has {n_ref} rows, "
                         f"current {n_cur}")
    edges = numeric_edges(con, reference, numeric, n_bins)
    levels = categorical_levels(con, reference, categorical)
    expressions = {c: _numeric_bin(c, edges[c]) for c in numeric}
    expressions.update({c: _categorical_bin(c, levels[c]) for c in categorical})
    ref_counts = _bin_counts(con, reference, expressions)
    cur_counts = _bin_counts(con, current, expressions)
    merged = ref_counts.merge(cur_counts, on=["column", "bin"], how="outer",
                              suffixes=("_ref", "_cur")).fillna(0)
    rows = []
    for column in columns:
        part = merged[merged["column"] == column]
        defined = len(edges[column]) + 2 if column in edges else len(levels[column]) + 2
        rows.append({"column": column, "kind": "numeric" if column in edges else "categorical",
                     "psi": psi_from_counts(part["n_ref"], part["n_cur"]), "bins": defined,
                     "reference_rows": int(n_ref), "current_rows": int(n_cur)})
    return pd.DataFrame(rows, columns=list(PSI_COLUMNS))
