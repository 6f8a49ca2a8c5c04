"""The vectorized as-of aggregation over the event ledger, by hand: windows, point in time, and
the per-source accumulation the per-invoice builder uses (`AsOfAggregates.add`)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from features.asof import AsOfAggregates

D = dt.date(2025, 1, 1)


def asof_values(events: pa.Table, queries: pa.Table,
                pairs: list[tuple[str, int | None]]) -> pa.Table:
    """The aggregates of one event table for `queries` (`ck`, `as_of`), as a table."""
    aggregates = AsOfAggregates(queries["ck"].to_numpy(),
                                queries["as_of"].cast(pa.int32()).to_numpy(), pairs)
    aggregates.add(events, pairs)
    return pa.table(aggregates.columns())


def _events(rows: list[tuple[int, int, float | None, int | None]]) -> pa.Table:
    """(customer key, day offset, settled_n, last_payment_date offset) rows."""
    return pa.table({
        "ck": pa.array([r[0] for r in rows], pa.int32()),
        "d": pa.array([D + dt.timedelta(days=r[1]) for r in rows], pa.date32()),
        "settled_n": pa.array([r[2] for r in rows], pa.float64()),
        "last_payment_date": pa.array(
            [None if r[3] is None else D + dt.timedelta(days=r[3]) for r in rows], pa.date32()),
    })


QUERIES = pa.table({"ck": pa.array([1, 1, 1, 2, 3], pa.int32()),
                    "as_of": pa.array([D + dt.timedelta(days=k) for k in (0, 5, 40, 5, 5)],
                                      pa.date32())})
PAIRS = [("settled_n", None), ("settled_n", 30), ("last_payment_date", None)]
SOURCE_A = [(1, 0, 1.0, None), (1, 4, 2.0, None), (1, 20, 1.0, None), (2, 1, 5.0, None)]
SOURCE_B = [(1, 3, None, 3), (1, 4, None, 4), (1, 39, None, 39), (2, 5, None, 5)]
WHOLE = sorted(SOURCE_A + SOURCE_B, key=lambda row: row[:2])


def test_sums_and_last_dates_use_only_events_before_the_date_and_in_the_window() -> None:
    values = asof_values(_events(WHOLE), QUERIES, PAIRS).to_pydict()
    # customer 1: nothing before day 0; days 0 and 4 before day 5; all four before day 40,
    # of which only day 20 (and 39, no settlement) falls in the 30 days before it
    assert values["settled_n__all"] == [0.0, 3.0, 4.0, 5.0, 0.0]
    assert values["settled_n__30"] == [0.0, 3.0, 1.0, 5.0, 0.0]
    # the payment on day 5 of customer 2 is on its as-of date: not before it
    assert values["last_payment_date__all"] == [None, D + dt.timedelta(days=4),
                                                D + dt.timedelta(days=39), None, None]


def _aggregates(pairs: list[tuple[str, int | None]]) -> AsOfAggregates:
    return AsOfAggregates(QUERIES["ck"].to_numpy(),
                          QUERIES["as_of"].cast(pa.int32()).to_numpy(), pairs)


def test_sources_added_apart_equal_the_whole_event_ledger() -> None:
    whole = asof_values(_events(WHOLE), QUERIES, PAIRS)
    aggregates = _aggregates(PAIRS)
    for rows in (SOURCE_A, SOURCE_B):
        aggregates.add(_events(rows), PAIRS)
    combined = aggregates.columns()
    assert list(combined) == whole.column_names
    for name in whole.column_names:
        assert combined[name].to_pylist() == whole[name].to_pylist(), name
    assert np.array_equal(combined["settled_n__all"].to_numpy(),
                          whole["settled_n__all"].to_numpy())


def test_queries_in_any_order_get_the_same_values() -> None:
    order = [3, 0, 4, 2, 1]
    shuffled = asof_values(_events(WHOLE), QUERIES.take(order), PAIRS)
    whole = asof_values(_events(WHOLE), QUERIES, PAIRS).take(order)
    assert shuffled.equals(whole)


def test_events_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="sorted"):
        asof_values(_events(WHOLE[::-1]), QUERIES, PAIRS)


def test_every_measure_needs_a_source() -> None:
    aggregates = _aggregates([("settled_n", None), ("last_payment_date", None)])
    aggregates.add(_events(SOURCE_A), [("settled_n", None)])
    with pytest.raises(ValueError, match="last_payment_date"):
        aggregates.columns()
