"""The ledger contract: schema, loading, validation, summary and the synthetic sample ledger.

The names below are loaded on first use (PEP 562), so importing a light module of this package
(`ledger.atomic`, `ledger.schema`) does not load DuckDB or pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.issues import LedgerIssue, LedgerValidationError
    from ledger.loader import Ledger, ledger_from_frames, load_ledger
    from ledger.schema import TABLES

_HOMES = {
    "TABLES": "ledger.schema",
    "Ledger": "ledger.loader",
    "LedgerIssue": "ledger.issues",
    "LedgerValidationError": "ledger.issues",
    "ledger_from_frames": "ledger.loader",
    "load_ledger": "ledger.loader",
}
__all__ = ["TABLES", "Ledger", "LedgerIssue", "LedgerValidationError", "ledger_from_frames",
           "load_ledger"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
