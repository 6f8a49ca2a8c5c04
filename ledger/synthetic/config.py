"""What synthetic ledger to generate (`SyntheticConfig`) and the names and types of its tables."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import NoReturn

import numpy as np
import pyarrow as pa

from ledger.schema import TABLES

BASE_CURRENCY = "USD"
"""The reporting currency of `fx_rates`."""

ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "text": pa.string(),
    "date": pa.date32(),
    "amount": pa.float64(),
    "int": pa.int32(),
    "bool": pa.bool_(),
    "rate": pa.float64(),
}
"""The Arrow type each contract column type is generated as."""

TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    "truth_invoices": pa.schema([("invoice_id", pa.string()), ("p_late_true", pa.float64())]),
    "truth_customers": pa.schema([
        ("customer_id", pa.string()),
        ("creditworthiness_end", pa.float64()),
        ("default_date", pa.date32()),
        ("payment_habit", pa.string()),
        ("run_weekday", pa.int32()),
        ("bank_lag_days", pa.int32()),
    ]),
}
"""Schemas of the truth tables (not part of the ledger contract)."""

EARLIEST_START = datetime.date(1900, 1, 1)
"""The earliest start_date: customers' accounts open up to ten years before it."""
LATEST_END = datetime.date(2200, 1, 1)
"""The latest end of a generated ledger (start_date + months): dates stay well inside what
pandas and DuckDB timestamps hold."""

LEDGER_TABLES: tuple[str, ...] = tuple(TABLES)
TABLE_NAMES: tuple[str, ...] = LEDGER_TABLES + tuple(TRUTH_SCHEMAS)
"""Every key `generate_ledger` returns, contract tables first."""


@dataclass(frozen=True)
class SyntheticConfig:
    """What synthetic ledger to generate; invalid values raise ValueError on construction.

    About 2.2 invoices per customer-month: 1500 customers x 30 months give ~100k invoices,
    75000 customers x 60 months ~10M.
    """

    customers: int
    """Number of customer accounts, > 0."""
    months: int
    """Ledger length in months, > 0; the ledger ends at start_date + months (exclusive)."""
    seed: int = 0
    """Seed (>= 0) of the one numpy Generator: the same config gives byte-identical files."""
    shock_month: int | None = None
    """1-based ledger month from which a macro shock applies (1..months), None for none."""
    start_date: datetime.date = datetime.date(2024, 1, 1)
    """First day of the ledger."""
    invoices_per_month: float = 2.2
    """Mean monthly invoice count of a median-size customer (> 0): scales the ledger."""
    existing_share: float = 0.75
    """Share of customers opened before start_date (0..1); the others join during the ledger."""
    late_intercept: float = -1.4
    """Intercept of the late-payment logit; higher means a later-paying book."""
    shock_logit: float = 0.8
    """Added to the late-payment logit of invoices issued from the shock month on (>= 0)."""
    shock_delay_factor: float = 1.6
    """Multiplies the days late of invoices due from the shock month on (>= 1)."""

    def __post_init__(self) -> None:
        _require_int(self.customers, "customers", "an integer > 0", minimum=1)
        _require_int(self.months, "months", "an integer > 0", minimum=1)
        _require_int(self.seed, "seed", "an integer >= 0", minimum=0)
        if self.shock_month is not None:
            _require_int(self.shock_month, "shock_month",
                         f"None or an integer in 1..{self.months}", minimum=1,
                         maximum=self.months)
        if not isinstance(self.start_date, datetime.date) or isinstance(
                self.start_date, datetime.datetime):
            _invalid("start_date", "a datetime.date", self.start_date)
        end_year, end_month0 = divmod(self.start_date.month - 1 + self.months, 12)
        end = (self.start_date.year + end_year, end_month0 + 1, self.start_date.day)
        if self.start_date < EARLIEST_START or end > (LATEST_END.year, LATEST_END.month,
                                                       LATEST_END.day):
            _invalid("start_date", f"a date from {EARLIEST_START} such that start_date + "
                     f"months ends by {LATEST_END}", self.start_date)
        _require_number(self.invoices_per_month, "invoices_per_month", "a number > 0",
                        above=0.0)
        _require_number(self.existing_share, "existing_share", "a number in 0..1",
                        at_least=0.0, at_most=1.0)
        _require_number(self.late_intercept, "late_intercept", "a finite number")
        _require_number(self.shock_logit, "shock_logit", "a number >= 0", at_least=0.0)
        _require_number(self.shock_delay_factor, "shock_delay_factor", "a number >= 1",
                        at_least=1.0)


def _invalid(field_name: str, allowed: str, value: object) -> NoReturn:
    shown = value.isoformat() if isinstance(value, datetime.date) else repr(value)
    raise ValueError(f"SyntheticConfig.{field_name} must be {allowed}, got {shown}")


def _require_int(value: object, field_name: str, allowed: str, *, minimum: int,
                 maximum: int | None = None) -> None:
    """Check an integer (not a bool) in minimum..maximum."""
    if (isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum
            or (maximum is not None and value > maximum)):
        _invalid(field_name, allowed, value)


def _require_number(value: object, field_name: str, allowed: str, *, above: float | None = None,
                    at_least: float | None = None, at_most: float | None = None) -> None:
    """Check a finite real number against the given bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        _invalid(field_name, allowed, value)
    number = float(value)
    if (not np.isfinite(number) or (above is not None and number <= above)
            or (at_least is not None and number < at_least)
            or (at_most is not None and number > at_most)):
        _invalid(field_name, allowed, value)
