"""Reason codes: the features that raise and lower a score most, in words, with own values.

Contributions are LightGBM's per-row TreeSHAP values (`pred_contrib=True`) in log-odds; the
sentences are the catalog's phrases (`FeatureSpec.reason`) with the customer's and invoice's
own values, e.g. "paid 18 days late on average over the last 180 days".
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from features.catalog import FeatureSpec, Reason, feature_catalog
from models.risk_model import RiskModel

_SPECS: dict[str, FeatureSpec] = {spec.name: spec for spec in feature_catalog()}

_FIELDS: dict[str, Callable[[float], float]] = {
    "value": lambda v: v, "abs": abs, "amount": math.expm1, "years": lambda v: v / 365,
}
"""The names a `Reason` template may use, from the feature's value."""


def describe(feature: str, value: object) -> str:
    """A feature's value in words: its catalog phrase (a plain fallback for other names)."""
    spec = _SPECS.get(feature)
    words = feature.replace("_", " ")
    missing = value is None or pd.isna(value)
    if spec is None:
        return (f"no {words} on record" if missing
                else f"{words} {value}" if isinstance(value, str) else f"{words} {float(value):g}")
    if missing:
        return spec.reason.missing or f"no {words} on record"
    if isinstance(value, str):
        return spec.reason.text.format(value=value)
    return phrase(spec.reason, float(value))


def phrase(reason: Reason, value: float) -> str:
    """`reason`'s template for a number: `negative` below 0, `zero` at 0, else `text`."""
    template = (reason.negative if value < 0 and reason.negative
                else reason.zero if value == 0 and reason.zero else reason.text)
    return template.format(**{name: get(value) for name, get in _FIELDS.items()
                              if "{" + name in template})


def reason_codes(model: RiskModel, frame: pd.DataFrame, *, top: int = 3) -> list[dict]:
    """Per row: the `top` features raising the risk most and lowering it most, in words.

    Each reason is `{"feature", "value", "contribution", "text"}` with the contribution in
    log-odds; rows come back in the frame's order.
    """
    contributions = model.contributions(frame).to_numpy()
    values = frame[model.features].to_numpy(dtype=object)
    order = np.argsort(contributions, axis=1, kind="stable")
    names = model.features
    reasons = []
    for row, ranked in enumerate(order):
        raising = [j for j in ranked[::-1][:top] if contributions[row, j] > 0]
        lowering = [j for j in ranked[:top] if contributions[row, j] < 0]
        reasons.append({
            side: [_reason(names[j], values[row, j], contributions[row, j]) for j in chosen]
            for side, chosen in (("raises", raising), ("lowers", lowering))
        })
    return reasons


def _reason(feature: str, value: object, contribution: float) -> dict:
    plain = None if pd.isna(value) else (value if isinstance(value, str) else float(value))
    return {"feature": feature, "value": plain, "contribution": round(float(contribution), 4),
            "text": describe(feature, value)}
