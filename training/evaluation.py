"""Evaluation metrics for late-payment scores: ranking, calibration, lift and segments.

Pure computation: nothing here prints or plots (see `training.plots` for figures). Every
function takes labels `y_true` (0 = paid on time, 1 = late) and scores `p` (predicted
probability of late payment) and raises `ValueError` naming the problem on bad input.

Calibration bins (used by `calibration_table` and `expected_calibration_error`):

- ``"uniform"``: `n_bins` equal-width bins over [0, 1].
- ``"quantile"``: edges at the 1/n_bins, 2/n_bins, ... quantiles of `p`, so bins hold about
  the same number of rows; repeated edges (many equal scores) are merged, so there may be
  fewer bins than asked for.

Bins are closed on the right: a score equal to an inner edge falls in the lower bin (as in
scikit-learn's `calibration_curve`). Empty bins are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

BinStrategy = Literal["quantile", "uniform"]
BIN_STRATEGIES: tuple[str, ...] = ("quantile", "uniform")

LOG_LOSS_CLIP = 1e-6
"""Scores are clipped to [LOG_LOSS_CLIP, 1 - LOG_LOSS_CLIP] before taking logs."""

SIZE_BAND_QUANTILES: tuple[float, float, float] = (0.25, 0.50, 0.75)
"""Quartile edges of `size_band`: small | medium | large | very large."""
SIZE_BAND_LABELS: tuple[str, ...] = ("small", "medium", "large", "very large")

AGE_BAND_EDGES_DAYS: tuple[int, int, int] = (0, 30, 60)
"""Right-closed edges of `age_band`: 0 | 1-30 | 31-60 | over 60 days since issue."""
AGE_BAND_LABELS: tuple[str, ...] = ("at issue", "1-30 days", "31-60 days", "over 60 days")

MISSING_SEGMENT = "(missing)"
"""`value` shown by `segment_metrics` for rows whose segment column is missing."""

METRIC_NAMES: tuple[str, ...] = (
    "auc", "pr_auc", "brier", "log_loss", "ece", "lift_top_decile", "base_rate", "mean_p", "n",
)
SEGMENT_COLUMNS: tuple[str, ...] = (
    "segment", "value", "n", "base_rate", "mean_p", "auc", "brier", "ece",
)
CALIBRATION_COLUMNS: tuple[str, ...] = ("bin", "n", "mean_p", "observed")


# --- input checks ---------------------------------------------------------------------------


def _as_float_vector(values: object, name: str) -> np.ndarray:
    """`values` as a 1-D float array, or a ValueError naming `name`."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric without missing values ({exc})") from exc
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _examples(values: np.ndarray, mask: np.ndarray, limit: int = 3) -> str:
    """A short text listing the first offending positions and values."""
    positions = np.flatnonzero(mask)[:limit]
    return ", ".join(f"[{i}]={values[i]!r}" for i in positions)


def check_binary_inputs(y_true: object, p: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and scores; return them as float arrays.

    Raises ValueError when the inputs are empty or of different lengths, when `y_true`
    holds anything but 0 and 1, or when `p` is not finite or lies outside [0, 1].
    """
    labels = _as_float_vector(y_true, "y_true")
    scores = _as_float_vector(p, "p")
    if labels.shape != scores.shape:
        raise ValueError(
            f"y_true and p have different lengths ({labels.size} vs {scores.size})"
        )
    if labels.size == 0:
        raise ValueError("y_true and p are empty")
    not_binary = (labels != 0) & (labels != 1)
    if not_binary.any():
        raise ValueError(
            f"y_true must contain only 0 and 1; {int(not_binary.sum())} rows do not: "
            f"{_examples(labels, not_binary)}"
        )
    not_finite = ~np.isfinite(scores)
    if not_finite.any():
        raise ValueError(
            f"p must be finite; {int(not_finite.sum())} rows are NaN or infinite: "
            f"{_examples(scores, not_finite)}"
        )
    out_of_range = (scores < 0) | (scores > 1)
    if out_of_range.any():
        raise ValueError(
            f"p must lie within [0, 1]; {int(out_of_range.sum())} rows do not: "
            f"{_examples(scores, out_of_range)}"
        )
    return labels, scores


def _check_n_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")


def _check_strategy(strategy: str) -> None:
    if strategy not in BIN_STRATEGIES:
        raise ValueError(f"strategy must be one of {BIN_STRATEGIES}, got {strategy!r}")


# --- calibration ----------------------------------------------------------------------------


def _inner_bin_edges(scores: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    """The edges between bins (without 0 and 1), sorted and without repeats."""
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    edges = np.quantile(scores, np.linspace(0.0, 1.0, n_bins + 1))
    return np.unique(edges[1:-1])


def calibration_table(
    y_true: object, p: object, *, n_bins: int = 10, strategy: BinStrategy = "quantile"
) -> pd.DataFrame:
    """Observed late rate beside mean predicted probability per score bin.

    Columns: `bin` (bin index, lowest scores first; empty bins are left out), `n` (rows),
    `mean_p` (mean score) and `observed` (share of late rows). See the module docstring for
    how bins are formed.
    """
    _check_n_bins(n_bins)
    _check_strategy(strategy)
    labels, scores = check_binary_inputs(y_true, p)
    bins = np.searchsorted(_inner_bin_edges(scores, n_bins, strategy), scores, side="left")
    grouped = pd.DataFrame({"bin": bins, "label": labels, "score": scores}).groupby("bin")
    table = pd.DataFrame({
        "n": grouped.size(),
        "mean_p": grouped["score"].mean(),
        "observed": grouped["label"].mean(),
    }).reset_index()
    return table.astype({"bin": int, "n": int})[list(CALIBRATION_COLUMNS)]


def expected_calibration_error(
    y_true: object, p: object, *, n_bins: int = 10, strategy: BinStrategy = "quantile"
) -> float:
    """Expected calibration error: sum over bins of (bin rows / all rows) × |observed − mean p|.

    `observed` is the bin's late rate and `mean p` its mean score, so the ECE is the average
    distance between predicted and actual late rates, weighted by where the rows are. 0 means
    every bin's mean prediction matches its late rate. Bins as in `calibration_table`.
    """
    table = calibration_table(y_true, p, n_bins=n_bins, strategy=strategy)
    weights = table["n"] / table["n"].sum()
    return float((weights * (table["observed"] - table["mean_p"]).abs()).sum())


# --- ranking --------------------------------------------------------------------------------


def _top_count(n_rows: int, fraction: float) -> int:
    """ceil(fraction × n_rows), ignoring float noise such as 0.1 × 30 = 3.0000000000000004."""
    return max(1, math.ceil(round(fraction * n_rows, 9)))


def lift_at(y_true: object, p: object, fraction: float = 0.1) -> float:
    """Late rate among the top `fraction` of rows by score, divided by the overall late rate.

    The top holds ceil(fraction × n) rows (at least one). Equal scores are ordered by their
    position in the input (stable sort on −p), so the result is deterministic. NaN when no
    row is late (the overall rate is zero).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    labels, scores = check_binary_inputs(y_true, p)
    overall_rate = labels.mean()
    if overall_rate == 0:
        return math.nan
    top = np.argsort(-scores, kind="stable")[: _top_count(labels.size, fraction)]
    return float(labels[top].mean() / overall_rate)


def _has_both_classes(labels: np.ndarray) -> bool:
    return bool(labels.min() == 0 and labels.max() == 1)


def _log_loss(labels: np.ndarray, scores: np.ndarray) -> float:
    clipped = np.clip(scores, LOG_LOSS_CLIP, 1 - LOG_LOSS_CLIP)
    return float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped)))


def binary_metrics(y_true: object, p: object) -> dict[str, float]:
    """Ranking, probability and calibration metrics of late-payment scores.

    Keys: `auc` (ROC AUC), `pr_auc` (average precision), `brier` (mean squared error of p),
    `log_loss` (p clipped to [1e-6, 1 − 1e-6]), `ece` (10 quantile bins), `lift_top_decile`
    (`lift_at` 0.1), `base_rate` (share late), `mean_p` and `n` (rows, an int). `auc` and
    `pr_auc` are NaN when only one class is present; `lift_top_decile` is NaN with no late row.
    """
    labels, scores = check_binary_inputs(y_true, p)
    both_classes = _has_both_classes(labels)
    return {
        "auc": float(roc_auc_score(labels, scores)) if both_classes else math.nan,
        "pr_auc": float(average_precision_score(labels, scores)) if both_classes else math.nan,
        "brier": float(np.mean((scores - labels) ** 2)),
        "log_loss": _log_loss(labels, scores),
        "ece": expected_calibration_error(labels, scores),
        "lift_top_decile": lift_at(labels, scores, 0.1),
        "base_rate": float(labels.mean()),
        "mean_p": float(scores.mean()),
        "n": int(labels.size),
    }


def compare_models(y_true: object, scores: Mapping[str, object]) -> pd.DataFrame:
    """`binary_metrics` of several models on the same labels: one row per model, in order.

    Columns: `model`, then the `binary_metrics` keys. Errors name the offending model.
    """
    if not scores:
        raise ValueError("scores is empty: pass at least one model's scores")
    rows = []
    for model, model_scores in scores.items():
        try:
            rows.append({"model": model, **binary_metrics(y_true, model_scores)})
        except ValueError as exc:
            raise ValueError(f"model {model!r}: {exc}") from exc
    return pd.DataFrame(rows, columns=["model", *METRIC_NAMES])


# --- segments -------------------------------------------------------------------------------


def size_band(amounts: pd.Series) -> pd.Series:
    """Amount bands by the quartiles of `amounts` itself (an ordered categorical).

    small: up to the 25th percentile; medium: up to the median; large: up to the 75th
    percentile; very large: above it. Edges belong to the lower band; missing stays missing.
    Bands are relative to the series given, so compare them within one evaluation set.
    """
    values = pd.to_numeric(amounts, errors="raise").astype(float)
    known = values.dropna()
    if known.empty:
        codes = np.full(len(values), -1)
    else:
        edges = np.quantile(known.to_numpy(), SIZE_BAND_QUANTILES)
        codes = np.searchsorted(edges, values.to_numpy(), side="left")
        codes[values.isna().to_numpy()] = -1
    return _ordered_bands(codes, SIZE_BAND_LABELS, amounts.index, "size_band")


def age_band(days: pd.Series) -> pd.Series:
    """Invoice age bands (an ordered categorical) from days since issue.

    at issue: 0 days; 1-30 days; 31-60 days; over 60 days (fractional days round up into
    the next band, e.g. 30.5 is "31-60 days"). Timedeltas are accepted. Missing stays missing;
    negative ages raise ValueError.
    """
    if days.dtype.kind == "m":
        days = days.dt.total_seconds() / 86_400
    values = pd.to_numeric(days, errors="raise").astype(float)
    negative = values < 0
    if negative.any():
        raise ValueError(
            f"days must not be negative; {int(negative.sum())} rows are, e.g. "
            f"{values[negative].head(3).tolist()}"
        )
    codes = np.searchsorted(AGE_BAND_EDGES_DAYS, values.to_numpy(), side="left")
    codes[values.isna().to_numpy()] = -1
    return _ordered_bands(codes, AGE_BAND_LABELS, days.index, "age_band")


def _ordered_bands(
    codes: np.ndarray, labels: Sequence[str], index: pd.Index, name: str
) -> pd.Series:
    categorical = pd.Categorical.from_codes(codes, categories=list(labels), ordered=True)
    return pd.Series(categorical, index=index, name=name)


def _segment_values(column: pd.Series) -> list[object]:
    """Present values of a segment column: category order for categoricals, else sorted."""
    present = column.dropna().unique()
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [value for value in column.cat.categories if value in set(present)]
    return sorted(present, key=lambda value: (str(type(value)), value))


def _segment_row(
    segment: str, value: object, labels: pd.Series, scores: pd.Series,
    *, min_rows: int, n_bins: int,
) -> dict[str, object]:
    enough_rows = len(labels) >= min_rows
    both_classes = enough_rows and labels.nunique() == 2
    return {
        "segment": segment,
        "value": value,
        "n": len(labels),
        "base_rate": float(labels.mean()),
        "mean_p": float(scores.mean()),
        "auc": float(roc_auc_score(labels, scores)) if both_classes else math.nan,
        "brier": float(np.mean((scores - labels) ** 2)) if enough_rows else math.nan,
        "ece": (
            expected_calibration_error(labels, scores, n_bins=n_bins) if enough_rows
            else math.nan
        ),
    }


def _check_columns(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"frame has no column(s) {missing}; it has {list(frame.columns)}")


def segment_metrics(
    frame: pd.DataFrame, *, label: str, score: str, by: Sequence[str], min_rows: int = 50,
    n_bins: int = 10,
) -> pd.DataFrame:
    """Metrics per segment: one row per (segment column, value).

    Columns: `segment` (column name), `value`, `n`, `base_rate`, `mean_p`, `auc`, `brier` and
    `ece` (`n_bins` quantile bins). Segments with fewer than `min_rows` rows keep `n`,
    `base_rate` and `mean_p` but get NaN metrics; `auc` is also NaN for one-class segments.
    Rows come in the order of `by`, then by value (category order for categoricals, else
    sorted), with missing values last as "(missing)".
    """
    if isinstance(by, str):
        raise ValueError(f"by must be a sequence of column names, got the string {by!r}")
    if min_rows < 1:
        raise ValueError(f"min_rows must be at least 1, got {min_rows!r}")
    _check_columns(frame, [label, score, *by])
    labels, scores = check_binary_inputs(frame[label], frame[score])
    labels_series = pd.Series(labels, index=frame.index)
    scores_series = pd.Series(scores, index=frame.index)
    rows = []
    for segment in by:
        column = frame[segment]
        masks = [(value, column == value) for value in _segment_values(column)]
        if column.isna().any():
            masks.append((MISSING_SEGMENT, column.isna()))
        rows.extend(
            _segment_row(
                segment, value, labels_series[mask], scores_series[mask],
                min_rows=min_rows, n_bins=n_bins,
            )
            for value, mask in masks
        )
    return pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS)).astype({"n": int})
