"""Small server-side PNG charts (matplotlib's Agg canvas, no pyplot: safe in threads)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

INK, ACCENT, BAD, MUTED = "#1d2433", "#1f5fbf", "#a4161a", "#5b6475"
_THOUSANDS = FuncFormatter(lambda value, _: f"{value:,.0f}")


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, bbox_inches="tight")
    return out.getvalue()


def _empty(figure: Figure, text: str) -> None:
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.text(0.5, 0.5, text, ha="center", va="center", color=MUTED)


def balance_chart(dates: Sequence, balance: Sequence[float], late_dates: Sequence,
                  days_late: Sequence[float], currency: str | None) -> bytes:
    """A customer's open balance over time (line) and the days late of each payment
    (points, right axis)."""
    figure = Figure(figsize=(7.5, 3.0))
    if not len(dates) and not len(late_dates):
        _empty(figure, "no history yet")
        return _png(figure)
    axes = figure.add_subplot()
    axes.step(list(dates), list(balance), where="post", color=ACCENT, linewidth=1.6)
    axes.set_ylabel(f"open balance{f' ({currency})' if currency else ''}", color=ACCENT)
    axes.yaxis.set_major_formatter(_THOUSANDS)
    axes.set_ylim(bottom=0)
    late = axes.twinx()
    late.scatter(list(late_dates), list(days_late), s=12, color=BAD, alpha=0.8)
    late.axhline(0, color=MUTED, linewidth=0.6, linestyle=":")
    late.set_ylabel("days late at payment", color=BAD)
    for side in (axes, late):
        side.spines["top"].set_visible(False)
    figure.autofmt_xdate()
    return _png(figure)


def aging_chart(aging: Mapping[str, float], currency: str | None) -> bytes:
    """Open receivables by age bucket (bars)."""
    figure = Figure(figsize=(6.0, 2.8))
    if not aging:
        _empty(figure, "no receivables")
        return _png(figure)
    axes = figure.add_subplot()
    names = [name.replace("_", " ") for name in aging]
    values = [float(v or 0) for v in aging.values()]
    colours = [ACCENT, "#d39b2a", "#d06b28", "#b8431f", BAD][:len(values)]
    axes.bar(names, values, color=colours)
    axes.yaxis.set_major_formatter(_THOUSANDS)
    axes.set_ylabel(currency or "")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def forecast_chart(weeks: Sequence, expected: Sequence[float], low: Sequence[float],
                   high: Sequence[float], currency: str | None) -> bytes:
    """Expected collections per week (line) within their P10-P90 (band)."""
    figure = Figure(figsize=(6.0, 2.8))
    if not len(weeks):
        _empty(figure, "no forecast")
        return _png(figure)
    axes = figure.add_subplot()
    axes.fill_between(list(weeks), list(low), list(high), color=ACCENT, alpha=0.2,
                      step="post", label="P10-P90")
    axes.step(list(weeks), list(expected), where="post", color=ACCENT, linewidth=1.6,
              label="expected")
    axes.yaxis.set_major_formatter(_THOUSANDS)
    axes.set_ylabel(f"collected per week{f' ({currency})' if currency else ''}")
    axes.set_ylim(bottom=0)
    axes.legend(frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.autofmt_xdate()
    return _png(figure)
