"""The `o2c` command line: a thin shell, each command calls one public function of a stage.

Stage modules are imported inside the commands, so `o2c --help` stays fast.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from ledger import LedgerValidationError, load_ledger
from ledger.summary import summarize
from o2c.display import console, err_console, show_ledger_errors, show_summary

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


def _parse_date(value: str | None, option: str) -> dt.date | None:
    """A YYYY-MM-DD option value as a date, or a usage error naming the option."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}",
                                 param_hint=option) from None


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
                                 start_date=_parse_date(start_date, "--start-date"))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with console.status(f"Generating {customers:,} customers over {months} months..."):
        tables = generate_ledger(config)
        try:
            write_ledger(tables, out)
        except FileExistsError as exc:
            err_console.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(code=1) from None
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
    as_of_date = _parse_date(as_of, "--as-of")
    try:
        loaded = load_ledger(ledger)
    except LedgerValidationError as exc:
        show_ledger_errors(exc)
        raise typer.Exit(code=1) from None
    try:
        show_summary(summarize(loaded, as_of_date))
    finally:
        loaded.close()


if __name__ == "__main__":
    app()
