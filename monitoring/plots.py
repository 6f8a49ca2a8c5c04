"""PNG figures of a monitoring run, for MLflow: where people would rather look than read."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from training.plots import (
    LATE_COLOUR,
    NEUTRAL_COLOUR,
    SCORE_AXIS_LABEL,
    calibration_plot,
    feature_importance_plot,
)


def psi_plot(psi: pd.DataFrame, *, top: int = 20) -> Figure:
    """The `top` columns by population stability index, largest on top."""
    return feature_importance_plot(psi["column"].tolist(), psi["psi"].tolist(), top=top,
                                   title="Population stability index, current vs reference "
                                         "(all rows)", xlabel="PSI")


def score_shift_plot(reference: np.ndarray, current: np.ndarray) -> Figure:
    """Histograms of the champion's scores in both windows, each as a share of its window."""
    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    edges = np.linspace(0, 1, 41)
    for values, name, colour in ((reference, "reference", NEUTRAL_COLOUR),
                                 (current, "current", LATE_COLOUR)):
        values = np.asarray(values, dtype=float)
        ax.hist(values, bins=edges, weights=np.full(values.size, 1 / max(values.size, 1)),
                alpha=0.55, color=colour,
                label=f"{name} (n={values.size:,}, mean {values.mean():.3f})")
    ax.set(title="Scores of invoices at issue", xlabel=SCORE_AXIS_LABEL,
           ylabel="Share of invoices in window")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def current_calibration_plot(matured: pd.DataFrame) -> Figure:
    """Reliability diagram of the matured invoices of the current window."""
    return calibration_plot(matured["late"].to_numpy(dtype=int),
                            matured["score"].to_numpy(dtype=float),
                            title="Current window, matured invoices: predicted vs observed")


def kpi_trend_plot(trend: pd.DataFrame, currency: str) -> Figure:
    """DSO and best possible DSO (the gap between them is the average days delinquent) above,
    the collection effectiveness index below, one point per date of `trend`
    (`features.kpis.kpi_trend`); a figure that is n/a on a date leaves a gap."""
    fig = Figure(figsize=(8, 6), layout="constrained")
    FigureCanvasAgg(fig)
    days, cei = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    dates = pd.to_datetime(trend["as_of"])
    dso = trend["dso"].astype(float)
    best = trend["best_dso"].astype(float)
    days.plot(dates, dso, marker="o", color=LATE_COLOUR, label="DSO")
    days.plot(dates, best, marker="o", color=NEUTRAL_COLOUR, label="best possible DSO")
    days.fill_between(dates, best, dso, color=LATE_COLOUR, alpha=0.15,
                      label="average days delinquent")
    days.set(title=f"Receivables KPIs, last {len(trend)} months ({currency})", ylabel="days")
    days.legend()
    cei.plot(dates, trend["cei"].astype(float), marker="o", color=NEUTRAL_COLOUR)
    cei.set(ylabel="CEI (%)", xlabel="as of")
    for ax in (days, cei):
        ax.grid(alpha=0.3)
    return fig
