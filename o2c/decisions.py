"""`o2c score`, `o2c worklist`, `o2c limits` and `o2c backtest`: scores turned into decisions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from o2c.common import LedgerOption, fail, load, load_settings_or_fail, parse_date
from o2c.display import console, err_console, show_backtest, show_limits, show_worklist

if TYPE_CHECKING:  # type hints only: `o2c --help` loads no pandas or DuckDB
    from ledger import Ledger
    from o2c.settings import Settings

AsOfOption = Annotated[str, typer.Option(help="The date decisions are made on, YYYY-MM-DD "
                                              "(only facts dated before it are used).")]
JsonOption = Annotated[bool, typer.Option("--json", help="End with one line of JSON.")]

backtest_app = typer.Typer(help="Judge the worklist and the limits on what happened next.",
                           no_args_is_help=True)


def portfolio_for(ledger_path: Path, as_of: dt.date, settings: Settings):  # noqa: ANN201
    """The snapshot `o2c score` wrote for this date if it was made from this ledger, these
    settings and the current champions, else the portfolio computed afresh (not saved); says
    which on stderr."""
    from serving.portfolio import read_portfolio, snapshot_differences, snapshot_inputs

    ledger = load(ledger_path)
    try:
        folder = settings.snapshots_dir / as_of.isoformat()
        if not (folder / "manifest.json").exists():
            note(f"no snapshot for {as_of} in {settings.snapshots_dir}: computing it "
                 "(`o2c score` saves it)")
            return compute_portfolio(ledger, as_of, settings)
        inputs = snapshot_inputs(ledger, settings.worklist, settings.limits)
        differences = snapshot_differences(folder, inputs, champion_versions(settings))
        if not differences:
            try:
                portfolio = read_portfolio(folder)
            except (OSError, ValueError) as exc:
                differences = [f"unreadable: {exc}"]
            else:
                note(f"using the snapshot {folder} (same ledger, settings and champions)")
                return portfolio
        note(f"not using the snapshot {folder}: {'; '.join(differences)}. Computing the "
             f"portfolio as of {as_of} (`o2c score` saves it)")
        return compute_portfolio(ledger, as_of, settings)
    finally:
        ledger.close()


def _tracking(settings: Settings):  # noqa: ANN202

    return settings.registry()


def _model_names() -> dict[str, str]:
    """Registered model name of each champion `score_portfolio` takes, by its argument."""
    from training.collections import COLLECTIONS_MODEL_NAME
    from training.delinquency import SERIOUS_MODEL_NAME
    from training.pipeline import MODEL_NAME

    return {"late_payment": MODEL_NAME, "collections": COLLECTIONS_MODEL_NAME,
            "serious": SERIOUS_MODEL_NAME}


def champion_versions(settings: Settings) -> dict[str, str]:
    """Model name -> version of the current champions, without loading them (`NO_MODEL` for
    a customer model that has none); exit 1 naming another model that has none."""
    from serving.portfolio import NO_MODEL

    registry = _tracking(settings)
    versions = {}
    for key, name in _model_names().items():
        if key == "serious" and registry.champion(name) is None:
            versions[name] = NO_MODEL
            continue
        try:
            versions[name] = str(registry.champion_version(name).version)
        except LookupError as exc:
            fail(str(exc))
    return {**versions, **payment_date_version(registry)}


def payment_date_version(registry) -> dict[str, str]:  # noqa: ANN001
    """The payment-date champion's version (`NO_MODEL` when there is none)."""
    from serving.portfolio import NO_MODEL
    from training.payment_dates import MODEL_NAME

    champion = registry.champion(MODEL_NAME)
    return {MODEL_NAME: NO_MODEL if champion is None else str(champion.version)}


def compute_portfolio(  # noqa: ANN201
    ledger: Ledger, as_of: dt.date, settings: Settings, snapshots: Path | None = None,
):
    """Load the champions and score the ledger as of `as_of`; the last review's grades come
    from the latest snapshot before it in `snapshots` (default `<workdir>/snapshots`)."""
    from serving.champions import load_champion
    from serving.portfolio import previous_grades, score_portfolio

    tracking = _tracking(settings)
    names = _model_names()
    try:
        champions = {key: load_champion(name, tracking)
                     for key, name in names.items() if key != "serious"}
    except LookupError as exc:
        fail(str(exc))
    champions["serious"] = serious_champion(tracking, names["serious"])
    champions["payment_dates"] = payment_date_champion(tracking)
    with console.status(f"Scoring the portfolio as of {as_of}..."):
        last_review = previous_grades(snapshots or settings.snapshots_dir, as_of)
        return score_portfolio(ledger, as_of, worklist_config=settings.worklist,
                               limits_config=settings.limits, previous_grades=last_review,
                               **champions)


def serious_champion(registry, name: str):  # noqa: ANN001, ANN201
    """The customer model's champion; None, said on stderr, when none was ever promoted (the
    limits then grade by rule: `models.limits.rule_probability`). Exit 1 when it exists but
    cannot be loaded."""
    from models.limits import RULE_TEXT
    from serving.champions import load_champion

    if registry.champion(name) is None:
        note(f"no champion of model {name!r} (none trained on this ledger passed the "
             f"promotion gate; `o2c models list` says why): {RULE_TEXT}")
        return None
    try:
        return load_champion(name, registry)
    except LookupError as exc:
        fail(str(exc))


def payment_date_champion(registry):  # noqa: ANN001, ANN201
    """The payment-date champion; None, said on stderr, when there is none (the snapshot then
    has no predicted payment dates). Exit 1 when it exists but cannot be loaded."""
    from serving.champions import load_champion
    from training.payment_dates import MODEL_NAME

    if registry.champion(MODEL_NAME) is None:
        note(f"no champion of model {MODEL_NAME!r}: the snapshot has no predicted payment "
             "dates")
        return None
    try:
        return load_champion(MODEL_NAME, registry)
    except LookupError as exc:
        fail(str(exc))


def note(message: str) -> None:
    """One line about what a command does, on stderr (stdout keeps tables and JSON)."""
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)


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
    loaded = load(ledger)
    try:
        portfolio = compute_portfolio(loaded, day, settings, root)
    finally:
        loaded.close()
    try:
        folder = write_portfolio(portfolio, root)
    except OSError as exc:
        fail(f"could not write the snapshot into {root}: {exc}")
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
        help="Write the worklist to this .csv or .parquet file (CSV text cells that a "
             "spreadsheet would run as a formula start with ').")] = None,
    json_output: JsonOption = False,
) -> None:
    """The ranked collections worklist: whom to contact, why, and what to do (from the
    snapshot of `o2c score` if made from the same ledger, settings and champions). As of the
    latest snapshot's date, the workflow store's promises and disputes are laid over it, as
    the API's /worklist does."""
    from o2c.actions import with_store_actions
    from o2c.export import write_rows
    from serving.scoring import records

    settings = load_settings_or_fail()
    rows = with_store_actions(portfolio_for(ledger, parse_date(as_of, "--as-of"), settings),
                              settings)
    if top is not None:
        rows = rows.head(top)
    write_rows(rows, out)
    show_worklist(rows.head(20))
    if json_output:
        print(json.dumps({"worklist": records(rows)}, sort_keys=True))


def limits(
    ledger: LedgerOption,
    as_of: AsOfOption,
    out: Annotated[Path | None, typer.Option(
        help="Write the limits to this .csv or .parquet file (CSV text cells that a "
             "spreadsheet would run as a formula start with ').")] = None,
    json_output: JsonOption = False,
) -> None:
    """Recommended credit limits beside the current and the decided ones, with grades, reasons
    and flags (from the snapshot of `o2c score` if made from the same ledger, settings and
    champions)."""
    from o2c.export import write_rows
    from o2c.limits import with_decisions
    from serving.scoring import records

    settings = load_settings_or_fail()
    rows = portfolio_for(ledger, parse_date(as_of, "--as-of"), settings).limits
    rows = with_decisions(rows, settings)
    write_rows(rows, out)
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
