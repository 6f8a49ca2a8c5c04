"""The scoring model: a LightGBM booster, its calibration and its inputs, saved without pickle.

A `RiskModel` turns a feature frame into calibrated probabilities and per-feature
contributions. It is saved as a folder of plain files (`booster.txt`, LightGBM's own text
format, and `model.json`), which MLflow logs as the data of a pyfunc model.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.treeshap import MAX_SPLITS, ShapTables

BOOSTER_FILE = "booster.txt"
META_FILE = "model.json"
_EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities, clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Inverse of `logit`."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


@dataclass(frozen=True)
class Calibration:
    """A monotone map from raw model log-odds to calibrated probabilities.

    `platt`: p = sigmoid(slope * raw_logit + intercept). `identity`: the raw probability.
    """

    method: Literal["identity", "platt"] = "identity"
    slope: float = 1.0
    intercept: float = 0.0

    def apply(self, raw_logit: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from raw log-odds."""
        if self.method == "identity":
            return sigmoid(raw_logit)
        return sigmoid(self.slope * np.asarray(raw_logit) + self.intercept)


NUMERIC_TYPES = frozenset({"integer", "floating", "mixed-integer-float", "boolean", "decimal",
                           "empty"})
"""What pandas may infer of an object column of numbers (and missing values)."""


def check_columns(frame: pd.DataFrame, features: list[str]) -> None:
    """ValueError naming the model's columns `frame` lacks."""
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValueError(f"feature frame lacks the model's columns: {', '.join(missing)}")


def _first_bad(values: pd.Series, good: Callable[[object], bool]) -> str:
    """`<value> (<type>) in row <label>` of the first present value that is not `good`."""
    for label, value in values.items():
        if not good(value) and not pd.isna(value):
            return f"{value!r} ({type(value).__name__}) in row {label!r}"
    return f"{pd.api.types.infer_dtype(values, skipna=True)} values"


def numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric feature as floats (missing values as NaN); ValueError naming the column and
    the first value that is not a number (text, dates...)."""
    values = frame[column]
    if values.dtype.kind in "biuf" or (values.dtype == object and pd.api.types.infer_dtype(
            values, skipna=True) in NUMERIC_TYPES):
        return values.to_numpy(dtype=float, na_value=np.nan)
    found = _first_bad(values, lambda v: isinstance(v, int | float | np.number))
    raise ValueError(f"feature {column}: expected numbers, found {found}")


def text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A category feature as strings and missing values (object dtype); ValueError naming the
    column and the first value that is not text."""
    values = frame[column]
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if values.isna().all() or pd.api.types.infer_dtype(values, skipna=True) == "string":
        return values.astype(object).where(values.notna(), None)
    found = _first_bad(values, lambda v: isinstance(v, str))
    raise ValueError(f"feature {column}: expected text categories, found {found}")


def numeric_design(
    frame: pd.DataFrame, features: list[str], categories: dict[str, list[str]],
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """`features` of `frame` in order as floats, each categorical as its code in
    `categories` (NaN when unseen or missing): the matrix LightGBM is trained on and scores.
    Column-major, each column written in one contiguous run (LightGBM reads either order
    without a copy). `rows`: a boolean mask of the rows to take, each column cut on its own
    (the other columns of `frame` are never copied). ValueError naming a missing column or a
    value of the wrong type."""
    check_columns(frame, features)
    count = len(frame) if rows is None else int(np.count_nonzero(rows))
    matrix = np.empty((count, len(features)), order="F")
    for j, column in enumerate(features):
        if column in categories:
            codes = pd.Categorical(text(frame, column), categories=categories[column]).codes
            values = np.where(codes < 0, np.nan, codes)
        else:
            values = numbers(frame, column)
        matrix[:, j] = values if rows is None else values[rows]
    return matrix


TABLE_VALUES_PER_STEP = 1024
"""Look-up TreeSHAP tables held per step of the serving budget: 1,024 values (8 KiB)."""
LOOKUP_TREE_STEPS = 8
"""Steps of every tree explained by look-up beyond its splits, features and table: scoring
it and gathering its values (1,088 trees of 4 leaves took 61 ms per 1,000 invoices)."""


def tree_costs(booster: lgb.Booster) -> np.ndarray:
    """Per tree the booster scores (its best iteration, if stopped early): what its reason
    codes cost per row, in steps. When every tree is within the look-up TreeSHAP's
    `MAX_SPLITS` (`models.treeshap`): `LOOKUP_TREE_STEPS`, one step per split (a
    comparison) and per feature the tree splits on (a value read), and one per
    `TABLE_VALUES_PER_STEP` values of its table (2^splits x features), which the look-up
    keeps in memory and reads at random; otherwise LightGBM's own TreeSHAP, the sum of the
    leaves' squared depths (a root-only tree costs 1). By look-up a 15-leaf tree costs about
    200 steps (LightGBM's about 400), an 8-leaf one about 20 (LightGBM's about 70), a 4-leaf
    one about 15 (LightGBM's about 16-25)."""
    def walk(node: dict, depth: int, features: set[int]) -> tuple[int, int]:
        """(splits, sum of squared leaf depths) below `node`."""
        if "leaf_index" in node or "left_child" not in node:
            return 0, max(depth, 1) ** 2
        features.add(int(node["split_feature"]))
        left, right = (walk(node[side], depth + 1, features)
                       for side in ("left_child", "right_child"))
        return 1 + left[0] + right[0], left[1] + right[1]

    shapes = []
    for tree in booster.dump_model()["tree_info"]:
        features: set[int] = set()
        splits, squared_depths = walk(tree["tree_structure"], 0, features)
        shapes.append((splits, len(features), squared_depths))
    if all(splits <= MAX_SPLITS for splits, _, _ in shapes):
        return np.array([LOOKUP_TREE_STEPS + splits + features + math.ceil(
            2 ** splits * features / TABLE_VALUES_PER_STEP) for splits, features, _ in shapes],
            dtype=np.int64)
    return np.array([squared for _, _, squared in shapes], dtype=np.int64)


def within_explain_budget(model: RiskModel, budget: int) -> RiskModel:
    """`model` with only as many of its first trees as keep `RiskModel.explain_cost` within
    `budget` (at least one): the booster as it was at that round. The model itself when it
    fits; `metadata["explain_cost"]` says the cost kept and `trees_cut` how many went."""
    costs = tree_costs(model.booster)
    kept = max(1, int(np.searchsorted(np.cumsum(costs), budget, side="right")))
    if kept >= len(costs):
        model.metadata.update(explain_cost=int(costs.sum()))
        return model
    booster = lgb.Booster(model_str=model.booster.model_to_string(num_iteration=kept))
    return RiskModel(booster=booster, features=model.features, categories=model.categories,
                     calibration=model.calibration,
                     metadata={**model.metadata, "explain_cost": int(costs[:kept].sum()),
                               "trees_cut": len(costs) - kept})


PARALLEL_ROWS = 200
"""Frames of at least this many rows get their contributions (TreeSHAP) computed on every
core; smaller ones on one thread (on a busy machine extra threads only slow them down)."""


@dataclass
class RiskModel:
    """A calibrated LightGBM classifier over named features.

    It is trained on and scores one numeric design matrix (`numeric_design`): floats, and
    each categorical as its code in the training categories (NaN when unseen or missing),
    which is also what LightGBM makes of pandas categoricals (boosters saved by versions
    that trained on those score alike). Single invoices, batches and back-tests share this
    one fast path.
    """

    booster: lgb.Booster
    features: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    calibration: Calibration = field(default_factory=Calibration)
    metadata: dict[str, object] = field(default_factory=dict)

    FILES: ClassVar[tuple[str, ...]] = (BOOSTER_FILE, META_FILE)
    """The files `save` writes and `load` reads."""

    def __post_init__(self) -> None:
        """Check the categories against those LightGBM stored in the booster if it was
        trained on pandas categoricals, whose codes the numeric design matrix uses."""
        unknown = sorted(set(self.categories) - set(self.features))
        if unknown:
            raise ValueError(f"categories given for non-features: {', '.join(unknown)}")
        stored = [list(c) for c in self.booster.pandas_categorical or []]
        ours = [list(self.categories[f]) for f in self.features if f in self.categories]
        if stored and stored != ours:
            raise ValueError("the booster's categories (pandas_categorical) differ from the "
                             "model's: categoricals cannot be scored as codes")

    def design_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's inputs (`numeric_design`)."""
        return numeric_design(frame, self.features, self.categories)

    def raw_logit(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds from the booster."""
        return self.booster.predict(self.design_matrix(frame), raw_score=True)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the positive class, one per row."""
        if len(frame) == 0:
            return np.empty(0)
        return self.calibration.apply(self.raw_logit(frame))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row, per-feature contributions to the raw log-odds (TreeSHAP), bias dropped;
        frames of `PARALLEL_ROWS` or more on every core (the same values: rows are
        independent)."""
        if len(frame) == 0:
            return pd.DataFrame(columns=self.features, dtype=float)
        return self._contributions(self.design_matrix(frame), frame.index)

    def predict_with_contributions(
        self, frame: pd.DataFrame
    ) -> tuple[np.ndarray, pd.DataFrame]:
        """`predict_proba` and `contributions` of `frame` from one design matrix (what reason
        codes need, without building the inputs twice)."""
        if len(frame) == 0:
            return np.empty(0), pd.DataFrame(columns=self.features, dtype=float)
        matrix = self.design_matrix(frame)
        probability = self.calibration.apply(self.booster.predict(matrix, raw_score=True))
        return probability, self._contributions(matrix, frame.index)

    def _contributions(self, matrix: np.ndarray, index: pd.Index) -> pd.DataFrame:
        if self.shap_tables is not None:  # small trees: the same values by look-up
            values = self.shap_tables.contributions(matrix)
        else:
            threads = (os.cpu_count() or 1) if len(matrix) >= PARALLEL_ROWS else 1
            values = self.booster.predict(matrix, pred_contrib=True, num_threads=threads)[:, :-1]
        return pd.DataFrame(values, columns=self.features, index=index)

    @cached_property
    def shap_tables(self) -> ShapTables | None:
        """TreeSHAP tables of the booster's trees (`models.treeshap`); None for large trees."""
        return ShapTables.of(self.booster)

    def explain_cost(self) -> int:
        """What TreeSHAP reason codes cost per row, in steps, over the trees scored
        (`tree_costs`)."""
        return int(tree_costs(self.booster).sum())

    def save(self, folder: str | Path) -> Path:
        """Write `booster.txt` and `model.json` into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(folder / BOOSTER_FILE)
        meta = {
            "features": self.features,
            "categories": self.categories,
            "calibration": {"method": self.calibration.method, "slope": self.calibration.slope,
                            "intercept": self.calibration.intercept},
            "metadata": self.metadata,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> RiskModel:
        """Read a model written by `save`."""
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text())
        return cls(
            booster=lgb.Booster(model_file=str(folder / BOOSTER_FILE)),
            features=list(meta["features"]),
            categories={k: list(v) for k, v in meta["categories"].items()},
            calibration=Calibration(**meta["calibration"]),
            metadata=dict(meta.get("metadata", {})),
        )
