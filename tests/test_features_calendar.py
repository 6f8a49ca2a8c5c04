"""Calendar features of the due date: weekdays, business days and public holidays by country."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pyarrow as pa

from features import build_invoice_features, build_snapshot
from features.calendar import due_calendar, holiday_dates
from ledger import ledger_from_frames
from tests.test_features_handmade import handmade_frames

CALENDAR = ["due_weekday", "due_weekend", "due_days_to_weekday", "due_holiday",
            "due_days_to_business_day", "due_days_to_month_end", "due_days_to_quarter_end"]


def test_due_calendar_by_hand() -> None:
    countries = pa.array(["US", "DE", "US", "US", "840", None, "de"])
    due = pa.array([dt.date(2026, 12, 25),   # Friday, Christmas: next business day Monday
                    dt.date(2026, 12, 26),   # Saturday, 2nd Christmas day in Germany
                    dt.date(2026, 7, 3),     # Friday, Independence Day observed
                    dt.date(2026, 12, 2),    # an ordinary Wednesday
                    dt.date(2026, 12, 26),   # the IBM sample's numeric code: unknown
                    dt.date(2026, 12, 26),   # no country: unknown
                    dt.date(2026, 12, 31)])  # lower case code; New Year's Day next
    out = due_calendar(countries, due)
    np.testing.assert_array_equal(out["due_holiday"], [1, 1, 1, 0, np.nan, np.nan, 0])
    np.testing.assert_array_equal(out["due_business_shift"], [3, 2, 3, 0, np.nan, np.nan, 0])


def test_holiday_dates_unknown_country_is_none() -> None:
    assert holiday_dates("840", range(2013, 2014)) is None
    assert holiday_dates("", range(2013, 2014)) is None
    days = holiday_dates("FR", range(2024, 2025))
    assert days is not None and np.datetime64("2024-07-14") in days


def _frames() -> dict[str, pd.DataFrame]:
    """The hand-made ledger with customer B (US) owing D1, due on Independence Day 2024, and
    customer C given a code no calendar knows."""
    frames = handmade_frames()
    frames["customers"].loc[frames["customers"]["customer_id"] == "C", "country"] = "840"
    extra = pd.DataFrame({
        "invoice_id": ["B1"], "customer_id": ["B"], "issue_date": pd.to_datetime(["2024-06-04"]),
        "due_date": pd.to_datetime(["2024-07-04"]), "amount": [50.0], "currency": ["USD"]})
    frames["invoices"] = pd.concat([frames["invoices"], extra], ignore_index=True)
    return frames


def test_calendar_features_by_hand_in_both_builders() -> None:
    ledger = ledger_from_frames(_frames())
    try:
        per_invoice = build_invoice_features(ledger).set_index("invoice_id")
        snapshot = build_snapshot(ledger, dt.date(2024, 7, 1)).set_index("invoice_id")
    finally:
        ledger.close()
    expected = {
        # A5: DE, due Saturday 2024-07-20, no holiday: Monday is 2 days on
        "A5": ["Sat", 1, 2, 0, 2, 11, 72],
        # B1: US, due Thursday 2024-07-04, Independence Day: Friday is the business day
        "B1": ["Thu", 0, 0, 1, 1, 27, 88],
        # C1: country "840", due Wednesday 2024-07-31: weekday features only
        "C1": ["Wed", 0, 0, math.nan, math.nan, 0, 61],
    }
    for frame in (per_invoice, snapshot):
        for invoice, values in expected.items():
            row = frame.loc[invoice, CALENDAR].tolist()
            assert row[0] == values[0], (invoice, row)
            np.testing.assert_array_equal(np.array(row[1:], dtype=float), values[1:],
                                          err_msg=invoice)
    # A1 due Wednesday 2024-01-31: a month end
    assert per_invoice.loc["A1", "due_days_to_month_end"] == 0
    assert per_invoice.loc["A1", "due_weekday"] == "Wed"
