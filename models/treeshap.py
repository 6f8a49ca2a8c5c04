"""TreeSHAP of small trees by table look-up: LightGBM's `pred_contrib` values, many times faster.

The path-dependent TreeSHAP values LightGBM computes (`Booster.predict(pred_contrib=True)`)
are, for each tree, the Shapley values of the game v(S): walk the tree from its root, follow
the row's own branch at a split on a feature of S, and average both branches by their
training counts at any other split. For a given tree they depend on the row only through
the side it takes at each of the tree's splits (its *pattern*). A tree of k splits has at
most 2^k patterns, so the Shapley values of every pattern can be computed once per model
(`ShapTables.of`); explaining a row is then one comparison per split and one look-up per
tree (`ShapTables.contributions`), instead of LightGBM's walk of every path per row and tree
(its cost grows with leaves x depth squared).

Kept to trees of at most `MAX_SPLITS` splits (the small and shallow candidates the API
explains per request); `ShapTables.of` returns None for larger trees, which LightGBM then
explains itself. The splits are decided exactly as LightGBM decides them (`_go_left`): a
missing value counts as zero unless the split keeps missing values apart, zero-as-missing
splits send zeros the default way, categorical splits test the code's membership of the
split's set (a missing code goes right). tests/test_treeshap.py checks the values against
`pred_contrib`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

import lightgbm as lgb
import numpy as np
from scipy import sparse

MAX_SPLITS = 7
"""Largest number of splits of a tree explained by look-up (128 patterns, 8 leaves)."""
ROWS_PER_CHUNK = 4096
"""Rows explained at once (the look-up holds rows x trees x features per tree values)."""
_ZERO = 1e-35
"""LightGBM's `kZeroThreshold`: values this close to zero are zero for zero-as-missing."""


@dataclass(frozen=True)
class _Split:
    """One split of the tree (numbered by its position in the tree's splits)."""

    feature: int
    threshold: float
    categorical: bool
    left_codes: frozenset[int]
    default_left: bool
    missing: str  # "None", "Zero" or "NaN"


@dataclass(frozen=True)
class ShapTables:
    """Every split of a model's trees and the Shapley values of every tree's patterns.

    `split_*`: one entry per split of all trees; `categorical_splits` the categorical ones and
    `members` their sets (`_members`). `tree_splits` (trees x `width`): the splits of
    each tree, in their order within the pattern's bits (-1: none). `tree_features` (trees x
    features per tree): the features a tree splits on (-1: none). `values` (trees x features
    per tree x patterns): their Shapley values in each pattern.
    """

    split_feature: np.ndarray
    split_threshold: np.ndarray
    split_default_left: np.ndarray
    split_missing: np.ndarray  # 0 None, 1 Zero, 2 NaN
    categorical_splits: np.ndarray
    members: np.ndarray
    tree_splits: np.ndarray
    tree_features: np.ndarray
    values: np.ndarray
    features: int

    @cached_property
    def nan_left(self) -> np.ndarray:
        """Per split, where a missing value goes: the default way if the split keeps missing
        values apart (or takes them for zeros), else where a zero goes."""
        return np.where(self.split_missing == 0, self.split_threshold >= 0.0,
                        self.split_default_left)

    @classmethod
    def of(cls, booster: lgb.Booster) -> ShapTables | None:
        """The tables of `booster`'s trees (its best iteration, if stopped early); None when
        a tree has more than `MAX_SPLITS` splits."""
        dump = booster.dump_model()  # the trees `predict` uses (its best iteration, if any)
        trees = [info["tree_structure"] for info in dump["tree_info"]]
        splits_of = [_splits(tree) for tree in trees]
        width = max((len(s) for s in splits_of), default=0)
        if width > MAX_SPLITS:
            return None
        feature_sets = [sorted({s.feature for s in splits}) for splits in splits_of]
        depth = max((len(f) for f in feature_sets), default=0)
        tree_splits = np.full((len(trees), max(width, 1)), -1, dtype=np.int64)
        tree_features = np.full((len(trees), max(depth, 1)), -1, dtype=np.int64)
        values = np.zeros((len(trees), max(depth, 1), 2 ** width))
        flat: list[_Split] = []
        for t, (tree, splits, features) in enumerate(zip(trees, splits_of, feature_sets,
                                                          strict=True)):
            tree_splits[t, :len(splits)] = range(len(flat), len(flat) + len(splits))
            flat.extend(splits)
            tree_features[t, :len(features)] = features
            if features:
                values[t, :len(features), :2 ** len(splits)] = _pattern_values(
                    tree, len(splits), features).T
        return cls(
            split_feature=np.array([s.feature for s in flat], dtype=np.int64),
            split_threshold=np.array([s.threshold for s in flat]),
            split_default_left=np.array([s.default_left for s in flat], dtype=bool),
            split_missing=np.array([("None", "Zero", "NaN").index(s.missing) for s in flat],
                                   dtype=np.int8),
            categorical_splits=np.array([i for i, s in enumerate(flat) if s.categorical],
                                        dtype=np.int64),
            members=_members([s.left_codes for s in flat if s.categorical]),
            tree_splits=tree_splits, tree_features=tree_features, values=values,
            features=booster.num_feature())

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Per row of the design matrix, per feature: the sum over trees of the TreeSHAP
        values (LightGBM's `pred_contrib` without its last, expected-value column)."""
        out = np.zeros((len(matrix), self.features))
        for start in range(0, len(matrix), ROWS_PER_CHUNK):
            chunk = np.asarray(matrix[start:start + ROWS_PER_CHUNK], dtype=float)
            out[start:start + len(chunk)] = self._chunk(chunk)
        return out

    def _chunk(self, matrix: np.ndarray) -> np.ndarray:
        """Rows x features, worked split by split (splits x rows): each split reads one
        contiguous run of its feature's values."""
        rows = len(matrix)
        left = self._go_left(np.asfortranarray(matrix).T)
        pattern = np.asarray(self._bits @ left.astype(np.float64)).astype(np.int64)
        trees, depth = self.tree_features.shape
        picked = self.values[np.arange(trees)[:, None, None], np.arange(depth)[None, :, None],
                             pattern[:, None, :]]  # trees x depth x rows
        return np.asarray((self._spread @ picked.reshape(trees * depth, rows)).T)

    @cached_property
    def _bits(self) -> sparse.csr_matrix:
        """trees x splits: 2^i at a tree's i-th split (times `left`, each tree's pattern)."""
        tree, bit = np.nonzero(self.tree_splits >= 0)
        return sparse.csr_matrix((2.0 ** bit, (tree, self.tree_splits[tree, bit])),
                                 shape=(len(self.tree_splits), len(self.split_feature)))

    @cached_property
    def _spread(self) -> sparse.csr_matrix:
        """features x (trees x features per tree): where each tree's values go."""
        slots = self.tree_features.ravel()
        kept = np.flatnonzero(slots >= 0)
        return sparse.csr_matrix((np.ones(len(kept)), (slots[kept], kept)),
                                 shape=(self.features, len(slots)))

    def _go_left(self, columns: np.ndarray) -> np.ndarray:
        """splits x rows: whether each row goes left at each split, as LightGBM decides
        (`columns`: features x rows). A missing value goes the default way where the split
        keeps missing values apart, else it counts as zero; zero-as-missing splits send zeros
        the default way; a categorical split sends the codes of its set left, a missing or a
        negative code right."""
        values = columns[self.split_feature]
        missing = np.isnan(values)
        left = np.where(missing, self.nan_left[:, None], values <= self.split_threshold[:, None])
        for j in np.flatnonzero(self.split_missing == 1):  # zero as missing (rare)
            zero = missing[j] | (np.abs(values[j]) <= _ZERO)
            left[j] = np.where(zero, self.split_default_left[j], left[j])
        if self.categorical_splits.size:
            codes = values[self.categorical_splits]
            whole = np.where(np.isnan(codes), -1, codes).astype(np.int64)
            whole = np.clip(whole, -1, self.members.shape[1] - 2) + 1
            left[self.categorical_splits] = self.members[
                np.arange(len(self.categorical_splits))[:, None], whole]
        return left


def _members(sets: list[frozenset[int]]) -> np.ndarray:
    """categorical splits x (1 + codes): column c + 1 says whether code c goes left (column 0,
    a missing or negative code, never does; codes past the largest named go right)."""
    largest = max((max(s) for s in sets if s), default=0)
    members = np.zeros((len(sets), largest + 3), dtype=bool)
    for i, codes in enumerate(sets):
        members[i, [c + 1 for c in codes]] = True
    return members


def _splits(tree: dict) -> list[_Split]:
    """The tree's splits, numbered by `split_index` (the order of the pattern's bits)."""
    found: dict[int, _Split] = {}

    def walk(node: dict) -> None:
        if "split_index" not in node:
            return
        categorical = node["decision_type"] == "=="
        codes = frozenset(int(c) for c in str(node["threshold"]).split("||")) if categorical \
            else frozenset()
        found[node["split_index"]] = _Split(
            feature=int(node["split_feature"]),
            threshold=math.inf if categorical else float(node["threshold"]),
            categorical=categorical, left_codes=codes, default_left=bool(node["default_left"]),
            missing=str(node["missing_type"]))
        walk(node["left_child"])
        walk(node["right_child"])

    walk(tree)
    return [found[i] for i in sorted(found)]


def _pattern_values(tree: dict, width: int, features: list[int]) -> np.ndarray:
    """patterns x features: the Shapley values of the tree's game in each of its 2^width
    patterns (bit i of a pattern: the row goes left at split i), by their definition."""
    patterns = np.arange(2 ** width)
    m = len(features)

    def value(node: dict, known: frozenset[int]) -> np.ndarray:
        if "split_index" not in node:
            return np.full(len(patterns), float(node["leaf_value"]))
        left, right = value(node["left_child"], known), value(node["right_child"], known)
        if node["split_feature"] in known:
            return np.where((patterns >> node["split_index"]) & 1, left, right)
        return (_count(node["left_child"]) * left + _count(node["right_child"]) * right) \
            / _count(node)

    games = {frozenset(s): value(tree, frozenset(s))
             for size in range(m + 1) for s in combinations(features, size)}
    out = np.zeros((len(patterns), m))
    for i, feature in enumerate(features):
        others = [f for f in features if f != feature]
        for size in range(m):
            weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for subset in combinations(others, size):
                known = frozenset(subset)
                out[:, i] += weight * (games[known | {feature}] - games[known])
    return out


def _count(node: dict) -> float:
    """The node's training count (TreeSHAP's weight of a branch)."""
    return float(node.get("internal_count", node.get("leaf_count", 0)))
