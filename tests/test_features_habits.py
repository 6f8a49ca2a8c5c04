"""Payment habits: hand-computed values, an independent recomputation, and no leakage."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features import (
    build_customer_features,
    build_invoice_features,
    build_snapshot,
    invoice_settlements,
)
from features.catalog import PRIOR_STRENGTH
from features.habits import sequence_columns
from ledger import ledger_from_frames
from tests.test_features_handmade import T, handmade_frames
from tests.test_features_leakage import synthetic_frames

HABITS = ["pay_weekday_usual", "pay_weekday_regularity", "late_share_shrunk",
          "short_late_share", "days_late_median_recent", "days_late_iqr_recent",
          "last3_late_share", "last3_days_late", "last5_late_share", "last5_days_late"]


def test_sequence_columns_by_hand() -> None:
    """Customer 1 settled six invoices (days late -2, 3, 0, 10, 1, 4), two on one day."""
    days = np.array([10, 20, 20, 30, 40, 50], dtype=np.int32)
    settlements = pa.table({"ck": pa.array([1] * 6, pa.int32()),
                            "d": pa.array(days).cast(pa.date32()),
                            "ik": pa.array([1, 2, 3, 4, 5, 6]),
                            "days_late": pa.array([-2.0, 3.0, 0.0, 10.0, 1.0, 4.0])})
    q_ck = np.array([1, 1, 1, 2])
    q_day = np.array([50, 51, 10, 51], dtype=np.int32)  # the 50th itself is not before 50
    out = sequence_columns(settlements, q_ck, q_day)
    np.testing.assert_array_equal(out["last3_n"], [3, 3, 0, 0])
    np.testing.assert_array_equal(out["last3_late_n"], [2, 3, 0, 0])       # 0,10,1 / 10,1,4
    np.testing.assert_array_equal(out["last3_days_late_sum"], [11, 15, 0, 0])
    np.testing.assert_array_equal(out["last5_n"], [5, 5, 0, 0])
    np.testing.assert_array_equal(out["last5_late_n"], [3, 4, 0, 0])
    np.testing.assert_array_equal(out["last5_days_late_sum"], [12, 18, 0, 0])
    np.testing.assert_array_equal(out["recent_days_late_median"],
                                  [1.0, 2.0, np.nan, np.nan])  # all (<= 10) settled so far
    np.testing.assert_allclose(out["recent_days_late_iqr"][:2],
                               [np.subtract(*np.percentile([-2, 3, 0, 10, 1], [75, 25])),
                                np.subtract(*np.percentile([-2, 3, 0, 10, 1, 4], [75, 25]))])


def test_habits_of_the_handmade_ledger_by_hand() -> None:
    """As of 2024-07-01 customer A has settled A1 (28 days early), A2 (30 late) and A3 (50
    late), and paid on Wed 01-03, Fri 03-01, Mon 04-01, Mon 05-20 and Mon 06-10. The
    population (A, B, C) has settled 3 invoices, 2 late, none 1-5 days late."""
    ledger = ledger_from_frames(handmade_frames())
    try:
        customers = build_customer_features(ledger, T).set_index("customer_id")
        snapshot = build_snapshot(ledger, T).set_index("invoice_id")
        per_invoice = build_invoice_features(ledger).set_index("invoice_id")
    finally:
        ledger.close()
    prior, s = 2 / 3, PRIOR_STRENGTH
    a = customers.loc["A"]
    assert a["pay_weekday_usual"] == "Mon"
    assert a["pay_weekday_regularity"] == pytest.approx((3 + s / 7) / (5 + s))
    assert a["late_share_shrunk"] == pytest.approx((2 + s * prior) / (3 + s))
    assert a["short_late_share"] == pytest.approx((0 + s * 0.0) / (2 + s))
    assert a["days_late_median_recent"] == 30.0
    assert a["days_late_iqr_recent"] == pytest.approx(40.0 - 1.0)
    assert a["last3_days_late"] == pytest.approx(52 / 3)
    assert a["last3_late_share"] == pytest.approx((2 + s * prior) / (3 + s))
    c = customers.loc["C"]  # nothing settled: the prior itself, no days late
    assert c["late_share_shrunk"] == pytest.approx(prior)
    assert c["last5_late_share"] == pytest.approx(prior)
    assert np.isnan(c["last5_days_late"]) and pd.isna(c["pay_weekday_usual"])
    # A4 due Friday 05-31, A5 Saturday 07-20: the next Monday is 3 and 2 days on
    assert snapshot.loc["A4", "due_to_usual_pay_day"] == 3
    assert snapshot.loc["A5", "due_to_usual_pay_day"] == 2
    # A5 issued 06-20 has the same history as on 07-01 (nothing settled or paid between)
    assert per_invoice.loc["A5", "due_to_usual_pay_day"] == 2
    for name in ("late_share_shrunk", "last3_days_late", "days_late_median_recent"):
        assert per_invoice.loc["A5", name] == pytest.approx(a[name]), name
    # A1, the first invoice: no history and no population yet
    assert np.isnan(per_invoice.loc["A1", "late_share_shrunk"])


@pytest.fixture(scope="module")
def synthetic() -> dict[str, pd.DataFrame]:
    return synthetic_frames()


def test_sequence_features_match_an_independent_recomputation(synthetic) -> None:
    """Per invoice, the customer's invoices settled before its issue date, recomputed with
    pandas from the settlement dates, in (settlement date, invoice) order."""
    ledger = ledger_from_frames(synthetic)
    try:
        features = build_invoice_features(ledger)
        settled = invoice_settlements(ledger).dropna(subset=["settle_date"])
    finally:
        ledger.close()
    settled = settled.assign(days_late=(settled["settle_date"] - settled["due_date"]).dt.days)
    settled = settled.sort_values(["customer_id", "settle_date", "invoice_id"])
    by_customer = dict(tuple(settled.groupby("customer_id")))
    sample = features.sample(400, random_state=3)
    for row in sample.itertuples():
        own = by_customer.get(row.customer_id)
        before = own[own["settle_date"] < row.issue_date]["days_late"].to_numpy() \
            if own is not None else np.array([])
        last5, recent = before[-5:], before[-10:]
        if len(before) == 0:
            assert np.isnan(row.last5_days_late) and np.isnan(row.days_late_median_recent)
            continue
        assert row.last5_days_late == pytest.approx(last5.mean())
        assert row.last3_days_late == pytest.approx(before[-3:].mean())
        assert row.days_late_median_recent == pytest.approx(np.median(recent))
        assert row.days_late_iqr_recent == pytest.approx(
            np.subtract(*np.percentile(recent, [75, 25])))


def test_prior_and_habits_ignore_facts_dated_on_or_after_t(synthetic) -> None:
    """Appending, on and after T, many late settlements of a new customer (the population
    prior's input) and payments of an existing one changes nothing as of T."""
    cut = dt.date(2025, 3, 1)
    t = pd.Timestamp(cut)
    frames = {name: frame.copy() for name, frame in synthetic.items()}
    customer = frames["customers"].iloc[0]["customer_id"]
    new_invoices = pd.DataFrame({
        "invoice_id": [f"X{i}" for i in range(30)], "customer_id": customer,
        "issue_date": t, "due_date": t + pd.Timedelta(days=1), "amount": 10.0,
        "currency": frames["customers"].iloc[0]["currency"]})
    new_payments = pd.DataFrame({
        "payment_id": [f"XP{i}" for i in range(30)], "invoice_id": new_invoices["invoice_id"],
        "customer_id": customer, "payment_date": t + pd.Timedelta(days=20), "amount": 10.0})
    appended = dict(frames)
    appended["invoices"] = pd.concat([frames["invoices"], new_invoices], ignore_index=True)
    appended["payments"] = pd.concat([frames["payments"], new_payments], ignore_index=True)
    a, b = ledger_from_frames(appended), ledger_from_frames(frames)
    try:
        pd.testing.assert_frame_equal(build_customer_features(a, cut),
                                      build_customer_features(b, cut), check_exact=True)
        pd.testing.assert_frame_equal(build_snapshot(a, cut), build_snapshot(b, cut),
                                      check_exact=True)
        ia, ib = build_invoice_features(a), build_invoice_features(b)
        before = ia["issue_date"] < t
        pd.testing.assert_frame_equal(ia[before].reset_index(drop=True),
                                      ib[ib["issue_date"] < t].reset_index(drop=True),
                                      check_exact=True)
        # and the 30 late settlements do count afterwards, in the prior and the customer
        later = cut + dt.timedelta(days=40)
        fa = build_customer_features(a, later).set_index("customer_id")
        fb = build_customer_features(b, later).set_index("customer_id")
        assert fa.loc[customer, "last5_late_share"] > fb.loc[customer, "last5_late_share"]
        other = fa.index[1]
        assert fa.loc[other, "late_share_shrunk"] != fb.loc[other, "late_share_shrunk"]
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("sample", [2_000, 10])
def test_prior_is_the_same_for_every_chunking(synthetic, monkeypatch, sample) -> None:
    """With every customer in the prior's sample, and with a sample of 10 of the 60."""
    monkeypatch.setattr("features.habits.PRIOR_SAMPLE_CUSTOMERS", sample)
    ledger = ledger_from_frames(synthetic)
    try:
        whole = build_invoice_features(ledger)[["invoice_id", *HABITS]]
        chunked = build_invoice_features(ledger, chunk_invoices=300)[["invoice_id", *HABITS]]
    finally:
        ledger.close()
    pd.testing.assert_frame_equal(whole, chunked, check_exact=True)
