"""The late-payment model's examples: invoices at issue (and open invoices at snapshot dates),
label `late` (settled more than `grace_days` after the due date), out of time.

Its task (`training.tasks.LATE_PAYMENT`) trains, judges and registers it (`training.trainer`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ledger.loader import Ledger
from training.config import TrainingConfig
from training.examples import TaskExamples, build_examples

MODEL_NAME = "late-payment-risk"


def late_payment_examples(
    ledger: Ledger, valid_from: dt.date, config: TrainingConfig
) -> TaskExamples:
    """Training examples known before `valid_from`, validation examples from it on."""
    split = build_examples(ledger, valid_from=valid_from, grace_days=config.grace_days,
                           snapshot_every_days=config.snapshot_every_days,
                           snapshot_max_dates=config.snapshot_max_dates)
    train, valid = split.train.frame, split.valid.frame
    _check_examples(train, valid)
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    return TaskExamples(
        train=train, valid=valid, trained_before=valid_from, valid_from=valid_from,
        counts={"train": split.train.counts, "valid": split.valid.counts},
        params={"train_from": str(first), "valid_from": str(valid_from),
                "valid_to": str(split.end)})


def _check_examples(train: pd.DataFrame, valid: pd.DataFrame) -> None:
    """Refuse to train on examples that cannot give a meaningful model or evaluation."""
    empty = {
        "training": "the training window is empty: no invoice issued before --valid-from has "
                    "an outcome known by then; move --valid-from later",
        "validation": "the validation window is empty: no invoice issued from --valid-from "
                      "has an outcome known by the ledger's end; move --valid-from earlier",
    }
    for name, frame in (("training", train), ("validation", valid)):
        if len(frame) == 0:
            raise ValueError(empty[name])
        if frame["late"].nunique() < 2:
            outcome = "late" if frame["late"].iloc[0] else "on time"
            raise ValueError(f"{name} examples are all {outcome}; the model needs both outcomes")
    if (valid["kind"] == "issue").sum() == 0:
        raise ValueError("no validation invoices issued from --valid-from have matured by the "
                         "ledger's end; move --valid-from earlier")
