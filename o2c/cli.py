"""The `o2c` command line: a thin shell, each command calls one public function of a stage.

Stage modules are imported inside the commands, so `o2c --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ledger.atomic import atomic_file
from o2c import (
    actions,
    customer,
    decisions,
    forecast,
    kpis,
    limits,
    models,
    monitor,
    serve,
    users,
    webapp_demo,
)
from o2c.common import LedgerOption, fail, load, load_settings_or_fail, os_error, parse_date
from o2c.display import (
    console,
    err_console,
    show_feature_catalog,
    show_import,
    show_summary,
    show_training,
    show_training_failure,
)

app = typer.Typer(
    name="o2c",
    help="Credit risk and collections prioritization for B2B accounts receivable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

LedgerArg = Annotated[
    Path,
    typer.Argument(help="Ledger folder of Parquet/CSV files, or a DuckDB database file.",
                   envvar="O2C_LEDGER"),
]


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the ledger's Parquet files into "
                                      "(replaced atomically if it exists).")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 1500,
    months: Annotated[int, typer.Option(min=1, help="Length of the ledger in months.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: the same arguments give the same "
                                      "files, byte for byte.")] = 0,
    shock_month: Annotated[int | None, typer.Option(
        help="1-based month from which a macro shock makes payments later and changes the "
             "mix of new customers.")] = None,
    start_date: Annotated[str, typer.Option(help="First day of the ledger, YYYY-MM-DD.")]
    = "2024-01-01",
) -> None:
    """Generate a realistic synthetic receivables ledger (plus ground truth) as Parquet files."""
    from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger

    try:
        config = SyntheticConfig(customers=customers, months=months, seed=seed,
                                 shock_month=shock_month,
                                 start_date=parse_date(start_date, "--start-date"))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with console.status(f"Generating {customers:,} customers over {months} months..."):
        tables = generate_ledger(config)
        try:
            write_ledger(tables, out)
        except OSError as exc:
            fail(f"cannot write the ledger to {out}: {os_error(exc)}")
    counts = ", ".join(f"{len(t):,} {name}" for name, t in tables.items()
                       if not name.startswith("truth_"))
    console.print(f"Wrote {out}: {counts} (ground truth in truth_*.parquet)", highlight=False)


@app.command()
def validate(
    ledger: LedgerArg,
    as_of: Annotated[str | None, typer.Option(
        help="Date for open and overdue balances, YYYY-MM-DD; default the day after the last "
             "dated fact.")] = None,
) -> None:
    """Check a ledger against the contract; print its summary, or every problem and exit 1."""
    from ledger.summary import summarize

    as_of_date = parse_date(as_of, "--as-of")
    loaded = load(ledger)
    try:
        show_summary(summarize(loaded, as_of_date))
    finally:
        loaded.close()


features_app = typer.Typer(help="Point-in-time features: list them, build them.",
                            no_args_is_help=True)
app.add_typer(features_app, name="features")


@features_app.command("list")
def features_list(
    scope: Annotated[str | None, typer.Option(
        help="Only the features one builder outputs: invoice, snapshot or customer.")] = None,
) -> None:
    """Print every feature: meaning, window, tables, type, model input, monotone direction
    and value at issue."""
    from features.catalog import catalog_rows

    try:
        rows = catalog_rows(scope)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from None
    show_feature_catalog(rows)


@features_app.command("build")
def features_build(
    ledger: LedgerOption,
    out: Annotated[Path, typer.Option(help="Parquet file to write (replaced atomically).")],
    as_of: Annotated[str | None, typer.Option(
        help="Build the snapshot of invoices open at this date, YYYY-MM-DD (features use only "
             "facts dated before it).")] = None,
    per_invoice: Annotated[bool, typer.Option(
        "--per-invoice", help="Build the training table instead: one row per invoice with "
                              "features as of its issue date.")] = False,
) -> None:
    """Write the snapshot as of a date, or the per-invoice training table, to Parquet."""
    from features import build_snapshot, write_invoice_features

    if per_invoice == (as_of is not None):
        raise typer.BadParameter("give exactly one of --as-of DATE and --per-invoice")
    loaded = load(ledger)
    with console.status("Building features..."), atomic_file(out) as temporary:
        if per_invoice:
            rows = write_invoice_features(loaded, temporary)
            what = "invoices with features as of their issue date"
        else:
            snapshot = build_snapshot(loaded, parse_date(as_of, "--as-of"))
            snapshot.to_parquet(temporary, index=False)
            rows, what = len(snapshot), f"open invoices as of {as_of}"
    console.print(f"Wrote {out}: {rows:,} {what}", highlight=False)


@app.command()
def train(
    ledger: LedgerOption,
    valid_from: Annotated[str, typer.Option(
        help="First day of the out-of-time validation period, YYYY-MM-DD: training uses only "
             "what was known before it.")],
    grace_days: Annotated[int | None, typer.Option(
        min=0, help="Days after the due date before a payment counts as late "
                    "(default from settings: 0).")] = None,
    model: Annotated[list[str] | None, typer.Option(
        "--model", help="Train only this model (repeat for several): late-payment-risk, "
                        "collections-risk, serious-delinquency, payment-date; default all "
                        "four.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Let a model that passes the gate replace a champion trained on "
                        "another ledger (without it such a champion stays).")] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="End with one line of JSON: per model its metrics and its baselines', "
                       "sizes, run id, version and the gate's decision (or its error).")]
    = False,
    predictions_out: Annotated[Path | None, typer.Option(
        help="Write the validation invoices' invoice_id, p_late and late, and their predicted "
             "pay_date_p10, pay_date_p50 and pay_date_p90, to this Parquet file (the "
             "payment-date model's alone when the late-payment model is not trained).")]
    = None,
) -> None:
    """Train the models out of time, log them to MLflow, and promote each one the gate passes.

    The late-payment model (invoices), the collections model (still unpaid 30 days after a
    date), the serious-delinquency model (customers, 90+ days past due within 12 months) and
    the payment-date model (P10, P50, P90 of the days from due date to payment).
    A version becomes champion only if it beats the best baseline by a margin on enough
    validation examples, and the champion on the examples after both training windows
    (settings [training.gate]). If any model fails to train, the command exits 1 naming it
    and no champion changes.
    """
    import json

    from training.payment_dates import validation_predictions
    from training.tasks import TASKS, task_named
    from training.trainer import TaskFailure, train_tasks

    try:
        tasks = tuple(task_named(name) for name in model) if model else TASKS
    except LookupError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model") from None
    settings = load_settings_or_fail()
    config = settings.training
    if grace_days is not None:
        config = config.model_copy(update={"grace_days": grace_days})
    valid_date = parse_date(valid_from, "--valid-from")
    loaded = load(ledger)
    registry = settings.registry()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err_console, transient=True) as progress:
        bar = progress.add_task("training", total=None)

        def step(model):  # noqa: ANN001, ANN202 (a ModelTask; its module loads late)
            return lambda message: progress.update(bar, description=f"{model.name}: {message}")

        results = train_tasks(loaded, valid_from=valid_date, config=config, registry=registry,
                              tasks=tasks, progress=step, force=force)
    summaries = {}
    for result in results:
        if isinstance(result, TaskFailure):
            show_training_failure(result.task.name, result.error)
            summaries[result.task.key] = {"model_name": result.task.name, "error": result.error}
            continue
        summaries[result.task.key] = result.summary()
        show_training(result.task.key, summaries[result.task.key])
    predictions = validation_predictions(results)
    if predictions_out is not None and predictions is not None:
        with atomic_file(predictions_out) as temporary:
            predictions.to_parquet(temporary, index=False)
    failed = [r.task.name for r in results if isinstance(r, TaskFailure)]
    if json_output:
        print(json.dumps({**summaries, "failed": failed}, sort_keys=True))
    if failed:
        fail(f"{', '.join(failed)} failed to train; no champion was changed (--model trains "
             "the others alone)")


@app.command("import")
def import_(
    mapping: Annotated[Path, typer.Option(help="Mapping file (TOML) describing the export: "
                                          "its source, layout, columns and value formats.")],
    out: Annotated[Path, typer.Option(help="Ledger folder to write (Parquet; replaced "
                                      "atomically).")],
    source: Annotated[Path | None, typer.Option(
        help="The export file or folder, instead of the mapping's `source`.")] = None,
    report: Annotated[Path | None, typer.Option(
        help="Write every problem found to this CSV file (file, row, column, value, "
             "problem).")] = None,
) -> None:
    """Import a receivables export (CSV, Excel, Parquet) into a validated ledger folder."""
    from ledger.importer import ImportFailed, import_ledger, write_report

    try:
        result = import_ledger(mapping, out, source=source)
    except ImportFailed as exc:
        if report is not None:
            write_report(exc.problems, report)
        fail(f"{exc}" + (f"\nevery problem is in {report}" if report else ""))
    show_import(result)


app.command()(decisions.score)
app.command()(decisions.worklist)
app.add_typer(limits.limits_app, name="limits")
app.command()(customer.customer)
app.add_typer(decisions.backtest_app, name="backtest")
app.command()(monitor.monitor)
app.command()(kpis.kpis)
app.command()(forecast.forecast)
decisions.backtest_app.command("forecast")(forecast.backtest_forecast_command)
app.command()(serve.serve)
app.command("demo-users")(webapp_demo.demo_users)
app.add_typer(models.models_app, name="models")
app.add_typer(users.users_app, name="users")
app.add_typer(users.db_app, name="db")
app.add_typer(actions.log_app, name="log")
app.command()(actions.assign)
app.add_typer(actions.actions_app, name="actions")

if __name__ == "__main__":
    app()
