"""The ledger contract: schema, loading, validation, summary and the synthetic sample ledger."""

from ledger.issues import LedgerIssue, LedgerValidationError
from ledger.loader import Ledger, ledger_from_frames, load_ledger
from ledger.schema import TABLES

__all__ = [
    "TABLES",
    "Ledger",
    "LedgerIssue",
    "LedgerValidationError",
    "ledger_from_frames",
    "load_ledger",
]
