"""`o2c score`, `o2c worklist`, `o2c limits` and `o2c backtest`: scores turned into decisions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ledger import Ledger
from ledger.atomic import atomic_file
from o2c.common import LedgerOption, fail, load, load_settings_or_fail, parse_date
from o2c.display import console, show_backtest, show_limits, show_worklist
from o2c.settings import Settings

AsOfOption = Annotated[str, typer.Option(help="The date decisions are made on, YYYY-MM-DD "
                                              "(only facts dated before it are used).")]
JsonOption = Annotated[bool, typer.Option("--json", help="End with one line of JSON.")]

backtest_app = typer.Typer(help="Judge the worklist and the limits on what happened next.",
                           no_args_is_help=True)


def portfolio_for(ledger_path: Path, as_of: dt.date, settings: Settings):  # noqa: ANN201
    """The portfolio snapshot of `o2c score` for this date, computed when none was written."""
    from serving.portfolio import read_portfolio

    folder = settings.snapshots_dir / as_of.isoformat()
    if (folder / "manifest.json").exists():
        return read_portfolio(folder)
    return compute_portfolio(ledger_path, as_of, settings)


def compute_portfolio(  # noqa: ANN201
    ledger_path: Path, as_of: dt.date, settings: Settings, snapshots: Path | None = None,
):
    """Load the champions and score the ledger as of `as_of`; the last review's grades come
    from the latest snapshot before it in `snapshots` (default `<workdir>/snapshots`)."""
    from serving.champions import load_champion
    from serving.portfolio import previous_grades, score_portfolio
    from training.collections import COLLECTIONS_MODEL_NAME
    from training.delinquency import SERIOUS_MODEL_NAME
    from training.pipeline import MODEL_NAME
    from training.tracking import Tracking

    tracking = Tracking(settings.tracking_uri, settings.experiment, settings.artifact_location)
    ledger = load(ledger_path)
    try:
        champions = {key: load_champion(name, tracking) for key, name in
                     (("late_payment", MODEL_NAME), ("collections", COLLECTIONS_MODEL_NAME),
                      ("serious", SERIOUS_MODEL_NAME))}
    except LookupError as exc:
        fail(str(exc))
    with console.status(f"Scoring the portfolio as of {as_of}..."):
        last_review = previous_grades(snapshots or settings.snapshots_dir, as_of)
        return score_portfolio(ledger, as_of, worklist_config=settings.worklist,
                               limits_config=settings.limits, previous_grades=last_review,
                               **champions)


def score(
    ledger: LedgerOption,
    as_of: AsOfOption,
    out: Annotated[Path | None, typer.Option(
        help="Folder for portfolio snapshots (one subfolder per as-of date); default "
             "<workdir>/snapshots.")] = None,
) -> None:
    """Score every open invoice with the champion models; write worklist and credit limits."""
    from serving.portfolio import write_portfolio

    settings = load_settings_or_fail()
    day = parse_date(as_of, "--as-of")
    root = out or settings.snapshots_dir
    portfolio = compute_portfolio(ledger, day, settings, root)
    folder = write_portfolio(portfolio, root)
    console.print(f"Wrote {folder}: {len(portfolio.invoice_scores):,} open invoices scored, "
                  f"{len(portfolio.worklist):,} customers on the worklist, "
                  f"{len(portfolio.limits):,} credit limits; models "
                  + ", ".join(f"{k} v{v}" for k, v in portfolio.models.items()),
                  highlight=False)


def worklist(
    ledger: LedgerOption,
    as_of: AsOfOption,
    top: Annotated[int | None, typer.Option(min=1, help="Only the first K customers.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write the worklist to this .csv or .parquet file.")] = None,
    json_output: JsonOption = False,
) -> None:
    """The ranked collections worklist: whom to contact, why, and what to do."""
    from serving.scoring import records

    settings = load_settings_or_fail()
    rows = portfolio_for(ledger, parse_date(as_of, "--as-of"), settings).worklist
    if top is not None:
        rows = rows.head(top)
    _write(rows, out)
    show_worklist(rows.head(20))
    if json_output:
        print(json.dumps({"worklist": records(rows)}, sort_keys=True))


def limits(
    ledger: LedgerOption,
    as_of: AsOfOption,
    out: Annotated[Path | None, typer.Option(
        help="Write the limits to this .csv or .parquet file.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Recommended credit limits beside the current ones, with grades, reasons and flags."""
    from serving.scoring import records

    settings = load_settings_or_fail()
    rows = portfolio_for(ledger, parse_date(as_of, "--as-of"), settings).limits
    _write(rows, out)
    show_limits(rows)
    if json_output:
        print(json.dumps({"limits": records(rows)}, sort_keys=True))


@backtest_app.command("worklist")
def backtest_worklist_command(
    ledger: LedgerOption, as_of: AsOfOption, json_output: JsonOption = False
) -> None:
    """Share of the overdue amount still unpaid 30 days later that the top of the list covers,
    beside the rules collectors use and hindsight (models trained on facts before the date)."""
    from training.backtest_worklist import backtest_worklist

    _backtest("Worklist back-test", ledger, as_of, json_output,
              lambda loaded, day, settings: backtest_worklist(
                  loaded, day, config=settings.training, worklist=settings.worklist))


@backtest_app.command("limits")
def backtest_limits_command(
    ledger: LedgerOption, as_of: AsOfOption, json_output: JsonOption = False
) -> None:
    """How far the recommendations cut the limits of customers who went 90+ days past due in
    the next 12 months, and how much credit the others keep."""
    from training.backtest_limits import backtest_limits

    _backtest("Credit-limit back-test", ledger, as_of, json_output,
              lambda loaded, day, settings: backtest_limits(
                  loaded, day, config=settings.training, limits=settings.limits))


def _backtest(
    title: str, ledger: Path, as_of: str, json_output: bool,
    run: Callable[[Ledger, dt.date, Settings], dict],
) -> None:
    """Load settings and ledger, run one back-test, print its figures (and JSON)."""
    settings = load_settings_or_fail()
    loaded = load(ledger)
    with console.status("Training on the past and deciding as of the date..."):
        try:
            figures = run(loaded, parse_date(as_of, "--as-of"), settings)
        except ValueError as exc:
            fail(str(exc))
    show_backtest(title, figures)
    if json_output:
        print(json.dumps(figures, sort_keys=True, default=str))


def _write(rows, out: Path | None) -> None:  # noqa: ANN001
    """Write rows to .csv or .parquet atomically (lists become JSON text in CSV)."""
    if out is None:
        return
    if out.suffix not in (".csv", ".parquet"):
        raise typer.BadParameter("expected a .csv or .parquet file", param_hint="--out")
    with atomic_file(out) as temporary:
        if out.suffix == ".parquet":
            rows.to_parquet(temporary, index=False)
        else:
            flat = rows.copy()
            for column in flat.columns:
                if flat[column].map(lambda v: isinstance(v, list | tuple) or hasattr(v, "tolist")
                                    ).any():
                    flat[column] = flat[column].map(lambda v: json.dumps(list(v)))
            flat.to_csv(temporary, index=False)
