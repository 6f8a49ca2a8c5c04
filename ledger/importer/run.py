"""The import from mapping file to ledger folder: read, convert, validate, write."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ledger.atomic import atomic_directory
from ledger.importer.columns import Converted
from ledger.importer.flat import flat_tables
from ledger.importer.mapping import ImportMapping, load_mapping
from ledger.importer.problems import ImportFailed, ImportProblem
from ledger.importer.readers import ReadOptions, read_export
from ledger.importer.tables import tables_from_files
from ledger.importer.values import ValueFormat
from ledger.issues import LedgerIssue, LedgerValidationError
from ledger.loader import ledger_from_frames
from ledger.schema import TABLES

IMPORT_NOTES = "import.json"
"""File beside the ledger's tables: the mapping, the export's files and what was assumed."""


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote: the folder, rows per table and what the mapping assumed."""

    out: Path
    rows: dict[str, int]
    assumptions: list[str]


def import_ledger(mapping_path: str | Path, out: str | Path, *,
                  source: str | Path | None = None) -> ImportResult:
    """Import the export described by the mapping file into the ledger folder `out`
    (replaced atomically); `source` overrides the mapping's. Raises `ImportFailed`."""
    mapping = load_mapping(mapping_path, source=source)
    options = ReadOptions(mapping.delimiter, mapping.encoding, mapping.sheet)
    fmt = ValueFormat(mapping.date_format, mapping.decimal, mapping.thousands,
                      mapping.true_values, mapping.false_values,
                      tuple((name, v.true, v.false) for name, v in mapping.values.items()))
    problems: list[ImportProblem] = []
    if mapping.layout == "flat":
        files = read_export(mapping.source, options)
        converted = flat_tables(files, mapping, fmt, problems)
    else:
        converted = tables_from_files(mapping, options, fmt, problems)
    if converted is None or problems:
        raise ImportFailed(problems, source=str(mapping.source))
    frames = {name: frame.reset_index(drop=True) for name, frame in converted.frames.items()}
    try:
        ledger = ledger_from_frames(frames)
    except LedgerValidationError as exc:
        raise ImportFailed([p for issue in exc.issues for p in _located(issue, converted)],
                           source=str(mapping.source)) from None
    out = Path(out)
    try:
        with atomic_directory(out) as staging:
            for name in frames:
                ledger.con.table(name).write_parquet(str(staging / f"{name}.parquet"))
            notes = _notes(mapping, Path(mapping_path), frames, converted.assumptions)
            (staging / IMPORT_NOTES).write_text(json.dumps(notes, indent=2, default=str) + "\n")
    finally:
        ledger.close()
    return ImportResult(out, {name: len(f) for name, f in frames.items()},
                        converted.assumptions)


def _located(issue: LedgerIssue, converted: Converted) -> list[ImportProblem]:
    """A contract problem as problems of the export rows it names (by its table's key)."""
    origin = converted.origin.get(issue.table, {})
    key = TABLES[issue.table].key if issue.table in TABLES else None
    located = []
    for example in issue.examples:
        where = origin.get(str(example.get(key)))
        shown = ", ".join(f"{k}={v}" for k, v in example.items())
        file, row = where if where else (f"ledger table {issue.table}", None)
        located.append(ImportProblem(file, row, issue.column, shown, issue.problem))
    if issue.count > len(issue.examples) or not issue.examples:
        located.append(ImportProblem(f"ledger table {issue.table}", None, issue.column, None,
                                     f"{issue.problem} ({issue.count} rows in all)"
                                     if issue.count else issue.problem))
    return located


def _notes(mapping: ImportMapping, mapping_path: Path, frames: dict[str, pd.DataFrame],
           assumptions: list[str]) -> dict:
    source = mapping.source
    files = sorted(source.iterdir()) if source.is_dir() else [source]
    return {
        "mapping": mapping_path.name,
        "layout": mapping.layout,
        "source": [{"file": f.name, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}
                   for f in files if f.is_file()],
        "rows": {name: len(frame) for name, frame in frames.items()},
        "assumptions": assumptions,
    }
