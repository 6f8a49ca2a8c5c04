"""`o2c kpis`: receivables KPIs as of a date (DSO, best possible DSO, ADD, CEI, aging,
promises kept, open disputes), for the portfolio or grouped, and their 12-month trend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from o2c.common import LedgerOption, fail, load, os_error, parse_date
from o2c.display import console

HEADLINE: tuple[tuple[str, str], ...] = (
    ("ar", "AR"), ("current_ar", "current AR"), ("ar_90d_ago", "AR 90 days before"),
    ("sales_90d", "sales, last 90 days"), ("dso", "DSO (days)"),
    ("best_dso", "best possible DSO (days)"), ("add", "average days delinquent (ADD)"),
    ("cei", "collection effectiveness (CEI, %)"),
)
"""Figures of the headline, with their labels."""

COLUMNS: tuple[tuple[str, str], ...] = (
    ("ar", "AR"), ("sales_90d", "sales 90d"), ("dso", "DSO"), ("best_dso", "best DSO"),
    ("add", "ADD"), ("cei", "CEI %"), ("promise_kept_share", "kept"),
    ("disputes_open", "disputes"),
)
"""Columns of the `--by` table, with their headers."""


def kpis(
    ledger: LedgerOption,
    as_of: Annotated[str, typer.Option(
        help="Date of the KPIs, YYYY-MM-DD: only facts dated before it count.")],
    by: Annotated[str | None, typer.Option(
        help="Also give the figures of each customer, segment, country or collector (the "
             "customers' owners in the workflow store; those without one: unassigned).")]
    = None,
    top: Annotated[int, typer.Option(
        min=1, help="Groups shown in the --by table, largest AR first (--json has all).")]
    = 20,
    plot: Annotated[Path | None, typer.Option(
        help="Write the trend of DSO, best possible DSO and CEI over the last 12 months to "
             "this PNG file.")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="End with one line of JSON: dso, best_dso, add, cei, aging (bucket -> "
                       "amount), promise_kept_share and the rest; groups with --by.")] = False,
) -> None:
    """Receivables KPIs as of a date, in the reporting currency (definitions in
    `features/kpis.py`): AR, DSO = AR / 90 days' sales x 90, best possible DSO, average days
    delinquent, collection effectiveness index, aging, promises kept, open disputes."""
    from features.kpis import check_grouping, kpi_components, kpi_report, kpi_trend
    from serving.config import DATE_MAX, DATE_MIN

    day = parse_date(as_of, "--as-of")
    if not DATE_MIN <= day <= DATE_MAX:
        raise typer.BadParameter(f"expected a date from {DATE_MIN} to {DATE_MAX}, got {day}",
                                 param_hint="--as-of")
    try:
        check_grouping(by)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--by") from None
    owners = collector_owners() if by == "collector" else None
    loaded = load(ledger)
    try:
        report = kpi_report(kpi_components(loaded, day), day, by, owners)
        trend = kpi_trend(loaded, day) if plot is not None else None
    finally:
        loaded.close()
    show_kpis(report, top)
    if trend is not None:
        _write_plot(trend, report["currency"], plot)
    if json_output:
        print(json.dumps(report, sort_keys=True))


def collector_owners() -> dict[str, str]:
    """Customer id -> owning collector, from the workflow store the settings name."""
    from o2c.users import open_workflow_store
    from serving.workflow.ownership import owners

    return owners(open_workflow_store())


def _write_plot(trend: object, currency: str, path: Path) -> None:
    from monitoring.plots import kpi_trend_plot
    from training.plots import save_png

    try:
        save_png(kpi_trend_plot(trend, currency), path)
    except OSError as exc:
        fail(f"cannot write the plot to {path}: {os_error(exc)}")
    console.print(f"Wrote the 12-month trend to {path}", highlight=False)


def show_kpis(report: dict, top: int) -> None:
    """The headline figures, the aging and, with groups, the largest `top` of them."""
    money = report["currency"]
    console.print(f"[bold]Receivables KPIs[/] as of {report['as_of']} ({money}, "
                  f"{report['customers']:,} customers)", highlight=False)
    figures = Table(show_header=False, box=None, pad_edge=False)
    figures.add_column(style="dim")
    figures.add_column(justify="right")
    for key, label in HEADLINE:
        figures.add_row(label, _fmt(key, report[key]))
    figures.add_row("promises kept", f"{_fmt('share', report['promise_kept_share'])} "
                    f"({report['promises_kept']:,} of {report['promises_due']:,} due in the "
                    "last 90 days)")
    figures.add_row("open disputes", f"{report['disputes_open']:,} (mean age "
                    f"{_fmt('days', report['dispute_age_mean_days'])} days, oldest "
                    f"{_fmt('count', report['dispute_age_max_days'])})")
    console.print(figures)
    aging = Table(title=f"AR by days past due ({money})", title_justify="left")
    for column in ("bucket", "amount", "share"):
        aging.add_column(column, justify="left" if column == "bucket" else "right")
    for bucket, amount in report["aging"].items():
        aging.add_row(bucket, f"{amount:,.2f}", _fmt("share", report["aging_share"][bucket]))
    console.print(aging)
    groups = report.get("groups")
    if groups is None:
        return
    table = Table(title=f"By {report['by']}, largest AR first", title_justify="left")
    table.add_column(report["by"], overflow="fold")
    for _, label in COLUMNS:
        table.add_column(label, justify="right", no_wrap=True)
    for group in groups[:top]:
        table.add_row(group["group"], *(_fmt(key, group[key]) for key, _ in COLUMNS))
    console.print(table)
    if len(groups) > top:
        console.print(f"... and {len(groups) - top:,} more {report['by']} groups (--top, or "
                      "--json for all)", highlight=False)


def _fmt(key: str, value: float | None) -> str:
    """A figure as printed: n/a when undefined, amounts with thousands separators."""
    if value is None:
        return "n/a"
    if key in ("promise_kept_share", "share"):
        return f"{value:.1%}"
    if key in ("dso", "best_dso", "add", "cei", "days"):
        return f"{value:,.1f}"
    if key in ("disputes_open", "count"):
        return f"{value:,}"
    return f"{value:,.2f}"
