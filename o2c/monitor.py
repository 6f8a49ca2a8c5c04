"""`o2c monitor`: drift and model-quality monitoring of the late-payment champion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from o2c.common import LedgerOption, fail, load, load_settings_or_fail, parse_date
from o2c.display import console, err_console

LATEST_FILE = Path("monitoring") / "latest.json"
"""Where, under the workdir, the latest summary goes (served at GET /monitoring)."""

VERDICT_STYLE = {"ok": "bold green", "warn": "bold yellow", "alert": "bold red"}
VERDICT_EXIT_CODES = {"ok": 0, "warn": 3, "alert": 4}
"""Exit code of `o2c monitor` for each verdict, so that a scheduler can tell them apart from
each other and from an error (1) or a wrong command line (2)."""


def _window(name: str, start: str | None, end: str | None, option: str):  # noqa: ANN202
    """A Window from two date options, or None when both are absent; exit 1 naming the option
    on a bad date or window."""
    from monitoring.windows import Window

    try:
        first = parse_date(start, f"--{option}-from")
        last = parse_date(end, f"--{option}-to")
    except typer.BadParameter as exc:
        fail(f"{exc.param_hint}: {exc.message}")
    if first is None and last is None:
        return None
    if first is None or last is None:
        fail(f"give both --{option}-from and --{option}-to, or neither")
    try:
        return Window(name, first, last)
    except ValueError as exc:
        fail(f"--{option}-to: {exc}")


def monitor(
    ledger: LedgerOption,
    current_from: Annotated[str, typer.Option(
        help="First issue date of the current window, YYYY-MM-DD (inclusive).")],
    current_to: Annotated[str, typer.Option(
        help="Last issue date of the current window, YYYY-MM-DD (inclusive).")],
    out: Annotated[Path, typer.Option(
        help="Folder for the Evidently HTML reports and summary.json (replaced as a whole, "
             "atomically).")],
    reference_from: Annotated[str | None, typer.Option(
        help="First issue date of the reference window, YYYY-MM-DD; default the champion's "
             "training window (from its MLflow run).")] = None,
    reference_to: Annotated[str | None, typer.Option(
        help="Last issue date of the reference window, YYYY-MM-DD (inclusive).")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="End with one line of JSON: the summary, with a `verdict` key.")]
    = False,
) -> None:
    """Feature drift, score drift and quality on matured outcomes of the late-payment champion:
    a verdict (ok, warn, alert) with its reasons, Evidently reports and an MLflow run.

    Exits 0 on ok, 3 on warn, 4 on alert (1 on an error, 2 on a wrong command line)."""
    from monitoring.run import monitor as run_monitor

    current = _window("current", current_from, current_to, "current")
    reference = _window("reference", reference_from, reference_to, "reference")
    settings = load_settings_or_fail()
    loaded = load(ledger)
    tracking = settings.registry()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err_console, transient=True) as progress:
        task = progress.add_task("monitoring", total=None)
        try:
            summary = run_monitor(
                loaded, tracking=tracking, config=settings.monitoring, current=current,
                reference=reference, out=out, latest=settings.workdir / LATEST_FILE,
                progress=lambda message: progress.update(task, description=message))
        except (LookupError, ValueError) as exc:
            fail(str(exc))
        finally:
            loaded.close()
    show_monitoring(summary)
    if json_output:
        print(json.dumps(summary, sort_keys=True))
    raise typer.Exit(code=VERDICT_EXIT_CODES[summary["verdict"]])


def show_monitoring(summary: dict) -> None:
    """The verdict, its reasons, the headline figures and where the reports are."""
    windows = summary["windows"]
    console.print(
        f"{summary['model']['name']} v{summary['model']['version']}: current "
        f"{windows['current']['from']} to {windows['current']['to']} "
        f"({windows['current']['invoices']:,} invoices) against reference "
        f"{windows['reference']['from']} to {windows['reference']['to']} "
        f"({windows['reference']['invoices']:,})", highlight=False)
    table = Table(title="Checks", title_justify="left")
    for column in ("check", "level", "value", "threshold", "reason"):
        table.add_column(column, overflow="fold",
                         justify="right" if column in ("value", "threshold") else "left")
    for reason in summary["reasons"]:
        table.add_row(reason["check"], f"[{VERDICT_STYLE[reason['level']]}]{reason['level']}[/]",
                      f"{reason['value']:.3f}", f"{reason['threshold']:g}", reason["message"])
    if summary["reasons"]:
        console.print(table)
    figures = Table(show_header=False, box=None, pad_edge=False)
    figures.add_column(style="dim")
    figures.add_column()
    drift, quality, delay = (summary["feature_drift"], summary["quality"],
                             summary["label_delay"])
    figures.add_row("features drifted", f"{drift['drifted_share']:.0%} of {drift['features']} "
                    f"(Evidently, {drift['sample_rows']:,}-row samples)")
    figures.add_row("score PSI", f"{summary['prediction_drift']['psi']:.3f}")
    for window in ("reference", "current"):
        metrics = quality[window]
        figures.add_row(f"{window} quality", "no matured outcomes" if not metrics else
                        f"AUC {_fmt(metrics['auc'])}, Brier {metrics['brier']:.3f}, "
                        f"late {metrics['base_rate']:.1%} vs expected {metrics['mean_p']:.1%} "
                        f"({metrics['n']:,} matured)")
    immature = "" if not delay["immature"] else (
        f"; the other {delay['immature']:,}: {delay['expected_late_share']:.1%} expected late, "
        f"{delay['paid_so_far_share']:.1%} paid so far")
    figures.add_row("label delay", f"{delay['matured_share']:.0%} matured{immature}")
    kpis = summary["kpis"]
    figures.add_row("receivables", f"as of {kpis['as_of']}: " + ", ".join(
        f"{label} {'n/a' if kpis[key] is None else format(kpis[key], spec)}"
        for key, label, spec in (("dso", "DSO", ".1f"), ("best_dso", "best DSO", ".1f"),
                                 ("add", "ADD", ".1f"), ("cei", "CEI", ".1f"),
                                 ("promise_kept_share", "promises kept", ".0%"))))
    console.print(figures)
    for note in summary["notes"]:
        console.print(f"note: {note}", highlight=False, markup=False)
    report = Path(summary["out"]) / summary["reports"]["data_drift"]
    console.print(f"Verdict: [{VERDICT_STYLE[summary['verdict']]}]{summary['verdict']}[/]  "
                  f"report {report}  (MLflow run {summary['mlflow_run_id']})", highlight=False)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"

