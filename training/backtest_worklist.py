"""Back-test of the worklist: does it point collectors at the money that stays unpaid?

As of a date A: train the collections model on facts dated before A only, the way `o2c train`
does (its task's candidates chosen by rolling-origin cross-validation, the winner refitted and
calibrated: `training.trainer.fit_model`; no MLflow run), score the snapshot as of A, build
the worklist. Over the customers with overdue invoices at A, the
outcome is the part of their overdue amount (reporting currency) still open 30 days later
(`open_amount_base` of the same invoices in the snapshot as of A + 30, read from the ledger
after A). For the top 10% and 20% of those customers, the share of that unpaid amount
captured by: the worklist's order (customers the list leaves out after the listed ones), the
largest overdue amount first, the oldest overdue invoice first, and hindsight (the actual
unpaid amount first). `closes_gap_20` is the share of the distance from the better rule to
hindsight that the list closes at 20%.

Customers the hold rules put on hold at A (every overdue invoice in open dispute or under a
promise not yet due; known at A) are judged apart: no collector works them in any order, and
their money waits on the dispute or the promise, not on a call, so every order is compared
over the customers collectors do work. Their count and amounts are reported, and `all` gives
the same figures over every customer with held ones ranked last, as the list ranks them.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from features import build_snapshot
from ledger.loader import Ledger
from ledger.summary import ledger_end
from models.worklist import WorklistConfig, build_worklist
from training.collections import HORIZON_DAYS, check_training, collections_training_set
from training.config import TrainingConfig
from training.tasks import COLLECTIONS
from training.trainer import fit_model

SHARES = (0.1, 0.2)
RULES = ("worklist", "largest_overdue", "oldest_overdue", "hindsight")


def backtest_worklist(
    ledger: Ledger, as_of: dt.date, *, config: TrainingConfig, worklist: WorklistConfig,
) -> dict:
    """Capture of the unpaid overdue amount at the top 10% and 20% of customers, per rule.

    Keys: `as_of`, the judged customers (with overdue invoices, not held) and their figures
    (`judge` below), `held` {customers, overdue_amount, unpaid_amount}, `all` (`judge` over
    every customer with overdue invoices, held ones last), the model: `n_train`, the chosen
    candidate `model` and its `calibration`.
    """
    end = ledger_end(ledger)
    if end is None or as_of + dt.timedelta(days=HORIZON_DAYS) > end:
        raise ValueError(f"as_of {as_of} needs {HORIZON_DAYS} days of ledger after it "
                         f"(the ledger ends {end})")
    examples = collections_training_set(ledger, known_before=as_of, config=config)
    check_training(examples.frame)
    model, info, _ = fit_model(COLLECTIONS, examples.frame, config)
    snapshot = build_snapshot(ledger, as_of)
    scored = snapshot.assign(p_unpaid_30d=model.predict_proba(snapshot))
    listed = build_worklist(scored, config=worklist)
    outcome = customer_outcomes(ledger, snapshot, as_of)
    held = outcome["customer_id"].isin(listed.loc[listed["held"], "customer_id"])
    return {
        "as_of": str(as_of), **judge(outcome[~held], listed),
        "held": {"customers": int(held.sum()), **_amounts(outcome[held])},
        "all": judge(outcome, listed),
        "n_train": len(examples.frame), "model": info["chosen"],
        "calibration": info.get("calibration", "none"),
    }


def judge(outcome: pd.DataFrame, listed: pd.DataFrame) -> dict:
    """Capture at 10% and 20% of each rule over `outcome`'s customers.

    Keys: `customers`, `overdue_amount`, `unpaid_amount` (of it, still open 30 days later),
    `capture` {rule: {"top_10": share, "top_20": share}}, `better_rule` (the better of
    largest/oldest at 20%), `closes_gap_20`, `beats_rules` (the list above both rules at 10%
    and 20%).
    """
    orders = rule_orders(outcome, listed)
    capture = {rule: {f"top_{round(s * 100)}": capture_share(outcome, order, s)
                      for s in SHARES} for rule, order in orders.items()}
    better = max(("largest_overdue", "oldest_overdue"), key=lambda r: capture[r]["top_20"])
    gap = capture["hindsight"]["top_20"] - capture[better]["top_20"]
    closes = (capture["worklist"]["top_20"] - capture[better]["top_20"]) / gap if gap > 0 \
        else math.nan
    beats = all(capture["worklist"][k] > max(capture["largest_overdue"][k],
                                             capture["oldest_overdue"][k])
                for k in ("top_10", "top_20"))
    return {
        "customers": len(outcome), **_amounts(outcome),
        "capture": {r: {k: round(v, 4) for k, v in c.items()} for r, c in capture.items()},
        "better_rule": better, "closes_gap_20": round(closes, 4), "beats_rules": beats,
    }


def _amounts(outcome: pd.DataFrame) -> dict[str, float]:
    return {"overdue_amount": round(float(outcome["overdue_amount"].sum()), 2),
            "unpaid_amount": round(float(outcome["unpaid"].sum()), 2)}


def customer_outcomes(ledger: Ledger, snapshot: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Per customer with overdue invoices at `as_of`: overdue amount, oldest days past due and
    `unpaid`, the part of those invoices still open 30 days later (all in reporting currency),
    sorted by customer_id."""
    overdue = snapshot[snapshot["days_past_due"] > 0]
    later = build_snapshot(ledger, as_of + dt.timedelta(days=HORIZON_DAYS))
    still_open = later.set_index("invoice_id")["open_amount_base"]
    unpaid = still_open.reindex(overdue["invoice_id"]).fillna(0.0).to_numpy(dtype=float)
    frame = pd.DataFrame({"customer_id": overdue["customer_id"].astype(str).to_numpy(),
                          "overdue_amount": overdue["open_amount_base"].to_numpy(dtype=float),
                          "dpd": overdue["days_past_due"].to_numpy(dtype=float),
                          "unpaid": unpaid})
    return frame.groupby("customer_id", sort=True).agg(
        overdue_amount=("overdue_amount", "sum"), oldest_dpd=("dpd", "max"),
        unpaid=("unpaid", "sum")).reset_index()


def rule_orders(outcome: pd.DataFrame, listed: pd.DataFrame) -> dict[str, list[str]]:
    """Customer ids of `outcome` in the order of each rule (ties by customer_id)."""
    rank = listed.set_index("customer_id")["rank"]
    by_list = outcome.assign(
        rank=rank.reindex(outcome["customer_id"]).fillna(np.inf).to_numpy())

    def order(frame: pd.DataFrame, columns: list[str], ascending: list[bool]) -> list[str]:
        return frame.sort_values([*columns, "customer_id"], ascending=[*ascending, True],
                                 kind="stable")["customer_id"].tolist()

    return {
        "worklist": order(by_list, ["rank", "overdue_amount"], [True, False]),
        "largest_overdue": order(outcome, ["overdue_amount"], [False]),
        "oldest_overdue": order(outcome, ["oldest_dpd", "overdue_amount"], [False, False]),
        "hindsight": order(outcome, ["unpaid"], [False]),
    }


def capture_curve(outcome: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Capture after each customer worked in `order`, from none to all of them.

    Rows k = 0..n (n = len(order)): `worked` = k, `share_worked` = k / n and `captured`, the
    share of `outcome`'s total unpaid amount held by the first k customers of `order` (ids
    not in `outcome` hold nothing); `captured` is NaN when nothing is unpaid.
    """
    total = float(outcome["unpaid"].sum())
    unpaid = outcome.set_index("customer_id")["unpaid"].reindex(order).fillna(0.0)
    cumulative = np.concatenate([[0.0], np.cumsum(unpaid.to_numpy(dtype=float))])
    worked = np.arange(len(order) + 1)
    return pd.DataFrame({
        "worked": worked,
        "share_worked": worked / max(len(order), 1),
        "captured": cumulative / total if total > 0 else np.full(len(cumulative), math.nan),
    })


def capture_share(outcome: pd.DataFrame, order: list[str], share: float) -> float:
    """Share of the total unpaid amount held by the first ceil(share × n) customers."""
    if not order:
        return math.nan
    curve = capture_curve(outcome, order)
    top = min(max(math.ceil(share * len(order)), 0), len(order))
    return float(curve["captured"].iloc[top])
