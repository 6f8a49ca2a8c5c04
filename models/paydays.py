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


def _modal(frame: pd.DataFrame, column: str, allowed: tuple[int, ...],
           dates: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Per customer: the most frequent of the `allowed` values of `column` (ties: the
    smallest) and its share of the customer's `dates` (count per customer)."""
    kept = frame[frame[column].isin(allowed)]
    counts = (kept.groupby(["customer_id", column]).size().rename("n").reset_index()
              .sort_values(["customer_id", "n", column], ascending=[True, False, True])
              .drop_duplicates("customer_id").set_index("customer_id"))
    mode = counts[column].reindex(dates.index).fillna(0).astype(int)
    return mode, (counts["n"].reindex(dates.index).fillna(0) / dates)


def pay_habits(ledger: Ledger, as_of: dt.date) -> pd.DataFrame:
    """Per customer with payments in the year before `as_of`: `customer_id`, `habit`
    (`month_end`, `twice_monthly`, `weekly`, `any`) and its parameters `p1`, `p2` (offset from
    the month end and from the 15th; the weekday, 0 = Monday)."""
    start = as_of - dt.timedelta(days=LOOKBACK_DAYS)
    paid = ledger.con.sql(
        "SELECT DISTINCT CAST(customer_id AS VARCHAR) AS customer_id, payment_date "
        f"FROM payments WHERE payment_date >= {date_literal(start)} "
        f"AND payment_date < {date_literal(as_of)}").df()
    first, last = np.datetime64(start, "D"), np.datetime64(as_of, "D")
    days = paid["payment_date"].to_numpy().astype("datetime64[D]")
    frame = paid.assign(end=_anchor_offsets(days, month_ends(first, last)),
                        mid=_anchor_offsets(days, mid_months(first, last)),
                        weekday=(days.astype("int64") + 3) % 7)  # 0 = Monday
    dates = frame.groupby("customer_id").size()
    end, end_share = _modal(frame, "end", OFFSETS, dates)
    frame["end_hit"] = frame["end"].to_numpy() == end.reindex(frame["customer_id"]).to_numpy()
    mid, _ = _modal(frame[~frame["end_hit"]], "mid", OFFSETS, dates)
    frame["run_hit"] = frame["end_hit"] | (frame["mid"].to_numpy()
                                           == mid.reindex(frame["customer_id"]).to_numpy())
    twice_share = frame.groupby("customer_id")["run_hit"].mean().reindex(dates.index)
    weekday, weekday_share = _modal(frame, "weekday", tuple(range(7)), dates)
    enough = dates >= MIN_DATES
    month_end = enough & (end_share >= MIN_SHARE)
    twice = enough & ~month_end & (twice_share >= MIN_SHARE)
    weekly = enough & ~month_end & ~twice & (weekday_share >= MIN_SHARE)
    habit = np.select([month_end, twice, weekly], ["month_end", "twice_monthly", "weekly"],
                      "any")
    p1 = np.select([month_end | twice, weekly], [end, weekday], 0)
    p2 = np.where(twice, mid, 0)
    return pd.DataFrame({"customer_id": dates.index.astype(str), "habit": habit,
                         "p1": p1.astype(int), "p2": p2.astype(int)})


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

    def rows(self, customers: np.ndarray) -> np.ndarray:
        """The template row of each customer (0, any business day, for those unknown)."""
        return pd.Series(customers).map(self.codes).fillna(0).to_numpy(dtype=int)

    def snap(self, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Days after `as_of` (invoices x draws) moved to the nearest pay day of each
        invoice's template (`rows`, one per invoice); days past the table unchanged."""
        horizon = self.nearest.shape[1]
        clipped = np.clip(days, 0, horizon - 1).astype(int)
        return np.where(days < horizon, self.nearest[rows[:, None], clipped], days)


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
