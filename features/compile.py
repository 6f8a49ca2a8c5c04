"""Turn feature specs into SQL: the per-customer aggregates they need, and their projection.

The event ledger is aggregated in two ways, from one definition:

- `asof_hist_stage`: as of one date T (snapshot, customer features), in SQL. The events are
  already restricted to those dated before T; a window of w days is
  `FILTER (WHERE d >= T - w)`.
- `features.asof.asof_values`: as of many dates at once (one per invoice issue date), as
  running totals and a vectorized as-of lookup.

Both give columns `<measure>__<window>` with the neutral value (0 for sums, NULL for max/min)
where a customer has no event, and `projection` turns them into the features.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from features.catalog import FeatureSpec, measure_column
from features.events import MEASURES, event_sources
from features.sql import Stage, date_literal


def needed_measures(specs: Iterable[FeatureSpec]) -> list[tuple[str, int | None]]:
    """Distinct (measure, window) pairs the specs use, in a stable order."""
    pairs = {pair for spec in specs for pair in spec.measures}
    order = list(MEASURES)
    return sorted(pairs, key=lambda p: (order.index(p[0]), -1 if p[1] is None else p[1]))


def _check_windows(pairs: list[tuple[str, int | None]]) -> None:
    for measure, window in pairs:
        if window is not None and MEASURES[measure].agg != "sum":
            raise ValueError(f"measure {measure!r} is a {MEASURES[measure].agg}: it has no "
                             f"window (asked for {window} days)")


def asof_hist_stage(specs: Iterable[FeatureSpec], as_of: dt.date) -> Stage:
    """Stage `hist(ck, ...)`: every customer's aggregates over the events before `as_of`.

    Aggregated in two phases: each event source over its own measures (windowed ones over
    the events of the widest window only), then the partial aggregates per customer, which
    is much cheaper than one pass over the NULL-padded event ledger.
    """
    pairs = needed_measures(specs)
    _check_windows(pairs)
    parts = []
    t = date_literal(as_of)
    for source in event_sources():
        mine = [(m, w) for m, w in pairs if m in source.measures]
        # all-history aggregates over every event; windowed ones over the recent events only
        for group in ([p for p in mine if p[1] is None], [p for p in mine if p[1] is not None]):
            if not group:
                continue
            widest = max((w for _, w in group if w is not None), default=None)
            aggs = []
            for measure, window in group:
                where = "" if window is None or window == widest else \
                    f" FILTER (WHERE d >= {t} - {window})"
                aggs.append(f"{MEASURES[measure].agg}({measure}){where} "
                            f"AS {measure_column(measure, window)}")
            recent = "" if widest is None else f" AND d >= {t} - {widest}"
            parts.append(f"SELECT ck, {', '.join(aggs)} FROM ({source.select(as_of)}) "
                         f"WHERE TRUE{recent} GROUP BY ck")
    outs = []
    combined = []
    for measure, window in pairs:
        m = MEASURES[measure]
        column = measure_column(measure, window)
        combined.append(f"{m.agg}({column}) AS {column}")
        outs.append(f"coalesce(a.{column}, {m.neutral}) AS {column}")
    if not parts:
        return Stage("hist", "SELECT ck FROM cust")
    union = " UNION ALL BY NAME ".join(f"({part})" for part in parts)
    return Stage("hist", f"""
        SELECT c.ck, {", ".join(outs)}
        FROM cust c LEFT JOIN (
            SELECT ck, {", ".join(combined)} FROM ({union}) GROUP BY ck
        ) a USING (ck)""")


def projection(specs: Iterable[FeatureSpec]) -> str:
    """SELECT list of the features, typed: DOUBLE with NaN for missing, VARCHAR, BOOLEAN."""
    items = []
    for spec in specs:
        expr = spec.expression()
        if spec.column_dtype == "float64":
            items.append(f"coalesce(CAST(({expr}) AS DOUBLE), CAST('NaN' AS DOUBLE)) "
                         f"AS {spec.name}")
        elif spec.column_dtype == "bool":
            items.append(f"coalesce(CAST(({expr}) AS BOOLEAN), FALSE) AS {spec.name}")
        else:
            items.append(f"CAST(({expr}) AS VARCHAR) AS {spec.name}")
    return ",\n".join(items)
