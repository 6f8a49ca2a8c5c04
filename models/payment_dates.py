"""The payment-date model: quantiles of the days from an invoice's due date to its settlement.

A `PaymentDateModel` holds one LightGBM quantile booster per level (`LEVELS`: P10, P50, P90)
over the same point-in-time features as the risk models, and per-level offsets fitted on a
later time slice (conformalized quantile regression: the P10 and P90 are moved so that each
misses about 10% of the outcomes of that slice). Its predictions are conditional on what the
row says: an invoice open at its as-of date is settled on that day or later, so no quantile is
below `days_past_due`; and no quantile exceeds `CAP_DAYS` (the target is capped there: "90"
reads "90 days late or more"). Saved as plain files (LightGBM's text models and `model.json`),
never pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.risk_model import META_FILE, RiskModel

KIND = "payment_dates"
"""`model.json`'s `"kind"` of a payment-date model (`models.store`)."""
LEVELS: tuple[float, ...] = (0.1, 0.5, 0.9)
"""The quantile levels predicted: P10, P50, P90."""
NAMES: tuple[str, ...] = ("p10", "p50", "p90")
CAP_DAYS = 90
"""Days after the due date at which the target is capped: 90+ days past due is serious
delinquency, whose timing the model does not try to tell apart."""


def booster_file(name: str) -> str:
    """The file a level's booster is saved in (`booster_p50.txt`)."""
    return f"booster_{name}.txt"


@dataclass
class PaymentDateModel:
    """Quantiles of days from due date to settlement, from named features.

    `offsets` are added to each level's raw prediction (conformal adjustment); the results are
    sorted (no crossing), clipped to [`days_past_due`, `CAP_DAYS`].
    """

    boosters: dict[str, lgb.Booster]
    features: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    offsets: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, object] = field(default_factory=dict)

    FILES: ClassVar[tuple[str, ...]] = (*(booster_file(n) for n in NAMES), META_FILE)
    """The files `save` writes and `load` reads."""

    def __post_init__(self) -> None:
        missing = [n for n in NAMES if n not in self.boosters]
        if missing:
            raise ValueError(f"payment-date model lacks the boosters {', '.join(missing)}")

    def design_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The inputs as floats, categoricals as codes (`RiskModel.design_matrix`)."""
        return RiskModel.design_matrix(self, frame)  # type: ignore[arg-type]

    def raw_days(self, frame: pd.DataFrame) -> np.ndarray:
        """The boosters' predictions, one column per level, before offsets and bounds."""
        matrix = self.design_matrix(frame)
        return np.column_stack([self.boosters[n].predict(matrix) for n in NAMES])

    def predict_days(self, frame: pd.DataFrame) -> np.ndarray:
        """Days from due date to settlement at each level (columns `NAMES`), one row per row
        of `frame`: offsets applied, sorted, within [days_past_due, CAP_DAYS]."""
        if len(frame) == 0:
            return np.empty((0, len(NAMES)))
        days = self.raw_days(frame) + np.array([self.offsets.get(n, 0.0) for n in NAMES])
        return bounded(days, frame)

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`predict_days` as a frame with columns `days_p10`, `days_p50`, `days_p90`."""
        return pd.DataFrame(self.predict_days(frame), columns=[f"days_{n}" for n in NAMES],
                            index=frame.index)

    def save(self, folder: str | Path) -> Path:
        """Write the boosters and `model.json` into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, booster in self.boosters.items():
            booster.save_model(folder / booster_file(name))
        meta = {"kind": KIND, "features": self.features, "categories": self.categories,
                "levels": dict(zip(NAMES, LEVELS, strict=True)), "offsets": self.offsets,
                "cap_days": CAP_DAYS, "metadata": self.metadata}
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> PaymentDateModel:
        """Read a model written by `save`."""
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text())
        if meta.get("kind") != KIND:
            raise ValueError(f"{folder / META_FILE}: not a payment-date model")
        return cls(boosters={n: lgb.Booster(model_file=str(folder / booster_file(n)))
                             for n in NAMES},
                   features=list(meta["features"]),
                   categories={k: list(v) for k, v in meta["categories"].items()},
                   offsets={k: float(v) for k, v in meta.get("offsets", {}).items()},
                   metadata=dict(meta.get("metadata", {})))


def bounded(days: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    """Quantile columns sorted per row and clipped to [days_past_due, CAP_DAYS]: an open
    invoice is settled on its as-of date or later (at issue `days_past_due` is minus the
    terms, no bound)."""
    days = np.sort(np.asarray(days, dtype=float), axis=1)
    floor = frame["days_past_due"].to_numpy(dtype=float, na_value=-np.inf)
    floor = np.minimum(floor, CAP_DAYS)[:, None]
    return np.clip(np.maximum(days, floor), None, CAP_DAYS)


def pay_dates(due_date: pd.Series, days: np.ndarray) -> pd.DataFrame:
    """Predicted payment dates `pay_date_p10/p50/p90`: due date + the rounded days."""
    due = pd.to_datetime(due_date).to_numpy()
    offsets = np.rint(days).astype("int64").astype("timedelta64[D]")
    return pd.DataFrame({f"pay_date_{n}": due + offsets[:, j] for j, n in enumerate(NAMES)},
                        index=due_date.index)
