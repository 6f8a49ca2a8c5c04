"""Numeric helpers shared by the simulation steps: a weighted choice and the logistic function."""

from __future__ import annotations

import numpy as np


def _choose(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the given weights (rows of a 2-D `weights` per draw)."""
    cumulative = np.cumsum(weights / weights.sum(axis=-1, keepdims=True), axis=-1)
    draws = rng.random(size)
    if cumulative.ndim == 1:
        return np.minimum(np.searchsorted(cumulative, draws, side="right"),
                          len(cumulative) - 1)
    return np.minimum((draws[:, None] >= cumulative).sum(axis=1), cumulative.shape[1] - 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
