"""Payment habits that are not running sums: a customer's last settled invoices, and the
population prior that thin histories are shrunk toward.

Both are computed with numpy from settlements (`inv_state`'s settlement dates) and looked up
as of each query date, so one definition serves every builder:

- sequence columns (`SEQUENCE_COLUMNS`): over the customer's last 3 and 5 invoices settled
  before T (ties on a day broken by invoice key), how many, how many late and their summed
  days late; over the last `RECENT_SETTLED`, the median and interquartile range of days late
  (settlement - due date: days to pay relative to terms);
- prior columns (`PRIOR_COLUMNS`): the population's late share and the share of its late
  settlements that were 1-5 days late, over invoices settled before T.

The prior is estimated on a fixed sample of customers: all of them when the ledger has at
most `PRIOR_SAMPLE_CUSTOMERS`, else that many chosen by the MD5 of their id. The sample
depends on customer ids only and its settlements before T on facts before T, so the prior is
point in time and the same for every chunking; on a 10M-invoice ledger it costs about a
second instead of the half-minute the whole population would.

Empirical Bayes: a rate of k events in n trials is shown as (k + a) / (n + a + b) with
a = s x prior and b = s x (1 - prior), s = `features.catalog.PRIOR_STRENGTH`: a customer with no
settled invoice gets the prior, one with many its own rate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from features.asof import _keys, epoch_days
from features.events import base_stages
from features.sql import materialize, with_query

if TYPE_CHECKING:
    import duckdb

PRIOR_SAMPLE_CUSTOMERS = 2_000
"""Customers the population prior is estimated on (all of them up to this many)."""

LAST_SETTLED: tuple[int, ...] = (3, 5)
"""The last k settled invoices whose late share and days late are features."""

RECENT_SETTLED = 10
"""Settled invoices the median and spread of days late are taken over (the most recent)."""

SEQUENCE_COLUMNS: tuple[str, ...] = (
    *(f"last{k}_{what}" for k in LAST_SETTLED for what in ("n", "late_n", "days_late_sum")),
    "recent_days_late_median", "recent_days_late_iqr")
"""Per-customer columns as of T from its settled invoices (DOUBLE, NaN when undefined)."""

PRIOR_COLUMNS: tuple[str, ...] = ("prior_late_share", "prior_short_late_share")
"""Population rates as of T (DOUBLE, NaN before any settlement)."""

HABIT_COLUMNS: tuple[str, ...] = (*SEQUENCE_COLUMNS, *PRIOR_COLUMNS)
"""Every per-customer column this module provides to the builders."""

def settlements_sql(latest_only: bool = False) -> str:
    """The settlements of the builder's `inv_state` stage, in the order `sequence_columns`
    needs; with `latest_only` only each customer's last `RECENT_SETTLED` (all that a query
    after every settlement reads: the snapshot and customer builders)."""
    latest = (f"QUALIFY row_number() OVER (PARTITION BY ck ORDER BY settle_date DESC, ik DESC)"
              f" <= {RECENT_SETTLED}") if latest_only else ""
    return f"""
        SELECT ck, settle_date AS d, ik, CAST(settle_date - due_date AS DOUBLE) AS days_late
        FROM inv_state WHERE settle_date IS NOT NULL {latest} ORDER BY ck, d, ik"""


def sequence_columns(settlements: pa.Table, q_ck: np.ndarray,
                     q_day: np.ndarray) -> dict[str, np.ndarray]:
    """`SEQUENCE_COLUMNS` of each query (customer key, epoch day) from `settlements`
    (`settlements_sql()`: ck, d, ik, days_late sorted by ck, d, ik); settlements dated before
    the query day count."""
    keys = _keys(settlements["ck"].to_numpy(), epoch_days(settlements["d"]))
    late = np.asarray(settlements["days_late"].to_numpy(), dtype=np.float64)
    first = np.searchsorted(keys, q_ck.astype(np.int64) << 32, side="left")
    end = np.searchsorted(keys, _keys(q_ck, q_day), side="left")
    count = end - first
    cum_late = np.concatenate(([0], np.cumsum(late > 0)))
    cum_days = np.concatenate(([0.0], np.cumsum(late)))
    out: dict[str, np.ndarray] = {}
    for k in LAST_SETTLED:
        start = end - np.minimum(count, k)
        out[f"last{k}_n"] = (end - start).astype(np.float64)
        out[f"last{k}_late_n"] = (cum_late[end] - cum_late[start]).astype(np.float64)
        out[f"last{k}_days_late_sum"] = cum_days[end] - cum_days[start]
    r = RECENT_SETTLED
    n = np.minimum(count, r)
    offsets = np.arange(r)
    rows = end[:, None] - r + offsets  # the last r rows before end, oldest first
    valid = offsets >= (r - n)[:, None]
    window = np.where(valid, late[np.clip(rows, 0, max(len(late) - 1, 0))] if len(late)
                      else 0.0, np.nan)
    window.sort(axis=1)  # the n valid values first, ascending (NaN last)
    q1, median, q3 = (_quantile(window, n, q) for q in (0.25, 0.5, 0.75))
    out["recent_days_late_median"] = median
    out["recent_days_late_iqr"] = q3 - q1
    return out


def _quantile(ascending: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """Per row, the q-quantile (linear interpolation, numpy's default) of its first n values."""
    pos = q * np.maximum(n - 1, 0)
    low = np.floor(pos).astype(np.int64)
    high = np.ceil(pos).astype(np.int64)
    rows = np.arange(len(n))
    a, b = ascending[rows, low], ascending[rows, high]
    value = a + (b - a) * (pos - low) if len(n) else np.zeros(0)
    return np.where(n > 0, np.where(high == low, a, value), np.nan)


class PopulationPrior:
    """Cumulative population settlements by day, from the prior's sample of customers."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """Compute the daily settlements of the sample in `cursor` (a fresh cursor of the
        ledger's connection: its temporary tables are created there)."""
        sample = (f"ck IN (SELECT ck FROM cust ORDER BY md5(customer_id), customer_id "
                  f"LIMIT {PRIOR_SAMPLE_CUSTOMERS})")
        stages = [s for s in base_stages(customers=sample)
                  if not s.name.startswith("prom")]
        inline = materialize(cursor, stages)
        daily = cursor.sql(with_query(inline, """
            SELECT settle_date AS d, count(*) AS settled,
                   count(*) FILTER (WHERE settle_date > due_date) AS late,
                   count(*) FILTER (WHERE settle_date - due_date BETWEEN 1 AND 5) AS short
            FROM inv_state WHERE settle_date IS NOT NULL GROUP BY settle_date ORDER BY d
        """)).to_arrow_table()
        self.days = epoch_days(daily["d"])
        self.cum = {name: np.concatenate(([0], np.cumsum(daily[name].to_numpy())))
                    for name in ("settled", "late", "short")}

    def columns(self, q_day: np.ndarray) -> dict[str, np.ndarray]:
        """`PRIOR_COLUMNS` as of each query day (settlements dated before it)."""
        at = np.searchsorted(self.days, q_day, side="left")
        settled, late, short = (self.cum[name][at].astype(np.float64)
                                for name in ("settled", "late", "short"))
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"prior_late_share": np.where(settled > 0, late / settled, np.nan),
                    "prior_short_late_share": np.where(late > 0, short / late, np.nan)}


def habit_table(settlements: pa.Table, prior: PopulationPrior, q_ck: np.ndarray,
                q_day: np.ndarray) -> pa.Table:
    """`HABIT_COLUMNS` of each query, in query order, as an Arrow table."""
    columns = {**sequence_columns(settlements, q_ck, q_day), **prior.columns(q_day)}
    return pa.table({name: pa.array(columns[name], pa.float64()) for name in HABIT_COLUMNS})
