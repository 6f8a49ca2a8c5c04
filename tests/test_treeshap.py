"""TreeSHAP by look-up tables (`models.treeshap`) equals LightGBM's `pred_contrib`: missing
values of every kind LightGBM keeps (NaN apart, as zero, zero as missing), categorical splits
with unseen and missing codes, trees of 1 to 15 leaves (deep chains among them, with many
features and many splits on one feature along a path); larger trees are left to LightGBM."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from models.risk_model import RiskModel
from models.treeshap import MAX_SPLITS, ShapTables


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Five columns: with NaNs, with many exact zeros, a category code (NaN for missing), a
    plain number and a constant; a label that depends on the first four."""
    rng = np.random.default_rng(seed)
    gappy = rng.normal(size=rows)
    gappy[rng.random(rows) < 0.2] = np.nan
    zeros = np.where(rng.random(rows) < 0.4, 0.0, rng.normal(size=rows))
    code = rng.integers(0, 6, rows).astype(float)
    code[rng.random(rows) < 0.1] = np.nan
    plain = rng.normal(size=rows)
    matrix = np.column_stack([gappy, zeros, code, plain, np.ones(rows)])
    risk = (np.nan_to_num(gappy) + 0.8 * (zeros == 0) + 0.5 * np.isin(code, [1, 4])
            + 0.3 * plain)
    label = (rng.random(rows) < 1 / (1 + np.exp(-risk))).astype(int)
    return matrix, label


def _booster(leaves: int, **settings: object) -> lgb.Booster:
    matrix, label = _data(4000, 0)
    params = {"objective": "binary", "num_leaves": leaves, "min_data_in_leaf": 20,
              "verbose": -1, "seed": 0, "num_threads": 1, **settings}
    return lgb.train(params, lgb.Dataset(matrix, label, categorical_feature=[2]),
                     num_boost_round=40)


def _scored() -> np.ndarray:
    """Rows to explain: fresh ones plus edge values (NaN everywhere, zeros, an unseen and a
    negative category code, a value on a threshold's other side)."""
    matrix, _ = _data(300, 1)
    edges = np.array([[np.nan, np.nan, np.nan, np.nan, np.nan],
                      [0.0, 0.0, 0.0, 0.0, 0.0],
                      [1.0, -0.0, 9.0, 1.0, 1.0],
                      [-1.0, 1e-40, -1.0, -1.0, 1.0],
                      [np.inf, -np.inf, 2.5, np.inf, 1.0]])
    return np.vstack([matrix, edges])


@pytest.mark.parametrize("leaves, settings", [
    (2, {}),
    (4, {}),
    (8, {"max_depth": 3}),
    (8, {}),
    (4, {"zero_as_missing": True}),
    (4, {"use_missing": False}),
    (8, {"max_cat_to_onehot": 8}),
    (9, {}),
    (12, {}),
    (15, {}),
    (15, {"max_depth": 4}),
    (15, {"zero_as_missing": True}),
    (15, {"use_missing": False}),
    (15, {"max_cat_to_onehot": 8}),
])
def test_tables_give_lightgbm_values(leaves: int, settings: dict) -> None:
    booster = _booster(leaves, **settings)
    tables = ShapTables.of(booster)
    assert tables is not None
    assert (tables.tree_splits >= 0).sum(axis=1).max() == leaves - 1  # the trees are that big
    scored = _scored()
    expected = booster.predict(scored, pred_contrib=True)[:, :-1]
    np.testing.assert_allclose(tables.contributions(scored), expected, rtol=0, atol=1e-12)


def test_the_missing_kinds_and_categorical_splits_are_exercised() -> None:
    """The cases above reach what they are meant to: splits that keep NaN apart, that take
    it as zero, that take zero as missing, and categorical splits."""
    kinds = set()
    for settings in ({}, {"zero_as_missing": True}, {"use_missing": False}):
        tables = ShapTables.of(_booster(4, **settings))
        kinds |= set(tables.split_missing.tolist())
        assert tables.categorical_splits.size > 0
    assert kinds == {0, 1, 2}


def test_rows_are_explained_in_chunks_alike() -> None:
    booster = _booster(4)
    tables = ShapTables.of(booster)
    matrix, _ = _data(9000, 2)  # more than one chunk of rows
    np.testing.assert_allclose(tables.contributions(matrix),
                               booster.predict(matrix, pred_contrib=True)[:, :-1],
                               rtol=0, atol=1e-12)


def test_larger_trees_are_left_to_lightgbm() -> None:
    booster = _booster(MAX_SPLITS + 2)
    assert ShapTables.of(booster) is None
    model = RiskModel(booster=booster, features=[f"f{i}" for i in range(5)])
    scored = _scored()
    np.testing.assert_array_equal(model.contributions(
        __import__("pandas").DataFrame(scored, columns=model.features)).to_numpy(),
        booster.predict(scored, pred_contrib=True)[:, :-1])


def _chain(features: list[int]) -> dict:
    """LightGBM's forced splits (`forcedsplits_filename`) of a chain on `features` (columns of
    uniform values), the path zigzagging right and left: each split takes about 5% of the
    rows off it, at a threshold nested inside the path's earlier ones on the same feature."""
    taken: dict[tuple[int, str], int] = {}
    splits = []
    for k, feature in enumerate(features):
        side = ("right", "left")[k % 2]
        taken[feature, side] = taken.get((feature, side), 0) + 1
        threshold = 0.05 * taken[feature, side]
        splits.append((feature, threshold if side == "right" else 1.0 - threshold, side))
    chain: dict = {}
    for feature, threshold, side in reversed(splits):
        chain = {"feature": feature, "threshold": threshold, **({side: chain} if chain else {})}
    return chain


def _path_features(node: dict) -> list[list[int]]:
    """The features split on along each path from the root to a leaf."""
    if "split_index" not in node:
        return [[]]
    return [[node["split_feature"], *path] for child in ("left_child", "right_child")
            for path in _path_features(node[child])]


@pytest.mark.parametrize("features", [
    list(range(14)),  # 14 splits on 14 features: leaves of 14 unique features
    [0, 1, 2, 0, 3, 4, 5, 0, 6, 7, 8, 1, 0, 9],  # 10 features, one of them split on 4 times
])
def test_deep_chains_give_lightgbm_values(features: list[int], tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    matrix = rng.random((4000, 15))
    matrix[rng.random(matrix.shape) < 0.03] = np.nan
    label = (rng.random(4000) < 1 / (1 + np.exp(-np.nan_to_num(matrix) @ rng.normal(size=15)))
             ).astype(int)
    forced = tmp_path / "chain.json"
    forced.write_text(json.dumps(_chain(features)))
    booster = lgb.train({"objective": "binary", "num_leaves": 15, "min_data_in_leaf": 20,
                         "forcedsplits_filename": str(forced), "verbose": -1, "seed": 0,
                         "num_threads": 1}, lgb.Dataset(matrix, label), num_boost_round=8)
    paths = _path_features(booster.dump_model()["tree_info"][0]["tree_structure"])
    assert max(paths, key=len) == features  # the chain was forced whole
    tables = ShapTables.of(booster)
    assert tables is not None
    scored = np.vstack([rng.random((300, 15)), np.full((1, 15), np.nan), np.zeros((1, 15)),
                        np.ones((1, 15)), np.full((1, 15), 0.05), np.full((1, 15), 0.95)])
    np.testing.assert_allclose(tables.contributions(scored),
                               booster.predict(scored, pred_contrib=True)[:, :-1],
                               rtol=0, atol=1e-12)
