"""Reference and current windows: the invoices issued in a period, as the model saw them.

A window's frame has one row per invoice issued in [start, end] (both inclusive) with
- the features as of its issue date (`features.build_invoice_features`, completed with the
  invoice-state columns at issue, exactly as the training examples at issue);
- `score`, the champion's calibrated probability of late payment;
- `matured` and `late`: the outcome as known at the ledger's end, by the training rule
  (`training.examples.label_outcomes`): an invoice counts as matured once its due date plus
  grace lies before the ledger's end; `late` is missing for the others;
- `settled_by_end`: the invoice was settled before the ledger's end (for the label delay).

Nothing dated after the ledger's end exists, and no feature uses a fact dated on or after
the invoice's issue date, so a window's features and scores do not depend on what happened
after it; only its labels do, and only once they have matured.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import build_invoice_features
from ledger.loader import Ledger
from ledger.summary import ledger_end
from models.risk_model import RiskModel
from training.examples import STATE_AT_ISSUE, invoice_outcomes, issue_examples, label_outcomes

LABEL_COLUMNS = ("score", "matured", "late", "settled_by_end")
"""Columns a window frame adds to the features."""


@dataclass(frozen=True)
class Window:
    """A period of issue dates, both ends inclusive."""

    name: str
    """`reference` or `current`; used in messages and file names."""
    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the {self.name} window ends ({self.end}) before it starts "
                             f"({self.start})")

    def as_dict(self) -> dict[str, str]:
        """The window for JSON: `from`, `to` as ISO dates."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def monitored_features(model: RiskModel) -> list[str]:
    """The model's features whose value at issue varies: the invoice-state columns are
    constants at issue and are left out."""
    return [f for f in model.features if f not in STATE_AT_ISSUE]


def outcomes_at_end(ledger: Ledger, *, grace_days: int) -> tuple[dt.date, pd.DataFrame]:
    """The ledger's end and every invoice's outcome known by then (`matured`, `late`)."""
    end = ledger_end(ledger)
    if end is None:
        raise ValueError("the ledger has no dated facts")
    labelled = label_outcomes(invoice_outcomes(ledger, known_before=end), cutoff=end,
                              grace_days=grace_days)
    labelled["settled_by_end"] = labelled["settle_date"].notna()
    return end, labelled[["invoice_id", "matured", "late", "settled_by_end"]]


def window_frame(
    ledger: Ledger, window: Window, model: RiskModel, outcomes: pd.DataFrame
) -> pd.DataFrame:
    """Features at issue, champion score and matured labels of the invoices in `window`."""
    features = build_invoice_features(ledger, start=window.start,
                                      end=window.end + dt.timedelta(days=1))
    if features.empty:
        raise ValueError(f"no invoices issued in the {window.name} window "
                         f"({window.start} to {window.end})")
    rows = issue_examples(features)
    rows["score"] = model.predict_proba(rows)
    position = pd.Index(outcomes["invoice_id"]).get_indexer(rows["invoice_id"])
    known = position >= 0
    matured = np.zeros(len(rows), dtype=bool)
    matured[known] = outcomes["matured"].to_numpy(dtype=bool)[position[known]]
    late = np.full(len(rows), np.nan)
    late[matured] = outcomes["late"].to_numpy(dtype=float)[position[matured]]
    settled = np.zeros(len(rows), dtype=bool)
    settled[known] = outcomes["settled_by_end"].to_numpy(dtype=bool)[position[known]]
    rows["matured"] = matured
    rows["late"] = late
    rows["settled_by_end"] = settled
    return rows
