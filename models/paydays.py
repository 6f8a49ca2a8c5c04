"""Customers' pay days, learned from their payments: the days their money arrives.

Many customers pay in runs: every week on one weekday, at the month end, or twice a month (the
15th and the month end); the others on any business day. Their payments arrive on those days
only, so a week holds a month end's run or none of it. `pay_habits` reads each customer's
habit from the distinct dates of its payments in the year before the as-of date (facts dated
before it only):

- `month_end`: at least `MIN_SHARE` of the dates at one business-day offset from a month's
  end (its last day, or the next business day when that is a weekend; offset 1: the business
  day after, as a bank lag makes it);
- `twice_monthly`: at least `MIN_SHARE` at one offset from the month end or one offset from
  the 15th (the first business day on or after it);
- `weekly`: at least `MIN_SHARE` on one weekday;
- `any`: otherwise, or fewer than `MIN_DATES` dates: any business day (Monday to Friday).

`PayCalendar.snap` moves a payment day to the customer's nearest pay day on or after the as-of
date (the payment-date model's days are continuous; the money comes in runs). Public holidays
are not modelled (a run that falls on one is a day off).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.sql import date_literal
from ledger.loader import Ledger

MIN_DATES = 6
"""Distinct payment dates a customer needs before a habit is read from them."""
MIN_SHARE = 0.7
"""Share of those dates a habit must explain."""
LOOKBACK_DAYS = 365
"""Payments of the last year before the as-of date are read."""
OFFSETS = (-1, 0, 1, 2)
"""Business-day offsets from an anchor (month end, the 15th) a run may be read at."""


def _anchor_offsets(dates: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Signed business days from each date to its nearest anchor (sorted business days)."""
    after = np.clip(np.searchsorted(anchors, dates, side="right"), 1, len(anchors) - 1)
    before_days = np.busday_count(anchors[after - 1], dates)
    after_days = -np.busday_count(dates, anchors[after])
    return np.where(np.abs(before_days) <= np.abs(after_days), before_days, after_days)


def month_ends(start: np.datetime64, end: np.datetime64) -> np.ndarray:
    """The last day of each month from `start`'s month to `end`'s (one more each side),
    moved to the next business day when it is a weekend (as a payment run is)."""
    months = np.arange(start.astype("datetime64[M]") - 1, end.astype("datetime64[M]") + 2)
    return np.busday_offset((months + 1).astype("datetime64[D]") - 1, 0, roll="forward")


def mid_months(start: np.datetime64, end: np.datetime64) -> np.ndarray:
    """The first business day on or after the 15th of each month around [start, end]."""
    months = np.arange(start.astype("datetime64[M]") - 1, end.astype("datetime64[M]") + 2)
    return np.busday_offset(months.astype("datetime64[D]") + 14, 0, roll="forward")


def _modal_share(values: np.ndarray, allowed: tuple[int, ...] = OFFSETS) -> tuple[int, float]:
    """The most frequent of the `allowed` values and its share of all `values`."""
    kept = values[np.isin(values, allowed)]
    if len(kept) == 0:
        return 0, 0.0
    levels, counts = np.unique(kept, return_counts=True)
    return int(levels[counts.argmax()]), counts.max() / len(values)


def _habit(dates: np.ndarray, ends: np.ndarray, mids: np.ndarray) -> tuple[str, int, int]:
    """(habit, first parameter, second parameter) of one customer's distinct pay dates."""
    if len(dates) < MIN_DATES:
        return "any", 0, 0
    end_offset, end_share = _modal_share(_anchor_offsets(dates, ends))
    if end_share >= MIN_SHARE:
        return "month_end", end_offset, 0
    mid_offsets = _anchor_offsets(dates, mids)
    end_hits = _anchor_offsets(dates, ends) == end_offset
    mid_offset, _ = _modal_share(mid_offsets[~end_hits])
    if (end_hits | (mid_offsets == mid_offset)).mean() >= MIN_SHARE:
        return "twice_monthly", end_offset, mid_offset
    weekday, weekday_share = _modal_share((dates.astype("int64") + 3) % 7,
                                          tuple(range(7)))  # 0 = Monday
    if weekday_share >= MIN_SHARE:
        return "weekly", weekday, 0
    return "any", 0, 0


def pay_habits(ledger: Ledger, as_of: dt.date) -> pd.DataFrame:
    """Per customer with payments in the year before `as_of`: `customer_id`, `habit`
    (`month_end`, `twice_monthly`, `weekly`, `any`) and its parameters `p1`, `p2` (offset from
    the month end and from the 15th; the weekday, 0 = Monday)."""
    start = as_of - dt.timedelta(days=LOOKBACK_DAYS)
    paid = ledger.con.sql(
        "SELECT DISTINCT customer_id, payment_date FROM payments "
        f"WHERE payment_date >= {date_literal(start)} AND payment_date < {date_literal(as_of)} "
        "ORDER BY customer_id, payment_date").df()
    first, last = np.datetime64(start, "D"), np.datetime64(as_of, "D")
    ends, mids = month_ends(first, last), mid_months(first, last)
    dates = paid["payment_date"].to_numpy().astype("datetime64[D]")
    rows = []
    customers = paid["customer_id"].astype(str).to_numpy()
    bounds = np.flatnonzero(np.r_[True, customers[1:] != customers[:-1], True])
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        rows.append((customers[lo], *_habit(dates[lo:hi], ends, mids)))
    return pd.DataFrame(rows, columns=["customer_id", "habit", "p1", "p2"])


def _pay_days(habit: str, p1: int, p2: int, days: np.ndarray) -> np.ndarray:
    """Which of `days` (consecutive dates) are pay days of the habit."""
    if habit == "weekly":
        return ((days.astype("int64") + 3) % 7) == p1
    business = np.is_busday(days)
    if habit == "any":
        return business
    ends = np.busday_offset(month_ends(days[0], days[-1]), p1, roll="forward")
    runs = set(ends.tolist())
    if habit == "twice_monthly":
        runs |= set(np.busday_offset(mid_months(days[0], days[-1]), p2,
                                     roll="forward").tolist())
    return np.isin(days, np.array(sorted(runs), dtype="datetime64[D]"))


@dataclass(frozen=True)
class PayCalendar:
    """Each customer's pay days over `horizon` days from `as_of`, as a table: row k of
    `nearest` gives, for each day t, the nearest pay day of template k (a habit and its
    parameters) on or after day 0."""

    as_of: dt.date
    codes: dict[str, int]
    """Customer id -> template row (customers not there: any business day, row 0)."""
    nearest: np.ndarray

    def snap(self, customers: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Days after `as_of` (invoices x draws) moved to the nearest pay day of each
        invoice's customer; days past the table unchanged."""
        rows = np.array([self.codes.get(c, 0) for c in customers], dtype=int)[:, None]
        horizon = self.nearest.shape[1]
        clipped = np.clip(days, 0, horizon - 1).astype(int)
        return np.where(days < horizon, self.nearest[rows, clipped], days)


def _nearest(mask: np.ndarray) -> np.ndarray:
    """For each index, the nearest index where `mask` holds (ties: the later; none: itself)."""
    index = np.arange(len(mask))
    if not mask.any():
        return index
    before = np.maximum.accumulate(np.where(mask, index, -1))
    after = np.minimum.accumulate(np.where(mask, index, len(mask))[::-1])[::-1]
    before = np.where(before < 0, after, before)
    after = np.where(after >= len(mask), before, after)
    return np.where(index - before < after - index, before, after)


def pay_calendar(habits: pd.DataFrame, as_of: dt.date, horizon: int) -> PayCalendar:
    """The calendar of `pay_habits` (its customers' templates) over `horizon` days from
    `as_of`."""
    days = np.datetime64(as_of, "D") + np.arange(horizon)
    keys = [("any", 0, 0), *sorted(set(habits[["habit", "p1", "p2"]].itertuples(
        index=False, name=None)) - {("any", 0, 0)})]
    row = {key: k for k, key in enumerate(keys)}
    codes = {c: row[(h, p1, p2)] for c, h, p1, p2 in habits.itertuples(index=False, name=None)}
    return PayCalendar(as_of=as_of, codes=codes,
                       nearest=np.vstack([_nearest(_pay_days(*key, days)) for key in keys]))
