"""What every `o2c` command shares: option types, dates, settings, ledgers, errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from o2c.display import err_console, show_ledger_errors

if TYPE_CHECKING:  # loaded by the commands that use them, so `o2c --help` starts fast
    from ledger import Ledger
    from o2c.settings import Settings

LedgerOption = Annotated[
    Path,
    typer.Option(help="Ledger folder of Parquet/CSV files, or a DuckDB database file.",
                 envvar="O2C_LEDGER"),
]


def parse_date(value: str | None, option: str) -> dt.date | None:
    """A YYYY-MM-DD option value as a date, or a usage error naming the option."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}",
                                 param_hint=option) from None


def load_settings_or_fail() -> Settings:
    """Settings from o2c.toml and O2C_ variables, or a clear error."""
    from o2c.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(f"configuration: {exc}")


def load(path: Path) -> Ledger:
    """A validated ledger, or every problem printed and exit 1. Files that passed the
    contract's rules before, unchanged, are not checked again (`ledger.verdicts`, remembered
    in `<workdir>/verdicts`)."""
    from ledger import LedgerValidationError
    from ledger.verdicts import load_checked
    from o2c.settings import SettingsError, load_settings

    try:
        verdicts = load_settings().workdir / "verdicts"
    except SettingsError:  # the command that needs settings says what is wrong with them
        verdicts = None
    try:
        return load_checked(path, verdicts)
    except LedgerValidationError as exc:
        show_ledger_errors(exc)
        raise typer.Exit(code=1) from None


def fail(message: str) -> NoReturn:
    """Print an error to stderr and exit 1."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def os_error(exc: OSError) -> str:
    """An OS error as a person reads it: what went wrong and the path, without the errno."""
    if exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return exc.strerror or str(exc)
