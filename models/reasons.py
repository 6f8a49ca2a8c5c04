"""Reason codes: the features that raise and lower a score most, in words, with own values.

Contributions are LightGBM's per-row TreeSHAP values (`pred_contrib=True`) in log-odds; the
sentences are the catalog's phrases (`FeatureSpec.reason`) with the customer's and invoice's
own values, e.g. "paid 18 days late on average over the last 180 days".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
import pandas as pd

from features.catalog import FeatureSpec, Reason, feature_catalog
from models.store import ScoringModel

_SPECS: dict[str, FeatureSpec] = {spec.name: spec for spec in feature_catalog()}

_FIELDS: dict[str, Callable[[float], float]] = {
    "value": lambda v: v, "abs": abs, "amount": math.expm1, "years": lambda v: v / 365,
}
"""The names a `Reason` template may use, from the feature's value."""


def describe(feature: str, value: object) -> str:
    """A feature's value in words: its catalog phrase (a plain fallback for other names)."""
    spec = _SPECS.get(feature)
    text = isinstance(value, str)
    if value is None or (math.isnan(value) if isinstance(value, float)
                         else not text and pd.isna(value)):
        missing = spec.reason.missing if spec else None
        return missing or f"no {feature.replace('_', ' ')} on record"
    if spec is None:
        return f"{feature.replace('_', ' ')} {value if text else format(float(value), 'g')}"
    return spec.reason.text.format(value=value) if text else phrase(spec.reason, float(value))


def phrase(reason: Reason, value: float) -> str:
    """`reason`'s template for a number: `negative` below 0, `zero` at 0, else `text`."""
    template = (reason.negative if value < 0 and reason.negative
                else reason.zero if value == 0 and reason.zero else reason.text)
    fields = _fields_in(template)
    if fields == ("value",):  # the common case, kept fast for batch reason codes
        return template.format(value=value)
    return template.format(**{name: _FIELDS[name](value) for name in fields})


@cache
def _fields_in(template: str) -> tuple[str, ...]:
    return tuple(name for name in _FIELDS if "{" + name in template)


def reason_codes(model: ScoringModel, frame: pd.DataFrame, *, top: int = 3,
                 lowers: bool = True, contributions: pd.DataFrame | None = None) -> list[dict]:
    """Per row: the `top` features raising the risk most and (with `lowers`) lowering it
    most, in words.

    Each reason is `{"feature", "value", "contribution", "text"}` with the contribution in
    log-odds; rows come back in the frame's order. `contributions` are the model's of `frame`
    when already computed (`RiskModel.predict_with_contributions`). Only the features chosen
    are put in words, each (feature, value) once per call.
    """
    if contributions is None:
        contributions = model.contributions(frame)
    values = contributions.to_numpy()
    names = list(contributions.columns)
    order = np.argsort(values, axis=1, kind="stable")
    sides = {"raises": (order[:, ::-1][:, :top], 1.0)}
    if lowers:
        sides["lowers"] = (order[:, :top], -1.0)
    columns: dict[int, list] = {}
    words: dict[tuple[int, object], tuple[object, str]] = {}

    def reason(row: int, j: int) -> dict:
        if j not in columns:
            columns[j] = frame[names[j]].tolist()
        value = columns[j][row]
        key = (j, None if _missing(value) else value)
        if key not in words:
            words[key] = (key[1] if key[1] is None or isinstance(key[1], str)
                          else float(key[1]), describe(names[j], key[1]))
        plain, text = words[key]
        return {"feature": names[j], "value": plain,
                "contribution": round(float(values[row, j]), 4), "text": text}

    return [{side: [reason(row, j) for j in ranked[row] if sign * values[row, j] > 0]
             for side, (ranked, sign) in sides.items()} for row in range(len(values))]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        not isinstance(value, str | int | float | bool) and bool(pd.isna(value)))
