"""Model quality on matured outcomes, and what can be said before outcomes arrive.

Quality uses `training.evaluation.binary_metrics` on the matured invoices of each window
(the same metrics as training). Label delay: receivables outcomes arrive 30 to 90 days after
issue, so the latest invoices of a window have none yet. For them the summary gives the late
share the calibrated scores expect, beside what is observed so far: the share already paid
(on time, necessarily: an invoice not yet past due plus grace cannot be late yet), and the
share still open, the most that can still turn out late. Expected late > still open means
the scores already overstate lateness.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from training.evaluation import binary_metrics

QUALITY_METRICS = ("auc", "brier", "ece", "base_rate", "mean_p", "n")
"""Metrics reported per window (`base_rate` = observed late share, `mean_p` = mean score)."""


def matured_metrics(frame: pd.DataFrame, *, min_matured: int) -> dict[str, float] | None:
    """Metrics of the matured rows of a window frame, or None with too few of them."""
    matured = frame[frame["matured"]]
    labels = matured["late"].to_numpy(dtype=int)
    if len(matured) < min_matured or len(np.unique(labels)) < 2:
        return None
    metrics = binary_metrics(labels, matured["score"].to_numpy(dtype=float))
    return {k: metrics[k] for k in QUALITY_METRICS}


def calibration_gap(metrics: dict[str, float]) -> float:
    """Observed late share minus mean calibrated score (positive = the model underestimates)."""
    return metrics["base_rate"] - metrics["mean_p"]


def quality_comparison(
    reference: pd.DataFrame, current: pd.DataFrame, *, min_matured: int
) -> dict[str, object]:
    """Matured-outcome metrics of both windows and the changes the verdict judges.

    Keys: `reference`, `current` (metrics or None), `auc_drop` (reference - current),
    `brier_rise` (current - reference), `calibration_gap` (current; observed - expected) and
    `reference_calibration_gap`; the changes are None when a window lacks matured outcomes,
    and `judged` says whether quality could be judged.
    """
    ref = matured_metrics(reference, min_matured=min_matured)
    cur = matured_metrics(current, min_matured=min_matured)
    result: dict[str, object] = {"reference": ref, "current": cur, "judged": False,
                                 "auc_drop": None, "brier_rise": None,
                                 "calibration_gap": None, "reference_calibration_gap": None,
                                 "min_matured": min_matured}
    if cur is not None:
        result["calibration_gap"] = calibration_gap(cur)
    if ref is not None:
        result["reference_calibration_gap"] = calibration_gap(ref)
    if ref is not None and cur is not None:
        result["judged"] = True
        if not (math.isnan(ref["auc"]) or math.isnan(cur["auc"])):
            result["auc_drop"] = ref["auc"] - cur["auc"]
        result["brier_rise"] = cur["brier"] - ref["brier"]
    return result


def label_delay(frame: pd.DataFrame) -> dict[str, float | int | None]:
    """How much of a window has matured, and the immature rest: expected vs observed so far.

    Keys: `rows`, `matured`, `matured_share`, `immature`, `expected_late_share` (mean
    calibrated score of the immature invoices), `paid_so_far_share` (of them, settled by the
    ledger's end), `still_open_share` (not settled yet: the upper bound of their late share),
    `expected_late_invoices`, and `observed_late_share` of the matured ones for comparison.
    Shares of an empty group are None.
    """
    rows = len(frame)
    matured = frame["matured"].to_numpy(dtype=bool)
    immature = frame[~matured]
    n_immature = len(immature)

    def share(values: pd.Series) -> float | None:
        return float(values.mean()) if len(values) else None

    return {
        "rows": rows,
        "matured": int(matured.sum()),
        "matured_share": float(matured.mean()) if rows else None,
        "immature": n_immature,
        "expected_late_share": share(immature["score"]),
        "expected_late_invoices": float(immature["score"].sum()),
        "paid_so_far_share": share(immature["settled_by_end"].astype(float)),
        "still_open_share": share(1.0 - immature["settled_by_end"].astype(float)),
        "observed_late_share": share(frame.loc[matured, "late"].astype(float)),
    }
