"""The collections model: will an invoice open today still be unpaid 30 days from now?

The late-payment model answers "paid after its due date?", which is trivially yes for an
invoice already overdue. Collectors need the other question: of what is open at an as-of date
A, what will NOT be paid anyway within the next `horizon_days` (30)? That probability times
the open amount is the amount at risk the worklist ranks by.

Examples: `build_snapshot` at periodic as-of dates A (every open invoice, overdue or not),
label `unpaid_30d` := not settled by A + horizon (the settlement date of `invoice_settlements`, the
first day payments plus credit notes cover the amount, is on or after A + horizon, or there
is none). An example is matured as of a cut-off C when A + horizon <= C: its label then uses
only facts dated before C. Out of time, given `valid_from` V and the ledger's end E: training
as of dates with A + horizon <= V (labels from facts before V), validation as of dates in
[V, E - horizon] (labels from facts before E).

`collections_training_set` builds training examples alone (the back-test fits them with the
task's `training.trainer.fit_model`, without MLflow); `collections_task_examples` feeds the
task (`training.tasks.COLLECTIONS`) that trains, judges and registers the model
(`training.trainer`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import build_snapshot, invoice_settlements
from ledger.loader import Ledger
from ledger.summary import ledger_end
from training.config import TrainingConfig
from training.examples import ExampleSet, TaskExamples, snapshot_dates

COLLECTIONS_MODEL_NAME = "collections-risk"
LABEL = "unpaid_30d"
"""The label: still unpaid `HORIZON_DAYS` after the as-of date."""
HORIZON_DAYS = 30
"""Days after the as-of date by which an open invoice counts as paid."""


def unpaid_labels(
    settlements: pd.DataFrame, invoice_ids: pd.Series, as_of: dt.date, *, horizon_days: int,
) -> np.ndarray:
    """True where an invoice is not settled before `as_of` + `horizon_days`.

    `settlements` are rows of `invoice_settlements` (NaT settle_date = not settled by the
    cut-off they were computed with); ids missing from them count as unpaid.
    """
    settle = pd.to_datetime(settlements.set_index("invoice_id")["settle_date"])
    dates = settle.reindex(pd.Index(invoice_ids)).to_numpy()
    deadline = np.datetime64(pd.Timestamp(as_of + dt.timedelta(days=horizon_days)))
    return ~(dates < deadline)  # NaT compares False: unpaid


def collections_examples(
    ledger: Ledger, dates: list[dt.date], *, cutoff: dt.date, horizon_days: int = HORIZON_DAYS,
) -> ExampleSet:
    """Open invoices as of each of `dates` with label `unpaid_30d` (unpaid `horizon_days`
    later).

    Labels use only facts dated before `cutoff`; dates whose label has not matured by then
    (date + horizon > cutoff) are left out and counted.
    """
    settlements = invoice_settlements(ledger, before=cutoff)
    counts = {"dates": 0, "dates_immature_left_out": 0, "rows": 0}
    frames = []
    for day in sorted(dates):
        if day + dt.timedelta(days=horizon_days) > cutoff:
            counts["dates_immature_left_out"] += 1
            continue
        snapshot = build_snapshot(ledger, day)
        snapshot[LABEL] = unpaid_labels(settlements, snapshot["invoice_id"], day,
                                         horizon_days=horizon_days)
        frames.append(snapshot)
        counts["dates"] += 1
    if not frames:
        return ExampleSet(pd.DataFrame(), counts)
    frame = pd.concat(frames, ignore_index=True)
    frame[LABEL] = frame[LABEL].astype(bool)
    frame = frame.sort_values(["as_of", "invoice_id"], kind="stable").reset_index(drop=True)
    counts["rows"] = len(frame)
    counts["unpaid"] = int(frame[LABEL].sum())
    return ExampleSet(frame, counts)


def training_dates(
    ledger: Ledger, before: dt.date, config: TrainingConfig, horizon_days: int = HORIZON_DAYS,
) -> list[dt.date]:
    """Snapshot dates whose labels are known before `before`: every `snapshot_every_days` back
    from `before` - horizon, at most `snapshot_max_dates` (at least one), after a warm-up."""
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    last = before - dt.timedelta(days=horizon_days)
    if first is None:
        return []
    return snapshot_dates(first, last, every_days=config.snapshot_every_days,
                          max_dates=max(1, config.snapshot_max_dates))


def collections_training_set(
    ledger: Ledger, *, known_before: dt.date, config: TrainingConfig,
    horizon_days: int = HORIZON_DAYS,
) -> ExampleSet:
    """Training examples from facts dated before `known_before` only."""
    dates = training_dates(ledger, known_before, config, horizon_days)
    return collections_examples(ledger, dates, cutoff=known_before, horizon_days=horizon_days)


@dataclass
class CollectionsSplit:
    """Out-of-time collections examples."""

    train: ExampleSet
    valid: ExampleSet
    valid_from: dt.date
    end: dt.date


def build_collections_examples(
    ledger: Ledger, *, valid_from: dt.date, config: TrainingConfig,
    horizon_days: int = HORIZON_DAYS,
) -> CollectionsSplit:
    """Training as of dates with date + horizon <= `valid_from`; validation as of dates in
    [`valid_from`, end - horizon] (every `snapshot_every_days`), labels known by the end."""
    end = ledger_end(ledger)
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    last_valid = None if end is None else end - dt.timedelta(days=horizon_days)
    if first is None or last_valid is None or not first < valid_from <= last_valid:
        raise ValueError(f"valid_from {valid_from} must fall between the ledger's first invoice "
                         f"({first}) and {horizon_days} days before its end ({last_valid})")
    train = collections_training_set(ledger, known_before=valid_from, config=config,
                                     horizon_days=horizon_days)
    valid_dates = snapshot_dates(valid_from, last_valid, every_days=config.snapshot_every_days,
                                 max_dates=max(1, config.snapshot_max_dates), warmup_days=0)
    valid = collections_examples(ledger, valid_dates, cutoff=end, horizon_days=horizon_days)
    return CollectionsSplit(train, valid, valid_from, end)


def collections_task_examples(
    ledger: Ledger, valid_from: dt.date, config: TrainingConfig
) -> TaskExamples:
    """The collections task's examples: `build_collections_examples`, checked."""
    split = build_collections_examples(ledger, valid_from=valid_from, config=config)
    check_training(split.train.frame)
    _check_examples(split.valid.frame, "validation")
    return TaskExamples(
        train=split.train.frame, valid=split.valid.frame, trained_before=valid_from,
        valid_from=valid_from, counts={"train": split.train.counts, "valid": split.valid.counts},
        params={"valid_from": str(valid_from), "valid_to": str(split.end),
                "horizon_days": HORIZON_DAYS})


def check_training(frame: pd.DataFrame) -> None:
    """Refuse training examples without both outcomes or with a single as-of date."""
    _check_examples(frame, "training")
    if frame["as_of"].nunique() < 2:
        raise ValueError("collections training needs at least two as-of dates; lower "
                         "snapshot_every_days or move the date later")


def _check_examples(frame: pd.DataFrame, name: str) -> None:
    if len(frame) == 0:
        raise ValueError(f"the {name} window of the collections model is empty: no open "
                         f"invoice at its as-of dates has an outcome {HORIZON_DAYS} days later "
                         "known; move --valid-from")
    if frame[LABEL].nunique() < 2:
        raise ValueError(f"{name} examples of the collections model have a single outcome")
