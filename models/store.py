"""Read a saved scoring model of any kind: `model.json`'s `"kind"` names its class.

`"linear"` is a `LinearRiskModel`, `"payment_dates"` a `PaymentDateModel` (quantiles of days
to payment); a `model.json` without `"kind"` (or `"lightgbm"`) is a
LightGBM `RiskModel`, as every model saved before kinds existed.
"""

from __future__ import annotations

import json
from pathlib import Path

from models.linear_model import KIND as LINEAR_KIND
from models.linear_model import LinearRiskModel
from models.payment_dates import KIND as PAYMENT_DATES_KIND
from models.payment_dates import PaymentDateModel
from models.risk_model import META_FILE, RiskModel

ScoringModel = RiskModel | LinearRiskModel
"""Any model the registry stores and serving scores with probabilities."""
StoredModel = ScoringModel | PaymentDateModel
"""Any model the registry stores."""

MODEL_CLASSES: dict[str, type[StoredModel]] = {
    "lightgbm": RiskModel,
    LINEAR_KIND: LinearRiskModel,
    PAYMENT_DATES_KIND: PaymentDateModel,
}
"""`model.json`'s `"kind"` -> the class that reads it."""


def model_class(meta: dict) -> type[StoredModel]:
    """The class of a model from its parsed `model.json` (no `"kind"`: LightGBM)."""
    kind = meta.get("kind", "lightgbm")
    if kind not in MODEL_CLASSES:
        raise ValueError(f"{META_FILE}: unknown model kind {kind!r}; expected one of "
                         f"{', '.join(sorted(MODEL_CLASSES))}")
    return MODEL_CLASSES[kind]


def read_meta(folder: str | Path) -> dict:
    """`model.json` of a saved model, parsed; a missing or unreadable file is named."""
    path = Path(folder) / META_FILE
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the model's description: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return meta


def load_model(folder: str | Path) -> StoredModel:
    """The model saved in `folder`, of the class its `model.json` names."""
    return model_class(read_meta(folder)).load(folder)
