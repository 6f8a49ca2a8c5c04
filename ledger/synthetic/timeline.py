"""The ledger's months as epoch days: month starts, calendar months and the shock month."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass

import numpy as np

from ledger.synthetic.config import SyntheticConfig
from ledger.synthetic.parameters import _NEVER

_EPOCH = datetime.date(1970, 1, 1)


@dataclass(frozen=True)
class _Calendar:
    """Month boundaries of the ledger as epoch days."""

    month_start: np.ndarray
    """int32 epoch day each ledger month starts; one more entry: the ledger end."""
    calendar_month: np.ndarray
    """Calendar month (1..12) of each ledger month."""
    shock_index: int
    """0-based index of the first shocked month; the number of months when there is none."""

    @property
    def months(self) -> int:
        return len(self.month_start) - 1

    @property
    def end(self) -> int:
        return int(self.month_start[-1])

    @property
    def shock_start(self) -> int:
        """Epoch day the shock starts (_NEVER without a shock)."""
        if self.shock_index >= self.months:
            return _NEVER
        return int(self.month_start[self.shock_index])

    @property
    def month_length(self) -> np.ndarray:
        return np.diff(self.month_start)


def _add_months(day: datetime.date, months: int) -> datetime.date:
    """`day` moved by whole months, clamped to the month's last day."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    last = calendar.monthrange(year, month0 + 1)[1]
    return datetime.date(year, month0 + 1, min(day.day, last))


def _epoch_day(day: datetime.date) -> int:
    return (day - _EPOCH).days


def _calendar(config: SyntheticConfig) -> _Calendar:
    starts = [_add_months(config.start_date, m) for m in range(config.months + 1)]
    shock_index = config.months if config.shock_month is None else config.shock_month - 1
    return _Calendar(
        month_start=np.array([_epoch_day(d) for d in starts], dtype=np.int32),
        calendar_month=np.array([d.month for d in starts[:-1]], dtype=np.int8),
        shock_index=shock_index,
    )
