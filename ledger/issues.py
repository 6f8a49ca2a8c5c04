"""Problems found in a ledger, each naming the table, the column and example rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class LedgerIssue:
    """One kind of problem in one column of one table, with how many rows and a few examples."""

    table: str
    column: str
    problem: str
    count: int = 0
    examples: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        where = self.table if self.column == "*" else f"{self.table}.{self.column}"
        text = self.problem if where == "*" else f"{where}: {self.problem}"
        if self.count:
            text += f" — {self.count} row{'s' if self.count != 1 else ''}"
        if self.examples:
            shown = "; ".join(
                ", ".join(f"{k}={_show(v)}" for k, v in example.items())
                for example in self.examples
            )
            more = f" (first {len(self.examples)})" if self.count > len(self.examples) else ""
            text += f", e.g.{more} {shown}"
        return text


class LedgerValidationError(ValueError):
    """Raised when a ledger breaks the contract; `issues` lists every problem found."""

    def __init__(self, issues: list[LedgerIssue], *, source: str) -> None:
        self.issues = issues
        self.source = source
        lines = [f"ledger {source} has {len(issues)} problem{'s' if len(issues) != 1 else ''}:"]
        lines += [f"  - {issue}" for issue in issues]
        super().__init__("\n".join(lines))


def collect(
    con: duckdb.DuckDBPyConnection, table: str, column: str, problem: str, query: str
) -> list[LedgerIssue]:
    """Run `query` (one row per offending row) and turn a non-empty result into one issue."""
    relation = con.sql(
        f"SELECT *, count(*) OVER () AS _total FROM ({query}) ORDER BY ALL LIMIT {MAX_EXAMPLES}"
    )
    names = relation.columns[:-1]
    rows = relation.fetchall()
    if not rows:
        return []
    examples = tuple(dict(zip(names, row[:-1], strict=True)) for row in rows)
    return [LedgerIssue(table, column, problem, rows[0][-1], examples)]


def _show(value: Any) -> str:
    """A value as it would appear in the source file."""
    return "(empty)" if value is None else str(value)
