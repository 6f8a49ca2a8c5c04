"""Back-test of the credit-limit policy: would it have cut the customers who later went bad?

As of a date T: fit the serious-delinquency model on what was known before T, the way
`o2c train` does (its task's candidates, cross-validation and calibration:
`training.trainer.fit_model`; no MLflow run), score the
customers as of T, recommend limits, then look at the ledger after T: customers with an
invoice reaching 90+ days past due within 12 months are "bad". The policy works when the bad
customers' limits shrink much more than the others' (bad ratio <= 0.6 x good ratio, where a
ratio is total recommended over total current limit) while the others keep >= 90% of theirs.

The population is the model's: customers with an invoice before T that are not already 90+
days past due at T (those are counted and left out).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from features import build_customer_features, invoice_settlements
from ledger.loader import Ledger
from ledger.summary import ledger_end
from models.limits import LimitsConfig, recommend_limits
from training.config import TrainingConfig
from training.delinquency import HORIZON_DAYS, serious_outcomes, training_examples
from training.evaluation import binary_metrics
from training.tasks import SERIOUS_DELINQUENCY
from training.trainer import fit_model

TARGET_QUOTIENT = 0.6
"""The bad customers' limit ratio should be at most this share of the others'."""
TARGET_GOOD_RATIO = 0.9
"""The other customers should keep at least this share of their current limits."""


def backtest_limits(
    ledger: Ledger, as_of: dt.date, *, config: TrainingConfig, limits: LimitsConfig
) -> dict:
    """Train before `as_of`, recommend limits as of it, judge them by the next 12 months."""
    end = ledger_end(ledger)
    if end is None or as_of >= end:
        raise ValueError(f"as_of {as_of} must fall before the ledger's end ({end})")
    train = training_examples(ledger, as_of)
    model, fit_info, _ = fit_model(SERIOUS_DELINQUENCY, train.frame, config)
    horizon_end = min(as_of + dt.timedelta(days=HORIZON_DAYS), end)
    outcomes = serious_outcomes(invoice_settlements(ledger, before=horizon_end), as_of,
                                horizon_end=horizon_end)
    eligible = outcomes[~outcomes["already_serious"]]
    features = build_customer_features(ledger, as_of)
    customers = features[features["customer_id"].astype(str).isin(
        set(eligible["customer_id"].astype(str)))].reset_index(drop=True)
    probability = model.predict_proba(customers)
    recommended = recommend_limits(customers, probability, config=limits)
    bad_ids = set(eligible.loc[eligible["serious"], "customer_id"].astype(str))
    bad = recommended["customer_id"].isin(bad_ids).to_numpy()
    figures = limit_ratios(recommended["current_limit"].to_numpy(),
                           recommended["recommended_limit"].to_numpy(), bad)
    scores = binary_metrics(bad.astype(int), recommended["probability"].to_numpy())
    return {
        "as_of": str(as_of),
        "horizon_end": str(horizon_end),
        "horizon_days": (horizon_end - as_of).days,
        "horizon_complete": horizon_end == as_of + dt.timedelta(days=HORIZON_DAYS),
        "note": _horizon_note(as_of, horizon_end),
        **figures,
        "target_quotient": TARGET_QUOTIENT,
        "target_good_ratio": TARGET_GOOD_RATIO,
        "meets_targets": bool(figures["quotient"] <= TARGET_QUOTIENT
                              and figures["good_ratio"] >= TARGET_GOOD_RATIO),
        "n_customers": len(recommended),
        "n_already_serious_left_out": int(outcomes["already_serious"].sum()),
        "n_review_flagged": int(recommended["review_flag"].sum()),
        "grades": recommended["grade"].value_counts().sort_index().to_dict(),
        "model_auc": _finite(scores["auc"]),
        "model_brier": _finite(scores["brier"]),
        "n_train": len(train.frame),
        "train_as_of": [str(d) for d in train.dates],
        "model": fit_info["chosen"],
        "calibration": fit_info.get("calibration", "none"),
    }


def limit_ratios(current: np.ndarray, recommended: np.ndarray, bad: np.ndarray) -> dict:
    """Total recommended over total current limit for bad and other customers."""
    current, recommended = np.asarray(current, float), np.asarray(recommended, float)
    bad = np.asarray(bad, bool)

    def ratio(mask: np.ndarray) -> float:
        total = current[mask].sum()
        return float(recommended[mask].sum() / total) if total > 0 else float("nan")

    bad_ratio, good_ratio = ratio(bad), ratio(~bad)
    quotient = bad_ratio / good_ratio if good_ratio > 0 else float("nan")
    return {
        "bad_ratio": bad_ratio, "good_ratio": good_ratio, "quotient": quotient,
        "good_keeps_target": bool(good_ratio >= TARGET_GOOD_RATIO),
        "n_bad": int(bad.sum()), "n_good": int((~bad).sum()),
        "bad_current_total": float(current[bad].sum()),
        "bad_recommended_total": float(recommended[bad].sum()),
        "good_current_total": float(current[~bad].sum()),
        "good_recommended_total": float(recommended[~bad].sum()),
    }


def _horizon_note(as_of: dt.date, horizon_end: dt.date) -> str:
    days = (horizon_end - as_of).days
    if days >= HORIZON_DAYS:
        return "outcomes over the full 12 months after as_of"
    return (f"the ledger ends {days} days after as_of: outcomes cover only that part of the "
            "12-month horizon, so fewer customers show as bad")


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
