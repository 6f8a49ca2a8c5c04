"""Import a real receivables export into a validated ledger folder, by a mapping file.

`import_ledger(mapping, out)` reads the export the mapping describes (`ledger.importer.
mapping`), parses every value (`values`), builds the contract tables (`flat` or `tables`
layout), validates them as `o2c validate` would, and writes the ledger's Parquet files and
`import.json` (what the mapping assumed) into `out`, atomically. Any problem raises
`ImportFailed` naming the export's file, row, column and value; nothing is written then.
"""

from __future__ import annotations

from ledger.importer.problems import ImportFailed, ImportProblem, write_report
from ledger.importer.run import IMPORT_NOTES, ImportResult, import_ledger

__all__ = ["IMPORT_NOTES", "ImportFailed", "ImportProblem", "ImportResult", "import_ledger",
           "write_report"]
