"""What an import found wrong: each problem names the export file, row, column and value."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from ledger.atomic import atomic_file

SHOWN_PER_KIND = 5
"""Rows shown per kind of problem in the message; `--report` holds all of them."""


@dataclass(frozen=True)
class ImportProblem:
    """One value (or column, or mapping key) that cannot be imported, and why.

    `row` is the row as a spreadsheet shows it (the header is row 1; a Parquet file's first
    record is row 1), or None for a problem of a whole column, file or mapping key.
    """

    file: str
    row: int | None
    column: str
    value: str | None
    problem: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file} row {self.row}"
        value = "" if self.value is None else f" {self.value!r}"
        return f"{where}, column {self.column}:{value} {self.problem}"


class ImportFailed(ValueError):
    """Raised when an export cannot be imported; `problems` lists every problem found."""

    def __init__(self, problems: list[ImportProblem], *, source: str) -> None:
        self.problems = problems
        self.source = source
        super().__init__(_message(problems, source))


def _message(problems: list[ImportProblem], source: str) -> str:
    """Problems grouped by file, column and kind, each group with its first rows."""
    groups: dict[tuple[str, str, str], list[ImportProblem]] = defaultdict(list)
    for problem in problems:
        groups[(problem.file, problem.column, problem.problem)].append(problem)
    count = len(problems)
    lines = [f"cannot import {source}: {count} problem{'s' if count != 1 else ''}:"]
    for (file, column, what), group in groups.items():
        if len(group) == 1:
            lines.append(f"  - {group[0]}")
            continue
        shown = ", ".join(f"row {p.row} {p.value!r}" if p.value is not None else f"row {p.row}"
                          for p in group[:SHOWN_PER_KIND])
        more = f" (first {SHOWN_PER_KIND})" if len(group) > SHOWN_PER_KIND else ""
        lines.append(f"  - {file}, column {column}: {what} — {len(group)} rows, e.g.{more} "
                     f"{shown}")
    return "\n".join(lines)


def write_report(problems: list[ImportProblem], path: str | Path) -> None:
    """Every problem as a CSV row (file, row, column, value, problem), written atomically."""
    with atomic_file(path) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields(ImportProblem)])
        writer.writerows(astuple(p) for p in problems)
