"""The contract meets real data: prepayments and unknown credit limits."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from features import build_customer_features, build_snapshot
from ledger import ledger_from_frames
from models.limits import LimitsConfig, recommend_limits
from models.worklist import WorklistConfig, build_worklist


def _frames(credit_limit: list[float | None]) -> dict[str, pd.DataFrame]:
    """Customer K1 prepays I1 (paid 01-05, issued 01-10); I2 is open; K2's limit varies."""
    return {
        "customers": pd.DataFrame({
            "customer_id": ["K1", "K2"], "country": ["DE", "DE"], "currency": ["EUR", "EUR"],
            "payment_terms_days": [30, 30], "credit_limit": credit_limit}),
        "invoices": pd.DataFrame({
            "invoice_id": ["I1", "I2", "I3"], "customer_id": ["K1", "K1", "K2"],
            "issue_date": pd.to_datetime(["2024-01-10", "2024-02-01", "2024-02-01"]),
            "due_date": pd.to_datetime(["2024-02-09", "2024-03-02", "2024-03-02"]),
            "amount": [1000.0, 400.0, 300.0], "currency": "EUR"}),
        "payments": pd.DataFrame({
            "payment_id": ["P1"], "invoice_id": ["I1"], "customer_id": ["K1"],
            "payment_date": pd.to_datetime(["2024-01-05"]), "amount": [1000.0]}),
    }


def test_a_prepayment_is_valid_and_settles_its_invoice_on_the_issue_date() -> None:
    ledger = ledger_from_frames(_frames([5000.0, 1000.0]))
    before_issue = build_customer_features(ledger, dt.date(2024, 1, 10))
    k1 = before_issue.set_index("customer_id").loc["K1"]
    assert k1["invoice_count_365d"] == 0 and math.isnan(k1["days_since_last_payment"])
    after = build_customer_features(ledger, dt.date(2024, 1, 11)).set_index("customer_id")
    assert after.loc["K1", "settled_count_all"] == 1
    assert after.loc["K1", "days_late_mean_all"] == -30.0  # settled on the issue date
    assert after.loc["K1", "days_since_last_payment"] == 1.0
    assert after.loc["K1", "open_invoice_count"] == 0.0
    open_invoices = build_snapshot(ledger, dt.date(2024, 1, 11))
    assert "I1" not in set(open_invoices["invoice_id"])
    ledger.close()


def test_an_unknown_credit_limit_leaves_utilization_missing_not_zero() -> None:
    ledger = ledger_from_frames(_frames([None, 1000.0]))
    rows = build_customer_features(ledger, dt.date(2024, 2, 15)).set_index("customer_id")
    assert math.isnan(rows.loc["K1", "utilization"])
    assert math.isnan(rows.loc["K1", "credit_limit_base"])
    assert rows.loc["K2", "utilization"] == 0.3
    ledger.close()
    without_column = _frames([0.0, 0.0])
    without_column["customers"] = without_column["customers"].drop(columns="credit_limit")
    ledger = ledger_from_frames(without_column)
    assert ledger.df("customers")["credit_limit"].isna().all()
    ledger.close()


def test_limits_for_an_unknown_current_limit_follow_need_and_risk_alone() -> None:
    customers = pd.DataFrame({
        "customer_id": ["known", "unknown", "unknown_no_sales"],
        "credit_limit_base": [10_000.0, np.nan, np.nan], "utilization": [0.5, np.nan, np.nan],
        "invoiced_amount_base_365d": [1_200_000.0, 1_200_000.0, 0.0],
        "payment_terms_days": 30.0, "tenure_days": 1000.0,
    })
    config = LimitsConfig(buffer_days=60)
    out = recommend_limits(customers, np.array([0.02, 0.02, 0.02]), config=config)
    by_id = out.set_index("customer_id")
    assert by_id.loc["known", "recommended_limit"] == 15_000.0  # clipped at +50%
    unknown = by_id.loc["unknown"]
    # need 100,000 a month x (30 + 60) / 30 days = 300,000; x1.1 for grade B = 330,000, capped
    # by the expected-loss budget at 0.01 x 300,000 / (0.02 x 0.6) = 250,000
    assert unknown["recommended_limit"] == 250_000.0
    assert math.isnan(unknown["current_limit"]) and math.isnan(unknown["change"])
    assert "current limit unknown: recommended from need and risk alone" in unknown["reasons"]
    assert "current limit unknown: first limit to set" in unknown["review_reasons"]
    assert by_id.loc["unknown_no_sales", "recommended_limit"] == 0.0


def test_limits_are_set_in_the_customer_currency_and_shown_in_both() -> None:
    customers = pd.DataFrame({
        "customer_id": ["eur", "usd"], "rate": [1.1, 1.0], "customer_currency": ["EUR", "USD"],
        "credit_limit_c": [1_000_000.0, 1_100_000.0],
        "credit_limit_base": [11_000.0, 11_000.0], "utilization": [0.5, 0.5],
        "invoiced_amount_base_365d": [132_000.0, 132_000.0],
        "payment_terms_days": 30.0, "tenure_days": 1000.0,
    })
    out = recommend_limits(customers, np.array([0.002, 0.002]), config=LimitsConfig())
    eur, usd = out.iloc[0], out.iloc[1]
    # need 11,000 a month x 90 / 30 = 33,000 USD = 30,000 EUR; x1.25 for grade A, then +50% cap
    assert (eur["currency"], eur["current_limit_local"]) == ("EUR", 10_000.0)
    assert eur["recommended_limit_local"] == 15_000.0  # rounded to 500 EUR, not 500 USD
    assert eur["recommended_limit"] == pytest.approx(16_500.0)
    assert usd["recommended_limit_local"] == usd["recommended_limit"] == 16_500.0
    assert any("EUR" in note for note in eur["reasons"])


def test_the_worklist_gives_amounts_in_the_customer_currency_too() -> None:
    scored = pd.DataFrame({
        "customer_id": ["K1", "K1"], "invoice_id": ["I1", "I2"], "currency": "EUR",
        "open_amount": [1000.0, 500.0], "open_amount_base": [1100.0, 550.0],
        "days_past_due": [10.0, -5.0], "has_open_dispute": False, "has_active_promise": False,
        "has_broken_promise": False, "p_unpaid_30d": [0.5, 0.2],
    })
    row = build_worklist(scored, config=WorklistConfig(reporting_currency="USD")).iloc[0]
    assert (row["currency"], row["overdue_amount"]) == ("USD", pytest.approx(1100.0))
    assert (row["customer_currency"], row["overdue_amount_local"]) == ("EUR", 1000.0)
    assert row["open_amount_local"] == 1500.0
    assert row["amount_at_risk_local"] == pytest.approx(600.0)
