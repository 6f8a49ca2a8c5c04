"""Load a ledger (folder of Parquet/CSV files, or a DuckDB database file) into typed tables.

Every contract table ends up as a DuckDB table of the same name with exactly the columns and
types of `ledger.schema`; optional tables and columns that are absent become empty / NULL.
Values that cannot be parsed are reported, never turned into NULL silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from ledger.issues import LedgerIssue, LedgerValidationError, collect
from ledger.schema import TABLES, Table
from ledger.validation import check_ledger

FILE_FORMATS = (".parquet", ".csv")
DATABASE_SUFFIXES = (".duckdb", ".db")


@dataclass
class Ledger:
    """A loaded ledger: typed contract tables inside a DuckDB connection."""

    con: duckdb.DuckDBPyConnection
    source: str
    present: frozenset[str]
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)

    def df(self, table: str) -> pd.DataFrame:
        """The whole table as a pandas DataFrame."""
        if table not in TABLES:
            raise KeyError(f"unknown ledger table {table!r}; expected one of {sorted(TABLES)}")
        return self.con.table(table).df()

    def rows(self, query: str) -> list[tuple]:
        """All rows of a query (runs it to completion, leaving no open result)."""
        return self.con.sql(query).fetchall()

    def scalar(self, query: str) -> object:
        """The single value of a one-row, one-column query."""
        return self.rows(query)[0][0]

    def count(self, table: str) -> int:
        """Number of rows in a table."""
        return self.scalar(f'SELECT count(*) FROM "{table}"')

    def close(self) -> None:
        """Release the DuckDB connection."""
        self.con.close()


def load_ledger(path: str | Path, *, validate: bool = True) -> Ledger:
    """Load and type the ledger at `path`; raise `LedgerValidationError` listing every problem.

    With `validate=False` only structure and parsing are checked (missing tables or columns,
    unparseable values), not the business rules of `ledger.validation`.
    """
    path = Path(path)
    con = duckdb.connect()
    try:
        sources = _register_raw_views(con, path)
    except LedgerValidationError:
        con.close()
        raise
    return _typed_ledger(con, str(path), sources, validate=validate)


def ledger_from_frames(frames: Mapping[str, pd.DataFrame], *, validate: bool = True) -> Ledger:
    """Build a ledger from in-memory DataFrames keyed by table name (tests, notebooks)."""
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown ledger tables {unknown}; expected some of {sorted(TABLES)}")
    con = duckdb.connect()
    for name, frame in frames.items():
        con.register(f"_frame_{name}", frame)
        con.execute(f'CREATE VIEW "raw_{name}" AS SELECT * FROM "_frame_{name}"')
    return _typed_ledger(con, "<frames>", {name: "<frame>" for name in frames}, validate=validate)


def _typed_ledger(
    con: duckdb.DuckDBPyConnection, source: str, sources: Mapping[str, str], *, validate: bool
) -> Ledger:
    """Type the raw views, then check them; close the connection and raise on any issue.

    Business rules run even when some values do not parse (those values are NULL in the typed
    tables, so no rule fires on them), but not when a table or column is missing.
    """
    ledger, structural, unparseable = _type_tables(con, source, sources)
    issues = structural + unparseable
    if validate and not structural:
        issues += check_ledger(ledger)
    if issues:
        con.close()
        raise LedgerValidationError(issues, source=source)
    return ledger


def _register_raw_views(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Create a view `raw_<table>` for every contract table found at `path`; return their files."""
    if not path.exists():
        raise LedgerValidationError(
            [LedgerIssue("*", "*", f"no ledger at {path} (expected a folder or a DuckDB file)")],
            source=str(path),
        )
    if path.is_file():
        if path.suffix not in DATABASE_SUFFIXES:
            raise LedgerValidationError(
                [LedgerIssue("*", "*", f"{path.name} is not a folder or a DuckDB database "
                             f"({', '.join(DATABASE_SUFFIXES)})")],
                source=str(path),
            )
        return _register_database(con, path)
    sources: dict[str, str] = {}
    ambiguous: list[LedgerIssue] = []
    for name in TABLES:
        found = [path / f"{name}{suffix}" for suffix in FILE_FORMATS if (path / f"{name}{suffix}")
                 .exists()]
        if len(found) > 1:
            ambiguous.append(LedgerIssue(name, "*", "both a Parquet and a CSV file exist "
                                         f"({', '.join(f.name for f in found)}); keep one"))
            continue
        if not found:
            continue
        file = found[0]
        reader = (f"read_parquet('{_quote(file)}')" if file.suffix == ".parquet"
                  else f"read_csv('{_quote(file)}', header = true, all_varchar = true)")
        try:
            con.execute(f'CREATE VIEW "raw_{name}" AS SELECT * FROM {reader}')
            con.sql(f'SELECT * FROM "raw_{name}" LIMIT 0').fetchall()
        except duckdb.Error as exc:
            ambiguous.append(LedgerIssue(name, "*", f"{file.name} cannot be read: {exc}"))
            continue
        sources[name] = file.name
    if ambiguous:
        raise LedgerValidationError(ambiguous, source=str(path))
    return sources


def _register_database(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Attach a DuckDB database read-only and expose its contract tables as raw views."""
    con.execute(f"ATTACH '{_quote(path)}' AS src (READ_ONLY)")
    existing = {row[0] for row in con.sql(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' "
        "UNION SELECT view_name FROM duckdb_views() WHERE database_name = 'src'").fetchall()}
    sources = {}
    for name in TABLES:
        if name in existing:
            con.execute(f'CREATE VIEW "raw_{name}" AS SELECT * FROM src."{name}"')
            sources[name] = f"{path.name}:{name}"
    return sources


def _type_tables(
    con: duckdb.DuckDBPyConnection, source: str, sources: Mapping[str, str]
) -> tuple[Ledger, list[LedgerIssue], list[LedgerIssue]]:
    """Create the typed contract tables; return the ledger, structural and parse issues."""
    structural: list[LedgerIssue] = []
    unparseable: list[LedgerIssue] = []
    ignored: dict[str, list[str]] = {}
    for table in TABLES.values():
        if table.name not in sources:
            if table.required:
                structural.append(LedgerIssue(table.name, "*", "required table is missing "
                                          f"(expected {table.name}.parquet or {table.name}.csv)"))
            _create_typed(con, table, available=set(), raw=False)
            continue
        available = set(con.table(f"raw_{table.name}").columns)
        missing = [c for c in table.required_columns if c not in available]
        for column in missing:
            structural.append(LedgerIssue(table.name, column, "required column is missing "
                                      f"(file {sources[table.name]} has: "
                                      f"{', '.join(sorted(available))})"))
        extra = sorted(available - set(table.column_names))
        if extra:
            ignored[table.name] = extra
        if missing:
            _create_typed(con, table, available=set(), raw=False)
            continue
        unparseable += _parse_issues(con, table, available)
        _create_typed(con, table, available=available, raw=True)
    ledger = Ledger(con=con, source=source, present=frozenset(sources), ignored_columns=ignored)
    return ledger, structural, unparseable


def _parse_issues(
    con: duckdb.DuckDBPyConnection, table: Table, available: set[str]
) -> list[LedgerIssue]:
    """Values that do not parse as their contract type, and empty required values."""
    issues = []
    key = table.key
    for column in table.columns:
        if column.name not in available:
            continue
        name, kind = column.name, column.duckdb_type
        issues += collect(
            con, table.name, name,
            f"value cannot be read as {column.type} ({kind})",
            f'SELECT "{key}", "{name}" FROM "raw_{table.name}" '
            f'WHERE "{name}" IS NOT NULL AND TRY_CAST("{name}" AS {kind}) IS NULL',
        )
        if column.required:
            issues += collect(
                con, table.name, name, "required value is empty",
                f'SELECT "{key}" FROM "raw_{table.name}" WHERE "{name}" IS NULL',
            )
    return issues


def _create_typed(
    con: duckdb.DuckDBPyConnection, table: Table, *, available: set[str], raw: bool
) -> None:
    """Create the typed table (empty when `raw` is false)."""
    selects = [
        f'TRY_CAST("{c.name}" AS {c.duckdb_type}) AS "{c.name}"' if c.name in available
        else f'CAST(NULL AS {c.duckdb_type}) AS "{c.name}"'
        for c in table.columns
    ]
    body = f'FROM "raw_{table.name}"' if raw else "LIMIT 0"
    con.execute(f'CREATE OR REPLACE TABLE "{table.name}" AS SELECT {", ".join(selects)} {body}')


def _quote(path: Path) -> str:
    """A path as the inside of a SQL string literal."""
    return str(path).replace("'", "''")
