"""The vectorized as-of aggregation over the event ledger, by hand: windows, point in time, and
the per-source split the per-invoice builder uses (`combine_asof`)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from features.asof import asof_values, combine_asof

D = dt.date(2025, 1, 1)


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


def test_sources_aggregated_apart_and_combined_equal_the_whole_event_ledger() -> None:
    whole = asof_values(_events(WHOLE), QUERIES, PAIRS)
    parts = [asof_values(_events(rows), QUERIES, PAIRS) for rows in (SOURCE_A, SOURCE_B)]
    combined = combine_asof(parts, PAIRS)
    assert combined.column_names == whole.column_names
    for name in whole.column_names:
        assert combined[name].to_pylist() == whole[name].to_pylist(), name
    assert np.array_equal(combined["settled_n__all"].to_numpy(),
                          whole["settled_n__all"].to_numpy())


def test_combining_needs_a_source_for_every_measure() -> None:
    part = asof_values(_events(SOURCE_A), QUERIES, [("settled_n", None)])
    with pytest.raises(ValueError, match="last_payment_date"):
        combine_asof([part], [("settled_n", None), ("last_payment_date", None)])
