"""Remembered verdicts: a ledger whose files passed the contract's business rules is not checked
again while neither its files nor the rules change.

The business rules (`ledger.validation.check_ledger`, some 30 queries) are most of the time an
`o2c` command spends loading a large ledger (17 of 20 s on 10 million invoices). A verdict is
remembered as an empty file named by the SHA-256 of the ledger's contract files (their names
and bytes) and of the source of the modules that define the contract and its rules: any change
to a file or a rule gives another name, so the rules run again. Only passing verdicts are
remembered; a ledger with problems is checked, and its problems listed, every time. Structure
and types are always checked (`load_ledger(validate=False)` still refuses a missing table or an
unparseable value).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ledger import loader, schema, validation
from ledger.atomic import atomic_file
from ledger.digest import files_sha256
from ledger.loader import Ledger, load_ledger


def rules_version() -> str:
    """SHA-256 of the source of the contract's modules (schema, loader, rules)."""
    digest = hashlib.sha256()
    for module in (schema, loader, validation):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def ledger_digest(path: Path) -> str | None:
    """SHA-256 of the ledger's contract files and the rules; None when `path` is neither a
    folder nor a file (the loader says what is wrong)."""
    files = files_sha256(path)
    if files is None:
        return None
    return hashlib.sha256(f"{rules_version()}\0{files}".encode()).hexdigest()


def load_checked(path: str | Path, verdicts: Path | None) -> Ledger:
    """`load_ledger(path)`, skipping the business rules when `verdicts` (a folder) remembers
    that these files passed them, and remembering it when they pass now. Without `verdicts`,
    or when the folder cannot be written, the rules simply run."""
    path = Path(path)
    try:
        digest = ledger_digest(path) if verdicts is not None else None
    except OSError:  # unreadable: the loader names the problem
        digest = None
    if digest is None:
        return load_ledger(path)
    marker = verdicts / f"{digest}.passed"
    if marker.exists():
        return load_ledger(path, validate=False)
    ledger = load_ledger(path)
    try:
        with atomic_file(marker) as temporary:
            Path(temporary).write_text(f"{path.resolve()}\n")
    except OSError:
        pass  # a read-only work folder: the rules run again next time
    return ledger
