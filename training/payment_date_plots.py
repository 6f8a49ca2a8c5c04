"""Figures of a payment-date model's validation: predicted against actual days, interval
coverage by segment, the distribution of days, and what drives the P50 booster.

Each function builds its own Agg figure (nothing touches pyplot), as `training.plots` does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models.payment_dates import PaymentDateModel
from training.plots import (
    LATE_COLOUR,
    NEUTRAL_COLOUR,
    ON_TIME_COLOUR,
    REFERENCE_STYLE,
    _new_figure,
    feature_importance_plot,
)

LABEL = "days_to_pay"


def predicted_vs_actual_plot(valid: pd.DataFrame, *, title: str) -> Figure:
    """Actual days to payment against the predicted P50 (a sample of rows), with each row's
    P10-P90 interval as a light bar, and the diagonal."""
    sample = valid.sample(n=min(len(valid), 1500), random_state=0)
    fig = _new_figure(7, 6)
    ax = fig.add_subplot()
    ax.vlines(sample["days_p50"], sample["days_p10"], sample["days_p90"], color=NEUTRAL_COLOUR,
              alpha=0.15, linewidth=1, label="P10-P90 interval")
    inside = (sample[LABEL] >= sample["days_p10"]) & (sample[LABEL] <= sample["days_p90"])
    ax.scatter(sample.loc[inside, "days_p50"], sample.loc[inside, LABEL], s=8,
               color=ON_TIME_COLOUR, alpha=0.6, label="actual, inside the interval")
    ax.scatter(sample.loc[~inside, "days_p50"], sample.loc[~inside, LABEL], s=8,
               color=LATE_COLOUR, alpha=0.6, label="actual, outside")
    low = float(min(sample["days_p10"].min(), sample[LABEL].min()))
    high = float(max(sample["days_p90"].max(), sample[LABEL].max()))
    ax.plot([low, high], [low, high], **REFERENCE_STYLE)
    ax.set(title=title, xlabel="Predicted P50: days after the due date",
           ylabel="Actual days after the due date (capped at 90)")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def coverage_plot(segments: pd.DataFrame, *, target: float, title: str) -> Figure:
    """Share of outcomes inside the P10-P90 interval per segment value, against the target."""
    rows = segments.dropna(subset=["coverage"]) if "coverage" in segments else segments.iloc[:0]
    fig = _new_figure(8, max(3.0, 0.35 * len(rows) + 1.5))
    ax = fig.add_subplot()
    labels = [f"{s}: {v} (n={n:,})" for s, v, n in
              zip(rows["segment"], rows["value"], rows["n"], strict=True)]
    positions = np.arange(len(rows))
    ax.barh(positions, rows["coverage"] if len(rows) else [], color=ON_TIME_COLOUR)
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    ax.axvline(target, **REFERENCE_STYLE)
    ax.set(xlim=(0, 1), title=title, xlabel=f"Share inside P10-P90 (target {target:.0%})")
    return fig


def days_distribution_plot(valid: pd.DataFrame, *, title: str) -> Figure:
    """Histograms of the actual days and of the predicted P50."""
    fig = _new_figure(7.5, 4.5)
    ax = fig.add_subplot()
    values = np.concatenate([valid[LABEL].to_numpy(float), valid["days_p50"].to_numpy(float)])
    edges = np.histogram_bin_edges(values, bins=40)
    ax.hist(valid[LABEL], bins=edges, alpha=0.6, color=LATE_COLOUR, label="actual")
    ax.hist(valid["days_p50"], bins=edges, alpha=0.6, color=ON_TIME_COLOUR,
            label="predicted P50")
    ax.set(title=title, xlabel="Days after the due date", ylabel="Invoices")
    ax.legend()
    return fig


def payment_date_figures(valid: pd.DataFrame, model: PaymentDateModel, titles,  # noqa: ANN001
                         segments: pd.DataFrame, target: float) -> dict[str, Figure]:
    """The run's figures by file name (`titles`: the task's `PlotTitles`)."""
    booster = model.boosters["p50"]
    return {
        "predicted_vs_actual.png": predicted_vs_actual_plot(valid, title=titles.roc),
        "coverage.png": coverage_plot(segments, target=target, title=titles.calibration),
        "days_distribution.png": days_distribution_plot(valid,
                                                        title=titles.score_distribution),
        "feature_importance.png": feature_importance_plot(
            model.features, booster.feature_importance(importance_type="gain"),
            xlabel="Gain of the P50 booster"),
    }


def forecast_plot(weeks: pd.DataFrame, *, currency: str, title: str) -> Figure:
    """Expected collections per week with their P10-P90 band; with columns `actual`,
    `due_date` and `average_delay` (a back-test), those beside it."""
    fig = _new_figure(9, 5)
    ax = fig.add_subplot()
    x = weeks["week_start"]
    expected = weeks["expected"] if "expected" in weeks else weeks["forecast"]
    ax.fill_between(x, weeks["low"], weeks["high"], color=ON_TIME_COLOUR, alpha=0.2,
                    label="forecast P10-P90")
    ax.plot(x, expected, color=ON_TIME_COLOUR, marker="o", linewidth=2, label="forecast")
    styles = {"actual": ("black", "-", "actual"),
              "due_date": (NEUTRAL_COLOUR, "--", "rule: paid on the due date"),
              "average_delay": (LATE_COLOUR, ":", "rule: customer's average delay")}
    for column, (colour, style, label) in styles.items():
        if column in weeks:
            ax.plot(x, weeks[column], color=colour, linestyle=style, marker=".", label=label)
    ax.set(title=title, xlabel="Week starting", ylabel=f"Collections ({currency})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.autofmt_xdate()
    return fig
