"""Evaluation metrics and plots: agreement with scikit-learn, hand-computed values, bad input."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

from training import plots
from training.evaluation import (
    METRIC_NAMES,
    age_band,
    binary_metrics,
    calibration_table,
    compare_models,
    expected_calibration_error,
    lift_at,
    segment_metrics,
    size_band,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPO_ROOT = Path(__file__).resolve().parents[1]


def _random_scores(seed: int, n: int = 2_000) -> tuple[np.ndarray, np.ndarray]:
    """Scores in (0.01, 0.99) and labels drawn from them (so roughly calibrated)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.99, n)
    return (rng.uniform(size=n) < p).astype(int), p


# --- binary_metrics -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_agree_with_sklearn(seed: int) -> None:
    y, p = _random_scores(seed)
    metrics = binary_metrics(y, p)
    assert list(metrics) == list(METRIC_NAMES)
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, p))
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, p))
    assert metrics["log_loss"] == pytest.approx(log_loss(y, p))
    assert metrics["ece"] == pytest.approx(expected_calibration_error(y, p))
    assert metrics["lift_top_decile"] == pytest.approx(lift_at(y, p, 0.1))
    assert metrics["base_rate"] == pytest.approx(y.mean())
    assert metrics["mean_p"] == pytest.approx(p.mean())
    assert metrics["n"] == len(y)


def test_binary_metrics_accept_pandas_and_booleans() -> None:
    y, p = _random_scores(3, n=200)
    from_numpy = binary_metrics(y, p)
    from_pandas = binary_metrics(pd.Series(y.astype(bool)), pd.Series(p))
    assert from_pandas == pytest.approx(from_numpy)


def test_log_loss_clips_certain_wrong_scores() -> None:
    metrics = binary_metrics([1, 0], [0.0, 1.0])
    assert metrics["log_loss"] == pytest.approx(-math.log(1e-6))


def test_perfect_scores_give_auc_one_and_reversed_give_zero() -> None:
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert binary_metrics(y, p)["auc"] == pytest.approx(1.0)
    assert binary_metrics(y, p)["pr_auc"] == pytest.approx(1.0)
    assert binary_metrics(y, 1 - p)["auc"] == pytest.approx(0.0)


def test_random_scores_give_auc_near_one_half() -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 20_000)
    p = rng.uniform(size=20_000)
    assert binary_metrics(y, p)["auc"] == pytest.approx(0.5, abs=0.02)


def test_constant_scores_give_auc_one_half() -> None:
    assert binary_metrics([0, 1, 0, 1], [0.3] * 4)["auc"] == pytest.approx(0.5)


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_gives_nan_auc_not_an_exception(label: int) -> None:
    metrics = binary_metrics([label] * 5, [0.1, 0.2, 0.3, 0.4, 0.5])
    assert math.isnan(metrics["auc"])
    assert math.isnan(metrics["pr_auc"])
    assert metrics["base_rate"] == label
    assert np.isfinite([metrics["brier"], metrics["log_loss"], metrics["ece"]]).all()


BAD_INPUTS = {
    "different lengths": ([0, 1, 0], [0.1, 0.2], "different lengths"),
    "empty": ([], [], "empty"),
    "score above one": ([0, 1], [0.5, 1.2], r"within \[0, 1\]"),
    "negative score": ([0, 1], [-0.1, 0.5], r"within \[0, 1\]"),
    "NaN score": ([0, 1], [np.nan, 0.5], "p must be finite"),
    "infinite score": ([0, 1], [0.5, np.inf], "p must be finite"),
    "label two": ([0, 2], [0.1, 0.2], "only 0 and 1"),
    "NaN label": ([0, np.nan], [0.1, 0.2], "only 0 and 1"),
    "text labels": (["late", "on time"], [0.1, 0.2], "y_true must be numeric"),
    "two-column scores": ([0, 1], [[0.9, 0.1], [0.2, 0.8]], "p must be one-dimensional"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_inputs_raise_value_error_naming_the_problem(case: str) -> None:
    y, p, message = BAD_INPUTS[case]
    with pytest.raises(ValueError, match=message):
        binary_metrics(y, p)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: expected_calibration_error([0, 1], [0.2, 0.8], n_bins=0), "n_bins"),
        (lambda: expected_calibration_error([0, 1], [0.2, 0.8], strategy="kmeans"), "strategy"),
        (lambda: calibration_table([0, 1], [0.2, 0.8], n_bins=2.5), "n_bins"),
        (lambda: lift_at([0, 1], [0.2, 0.8], fraction=0.0), "fraction"),
        (lambda: lift_at([0, 1], [0.2, 0.8], fraction=1.5), "fraction"),
    ],
)
def test_bad_options_raise_value_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- calibration ----------------------------------------------------------------------------

HAND_P = np.array([0.05, 0.15, 0.25, 0.35, 0.55, 0.65, 0.85, 0.95])
HAND_Y = np.array([0, 0, 1, 0, 1, 0, 1, 1])


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_ece_is_zero_for_perfectly_calibrated_bins(strategy: str) -> None:
    p = np.repeat([0.2, 0.7], 10)
    y = np.array([1] * 2 + [0] * 8 + [1] * 7 + [0] * 3)
    assert expected_calibration_error(y, p, strategy=strategy) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("strategy", "n_bins", "expected"),
    [
        # bins [0, .5] and (.5, 1]: |0.2 - 1/4| × 1/2 + |0.75 - 3/4| × 1/2
        ("uniform", 2, 0.025),
        # 0.25 sits on an edge and belongs to the lower bin: {.05 .15 .25} {.35} {.55 .65} {.85 .95}
        ("uniform", 4, 3 / 8 * abs(0.15 - 1 / 3) + 1 / 8 * 0.35 + 2 / 8 * 0.1 + 2 / 8 * 0.1),
        # quartiles split the 8 rows into pairs: |.1 - 0| |.3 - .5| |.6 - .5| |.9 - 1|, 1/4 each
        ("quantile", 4, 0.25 * (0.1 + 0.2 + 0.1 + 0.1)),
        ("quantile", 1, abs(HAND_P.mean() - HAND_Y.mean())),
    ],
)
def test_ece_matches_hand_computed_value(strategy: str, n_bins: int, expected: float) -> None:
    ece = expected_calibration_error(HAND_Y, HAND_P, n_bins=n_bins, strategy=strategy)
    assert ece == pytest.approx(expected)


def test_calibration_table_columns_and_bins_by_hand() -> None:
    table = calibration_table(HAND_Y, HAND_P, n_bins=4, strategy="uniform")
    assert list(table.columns) == ["bin", "n", "mean_p", "observed"]
    assert table["bin"].tolist() == [0, 1, 2, 3]
    assert table["n"].tolist() == [3, 1, 2, 2]
    assert table["mean_p"].tolist() == pytest.approx([0.15, 0.35, 0.6, 0.9])
    assert table["observed"].tolist() == pytest.approx([1 / 3, 0.0, 0.5, 1.0])


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
@pytest.mark.parametrize("n_bins", [1, 5, 10, 50])
def test_calibration_table_sums_to_n(strategy: str, n_bins: int) -> None:
    y, p = _random_scores(11, n=997)
    table = calibration_table(y, p, n_bins=n_bins, strategy=strategy)
    assert table["n"].sum() == 997
    assert len(table) <= n_bins
    assert table["mean_p"].is_monotonic_increasing


def test_quantile_bins_merge_repeated_scores() -> None:
    p = np.array([0.2] * 11 + [0.7] * 9)
    table = calibration_table(np.zeros(20), p, n_bins=10)
    assert table["n"].tolist() == [11, 9]
    assert calibration_table([0, 1, 1], [0.4] * 3)["n"].tolist() == [3]


def test_uniform_bins_leave_out_empty_bins() -> None:
    table = calibration_table([0, 1, 1], [0.05, 0.93, 0.97], n_bins=10, strategy="uniform")
    assert table["bin"].tolist() == [0, 9]
    assert table["n"].tolist() == [1, 2]


# --- lift -----------------------------------------------------------------------------------


def test_lift_by_hand() -> None:
    p = np.linspace(0.9, 0.0, 10)  # already ranked, highest first
    y = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    assert lift_at(y, p, 0.2) == pytest.approx(0.5 / 0.2)
    assert lift_at(y, p, 0.4) == pytest.approx(0.5 / 0.2)
    assert lift_at(y, p, 1.0) == pytest.approx(1.0)


def test_lift_breaks_ties_by_input_order() -> None:
    y = np.array([1] + [0] * 9)
    assert lift_at(y, np.full(10, 0.5), 0.1) == pytest.approx(10.0)
    assert lift_at(y[::-1], np.full(10, 0.5), 0.1) == pytest.approx(0.0)


def test_lift_takes_the_earliest_rows_of_a_tied_group() -> None:
    rng = np.random.default_rng(0)
    p = np.full(1_000, 0.5)
    p[rng.choice(1_000, 50, replace=False)] = 0.9
    y = np.zeros(1_000)
    y[np.flatnonzero(p == 0.5)[:50]] = 1  # the first 50 tied rows fill the rest of the top 100
    assert lift_at(y, p, 0.1) == pytest.approx(0.5 / 0.05)


def test_lift_top_count_rounds_up_but_ignores_float_noise() -> None:
    p = np.linspace(1.0, 0.0, 100)
    eighth_ranked_late = np.zeros(100)
    eighth_ranked_late[7] = 1
    assert lift_at(eighth_ranked_late, p, 0.07) == 0.0  # 0.07 × 100 is 7 rows, not 8
    second_ranked_late = np.zeros(10)
    second_ranked_late[1] = 1
    assert lift_at(second_ranked_late, p[:10], 0.13) == pytest.approx(5.0)  # ceil(1.3) = 2 rows


def test_lift_is_nan_without_late_rows() -> None:
    assert math.isnan(lift_at([0, 0, 0], [0.1, 0.5, 0.9]))


# --- model comparison -----------------------------------------------------------------------


def test_compare_models_keeps_the_given_order() -> None:
    y, p = _random_scores(5, n=500)
    scores = {"lightgbm": p, "customer late share": np.full(500, y.mean()), "oldest first": 1 - p}
    table = compare_models(y, scores)
    assert table["model"].tolist() == list(scores)
    assert list(table.columns) == ["model", *METRIC_NAMES]
    assert table.loc[0, "auc"] == pytest.approx(roc_auc_score(y, p))
    assert table.loc[1, "auc"] == pytest.approx(0.5)
    assert table.loc[2, "auc"] == pytest.approx(1 - roc_auc_score(y, p))


def test_compare_models_names_the_bad_model() -> None:
    with pytest.raises(ValueError, match="model 'broken'.*within"):
        compare_models([0, 1], {"good": [0.1, 0.9], "broken": [0.1, 9.0]})
    with pytest.raises(ValueError, match="empty"):
        compare_models([0, 1], {})


# --- segments -------------------------------------------------------------------------------


def _segment_frame() -> pd.DataFrame:
    """60 rows in DE (both classes), 4 in US, 2 with no country; amounts 1..66."""
    rng = np.random.default_rng(0)
    country = ["DE"] * 60 + ["US"] * 4 + [None] * 2
    return pd.DataFrame({
        "late": np.r_[np.tile([0, 1], 30), [1, 1, 0, 0], [0, 1]],
        "score": rng.uniform(0.05, 0.95, 66),
        "country": country,
        "size": size_band(pd.Series(np.arange(1.0, 67.0))),
    })


def test_segment_metrics_counts_and_nan_for_small_segments() -> None:
    frame = _segment_frame()
    table = segment_metrics(frame, label="late", score="score", by=["country"], min_rows=50)
    assert list(table.columns) == [
        "segment", "value", "n", "base_rate", "mean_p", "auc", "brier", "ece",
    ]
    assert table["value"].tolist() == ["DE", "US", "(missing)"]
    assert table["n"].tolist() == [60, 4, 2]
    assert table["base_rate"].tolist() == pytest.approx([0.5, 0.5, 0.5])
    us = frame[frame["country"] == "US"]
    assert table.loc[1, "mean_p"] == pytest.approx(us["score"].mean())
    de = frame[frame["country"] == "DE"]
    assert table.loc[0, "auc"] == pytest.approx(roc_auc_score(de["late"], de["score"]))
    assert table.loc[0, "brier"] == pytest.approx(brier_score_loss(de["late"], de["score"]))
    assert table.loc[1:, ["auc", "brier", "ece"]].isna().all().all()


def test_segment_metrics_order_is_deterministic() -> None:
    frame = _segment_frame()
    options = {"label": "late", "score": "score", "by": ["size", "country"], "min_rows": 10}
    table = segment_metrics(frame, **options)
    shuffled = segment_metrics(frame.sample(frac=1.0, random_state=3), **options)
    pd.testing.assert_frame_equal(table, shuffled)
    assert table["segment"].tolist() == ["size"] * 4 + ["country"] * 3
    assert table["value"].tolist()[:4] == ["small", "medium", "large", "very large"]


def test_segment_metrics_one_class_segment_has_nan_auc() -> None:
    frame = pd.DataFrame({"late": [0] * 5 + [0, 1] * 3, "score": np.linspace(0, 1, 11),
                          "group": ["a"] * 5 + ["b"] * 6})
    table = segment_metrics(frame, label="late", score="score", by=["group"], min_rows=1)
    assert math.isnan(table.loc[0, "auc"])
    assert np.isfinite(table.loc[0, ["brier", "ece"]].astype(float)).all()
    assert np.isfinite(table.loc[1, "auc"])


def test_segment_metrics_names_a_missing_column() -> None:
    with pytest.raises(ValueError, match="industry"):
        segment_metrics(_segment_frame(), label="late", score="score", by=["industry"])


def test_size_band_uses_quartiles() -> None:
    bands = size_band(pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, np.nan], name="amount"))
    assert bands.tolist()[:8] == [
        "small", "small", "medium", "medium", "large", "large", "very large", "very large",
    ]
    assert pd.isna(bands.iloc[8])
    assert bands.cat.ordered


def test_size_band_with_equal_amounts_puts_all_in_one_band() -> None:
    assert set(size_band(pd.Series([100.0] * 5))) == {"small"}


def test_age_band_edges() -> None:
    days = pd.Series([0, 1, 30, 30.5, 31, 60, 61, 400, np.nan], index=list("abcdefghi"))
    bands = age_band(days)
    assert bands.tolist()[:8] == [
        "at issue", "1-30 days", "1-30 days", "31-60 days", "31-60 days", "31-60 days",
        "over 60 days", "over 60 days",
    ]
    assert pd.isna(bands["i"])
    assert list(bands.index) == list(days.index)
    assert age_band(pd.Series(pd.to_timedelta([0, 45], unit="D"))).tolist() == [
        "at issue", "31-60 days",
    ]
    with pytest.raises(ValueError, match="negative"):
        age_band(pd.Series([5, -1]))


# --- plots ----------------------------------------------------------------------------------

NAMES = ["days_past_due", "late_share_90d", "open_amount", "dispute_open"]


def _normal_inputs() -> tuple[np.ndarray, np.ndarray]:
    return _random_scores(21, n=400)


PLOT_CASES: dict[str, Callable[[], Figure]] = {
    "roc": lambda: plots.roc_plot(
        _normal_inputs()[0], {"lightgbm": _normal_inputs()[1], "constant": np.full(400, 0.3)}
    ),
    "roc single class": lambda: plots.roc_plot(np.zeros(20), {"m": np.linspace(0, 1, 20)}),
    "roc constant scores": lambda: plots.roc_plot([0, 1, 0, 1], {"m": [0.4] * 4}),
    "calibration": lambda: plots.calibration_plot(*_normal_inputs()),
    "calibration single class": lambda: plots.calibration_plot(np.ones(10), np.linspace(0, 1, 10)),
    "calibration constant scores": lambda: plots.calibration_plot([0, 1, 1], [0.5] * 3),
    "importance": lambda: plots.feature_importance_plot(NAMES, [3.0, 10.0, 1.0, 0.0]),
    "importance all zero": lambda: plots.feature_importance_plot(NAMES, [0.0] * 4),
    "scores": lambda: plots.score_distribution_plot(*_normal_inputs()),
    "scores single class": lambda: plots.score_distribution_plot(np.zeros(5), np.linspace(0, 1, 5)),
    "scores constant": lambda: plots.score_distribution_plot([0, 1, 0], [0.0] * 3),
    "contributions": lambda: plots.contribution_summary_plot(
        np.random.default_rng(0).normal(size=(300, 4)), NAMES
    ),
    "contributions all zero": lambda: plots.contribution_summary_plot(np.zeros((1, 4)), NAMES),
}


@pytest.mark.parametrize("case", PLOT_CASES, ids=list(PLOT_CASES))
def test_plot_returns_a_figure_and_saves_a_png(case: str, tmp_path: Path) -> None:
    fig = PLOT_CASES[case]()
    assert isinstance(fig, Figure)
    assert fig.axes and all(ax.get_title() or fig.get_suptitle() for ax in fig.axes[:1])
    path = plots.save_png(fig, tmp_path / "nested" / f"{case}.png")
    assert path == tmp_path / "nested" / f"{case}.png"
    content = path.read_bytes()
    assert content.startswith(PNG_SIGNATURE)
    assert len(content) > 1_000
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_roc_legend_names_each_model_with_its_auc() -> None:
    y = np.array([0, 0, 1, 1])
    scores = {"lightgbm": [0.1, 0.2, 0.8, 0.9], "oldest first": [0.9, 0.1, 0.8, 0.2]}
    fig = plots.roc_plot(y, scores)
    legend = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert "lightgbm (AUC 1.000)" in legend
    assert "oldest first (AUC 0.500)" in legend


def test_roc_plot_names_the_bad_model() -> None:
    with pytest.raises(ValueError, match="model 'broken'"):
        plots.roc_plot([0, 1], {"broken": [0.5]})


def test_calibration_plot_shows_ece_in_title() -> None:
    fig = plots.calibration_plot(HAND_Y, HAND_P, n_bins=2, strategy="uniform")
    assert "(ECE) 0.025" in fig.axes[0].get_title()


def test_feature_importance_plot_puts_the_largest_on_top_and_keeps_top_n() -> None:
    fig = plots.feature_importance_plot(NAMES, [3.0, 10.0, 1.0, 0.0], top=3)
    ax = fig.axes[0]
    assert len(ax.patches) == 3
    ticks = sorted(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()],
                       strict=True))
    assert [name for _, name in ticks] == ["open_amount", "days_past_due", "late_share_90d"]


def test_feature_importance_plot_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        plots.feature_importance_plot(NAMES, [1.0, 2.0])


def test_contribution_plot_ranks_by_mean_absolute_contribution() -> None:
    contributions = np.array([[0.1, -2.0, 0.5, 0.0], [-0.1, 2.0, -0.3, 0.0]])
    fig = plots.contribution_summary_plot(contributions, NAMES, top=2)
    bar_ax = fig.axes[0]
    bars = sorted((patch.get_y(), patch.get_width()) for patch in bar_ax.patches)
    assert [width for _, width in bars] == pytest.approx([0.4, 2.0])  # largest on top


def test_contribution_plot_hints_at_the_bias_column() -> None:
    with pytest.raises(ValueError, match="bias"):
        plots.contribution_summary_plot(np.zeros((3, 5)), NAMES)


def test_plots_never_import_pyplot(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from training import plots\n"
        "plots.save_png(plots.calibration_plot([0, 1, 1], [0.2, 0.6, 0.9]), sys.argv[1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "calibration.png")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
