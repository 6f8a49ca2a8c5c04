"""Picking and parsing the mapped columns of an export, every unreadable value reported."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from ledger.importer.problems import ImportProblem
from ledger.importer.readers import Export, delimiter_hint
from ledger.importer.values import AmbiguousDates, ValueFormat, parse


@dataclass
class Converted:
    """Contract tables made from an export, where each of their rows came from, and what the
    import assumed."""

    frames: dict[str, pd.DataFrame]
    origin: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)


def pick(
    export: Export, wanted: Mapping[str, str], kinds: Mapping[str, str], fmt: ValueFormat,
    problems: list[ImportProblem], *, delimiter: str = ",",
) -> pd.DataFrame:
    """Contract columns (`wanted`: contract name -> export column) parsed by `kinds`.

    A mapped column the export lacks, and every value that cannot be read, is added to
    `problems`; such a column is all None in the result.
    """
    frame = export.frame
    out = pd.DataFrame(index=frame.index)
    hint = delimiter_hint(frame.columns, delimiter)
    for name, column in wanted.items():
        if column not in frame.columns:
            shown = ", ".join(map(str, frame.columns[:30]))
            problems.append(ImportProblem(str(export.files[0]), 1, column, None,
                                          f"mapped column for {name} is missing (the header "
                                          f"has: {shown}){hint}"))
            out[name] = pd.Series(None, index=frame.index, dtype=object)
            continue
        try:
            parsed = parse(frame[column], kinds.get(name, "text"), fmt.for_column(name))
        except AmbiguousDates as exc:
            problems.append(ImportProblem(str(export.files[0]), None, column, None, str(exc)))
            out[name] = pd.Series(None, index=frame.index, dtype=object)
            continue
        for position in parsed.bad.nonzero()[0]:
            problems.append(export.problem(position, column, frame[column].iat[position],
                                           f"cannot be read as {name}: expected "
                                           f"{parsed.expected}"))
        out[name] = parsed.values
    return out


def require_values(
    export: Export, frame: pd.DataFrame, wanted: Mapping[str, str], required: list[str],
    problems: list[ImportProblem],
) -> None:
    """An empty value in a required contract column is a problem of its export row."""
    for name in required:
        if name not in wanted or wanted[name] not in export.frame.columns:
            continue
        raw = export.frame[wanted[name]]
        for position in (frame[name].isna() & ~_was_bad(raw, frame[name])).to_numpy().nonzero()[0]:
            problems.append(export.problem(position, wanted[name], None,
                                           f"is empty (required for {name})"))


def _was_bad(raw: pd.Series, parsed: pd.Series) -> pd.Series:
    """Values that were there but could not be read (already reported)."""
    text = raw.map(lambda v: bool(str(v).strip()) if v is not None else False)
    return text & raw.notna() & parsed.isna()


def report_duplicates(export: Export, ids: pd.Series, column: str, what: str,
                      problems: list[ImportProblem]) -> None:
    """Every row whose id another row has too, naming the other rows."""
    positions = pd.Series(range(len(ids)), index=ids.index)[ids.notna() & ids.duplicated(
        keep=False)]
    for _, group in positions.groupby(ids[positions.index], sort=False):
        rows = [int(export.rows[p]) for p in group]
        for position, row in zip(group, rows, strict=True):
            others = ", ".join(str(r) for r in rows[:6] if r != row)
            problems.append(export.problem(position, column, ids.iat[position],
                                           f"is a duplicate {what} (also on row {others})"))


def origin_of(export: Export, ids: pd.Series, index: pd.Index | None = None
              ) -> dict[str, tuple[str, int]]:
    """Export file and row of each id (`index`: the rows' positions, default `ids.index`)."""
    positions = ids.index if index is None else index
    return {str(i): (str(export.files[p]), int(export.rows[p]))
            for i, p in zip(ids, positions, strict=True)}
