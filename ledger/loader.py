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

from ledger.csv_source import UnreadableFile, load_csv
from ledger.issues import LedgerIssue, LedgerValidationError, collect
from ledger.schema import CSV_FORMATS, TABLES, Column, Table
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
    return _typed_ledger(con, str(path), sources, validate=validate, require_rows=True)


def ledger_from_frames(frames: Mapping[str, pd.DataFrame], *, validate: bool = True) -> Ledger:
    """Build a ledger from in-memory DataFrames keyed by table name (tests, notebooks)."""
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown ledger tables {unknown}; expected some of {sorted(TABLES)}")
    con = duckdb.connect()
    for name, frame in frames.items():
        con.register(f"_frame_{name}", frame)
        con.execute(f'CREATE VIEW "raw_{name}" AS SELECT * FROM "_frame_{name}"')
    return _typed_ledger(con, "<frames>", {name: "<frame>" for name in frames}, validate=validate,
                         require_rows=False)


def _typed_ledger(
    con: duckdb.DuckDBPyConnection, source: str, sources: Mapping[str, str], *, validate: bool,
    require_rows: bool,
) -> Ledger:
    """Type the raw views, then check them; close the connection and raise on any issue.

    Business rules run even when some values do not parse (those values are NULL in the typed
    tables, so no rule fires on them), but not when a table or column is missing. With
    `require_rows` (a ledger read from files), a required table without rows is an issue.
    """
    ledger, structural, unparseable = _type_tables(con, source, sources,
                                                   require_rows=require_rows)
    for name, file in sources.items():
        if file.endswith(".csv"):
            con.execute(f'DROP TABLE "raw_{name}"')
    issues = structural + unparseable
    if validate and not structural:
        issues += check_ledger(ledger)
    if issues:
        con.close()
        raise LedgerValidationError(issues, source=source)
    return ledger


def _register_raw_views(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Create `raw_<table>` for every contract table found at `path`; return their sources.

    A CSV file becomes a table of text columns (read once, so every check reads memory, not
    the file); a Parquet file or a database table becomes a view.
    """
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
    unreadable: list[LedgerIssue] = []
    for name in TABLES:
        found = [path / f"{name}{suffix}" for suffix in FILE_FORMATS if (path / f"{name}{suffix}")
                 .exists()]
        if len(found) > 1:
            unreadable.append(LedgerIssue(name, "*", "both a Parquet and a CSV file exist "
                                          f"({', '.join(f.name for f in found)}); keep one"))
            continue
        if not found:
            continue
        try:
            _register_file(con, found[0], f"raw_{name}")
        except UnreadableFile as exc:
            unreadable.append(LedgerIssue(name, "*", str(exc)))
            continue
        sources[name] = found[0].name
    if unreadable:
        raise LedgerValidationError(unreadable, source=str(path))
    return sources


def _register_file(con: duckdb.DuckDBPyConnection, file: Path, raw: str) -> None:
    """Make `raw` hold the rows of one CSV or Parquet file; `UnreadableFile` if it cannot."""
    if file.suffix == ".csv":
        load_csv(con, file, raw)
        return
    try:
        con.execute(f'CREATE VIEW "{raw}" AS SELECT * FROM read_parquet(\'{_quote(file)}\')')
        con.sql(f'SELECT * FROM "{raw}" LIMIT 0').fetchall()
    except duckdb.Error as exc:
        raise UnreadableFile(f"{file.name} cannot be read as Parquet: "
                             f"{_first_line(exc)}") from None


def _register_database(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Attach a DuckDB database read-only and expose its contract tables as raw views."""
    try:
        con.execute(f"ATTACH '{_quote(path)}' AS src (READ_ONLY)")
    except duckdb.Error as exc:
        raise LedgerValidationError(
            [LedgerIssue("*", "*", f"{path.name} cannot be opened as a DuckDB database: "
                         f"{_first_line(exc)}")],
            source=str(path),
        ) from None
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
    con: duckdb.DuckDBPyConnection, source: str, sources: Mapping[str, str], *,
    require_rows: bool,
) -> tuple[Ledger, list[LedgerIssue], list[LedgerIssue]]:
    """Create the typed contract tables; return the ledger, structural and content issues."""
    structural: list[LedgerIssue] = []
    content: list[LedgerIssue] = []
    ignored: dict[str, list[str]] = {}
    in_database = Path(source).suffix in DATABASE_SUFFIXES
    for table in TABLES.values():
        if table.name not in sources:
            if table.required:
                expected = (f"a table {table.name} in {Path(source).name}" if in_database
                            else f"{table.name}.parquet or {table.name}.csv")
                structural.append(LedgerIssue(table.name, "*", "required table is missing "
                                              f"(expected {expected})"))
            _create_typed(con, table, available=set(), raw=False)
            continue
        available = set(con.table(f"raw_{table.name}").columns)
        missing = [c for c in table.required_columns if c not in available]
        for column in missing:
            structural.append(LedgerIssue(table.name, column, "required column is missing "
                                      f"({sources[table.name]} has: "
                                      f"{', '.join(sorted(available))})"))
        extra = sorted(available - set(table.column_names))
        if extra:
            ignored[table.name] = extra
        if missing:
            _create_typed(con, table, available=set(), raw=False)
            continue
        content += _repeated_header(con, table)
        content += _parse_issues(con, table, available)
        _create_typed(con, table, available=available, raw=True)
        empty = not con.sql(f'SELECT 1 FROM "{table.name}" LIMIT 1').fetchall()
        if require_rows and table.required and empty:
            content.append(LedgerIssue(table.name, "*", f"{sources[table.name]} has no rows "
                                       "(expected at least one row)"))
    ledger = Ledger(con=con, source=source, present=frozenset(sources), ignored_columns=ignored)
    return ledger, structural, content


def _repeated_header(con: duckdb.DuckDBPyConnection, table: Table) -> list[LedgerIssue]:
    """Rows whose required values are the column names: a header row repeated in the data."""
    same = " AND ".join(f"CAST(\"{c}\" AS VARCHAR) = '{c}'" for c in table.required_columns)
    return collect(con, table.name, "*", "row repeats the header row (files joined together?)",
                   f'SELECT "{table.key}" FROM "raw_{table.name}" WHERE {same}')


def _parse_issues(
    con: duckdb.DuckDBPyConnection, table: Table, available: set[str]
) -> list[LedgerIssue]:
    """Values that do not parse as their contract type, and empty required values."""
    issues = []
    key = table.key
    for column in table.columns:
        if column.name not in available:
            continue
        name = column.name
        issues += collect(
            con, table.name, name,
            f"value cannot be read as {column.type} (expected {CSV_FORMATS[column.type]})",
            f'SELECT "{key}", "{name}" FROM "raw_{table.name}" '
            f'WHERE "{name}" IS NOT NULL AND NOT ({_parses(column)})',
        )
        if column.required:
            issues += collect(
                con, table.name, name, "required value is empty",
                f'SELECT "{key}" FROM "raw_{table.name}" WHERE "{name}" IS NULL',
            )
    return issues


def _parses(column: Column) -> str:
    """SQL that is true when a non-NULL raw value is a value of the column's type.

    A whole number must be one: DuckDB would round 1.5 to 2 when casting it to INTEGER.
    """
    cast = f'TRY_CAST("{column.name}" AS {column.duckdb_type})'
    if column.type == "int":
        return f'{cast} IS NOT NULL AND TRY_CAST("{column.name}" AS DOUBLE) = {cast}'
    return f"{cast} IS NOT NULL"


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


def _first_line(exc: Exception) -> str:
    """The first line of an error's message (DuckDB's go on with hints and SQL)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
