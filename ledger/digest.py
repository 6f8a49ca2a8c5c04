"""SHA-256 of a ledger's content: what runs, snapshots and remembered verdicts compare."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ledger.loader import Ledger
from ledger.schema import TABLES


def files_sha256(path: Path) -> str | None:
    """SHA-256 of the contract files at `path` (a folder's table files by name, or one
    database file): their names and bytes, read in blocks; None when `path` is neither."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.stem in TABLES)
    elif path.is_file():
        files = [path]
    else:
        return None
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0")
        with file.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def content_sha256(ledger: Ledger) -> str:
    """SHA-256 of the ledger's files, or of its tables' rows when it has no files."""
    from_files = files_sha256(Path(ledger.source))
    if from_files is not None:
        return from_files
    digest = hashlib.sha256()
    for table in TABLES:
        digest.update(str(ledger.rows(f"SELECT * FROM {table} ORDER BY ALL")).encode())
    return digest.hexdigest()
