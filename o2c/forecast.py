"""`o2c forecast` and `o2c backtest forecast`: expected collections per week from the open
invoices' payment-date distributions (`models.forecast`), and how that did against two rules
on what was actually paid (`training.backtest_forecast`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from o2c.common import LedgerOption, fail, load, load_settings_or_fail, os_error, parse_date
from o2c.display import console, err_console

if TYPE_CHECKING:
    import pandas as pd

AsOf = Annotated[str, typer.Option(help="The forecast's date, YYYY-MM-DD: the invoices open "
                                        "then, and only facts dated before it.")]
Weeks = Annotated[int, typer.Option(min=1, max=52, help="Weeks forecast (7 days each from "
                                                        "the as-of date).")]
Simulations = Annotated[int, typer.Option(
    min=100, max=100_000, help="Monte Carlo draws of every invoice's payment day (more: "
                               "steadier intervals, slower).")]
WeekError = Annotated[float, typer.Option(
    min=0.0, max=1.0, help="Log-normal spread of each week's total added to the simulation: "
                           "the forecast's own weekly error, which invoice-level draws leave "
                           "out (0.08 chosen by back-test on the generated ledger; check yours "
                           "with `o2c backtest forecast`).")]
Out = Annotated[Path | None, typer.Option(help="Write the plot of the forecast to this PNG "
                                               "file.")]
Json = Annotated[bool, typer.Option("--json", help="End with one line of JSON.")]


def forecast(
    ledger: LedgerOption, as_of: AsOf, weeks: Weeks = 13, simulations: Simulations = 2000,
    week_error: WeekError = 0.08, out: Out = None, json_output: Json = False,
) -> None:
    """Expected collections per week of the invoices open at a date, in the reporting currency,
    with a P10-P90 interval per week (Monte Carlo over each invoice's payment-date
    distribution from the payment-date champion; invoices not yet issued are not forecast)."""
    from models.forecast import ForecastConfig, cash_forecast
    from models.payment_dates import PaymentDateModel
    from training.payment_dates import MODEL_NAME

    day = parse_date(as_of, "--as-of")
    settings = load_settings_or_fail()
    registry = settings.registry()
    try:
        version = registry.champion_version(MODEL_NAME)
        model = registry.load_model(MODEL_NAME, str(version.version))
    except LookupError as exc:
        fail(str(exc))
    if not isinstance(model, PaymentDateModel):
        fail(f"the champion of {MODEL_NAME} is not a payment-date model")
    loaded = load(ledger)
    try:
        with console.status(f"Forecasting the open invoices at {day}..."):
            result = cash_forecast(loaded, day, model,
                                   ForecastConfig(weeks=weeks, simulations=simulations,
                                                  week_error=week_error,
                                                  seed=settings.training.seed))
    finally:
        loaded.close()
    summary = result.summary()
    show_forecast(result.weeks, currency=result.currency,
                  title=f"Cash forecast as of {day} ({MODEL_NAME} v{version.version}): "
                        f"{summary['open_invoices']:,} open invoices, "
                        f"{summary['open_amount']:,.2f} {result.currency} open")
    err_console.print(f"Not included: {summary['not_issued']}.", highlight=False)
    if out is not None:
        _plot(result.weeks, result.currency, f"Expected collections per week from {day}", out)
    if json_output:
        print(json.dumps({**summary, "model_version": str(version.version)}, sort_keys=True))


def backtest_forecast_command(
    ledger: LedgerOption, as_of: AsOf, weeks: Weeks = 13, simulations: Simulations = 2000,
    week_error: WeekError = 0.08, out: Out = None, json_output: Json = False,
) -> None:
    """The forecast as of a date (payment-date model fitted on facts before it) against what
    the open invoices actually brought in per week, beside the due-date and the
    customer-average-delay forecasts: weekly absolute error and error of the total. The plot
    is logged to MLflow and written to --out."""
    import mlflow

    from models.forecast import ForecastConfig
    from training.backtest_forecast import METHODS, backtest_forecast
    from training.payment_date_plots import forecast_plot

    day = parse_date(as_of, "--as-of")
    settings = load_settings_or_fail()
    loaded = load(ledger)
    try:
        with console.status(f"Fitting on the facts before {day} and forecasting..."):
            result = backtest_forecast(loaded, day, config=settings.training,
                                       forecast=ForecastConfig(weeks=weeks,
                                                               simulations=simulations,
                                                               week_error=week_error,
                                                               seed=settings.training.seed))
    except ValueError as exc:
        fail(str(exc))
    finally:
        loaded.close()
    currency = result.forecast.currency
    show_forecast(result.weeks, currency=currency, title=f"Forecast back-test as of {day}")
    figures = result.figures()
    table = Table(title=f"Errors over {weeks} weeks ({currency})", title_justify="left")
    for column in ("forecast", "weekly mean absolute error", f"{weeks}-week total error"):
        table.add_column(column, justify="left" if column == "forecast" else "right")
    for method in METHODS:
        table.add_row(method, f"{figures[f'{method}_weekly_mae']:,.2f}",
                      f"{figures[f'{method}_total_error']:+,.2f}")
    console.print(table)
    console.print(f"Actual weeks inside the forecast's P10-P90: "
                  f"{figures['interval_coverage']:.0%}", highlight=False)
    title = f"Collections per week from {day}: forecast, rules and actual"
    figure = forecast_plot(result.weeks, currency=currency, title=title)
    with settings.registry().start_run(f"forecast backtest as_of={day}"):
        mlflow.set_tags({"task": "forecast_backtest", "as_of": str(day)})
        customer_rho, common_rho = result.forecast.config.correlations()
        mlflow.log_params({"weeks": weeks, "simulations": simulations,
                           "week_error": week_error, "customer_correlation": customer_rho,
                           "common_correlation": common_rho})
        mlflow.log_metrics(figures)
        mlflow.log_table(result.weeks.assign(week_start=result.weeks["week_start"].astype(str)),
                         "evaluation/forecast_weeks.json")
        mlflow.log_figure(figure, "plots/forecast_vs_actual.png")
    if out is not None:
        _plot(result.weeks, currency, title, out)
    if json_output:
        print(json.dumps({"as_of": str(day), "currency": currency, **figures}, sort_keys=True))


def show_forecast(weeks: pd.DataFrame, *, currency: str, title: str) -> None:
    """The weeks as a table: expected collections and interval (and a back-test's columns)."""
    table = Table(title=title, title_justify="left")
    names = {"expected": "expected", "forecast": "forecast", "low": "P10", "high": "P90",
             "actual": "actual", "due_date": "due-date rule",
             "average_delay": "average-delay rule"}
    columns = [c for c in names if c in weeks.columns]
    table.add_column("week from")
    for column in columns:
        table.add_column(f"{names[column]} ({currency})", justify="right")
    for _, row in weeks.iterrows():
        table.add_row(str(row["week_start"].date()), *(f"{row[c]:,.0f}" for c in columns))
    console.print(table)


def _plot(weeks: pd.DataFrame, currency: str, title: str, path: Path) -> None:
    from training.payment_date_plots import forecast_plot
    from training.plots import save_png

    try:
        save_png(forecast_plot(weeks, currency=currency, title=title), path)
    except OSError as exc:
        fail(f"cannot write the plot to {path}: {os_error(exc)}")
    console.print(f"Wrote {path}", highlight=False)
