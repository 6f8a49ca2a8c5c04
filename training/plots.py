"""Evaluation figures for late-payment models, written for a credit manager to read.

Every function builds and returns its own `matplotlib.figure.Figure` drawn by the Agg
(non-interactive, PNG) canvas. Nothing touches pyplot or matplotlib's global backend, so the
functions are safe to call from worker threads and leave no open figures behind; `save_png`
writes a figure to disk. Colours: vermillion = late, blue = on time (colour-blind safe).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sklearn.metrics import roc_auc_score, roc_curve

from ledger.atomic import atomic_file
from training.evaluation import (
    BinStrategy,
    calibration_table,
    check_binary_inputs,
    expected_calibration_error,
)

LATE_COLOUR = "#d55e00"
ON_TIME_COLOUR = "#0072b2"
NEUTRAL_COLOUR = "#7f7f7f"
BAR_COLOUR = "#4d4d4d"
REFERENCE_STYLE = {"color": NEUTRAL_COLOUR, "linestyle": "--", "linewidth": 1}
SCORE_AXIS_LABEL = "Predicted probability of late payment"


def _new_figure(width: float, height: float) -> Figure:
    """A Figure with constrained (tight) layout, drawn by its own Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _note(ax: Axes, text: str) -> None:
    """A grey message in the middle of the axes (for undefined or empty plots)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            color=NEUTRAL_COLOUR, wrap=True,
            bbox={"facecolor": "white", "edgecolor": NEUTRAL_COLOUR, "boxstyle": "round"})


def save_png(fig: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write `fig` as a PNG to `path` (parents created, replaced atomically); return the path."""
    path = Path(path)
    with atomic_file(path) as temporary:
        fig.savefig(temporary, format="png", dpi=dpi)
    return path


def roc_plot(
    y_true: object, scores: Mapping[str, object], *,
    title: str = "ROC curve: how well each model ranks late invoices first",
) -> Figure:
    """ROC curves of several models (e.g. LightGBM and baselines), AUC in the legend."""
    if not scores:
        raise ValueError("scores is empty: pass at least one model's scores")
    checked = {name: _checked_scores(y_true, values, name) for name, values in scores.items()}
    fig = _new_figure(6.5, 6)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], **REFERENCE_STYLE, label="random order (AUC 0.500)")
    labels = next(iter(checked.values()))[0]
    if labels.min() == labels.max():
        _note(ax, "ROC undefined: every invoice has the same outcome")
        for name in checked:
            ax.plot([], [], linewidth=2, label=f"{name} (AUC undefined)")
    else:
        for name, (_, model_scores) in checked.items():
            false_positive_rate, true_positive_rate, _ = roc_curve(labels, model_scores)
            auc = roc_auc_score(labels, model_scores)
            ax.plot(false_positive_rate, true_positive_rate, linewidth=2,
                    label=f"{name} (AUC {auc:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), title=title,
           xlabel="False positive rate (share of on-time invoices flagged)",
           ylabel="True positive rate (share of late invoices caught)")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def _checked_scores(y_true: object, p: object, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        return check_binary_inputs(y_true, p)
    except ValueError as exc:
        raise ValueError(f"model {name!r}: {exc}") from exc


def calibration_plot(
    y_true: object, p: object, *, n_bins: int = 10, strategy: BinStrategy = "quantile",
    title: str = "Calibration: predicted vs observed late rate",
) -> Figure:
    """Reliability diagram: observed late rate against mean score per bin, with the diagonal
    of perfect calibration, a histogram of scores underneath and the ECE in the title."""
    labels, scores = check_binary_inputs(y_true, p)
    table = calibration_table(labels, scores, n_bins=n_bins, strategy=strategy)
    ece = expected_calibration_error(labels, scores, n_bins=n_bins, strategy=strategy)
    fig = _new_figure(6.5, 7)
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1))
    ax = fig.add_subplot(grid[0])
    histogram_ax = fig.add_subplot(grid[1], sharex=ax)
    ax.plot([0, 1], [0, 1], **REFERENCE_STYLE, label="perfect calibration")
    ax.plot(table["mean_p"], table["observed"], marker="o", color=LATE_COLOUR, linewidth=2,
            label=f"model (one point per bin of invoices, {len(table)} bins)")
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), ylabel="Observed late rate",
           title=f"{title}\nexpected calibration error (ECE) {ece:.3f}")
    ax.tick_params(labelbottom=False)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    histogram_ax.hist(scores, bins=np.linspace(0, 1, 51), color=NEUTRAL_COLOUR)
    histogram_ax.set(xlabel=SCORE_AXIS_LABEL, ylabel="Invoices")
    return fig


def feature_importance_plot(
    names: Sequence[str], importance: Sequence[float], *, top: int = 20,
    title: str = "Feature importance", xlabel: str = "Importance",
) -> Figure:
    """Horizontal bars of the `top` most important features, largest on top."""
    names_array, values = _checked_named_values(names, importance, "importance")
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top!r}")
    order = np.argsort(-values, kind="stable")[:top]
    fig = _new_figure(8, 1.2 + 0.35 * len(order))
    ax = fig.add_subplot()
    _ranked_bars(ax, names_array[order], values[order])
    ax.set(title=title, xlabel=xlabel)
    return fig


def _checked_named_values(
    names: Sequence[str], values: Sequence[float], what: str
) -> tuple[np.ndarray, np.ndarray]:
    names_array = np.asarray([str(name) for name in names], dtype=object)
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size != names_array.size:
        raise ValueError(
            f"names and {what} have different lengths ({names_array.size} vs {array.size})"
        )
    if array.size == 0:
        raise ValueError(f"names and {what} are empty")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} must be finite; {int((~np.isfinite(array)).sum())} are not")
    return names_array, array


def _ranked_bars(ax: Axes, names: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Bars for already ranked values, first one on top; returns their y positions."""
    positions = np.arange(len(values))[::-1]
    bars = ax.barh(positions, values, color=BAR_COLOUR)
    ax.bar_label(bars, fmt="%.3g", padding=3, fontsize=8)
    ax.set_yticks(positions, labels=list(names))
    ax.margins(x=0.15)
    return positions


def score_distribution_plot(
    y_true: object, p: object, *,
    title: str = "Scores of late and on-time invoices",
) -> Figure:
    """Histograms of scores for late and on-time invoices, each as a share of its group."""
    labels, scores = check_binary_inputs(y_true, p)
    edges = _histogram_edges(scores)
    fig = _new_figure(7.5, 4.5)
    ax = fig.add_subplot()
    for outcome, name, colour in ((0, "On time", ON_TIME_COLOUR), (1, "Late", LATE_COLOUR)):
        group = scores[labels == outcome]
        if group.size == 0:
            continue
        ax.hist(group, bins=edges, weights=np.full(group.size, 1 / group.size), alpha=0.55,
                color=colour, label=f"{name} (n={group.size:,}, mean {group.mean():.3f})")
    ax.set(title=title, xlabel=SCORE_AXIS_LABEL, ylabel="Share of invoices in group")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def _histogram_edges(scores: np.ndarray, bins: int = 40) -> np.ndarray:
    """Bin edges spanning the observed scores (widened a little when all scores are equal)."""
    low, high = float(scores.min()), float(scores.max())
    if high - low < 1e-9:
        low, high = max(0.0, low - 0.01), min(1.0, high + 0.01)
    return np.linspace(low, high, bins + 1)


def contribution_summary_plot(
    contributions: np.ndarray, names: Sequence[str], *, top: int = 20, max_rows: int = 500,
    seed: int = 0, title: str = "What drives the late-payment scores",
) -> Figure:
    """Mean |contribution| per feature as bars, beside a dot strip of per-row contributions.

    `contributions` is rows × features of log-odds contributions (LightGBM `pred_contrib`
    without its last, bias, column). Only the `top` features by mean |contribution| are shown;
    the strip shows a reproducible sample of at most `max_rows` rows (vermillion = pushes
    towards late, blue = towards on time).
    """
    values = _checked_contributions(contributions, names)
    if top < 1 or max_rows < 1:
        raise ValueError(f"top and max_rows must be at least 1, got {top!r} and {max_rows!r}")
    mean_abs = np.abs(values).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")[:top]
    fig = _new_figure(12, 1.6 + 0.35 * len(order))
    bar_ax, strip_ax = fig.subplots(1, 2, sharey=True, width_ratios=(1, 1.6))
    positions = _ranked_bars(bar_ax, np.asarray(names, dtype=object)[order], mean_abs[order])
    bar_ax.set(title="Average impact", xlabel="Mean |contribution| (log-odds)")
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(values), size=min(len(values), max_rows), replace=False))
    _contribution_strip(strip_ax, values[np.ix_(sample, order)], positions, rng)
    strip_ax.set(title=f"Per invoice ({sample.size:,} of {len(values):,} rows)",
                 xlabel="Contribution to the score (log-odds)")
    fig.suptitle(title)
    return fig


def _checked_contributions(contributions: np.ndarray, names: Sequence[str]) -> np.ndarray:
    values = np.asarray(contributions, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"contributions must be rows × features, got shape {values.shape}")
    if values.shape[0] == 0:
        raise ValueError("contributions has no rows")
    if values.shape[1] != len(names):
        hint = " (drop LightGBM's last, bias, column)" if values.shape[1] == len(names) + 1 else ""
        raise ValueError(
            f"contributions has {values.shape[1]} columns but there are {len(names)} names{hint}"
        )
    if not np.isfinite(values).all():
        raise ValueError("contributions must be finite")
    return values


def _contribution_strip(
    ax: Axes, values: np.ndarray, positions: np.ndarray, rng: np.random.Generator
) -> None:
    """One jittered dot per (row, feature), coloured by the sign of its contribution."""
    y = np.broadcast_to(positions, values.shape) + rng.uniform(-0.3, 0.3, values.shape)
    colours = np.where(values > 0, LATE_COLOUR, np.where(values < 0, ON_TIME_COLOUR,
                                                          NEUTRAL_COLOUR))
    ax.scatter(values.ravel(), y.ravel(), c=colours.ravel(), s=6, alpha=0.5, linewidths=0)
    ax.axvline(0, color=NEUTRAL_COLOUR, linewidth=1)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(
        handles=[_legend_dot(LATE_COLOUR, "raises late risk"),
                 _legend_dot(ON_TIME_COLOUR, "lowers late risk")],
        loc="lower right",
    )


def _legend_dot(colour: str, label: str) -> Line2D:
    return Line2D([], [], marker="o", linestyle="", color=colour, label=label)


def capture_curve_plot(
    curves: Mapping[str, pd.DataFrame], *,
    title: str = "Worklist back-test: unpaid overdue amount captured by the customers worked",
    marks: Sequence[float] = (0.1, 0.2),
) -> Figure:
    """Share of customers worked (x, %) against share of the unpaid amount captured (y), one
    line per order, from `training.backtest_worklist.capture_curve` frames; the diagonal is
    a random order, dotted lines mark the shares in `marks`."""
    if not curves:
        raise ValueError("curves is empty: pass at least one order's capture curve")
    for name, curve in curves.items():
        missing = {"share_worked", "captured"} - set(curve.columns)
        if missing:
            raise ValueError(f"curve {name!r} lacks columns: {', '.join(sorted(missing))}")
    fig = _new_figure(7, 6)
    ax = fig.add_subplot()
    ax.plot([0, 100], [0, 1], **REFERENCE_STYLE, label="random order")
    for share in marks:
        ax.axvline(100 * share, color=NEUTRAL_COLOUR, linestyle=":", linewidth=1)
    for name, curve in curves.items():
        ax.plot(100 * curve["share_worked"].to_numpy(dtype=float),
                curve["captured"].to_numpy(dtype=float), linewidth=2, label=name)
    if all(np.isnan(c["captured"].to_numpy(dtype=float)).all() for c in curves.values()):
        _note(ax, "nothing stayed unpaid: capture is undefined")
    ax.set(xlim=(0, 100), ylim=(0, 1.01), title=title,
           xlabel="Customers worked, in each order (% of customers)",
           ylabel="Share of the unpaid overdue amount captured")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig



def candidate_plot(
    comparison: pd.DataFrame, *, chosen: str,
    title: str = "Candidates: AUC on each later slice of the training period",
) -> Figure:
    """Cross-validation AUC per fold (x: the slice scored), one line per candidate, the chosen
    one drawn thick, from `training.candidates.choose_model`'s comparison."""
    missing = {"candidate", "fold", "scored_from", "auc"} - set(comparison.columns)
    if missing:
        raise ValueError(f"comparison lacks columns: {', '.join(sorted(missing))}")
    fig = _new_figure(7.5, 5)
    ax = fig.add_subplot()
    if comparison.empty:
        _note(ax, "no fold had both outcomes: the candidates could not be compared")
    slices = comparison.drop_duplicates("fold").sort_values("fold")
    for name, rows in comparison.groupby("candidate", sort=False):
        rows = rows.sort_values("fold")
        mean = rows["auc"].mean()
        ax.plot(rows["fold"], rows["auc"], marker="o",
                linewidth=3 if name == chosen else 1.2, alpha=1 if name == chosen else 0.7,
                label=f"{name} (mean {mean:.3f}){'  chosen' if name == chosen else ''}")
    ax.set_xticks(slices["fold"].to_numpy(),
                  [f"fold {f}\nfrom {d}" for f, d in zip(slices["fold"], slices["scored_from"],
                                                          strict=True)])
    ax.set(title=title, ylabel="AUC on the slice (higher ranks better)")
    ax.grid(alpha=0.3)
    if not comparison.empty:
        ax.legend(loc="best", fontsize="small")
    return fig
