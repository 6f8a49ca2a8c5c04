"""Feature values of a small hand-made ledger, computed by hand and checked exactly.

Customer A (EUR, 1 EUR = 1.1 reporting units, limit 10,000, terms 30, opened 2023-01-01):

| invoice | issued | due   | amount | what happens                                             |
|---------|--------|-------|--------|----------------------------------------------------------|
| A1      | 01-01  | 01-31 | 1000   | paid in full 01-03 (28 days early)                       |
| A2      | 02-01  | 03-02 | 2000   | paid 500 on 03-01, credit note 300 on 03-10, paid 1200  |
|         |        |       |        | on 04-01: settled 04-01, 30 days late                    |
| A3      | 03-01  | 03-31 | 400    | paid 05-20: 50 days late; promise for 05-10 broken       |
| A4      | 05-01  | 05-31 | 800    | paid 300 on 06-10 (promise for 06-10 kept); dispute      |
|         |        |       |        | opened 06-05, resolved 07-20                             |
| A5      | 06-20  | 07-20 | 600    | paid in full on 07-01; promise made 06-25 for 07-05     |

All in 2024. Customer B (USD) has no invoice; customer C has no created_date.
The main as-of date T is 2024-07-01: the 90-day window is 04-02..06-30, the 180-day window
01-03..06-30 (so A1's settlement on T - 180 counts, A2's on T - 91 does not, and A5's payment
on T itself is not seen).
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from features import build_customer_features, build_invoice_features, build_snapshot
from ledger import ledger_from_frames

T = dt.date(2024, 7, 1)


def _dates(*values: str | None) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="object"))


def handmade_frames() -> dict[str, pd.DataFrame]:
    """The ledger of the module docstring."""
    return {
        "customers": pd.DataFrame({
            "customer_id": ["A", "B", "C"],
            "country": ["DE", "US", "FR"],
            "currency": ["EUR", "USD", "EUR"],
            "payment_terms_days": [30, 45, 60],
            "credit_limit": [10_000.0, 5_000.0, 0.0],
            "industry": ["retail", "technology", None],
            "segment": ["small", "mid", "large"],
            "created_date": _dates("2023-01-01", "2024-01-01", None),
        }),
        "invoices": pd.DataFrame({
            "invoice_id": ["A1", "A2", "A3", "A4", "A5", "C1"],
            "customer_id": ["A", "A", "A", "A", "A", "C"],
            "issue_date": _dates("2024-01-01", "2024-02-01", "2024-03-01", "2024-05-01",
                                 "2024-06-20", "2024-06-01"),
            "due_date": _dates("2024-01-31", "2024-03-02", "2024-03-31", "2024-05-31",
                               "2024-07-20", "2024-07-31"),
            "amount": [1000.0, 2000.0, 400.0, 800.0, 600.0, 100.0],
            "currency": ["EUR", "EUR", "EUR", "EUR", "EUR", "EUR"],
        }),
        "payments": pd.DataFrame({
            "payment_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
            "invoice_id": ["A1", "A2", "A2", "A3", "A4", "A5"],
            "customer_id": ["A"] * 6,
            "payment_date": _dates("2024-01-03", "2024-03-01", "2024-04-01", "2024-05-20",
                                   "2024-06-10", "2024-07-01"),
            "amount": [1000.0, 500.0, 1200.0, 400.0, 300.0, 600.0],
        }),
        "credit_notes": pd.DataFrame({
            "credit_note_id": ["N1"], "invoice_id": ["A2"], "customer_id": ["A"],
            "issue_date": _dates("2024-03-10"), "amount": [300.0],
        }),
        "disputes": pd.DataFrame({
            "dispute_id": ["D1"], "invoice_id": ["A4"],
            "opened_date": _dates("2024-06-05"), "resolved_date": _dates("2024-07-20"),
        }),
        "promises": pd.DataFrame({
            "promise_id": ["R1", "R2", "R3"],
            "customer_id": ["A", "A", "A"],
            "created_date": _dates("2024-06-01", "2024-05-01", "2024-06-25"),
            "promised_date": _dates("2024-06-10", "2024-05-10", "2024-07-05"),
            "amount": [300.0, 400.0, 600.0],
            "invoice_id": ["A4", "A3", "A5"],
            # recorded after the fact and wrong on purpose: features must ignore it
            "kept": [False, True, None],
        }),
        "fx_rates": pd.DataFrame({"currency": ["EUR", "USD"], "rate_to_base": [1.1, 1.0]}),
    }


@pytest.fixture(scope="module")
def ledger():
    ledger = ledger_from_frames(handmade_frames())
    yield ledger
    ledger.close()


def _row(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    rows = frame[frame[key] == value]
    assert len(rows) == 1, f"expected one row with {key} = {value}"
    return rows.iloc[0]


def _check(row: pd.Series, expected: dict[str, float | str | bool]) -> None:
    for name, value in expected.items():
        got = row[name]
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(got), f"{name}: expected NaN, got {got}"
        elif isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-12, abs=1e-12), name
        else:
            assert got == value, f"{name}: expected {value!r}, got {got!r}"


DAYS_LATE_ALL = [-28, 30, 50]
STD_ALL = math.sqrt(sum((d - sum(DAYS_LATE_ALL) / 3) ** 2 for d in DAYS_LATE_ALL) / 3)

CUSTOMER_A_AT_T = {
    "settled_count_all": 3.0, "late_share_all": 2 / 3, "days_late_mean_all": 52 / 3,
    "days_late_std_all": STD_ALL,
    "days_late_weighted_all": (1000 * -28 + 2000 * 30 + 400 * 50) / 3400,
    # 180 days back is 2024-01-03, A1's settlement: included
    "settled_count_180d": 3.0, "late_share_180d": 2 / 3,
    "settled_count_365d": 3.0,
    # 90 days back is 2024-04-02: A2 (settled 04-01) is out, A3 (05-20) in
    "settled_count_90d": 1.0, "late_share_90d": 1.0, "days_late_mean_90d": 50.0,
    "days_late_std_90d": 0.0, "days_late_weighted_90d": 50.0,
    "late_share_trend": 1 - 2 / 3, "days_late_trend": 50 - 52 / 3,
    "days_since_last_late": 42.0,
    # P5 on 06-10 is the last payment seen; in the 90-day window P4 400 + P5 300 were paid
    # (P3 on 04-01 is out) against A4 800 + A5 600 invoiced
    "days_since_last_payment": 21.0, "paid_vs_invoiced_90d": 700 / 1400,
    # A4 (500 left, 31 days past due) and A5 (600: its payment on T is not seen yet)
    "open_invoice_count": 2.0, "open_balance_base": 1100 * 1.1,
    "overdue_1_30_amount": 0.0, "overdue_31_60_amount": 500 * 1.1,
    "overdue_61_90_amount": 0.0, "overdue_90_plus_amount": 0.0,
    "overdue_share": 500 / 1100, "utilization": 1100 / 10_000,
    "disputes_opened_all": 1.0, "disputes_opened_365d": 1.0, "disputes_open": 1.0,
    "credit_note_share_all": 300 / 4800, "credit_note_share_365d": 300 / 4800,
    "promises_made_all": 3.0, "promises_kept_all": 1.0, "promises_broken_all": 1.0,
    "promises_made_365d": 3.0, "promises_kept_365d": 1.0, "promises_broken_365d": 1.0,
    "promises_active": 1.0,
    "invoice_count_365d": 5.0, "invoiced_amount_base_365d": 4800 * 1.1,
    "country": "DE", "industry": "retail", "segment": "small",
    "payment_terms_days": 30.0, "credit_limit_base": 11_000.0, "tenure_days": 547.0,
}


def test_customer_features_of_a_customer_with_history(ledger):
    frame = build_customer_features(ledger, T)
    assert list(frame["customer_id"]) == ["A", "B", "C"]
    assert (frame["as_of"] == pd.Timestamp(T)).all()
    _check(_row(frame, "customer_id", "A"), CUSTOMER_A_AT_T)


def test_customer_without_history_gets_neutral_counts_and_null_ratios(ledger):
    row = _row(build_customer_features(ledger, T), "customer_id", "B")
    _check(row, {
        "settled_count_all": 0.0, "late_share_all": math.nan, "days_late_mean_all": math.nan,
        "days_late_std_90d": math.nan, "days_since_last_late": math.nan,
        "days_since_last_payment": math.nan, "paid_vs_invoiced_90d": math.nan,
        "late_share_trend": math.nan, "open_invoice_count": 0.0, "open_balance_base": 0.0,
        "overdue_90_plus_amount": 0.0, "overdue_share": math.nan, "utilization": 0.0,
        "credit_note_share_all": math.nan, "promises_active": 0.0,
        "invoice_count_365d": 0.0, "tenure_days": 182.0, "credit_limit_base": 5000.0,
    })


def test_tenure_falls_back_to_first_invoice_and_zero_limit_gives_null_utilization(ledger):
    row = _row(build_customer_features(ledger, T), "customer_id", "C")
    _check(row, {"tenure_days": 30.0, "utilization": math.nan, "open_balance_base": 110.0})
    assert pd.isna(row["industry"])
    before_first = _row(build_customer_features(ledger, dt.date(2024, 6, 1)), "customer_id", "C")
    assert math.isnan(before_first["tenure_days"])


def test_partial_payments_and_credit_notes_move_through_aging_buckets(ledger):
    def customer_a(day: dt.date) -> pd.Series:
        return _row(build_customer_features(ledger, day), "customer_id", "A")

    # 03-11: A2 has 500 paid and 300 credited -> 1200 open, 9 days past due; A3 current
    _check(customer_a(dt.date(2024, 3, 11)), {
        "open_invoice_count": 2.0, "open_balance_base": 1600 * 1.1,
        "overdue_1_30_amount": 1200 * 1.1, "overdue_31_60_amount": 0.0,
        "overdue_share": 1200 / 1600,
    })
    # 04-01: A2's last payment is dated 04-01, so still open, 30 days past due; A3 1 day
    _check(customer_a(dt.date(2024, 4, 1)), {
        "open_invoice_count": 2.0, "overdue_1_30_amount": 1600 * 1.1, "settled_count_all": 1.0,
    })
    # 04-30: A3 is 30 days past due (1-30); 05-01: 31 days (31-60)
    _check(customer_a(dt.date(2024, 4, 30)), {
        "open_invoice_count": 1.0, "overdue_1_30_amount": 400 * 1.1,
        "overdue_31_60_amount": 0.0, "settled_count_all": 2.0,
    })
    _check(customer_a(dt.date(2024, 5, 1)), {
        "overdue_1_30_amount": 0.0, "overdue_31_60_amount": 400 * 1.1,
    })


def test_snapshot_rows_and_invoice_state(ledger):
    frame = build_snapshot(ledger, T)
    assert list(frame["invoice_id"]) == ["A4", "A5", "C1"]
    a4 = _row(frame, "invoice_id", "A4")
    _check(a4, {
        "open_amount": 500.0, "open_amount_base": 550.0, "currency": "EUR",
        "days_past_due": 31.0, "age_days": 61.0, "paid_share": 300 / 800,
        "credited_share": 0.0, "payments_count": 1.0, "has_open_dispute": True,
        "has_active_promise": False, "has_broken_promise": False,
        "log_amount": math.log(1 + 800 * 1.1), "amount_vs_typical": 800 / 960,
        "terms_days": 30.0, "quarter_end": 0.0,
    })
    _check(a4, CUSTOMER_A_AT_T)
    _check(_row(frame, "invoice_id", "A5"), {
        "open_amount": 600.0, "days_past_due": -19.0, "age_days": 11.0, "paid_share": 0.0,
        "payments_count": 0.0, "has_open_dispute": False, "has_active_promise": True,
        "has_broken_promise": False, "quarter_end": 1.0,
    })
    # on 05-15, A3's promise for 05-10 is broken and A3 still unpaid
    a3 = _row(build_snapshot(ledger, dt.date(2024, 5, 15)), "invoice_id", "A3")
    _check(a3, {"has_broken_promise": True, "has_active_promise": False,
                "days_past_due": 45.0})


def test_promise_is_judged_from_payments_only_once_its_date_has_passed(ledger):
    def customer_a(day: dt.date) -> pd.Series:
        return _row(build_customer_features(ledger, day), "customer_id", "A")

    # R2 made 05-01 for 05-10: active until 05-10 inclusive, broken from 05-11 on
    _check(customer_a(dt.date(2024, 5, 10)), {
        "promises_made_all": 1.0, "promises_active": 1.0, "promises_broken_all": 0.0})
    _check(customer_a(dt.date(2024, 5, 11)), {
        "promises_active": 0.0, "promises_broken_all": 1.0, "promises_kept_all": 0.0})


def test_invoice_features_as_of_issue_dates(ledger):
    frame = build_invoice_features(ledger)
    assert list(frame["invoice_id"]) == ["A1", "A2", "A3", "A4", "A5", "C1"]
    assert (frame["as_of"] == frame["issue_date"]).all()
    _check(_row(frame, "invoice_id", "A1"), {
        "settled_count_all": 0.0, "late_share_all": math.nan, "open_invoice_count": 0.0,
        "amount_vs_typical": math.nan, "invoice_count_365d": 0.0, "tenure_days": 365.0,
        "log_amount": math.log(1 + 1100),
    })
    # as of 03-01: A1 settled (-28); A2 open 2000 and not yet due (the 500 paid on 03-01
    # is not seen)
    _check(_row(frame, "invoice_id", "A3"), {
        "settled_count_all": 1.0, "late_share_all": 0.0, "days_late_mean_all": -28.0,
        "settled_count_90d": 1.0, "open_invoice_count": 1.0,
        "open_balance_base": 2000 * 1.1, "overdue_1_30_amount": 0.0,
        "amount_vs_typical": 400 / 1500, "invoice_count_365d": 2.0,
        "credit_note_share_all": 0.0,
    })
    # as of 05-01: A1, A2 settled; A3 open 31 days past due; R2 made on 05-01 not yet seen
    _check(_row(frame, "invoice_id", "A4"), {
        "settled_count_all": 2.0, "late_share_all": 0.5, "days_late_mean_all": 1.0,
        "settled_count_90d": 1.0, "late_share_90d": 1.0, "days_since_last_late": 30.0,
        "open_invoice_count": 1.0, "overdue_31_60_amount": 440.0,
        "promises_made_all": 0.0, "credit_note_share_all": 300 / 3400,
        "amount_vs_typical": 800 / (3400 / 3),
    })


def test_invoice_settlements_apply_the_feature_settlement_rule(ledger):
    from features import invoice_settlements

    everything = invoice_settlements(ledger).set_index("invoice_id")
    assert list(everything.index) == ["A1", "A2", "A3", "A4", "A5", "C1"]
    assert everything.loc["A2", "settle_date"] == pd.Timestamp("2024-04-01")
    assert everything.loc["A5", "settle_date"] == pd.Timestamp("2024-07-01")
    assert pd.isna(everything.loc["A4", "settle_date"])
    assert everything.loc["A2", "amount"] == 2000.0
    known = invoice_settlements(ledger, before=T).set_index("invoice_id")
    assert list(known.index) == ["A1", "A2", "A3", "A4", "A5", "C1"]
    assert pd.isna(known.loc["A5", "settle_date"])  # its payment on T is not known before T
    assert len(invoice_settlements(ledger, before=dt.date(2024, 3, 1))) == 2
