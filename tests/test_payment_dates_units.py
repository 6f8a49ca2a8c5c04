"""Payment dates and the cash forecast without training (fast): the point-in-time rule of the
customer's median, the model's bounds, the conformal offsets, the gate's rule for days, the
forecast's simulation and the remembered validation verdicts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ledger import LedgerValidationError
from ledger.loader import ledger_from_frames
from ledger.verdicts import ledger_digest, load_checked
from models.forecast import (
    ForecastConfig,
    draw_days,
    forecast_weeks,
    outcome_levels,
    quantile_knots,
    rule_weeks,
    simulate_weeks,
)
from models.paydays import pay_calendar, pay_habits
from models.payment_dates import CAP_DAYS, bounded, pay_dates
from tests.conftest import tiny_ledger_frames, write_frames
from training.config import GateConfig
from training.gate import DaysChampion, judge_days
from training.payment_dates import (
    conformal_offsets,
    customer_medians,
    days_metrics,
    error_correlations,
)


def test_the_customer_median_uses_only_invoices_settled_before_the_as_of_date() -> None:
    frames = tiny_ledger_frames()
    frames["invoices"] = pd.DataFrame({
        "invoice_id": ["A", "B", "C"], "customer_id": ["C1"] * 3,
        "issue_date": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-02-01"]),
        "due_date": pd.to_datetime(["2024-01-31", "2024-02-09", "2024-03-02"]),
        "amount": [100.0] * 3, "currency": ["EUR"] * 3})
    frames["payments"] = pd.DataFrame({  # A 4 days late, B 20 days late, C 1 day early
        "payment_id": ["P1", "P2", "P3"], "invoice_id": ["A", "B", "C"],
        "customer_id": ["C1"] * 3,
        "payment_date": pd.to_datetime(["2024-02-04", "2024-02-29", "2024-03-01"]),
        "amount": [100.0] * 3})
    for table in ("credit_notes", "disputes", "promises"):
        frames[table] = frames[table].iloc[:0]
    ledger = ledger_from_frames(frames)
    rows = pd.DataFrame({"customer_id": ["C1", "C1", "C1", "C1", "C2"],
                         "as_of": pd.to_datetime(["2024-02-04", "2024-02-05", "2024-03-01",
                                                  "2024-03-02", "2024-03-02"])})
    medians = customer_medians(ledger, rows)
    # nothing settled before 02-04; A only; A and B (not yet C, paid on 03-01); all three
    np.testing.assert_allclose(medians, [np.nan, 4.0, 12.0, 4.0, np.nan])
    ledger.close()


def test_quantiles_are_sorted_never_before_the_as_of_date_nor_past_the_cap() -> None:
    rows = pd.DataFrame({"days_past_due": [-30.0, 12.0, 200.0]})
    raw = np.array([[5.0, -2.0, 10.0], [3.0, 8.0, 20.0], [0.0, 1.0, 2.0]])
    days = bounded(raw, rows)
    np.testing.assert_allclose(days, [[-2, 5, 10], [12, 12, 20], [CAP_DAYS] * 3])
    dates = pay_dates(pd.Series(pd.to_datetime(["2024-01-31"] * 3)), days)
    assert dates.loc[1, "pay_date_p50"] == pd.Timestamp("2024-02-12")


def test_conformal_offsets_widen_a_too_narrow_interval_to_hold_80_percent() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(0, 10, 2000)
    raw = np.column_stack([np.full(2000, -3.0), np.zeros(2000), np.full(2000, 3.0)])
    rows = pd.DataFrame({"days_past_due": np.full(2000, -60.0)})
    offsets = conformal_offsets(raw, y, rows)
    assert offsets["p50"] == 0 and offsets["p10"] < -5 and offsets["p90"] > 5
    fresh = rng.normal(0, 10, 5000)
    low, high = -3 + offsets["p10"], 3 + offsets["p90"]
    assert 0.77 <= np.mean((fresh >= low) & (fresh <= high)) <= 0.83


def _comparison(mae: float, coverage: float, n: int = 200) -> pd.DataFrame:
    model = {"model": "model", **days_metrics(np.zeros(n), np.full(n, mae)),
             "coverage": coverage}
    return pd.DataFrame([model, {"model": "due_date", "mae": 9.0, "coverage": np.nan, "n": n},
                         {"model": "customer_median", "mae": 6.0, "coverage": np.nan, "n": n}])


@pytest.mark.parametrize(("mae", "coverage", "promote", "start"), [
    (5.5, 0.82, True, "no champion yet; beats the rules: MAE 5.50 days vs 6.00"),
    (6.5, 0.80, False, "does not beat the best rule"),
    (5.5, 0.70, False, "interval not calibrated"),
    (5.5, 0.88, False, "interval not calibrated"),
])
def test_the_gate_for_days_wants_a_lower_mae_than_both_rules_and_80_percent_coverage(
    mae: float, coverage: float, promote: bool, start: str,
) -> None:
    decision = judge_days(_comparison(mae, coverage), champion=None, force=False,
                          config=GateConfig(), target=0.8)
    assert decision.promote is promote
    assert decision.reason.startswith(start), decision.reason


def test_the_gate_for_days_keeps_a_better_champion() -> None:
    champion = DaysChampion(version="3", customers_held=1.0, trained_before="2025-01-01",
                            n=150, mae=5.0, coverage=0.8, new_mae=5.4, new_coverage=0.81)
    decision = judge_days(_comparison(5.5, 0.82), champion=champion, force=False,
                          config=GateConfig(), target=0.8)
    assert not decision.promote and decision.reason.endswith("does not beat champion v3")


AS_OF = dt.date(2025, 3, 3)


def _invoices(days: list[tuple[float, float, float]], due: list[str],
              customers: list[str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(days, columns=["days_p10", "days_p50", "days_p90"])
    return frame.assign(due_date=pd.to_datetime(due), amount=100.0,
                        customer_id=customers or [f"C{i}" for i in range(len(frame))],
                        days_past_due=(pd.Timestamp(AS_OF) - pd.to_datetime(due)).days)


def test_certain_payment_days_land_every_amount_in_its_week() -> None:
    invoices = _invoices([(0, 0, 0), (3, 3, 3), (-2, -2, -2), (CAP_DAYS,) * 3],
                         ["2025-03-03", "2025-03-12", "2025-03-31", "2025-03-05"])
    weeks = forecast_weeks(invoices, AS_OF, ForecastConfig(weeks=5, simulations=50,
                                                           week_error=0.0))
    # paid 03-03 (week 0), 03-15 (week 1), 03-29 (week 3); 90 days late: not collected
    np.testing.assert_allclose(weeks["expected"], [100, 100, 0, 100, 0])
    np.testing.assert_allclose(weeks["low"], weeks["high"])
    rule = rule_weeks(invoices, np.zeros(4), AS_OF, 5)  # each in the week of its due date
    np.testing.assert_allclose(rule, [200, 100, 0, 0, 100])


def test_one_customers_invoices_paid_together_widen_the_weekly_interval() -> None:
    spread = [(-5.0, 5.0, 15.0)] * 40
    due = ["2025-03-10"] * 40
    alone = _invoices(spread, due)
    together = _invoices(spread, due, customers=["C1"] * 40)
    config = ForecastConfig(weeks=4, simulations=1000, customer_correlation=0.6)
    independent = simulate_weeks(alone, AS_OF, config)
    correlated = simulate_weeks(together, AS_OF, config)
    assert np.allclose(independent.mean(axis=0), correlated.mean(axis=0), atol=150)
    assert correlated[:, 1].std() > 2 * independent[:, 1].std()
    again = simulate_weeks(together, AS_OF, config)
    np.testing.assert_array_equal(correlated, again)  # seeded: reproducible


def test_the_weekly_error_widens_the_interval_around_the_same_mean() -> None:
    """Certain payment days: without `week_error` the interval is a point; with it, it
    spreads by about +-1.28 x week_error around the same expected total."""
    invoices = _invoices([(0, 0, 0)] * 10, ["2025-03-04"] * 10)
    exact = forecast_weeks(invoices, AS_OF, ForecastConfig(weeks=2, simulations=4000,
                                                           week_error=0.0))
    spread = forecast_weeks(invoices, AS_OF, ForecastConfig(weeks=2, simulations=4000,
                                                            week_error=0.1))
    assert exact["expected"][0] == 1000 and exact["low"][0] == exact["high"][0] == 1000
    assert spread["expected"][0] == pytest.approx(1000, rel=0.01)
    assert spread["low"][0] == pytest.approx(1000 * np.exp(-0.128 - 0.005), rel=0.02)
    assert spread["high"][0] == pytest.approx(1000 * np.exp(0.128 - 0.005), rel=0.02)


def test_a_customers_credit_notes_lower_the_cash_expected() -> None:
    invoices = _invoices([(0, 0, 0), (0, 0, 0)], ["2025-03-04", "2025-03-04"]).assign(
        credit_note_share_365d=[0.25, np.nan])
    weeks = forecast_weeks(invoices, AS_OF, ForecastConfig(weeks=1, simulations=20,
                                                           week_error=0.0))
    assert weeks["expected"][0] == pytest.approx(75 + 100)


def test_outcome_levels_invert_the_quantile_function() -> None:
    rng = np.random.default_rng(1)
    days = np.sort(rng.normal(0, 10, (200, 3)), axis=1)
    levels, knots = quantile_knots(days, np.full(200, -np.inf))
    u = rng.uniform(size=(200, 1))
    drawn = draw_days(levels, knots, u)[:, 0]
    np.testing.assert_allclose(outcome_levels(levels, knots, drawn), u[:, 0], atol=1e-9)


def test_error_correlations_find_a_customer_and_a_common_share() -> None:
    """Outcomes drawn through a copula with 30% of the variance per customer and 10% per week
    (40 weeks, 60 customers, 4 invoices each): the estimates come back near both."""
    from scipy.special import ndtr

    rng = np.random.default_rng(7)
    weeks, customers, each = 40, 60, 4
    week = np.repeat(np.arange(weeks), customers * each)
    customer = np.tile(np.repeat(np.arange(customers), each), weeks)
    z = (np.sqrt(0.1) * rng.standard_normal(weeks)[week]
         + np.sqrt(0.3) * rng.standard_normal((weeks, customers))[week, customer]
         + np.sqrt(0.6) * rng.standard_normal(len(week)))
    days = np.tile([-10.0, 0.0, 10.0], (len(week), 1))
    levels, knots = quantile_knots(days, np.full(len(week), -np.inf))
    rows = pd.DataFrame({
        "days_to_pay": draw_days(levels, knots, ndtr(z)[:, None])[:, 0],
        "days_past_due": -30.0, "customer_id": [f"C{c}" for c in customer],
        "as_of": pd.Timestamp("2024-01-01") + pd.to_timedelta(7 * week, unit="D")})
    found = error_correlations(days, rows)
    assert found["common_correlation"] == pytest.approx(0.1, abs=0.06)
    assert found["customer_correlation"] == pytest.approx(0.3, abs=0.06)


def _payments_ledger(dates: dict[str, list[str]]):  # noqa: ANN202 (a Ledger)
    """A ledger whose customers paid one invoice on each of the given dates."""
    rows = [(c, f"{c}{k}", pd.Timestamp(d)) for c, ds in dates.items() for k, d in enumerate(ds)]
    frames = tiny_ledger_frames()
    customers = frames["customers"].iloc[[0] * len(dates)].assign(customer_id=list(dates))
    invoices = pd.DataFrame({"invoice_id": [r[1] for r in rows],
                             "customer_id": [r[0] for r in rows],
                             "issue_date": [r[2] - pd.Timedelta(days=30) for r in rows],
                             "due_date": [r[2] for r in rows], "amount": 100.0,
                             "currency": "EUR"})
    payments = pd.DataFrame({"payment_id": [f"P{r[1]}" for r in rows], "invoice_id": invoices[
        "invoice_id"], "customer_id": invoices["customer_id"], "payment_date": invoices[
        "due_date"], "amount": 100.0})
    return ledger_from_frames({**frames, "customers": customers.reset_index(drop=True),
                               "invoices": invoices, "payments": payments,
                               "credit_notes": frames["credit_notes"].head(0),
                               "disputes": frames["disputes"].head(0),
                               "promises": frames["promises"].head(0)}, validate=False)


def test_pay_days_are_learned_from_payments_and_days_snap_to_them() -> None:
    """Thursday runs, month-end runs (a Sunday month end paid the Monday after) and any
    business day; before 2025-03-03 (a Monday)."""
    thursdays = pd.date_range("2024-09-05", "2025-02-27", freq="7D")
    ends = ["2024-09-30", "2024-10-31", "2024-12-02", "2024-12-31", "2025-01-31",
            "2025-02-28"]  # 2024-11-30 is a Saturday
    spread = pd.bdate_range("2024-10-01", "2025-02-28")[::3]  # every weekday in turn
    ledger = _payments_ledger({"W": [str(d.date()) for d in thursdays], "M": ends,
                               "A": [str(d.date()) for d in spread]})
    habits = pay_habits(ledger, AS_OF).set_index("customer_id")
    ledger.close()
    assert habits.loc["W", ["habit", "p1"]].tolist() == ["weekly", 3]
    assert habits.loc["M", ["habit", "p1"]].tolist() == ["month_end", 0]
    assert habits.loc["A", "habit"] == "any"
    calendar = pay_calendar(habits.reset_index(), AS_OF, 70)
    days = np.array([[0, 5, 7], [0, 20, 45], [5, 6, 2]])  # days after 2025-03-03
    snapped = calendar.snap(calendar.rows(np.array(["W", "M", "A"])), days)
    # Thursdays are days 3, 10; March ends on Monday the 31st (28), April on Wednesday (58);
    # a Saturday goes back to Friday, a Sunday on to Monday
    np.testing.assert_array_equal(snapped, [[3, 3, 10], [28, 28, 58], [4, 7, 2]])
    unknown = calendar.snap(calendar.rows(np.array(["Z"])), np.array([[5]]))
    assert unknown[0, 0] == 4  # no history: any business day


def test_a_passing_verdict_is_remembered_and_any_change_checks_again(tmp_path: Path) -> None:
    folder = write_frames(tiny_ledger_frames(), tmp_path / "ledger")
    verdicts = tmp_path / "verdicts"
    load_checked(folder, verdicts).close()
    digest = ledger_digest(folder)
    assert (verdicts / f"{digest}.passed").exists()
    load_checked(folder, verdicts).close()  # remembered: the rules are skipped
    frames = tiny_ledger_frames()
    frames["invoices"].loc[0, "due_date"] = pd.Timestamp("2023-12-01")  # due before issue
    write_frames(frames, folder)
    assert ledger_digest(folder) != digest
    for _ in range(2):  # checked each time, never remembered
        with pytest.raises(LedgerValidationError, match="due"):
            load_checked(folder, verdicts)
    assert len(list(verdicts.glob("*.passed"))) == 1
