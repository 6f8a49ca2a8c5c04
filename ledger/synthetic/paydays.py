"""Payment habits and the calendars of days each customer pays on.

A customer pays in payment runs: weekly on a weekday, twice a month (the 15th and the month
end), at month end, or with no habit on any business day. A run falling on a weekend or a
public holiday of the customer's country (the `holidays` package, offline) moves to the next
business day; with a bank lag the money arrives that many business days later. The pay days
of each distinct (country, habit, lag) are a sorted calendar, looked up through two tables:
the first pay day on or after a day, and the last one on or before it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import holidays
import numpy as np

from ledger.synthetic.numeric import _choose, _sigmoid
from ledger.synthetic.parameters import (
    _BANK_LAG_SHARE,
    _COUNTRIES,
    _HABIT_WEIGHTS,
    _HABITS,
    _LAXITY_SD,
    _RUN_WEEKDAY_WEIGHTS,
    _SLIP_LOGIT_MEAN,
    _SLIP_LOGIT_SD,
)
from ledger.synthetic.timeline import _EPOCH, _Calendar

_CALENDAR_MARGIN_DAYS = 900
"""Days after the ledger end the calendars cover: the latest due date plus the longest delay."""


@dataclass(frozen=True)
class _Habits:
    """Each customer's payment habit: index into _HABITS, run weekday (0 = Monday), lag."""

    habit: np.ndarray
    weekday: np.ndarray
    """Weekday of a weekly run; -1 for the other habits."""
    lag: np.ndarray
    """Business days between the run and the payment's value date (0 or 1)."""
    slip: np.ndarray
    """Chance of paying an invoice due just before a pay day in the run after its due date."""
    laxity: np.ndarray
    """The customer's own added logit of delaying a payment, apart from creditworthiness."""


def _draw_habits(rng: np.random.Generator, country: np.ndarray) -> _Habits:
    """Habits drawn independently of everything else about the customer."""
    n = len(country)
    habit = _choose(rng, np.array(_HABIT_WEIGHTS), n)
    weekday = _choose(rng, np.array(_RUN_WEEKDAY_WEIGHTS), n)
    weekly = np.array([name == "weekly" for name in _HABITS])[habit]
    lag = (rng.random(n) < _BANK_LAG_SHARE).astype(np.int8)
    slip = _sigmoid(_SLIP_LOGIT_MEAN + _SLIP_LOGIT_SD * rng.standard_normal(n))
    laxity = _LAXITY_SD * rng.standard_normal(n)
    return _Habits(habit=habit, weekday=np.where(weekly, weekday, -1).astype(np.int8), lag=lag,
                   slip=slip, laxity=laxity)


@dataclass(frozen=True)
class _PayDays:
    """Pay-day lookups for every customer over days origin .. origin + span - 1."""

    origin: int
    calendar: np.ndarray
    """Per customer: row of `next_table`/`last_table` holding its calendar."""
    next_table: np.ndarray
    """[calendar, day - origin]: first pay day on or after the day (a day past the span if
    none within it)."""
    last_table: np.ndarray
    """[calendar, day - origin]: last pay day on or before the day (origin - 1 if none)."""
    business: np.ndarray
    """[calendar, day - origin]: whether the day is a business day of the calendar's country."""
    business_before: np.ndarray
    """[calendar, day - origin]: business days from origin up to the day, excluded."""

    def _index(self, day: np.ndarray) -> np.ndarray:
        return np.clip(day.astype(np.int64) - self.origin, 0, self.next_table.shape[1] - 1)

    def next_on_or_after(self, customer: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The customer's first pay day on or after `day` (`day` itself beyond the span)."""
        found = self.next_table[self.calendar[customer], self._index(day)]
        beyond = day >= self.origin + self.next_table.shape[1]
        return np.where(beyond, day, found).astype(np.int64)

    def last_on_or_before(self, customer: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The customer's last pay day on or before `day` (origin - 1 when there is none)."""
        found = self.last_table[self.calendar[customer], self._index(day)]
        return np.where(day < self.origin, self.origin - 1, found).astype(np.int64)

    def is_business_day(self, customer: np.ndarray, day: np.ndarray) -> np.ndarray:
        return self.business[self.calendar[customer], self._index(day)]

    def business_days_between(self, customer: np.ndarray, first: np.ndarray,
                              stop: np.ndarray) -> np.ndarray:
        """Business days from `first` up to `stop` (excluded), within the span."""
        row = self.calendar[customer]
        return (self.business_before[row, self._index(stop)]
                - self.business_before[row, self._index(first)])

    def within(self, customer: np.ndarray, day: np.ndarray, low: np.ndarray,
               high: np.ndarray) -> np.ndarray:
        """A pay day in low..high near `day` (low <= day <= high): the first on or after it,
        else the last before it; without one, the first business day from `low` (or `high`).
        """
        ahead = self.next_on_or_after(customer, day)
        behind = self.last_on_or_before(customer, day)
        snapped = np.where(ahead <= high, ahead, np.where(behind >= low, behind, -1))
        off_cycle = np.flatnonzero(snapped < 0)
        if len(off_cycle):
            snapped[off_cycle] = self._first_business_day(customer[off_cycle], low[off_cycle],
                                                          high[off_cycle])
        return snapped

    def _first_business_day(self, customer: np.ndarray, low: np.ndarray, high: np.ndarray
                            ) -> np.ndarray:
        """The first business day in low..high, `high` when there is none."""
        day = np.asarray(low, dtype=np.int64).copy()
        for _ in range(15):  # no country closes for 15 days in a row
            closed = ~self.is_business_day(customer, day) & (day < high)
            if not closed.any():
                break
            day[closed] += 1
        return day


def _holiday_days(country_code: str, first: int, last: int) -> np.ndarray:
    """Epoch days of the country's public holidays between two epoch days."""
    years = range((_EPOCH + datetime.timedelta(days=first)).year,
                  (_EPOCH + datetime.timedelta(days=last)).year + 1)
    days = holidays.country_holidays(country_code, years=years)
    return np.array(sorted((d - _EPOCH).days for d in days), dtype=np.int64)


def _run_days(habit: str, weekday: int, days: np.ndarray, business: np.ndarray) -> np.ndarray:
    """Mask over `days` of the habit's nominal run days (before the business-day shift)."""
    dates = days.astype("datetime64[D]")
    if habit == "weekly":
        return (days + 3) % 7 == weekday  # 1970-01-01 was a Thursday
    day_of_month = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    month_end = (dates + 1).astype("datetime64[M]") != dates.astype("datetime64[M]")
    if habit == "twice_monthly":
        return (day_of_month == 15) | month_end
    if habit == "month_end":
        return month_end
    return business


def _pay_day_mask(habit: str, weekday: int, lag: int, days: np.ndarray,
                  business: np.ndarray) -> np.ndarray:
    """Mask over `days` of the pay days: runs moved to the next business day, plus the lag."""
    business_index = np.cumsum(business) - business  # business days strictly before each day
    business_days = np.flatnonzero(business)
    runs = np.flatnonzero(_run_days(habit, weekday, days, business))
    shifted = business_index[runs] + lag  # the run's own business day when it is one
    shifted = shifted[shifted < len(business_days)]
    mask = np.zeros(len(days), dtype=bool)
    mask[business_days[shifted]] = True
    return mask


def _pay_days(habits: _Habits, country: np.ndarray, cal: _Calendar) -> _PayDays:
    """The lookup tables of every (country, habit, weekday, lag) the customers use."""
    origin = int(cal.month_start[0]) - 31
    days = np.arange(origin, cal.end + _CALENDAR_MARGIN_DAYS, dtype=np.int64)
    keys = np.stack([country, habits.habit, habits.weekday, habits.lag], axis=1)
    used, calendar = np.unique(keys, axis=0, return_inverse=True)
    business_by_country: dict[int, np.ndarray] = {}
    next_rows, last_rows, business_rows = [], [], []
    for country_index, habit, weekday, lag in used.tolist():
        if country_index not in business_by_country:
            closed = _holiday_days(_COUNTRIES[country_index][0], int(days[0]), int(days[-1]))
            business_by_country[country_index] = ((days + 3) % 7 < 5) & ~np.isin(days, closed)
        business = business_by_country[country_index]
        mask = _pay_day_mask(_HABITS[habit], weekday, lag, days, business)
        pay = days[mask]
        after = np.searchsorted(pay, days, side="left")
        next_rows.append(np.append(pay, days[-1] + 1)[after])
        before = np.searchsorted(pay, days, side="right") - 1
        last_rows.append(np.where(before >= 0, pay[np.maximum(before, 0)], origin - 1))
        business_rows.append(business)
    business = np.array(business_rows)
    return _PayDays(origin=origin, calendar=calendar.ravel(),
                    next_table=np.array(next_rows, dtype=np.int32),
                    last_table=np.array(last_rows, dtype=np.int32), business=business,
                    business_before=(np.cumsum(business, axis=1) - business).astype(np.int32))
