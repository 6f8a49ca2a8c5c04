"""Credit limits: the serious-delinquency label and model, the limit policy, the back-test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from ledger import Ledger, ledger_from_frames, load_ledger
from ledger.synthetic import SyntheticConfig, generate_ledger, write_ledger
from models.limits import (
    RULE_TEXT,
    LimitsConfig,
    SeriousLabel,
    design_probability,
    recommend_limits,
    rule_probability,
)
from tests.conftest import facts_before, tiny_ledger_frames, train_champion
from training.backtest_limits import backtest_limits
from training.config import LightGBMParams, TrainingConfig
from training.delinquency import (
    SERIOUS_MODEL_NAME,
    choose_horizon,
    customer_examples,
    serious_outcomes,
    training_dates,
    validation_date,
)
from training.registry import Registry
from training.tasks import SERIOUS_DELINQUENCY
from training.trainer import train_task

FAST = TrainingConfig(lightgbm=LightGBMParams(learning_rate=0.1, max_rounds=200,
                                              min_child_samples=50, num_threads=1))
"""Small, fast fits; one thread, since LightGBM's OpenMP threads crawl on a busy machine."""
AS_OF = dt.date(2024, 3, 1)
VALID_FROM = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("limits") / "ledger"
    write_ledger(generate_ledger(SyntheticConfig(customers=400, months=30, seed=3)), path)
    return path


@pytest.fixture(scope="module")
def ledger(ledger_dir: Path) -> Ledger:
    return load_ledger(ledger_dir)


# --------------------------------------------------------------------------- the label


def _labelled_frames(i4_paid_on: str) -> dict[str, pd.DataFrame]:
    """The tiny ledger plus customers whose outcome as of AS_OF is known by construction.

    C1: I2 (due 2024-03-11) never paid -> 90+ past due on 2024-06-10: serious.
    C2: I4 (due 2024-04-15) paid on `i4_paid_on`; 90+ past due from 2024-07-15 if still open.
    C3: paid its first invoice; an invoice issued after AS_OF is never paid: serious.
    C4: already 90+ past due at AS_OF: left out.
    C5: its only open invoice reaches 90+ after the 12-month horizon: not serious.
    C6: no invoice before AS_OF: left out.
    """
    frames = tiny_ledger_frames()
    extra = ["C3", "C4", "C5", "C6"]
    frames["customers"] = pd.concat([frames["customers"], pd.DataFrame({
        "customer_id": extra, "country": "DE", "currency": "EUR", "payment_terms_days": 30,
        "credit_limit": 5000.0, "name": extra, "industry": "retail", "segment": "small",
        "created_date": pd.Timestamp("2023-01-01"),
    })], ignore_index=True)
    frames["invoices"] = pd.concat([frames["invoices"], pd.DataFrame({
        "invoice_id": ["I5", "I6", "I7", "I8", "I9", "I10"],
        "customer_id": ["C3", "C3", "C4", "C5", "C5", "C6"],
        "issue_date": pd.to_datetime(["2024-01-02", "2024-09-01", "2023-09-01", "2024-01-03",
                                      "2024-12-01", "2024-05-01"]),
        "due_date": pd.to_datetime(["2024-02-01", "2024-10-01", "2023-10-01", "2024-02-02",
                                    "2025-01-01", "2024-05-31"]),
        "amount": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0],
        "currency": "EUR",
    })], ignore_index=True)
    frames["payments"] = pd.concat([frames["payments"], pd.DataFrame({
        "payment_id": ["P4", "P5", "P6"],
        "invoice_id": ["I4", "I5", "I8"],
        "customer_id": ["C2", "C3", "C5"],
        "payment_date": pd.to_datetime([i4_paid_on, "2024-01-30", "2024-02-01"]),
        "amount": [750.0, 100.0, 400.0],
    })], ignore_index=True)
    return frames


@pytest.mark.parametrize(("i4_paid_on", "c2_serious"),
                         [("2024-07-14", False), ("2024-07-15", True)])
def test_serious_label_counts_invoices_open_90_days_past_due_within_12_months(
    i4_paid_on: str, c2_serious: bool
) -> None:
    ledger = ledger_from_frames(_labelled_frames(i4_paid_on))
    examples = customer_examples(ledger, [AS_OF], cutoff=dt.date(2025, 3, 1))
    labels = dict(zip(examples.frame["customer_id"].astype(str), examples.frame["serious"],
                      strict=True))
    assert labels == {"C1": True, "C2": c2_serious, "C3": True, "C5": False}
    assert examples.counts["already_serious_left_out"] == 1
    assert (examples.frame["as_of"] == pd.Timestamp(AS_OF)).all()


def test_a_label_is_used_only_once_its_12_months_are_known() -> None:
    ledger = ledger_from_frames(_labelled_frames("2024-07-14"))
    with pytest.raises(ValueError, match="mature only on 2025-03-01"):
        customer_examples(ledger, [AS_OF], cutoff=dt.date(2025, 2, 28))


def test_out_of_time_dates_monthly_or_weekly_when_months_are_few() -> None:
    end = dt.date(2026, 7, 1)
    assert validation_date(dt.date(2026, 1, 15), end) == dt.date(2025, 7, 1)
    assert validation_date(dt.date(2025, 3, 20), end) == dt.date(2025, 3, 1)
    assert validation_date(dt.date(2026, 3, 20), end, horizon_days=182) == dt.date(2025, 12, 1)
    monthly = training_dates(dt.date(2024, 1, 1), dt.date(2026, 1, 1))
    assert monthly == [dt.date(2024, m, 1) for m in range(4, 13)] + [dt.date(2025, 1, 1)]
    weekly = training_dates(dt.date(2024, 1, 1), dt.date(2025, 7, 1))  # 4 month starts only
    assert weekly[-1] == dt.date(2024, 7, 1) and weekly[0] >= dt.date(2024, 3, 31)
    assert len(weekly) == 14 and set(np.diff(weekly)) == {dt.timedelta(days=7)}
    short = training_dates(dt.date(2024, 1, 1), dt.date(2025, 1, 1), horizon_days=182)
    assert short[-1] == dt.date(2024, 7, 3) and len(short) == 14


def _settlements(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    """(customer, due date, settle date) -> `invoice_settlements` rows issued 30 days
    before due."""
    due = pd.to_datetime([r[1] for r in rows])
    return pd.DataFrame({
        "invoice_id": [f"I{i}" for i in range(len(rows))],
        "customer_id": [r[0] for r in rows], "issue_date": due - pd.Timedelta(days=30),
        "due_date": due, "amount": 100.0, "settle_date": pd.to_datetime([r[2] for r in rows]),
    })


def test_labels_at_a_lower_threshold_count_invoices_already_late_and_still_open() -> None:
    as_of = dt.date(2024, 3, 1)
    settlements = _settlements([
        ("paid_old_episode", "2023-06-01", "2023-10-15"),  # 90+ past due last year, paid
        ("late_45_open", "2024-01-15", None),              # 46 days past due at as_of, open
        ("late_45_paid_on_day", "2024-01-15", "2024-03-01"),
        ("open_90", "2023-11-01", None),                   # 121 days past due: already
    ])

    def labels(days: int, dpd: int) -> dict[str, tuple[bool, bool]]:
        out = serious_outcomes(settlements, as_of, horizon_end=as_of + dt.timedelta(days=days),
                               dpd=dpd)
        return {r.customer_id: (r.already_serious, r.serious) for r in out.itertuples()}

    assert labels(365, 90) == {"paid_old_episode": (False, False), "late_45_open": (False, True),
                               "late_45_paid_on_day": (False, False), "open_90": (True, True)}
    assert labels(30, 90)["late_45_open"] == (False, False)  # reaches 90+ on 2024-04-15
    assert labels(30, 30)["late_45_open"] == (False, True)
    assert labels(30, 30)["late_45_paid_on_day"] == (False, False)


def test_the_label_is_the_longest_horizon_with_enough_matured_examples(ledger: Ledger) -> None:
    """400 customers: too few reach 90+ days past due for the gate's 30 of each outcome, so
    the label is 60+; early in the ledger a 6-month horizon on weekly dates."""
    early = choose_horizon(ledger, dt.date(2025, 1, 1), min_outcomes=30)
    assert early.horizon == SeriousLabel(182, 60)
    assert early.valid_as_of == dt.date(2025, 1, 1)
    assert early.train_dates[-1] == dt.date(2024, 7, 3) and len(early.train_dates) == 14
    assert early.tried[:3] == [
        "an invoice 90+ days past due within 12 months: 0 training dates before 2025-01-01",
        "an invoice 90+ days past due within 6 months: 25 serious of 330 validation rows",
        "an invoice 90+ days past due within 3 months: 13 serious of 330 validation rows"]
    late = choose_horizon(ledger, dt.date(2026, 1, 1), min_outcomes=20)
    assert late.horizon == SeriousLabel(365, 90) and late.tried == []
    with pytest.raises(ValueError, match=r"no label .* 5\+ days past due within 3 months: "):
        choose_horizon(ledger, dt.date(2026, 1, 1), min_outcomes=5_000)




def test_customer_examples_use_only_what_was_known_before_the_cutoff(
    ledger: Ledger, ledger_dir: Path
) -> None:
    cut = dt.date(2025, 5, 1)
    first = ledger.scalar("SELECT min(issue_date) FROM invoices")
    dates = training_dates(first, cut)[-2:]
    frames = {p.stem: pd.read_parquet(p) for p in ledger_dir.glob("*.parquet")
              if not p.stem.startswith("truth_")}
    truncated = ledger_from_frames(facts_before(frames, cut))
    full = customer_examples(ledger, dates, cutoff=cut).frame
    known = customer_examples(truncated, dates, cutoff=cut).frame
    assert len(full) > 300 and full["serious"].nunique() == 2
    pd.testing.assert_frame_equal(full, known)


def test_too_few_examples_is_a_clear_error(tmp_path: Path) -> None:
    ledger = ledger_from_frames(_labelled_frames("2024-07-14"))
    registry = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}", "few")
    with pytest.raises(ValueError, match="no label of the serious-delinquency model has"):
        train_task(SERIOUS_DELINQUENCY, ledger, valid_from=dt.date(2024, 3, 15), config=FAST,
                   registry=registry)


# --------------------------------------------------------------------------- the policy


def _customers(n: int, **values: object) -> pd.DataFrame:
    frame = pd.DataFrame({
        "customer_id": [f"K{i:03d}" for i in range(n)],
        "credit_limit_base": 100_000.0, "utilization": 0.5,
        "invoiced_amount_base_365d": 1_200_000.0, "payment_terms_days": 30.0,
        "tenure_days": 1000.0,
    })
    for column, value in values.items():
        frame[column] = value
    return frame


def test_a_higher_probability_never_gives_a_higher_limit() -> None:
    probability = np.linspace(0, 0.6, 121)
    for sales in (50_000.0, 1_200_000.0, 5_000_000.0):
        customers = _customers(len(probability), invoiced_amount_base_365d=sales,
                               credit_limit_base=sales / 6)
        out = recommend_limits(customers, probability, config=LimitsConfig())
        limits = out["recommended_limit"].to_numpy()
        assert np.all(np.diff(limits) <= 0), sales
        assert limits[0] > limits[-1]
        assert list(out["grade"].iloc[[0, -1]]) == ["A", "E"]


def test_limits_are_rounded_and_changes_clipped_per_review() -> None:
    config = LimitsConfig(rounding_unit=1000, max_decrease=-0.5, max_increase=0.25)
    customers = _customers(3, credit_limit_base=[101_300.0, 101_300.0, 40_000.0],
                           invoiced_amount_base_365d=[50_000_000.0, 10_000.0, 480_000.0])
    out = recommend_limits(customers, np.array([0.001, 0.5, 0.001]), config=config)
    assert out["recommended_limit"].tolist()[:2] == [126_000.0, 51_000.0]
    assert (out["recommended_limit"] % 1000 == 0).all()
    assert out["change_pct"].between(-0.5, 0.25).all()
    assert "rise limited to +25% per review" in out.loc[0, "reasons"]
    assert "cut limited to -50% per review" in out.loc[1, "reasons"]


def test_expected_loss_stays_within_budget() -> None:
    config = LimitsConfig(loss_budget_share=None, loss_budget_amount=2_000.0,
                          loss_given_default=0.5, max_decrease=-1.0, max_increase=100.0,
                          rounding_unit=100)
    probability = np.array([0.001, 0.05, 0.1, 0.3])
    out = recommend_limits(_customers(4), probability, config=config)
    loss = out["probability"] * out["recommended_limit"] * 0.5
    assert (loss <= 2_000.0 + 1e-9).all()
    assert out.loc[3, "recommended_limit"] == pytest.approx(13_300.0)  # 2000 / 0.15, rounded
    assert any("expected-loss budget" in r for r in out.loc[3, "reasons"])
    uncapped = recommend_limits(_customers(4), probability, config=config.model_copy(
        update={"loss_budget_amount": None}))
    assert uncapped.loc[3, "recommended_limit"] > out.loc[3, "recommended_limit"]


def test_review_flags_over_limit_and_two_step_grade_drop() -> None:
    config = LimitsConfig(review_change_pct=10.0, review_max_share=1.0)
    customers = _customers(4, utilization=[1.2, 0.5, 0.5, 0.5])
    probability = np.array([0.02, 0.05, 0.05, 0.02])  # grades B, C, C, B
    previous = pd.Series({"K001": "A", "K002": "B", "K003": "B"})
    out = recommend_limits(customers, probability, config=config, previous_grades=previous)
    assert out["review_flag"].tolist() == [True, True, False, False]
    assert out.loc[0, "review_reasons"] == ["utilization 120% above 100% of the limit"]
    assert out.loc[1, "review_reasons"] == ["grade fell 2 steps, from A to C"]


def test_output_is_one_row_per_customer_in_order_with_reasons_in_words() -> None:
    customers = _customers(3).iloc[::-1].reset_index(drop=True)
    reasons = [{"raises": [{"text": "paid 40% of invoices late in all history"}],
                "lowers": []}] * 3
    out = recommend_limits(customers, np.array([0.1, 0.2, 0.3]), config=LimitsConfig(),
                           reasons=reasons)
    assert out["customer_id"].tolist() == ["K000", "K001", "K002"]
    assert out["probability"].tolist() == [0.3, 0.2, 0.1]
    assert "raises risk: paid 40% of invoices late in all history" in out.loc[0, "reasons"]
    assert out.loc[0, "reasons"][0].startswith("grade E")
    assert out["change"].tolist() == (out["recommended_limit"] - out["current_limit"]).tolist()


def test_customers_without_sales_keep_their_limit() -> None:
    out = recommend_limits(_customers(2, invoiced_amount_base_365d=0.0),
                           np.array([0.001, 0.5]), config=LimitsConfig())
    assert out["recommended_limit"].tolist() == [100_000.0, 100_000.0]
    assert out["review_flag"].tolist() == [False, True]


def test_config_rejects_a_scale_that_rewards_risk() -> None:
    with pytest.raises(ValueError, match="non-increasing"):
        LimitsConfig(grade_scale=(1.0, 1.2, 0.8, 0.5, 0.2))
    with pytest.raises(ValueError, match="extra"):
        LimitsConfig(unknown=1)


# --------------------------------------------------------------------------- back-test, MLflow


def test_backtest_reports_limit_ratios_of_bad_and_other_customers(ledger: Ledger) -> None:
    result = backtest_limits(ledger, dt.date(2025, 6, 1), config=FAST, limits=LimitsConfig())
    assert result["horizon_complete"] is True
    assert result["n_bad"] > 5 and result["n_bad"] + result["n_good"] == result["n_customers"]
    assert result["bad_ratio"] == pytest.approx(
        result["bad_recommended_total"] / result["bad_current_total"])
    assert result["quotient"] == pytest.approx(result["bad_ratio"] / result["good_ratio"])
    assert result["bad_ratio"] < result["good_ratio"]  # limits move the right way
    late = backtest_limits(ledger, dt.date(2026, 1, 1), config=FAST, limits=LimitsConfig())
    assert late["horizon_complete"] is False
    assert late["horizon_days"] == 181 and "ends 181 days after" in late["note"]


def test_mlflow_registers_champion_then_a_retrain_stays_challenger(
    ledger: Ledger, tmp_path: Path
) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}", "limits",
                        (tmp_path / "artifacts").as_uri())
    first = train_champion(SERIOUS_DELINQUENCY, ledger, valid_from=VALID_FROM, config=FAST,
                           registry=registry)
    summary = first.summary()
    assert 0.5 < summary["auc"] <= 1 and summary["promotion_reason"]
    assert summary["n_valid"] == first.n_valid > 100
    client = MlflowClient(registry.tracking_uri)
    run = client.get_run(first.run_id)
    assert run.data.metrics["auc"] == pytest.approx(first.metrics["auc"])
    assert run.data.params["valid_as_of"] == "2025-07-01"
    assert run.data.tags["ledger_sha256"]
    plots = {a.path for a in client.list_artifacts(first.run_id, "plots")}
    assert {"plots/roc.png", "plots/calibration.png"} <= plots
    again = train_task(SERIOUS_DELINQUENCY, ledger, valid_from=VALID_FROM, config=FAST,
                       registry=registry)
    assert int(again.version) == int(first.version) + 1
    assert not again.promoted
    assert str(client.get_model_version_by_alias(SERIOUS_MODEL_NAME, "champion").version) == \
        first.version
    assert str(client.get_model_version_by_alias(SERIOUS_MODEL_NAME, "challenger").version) == \
        again.version


def test_customers_already_90_days_past_due_are_cut_and_flagged() -> None:
    customers = _customers(2, overdue_90_plus_amount=[0.0, 5_000.0])
    out = recommend_limits(customers, np.array([0.005, 0.005]),
                           config=LimitsConfig(review_change_pct=10.0))
    assert out["grade"].tolist() == ["A", "E"]
    assert out.loc[1, "recommended_limit"] < out.loc[0, "recommended_limit"]
    assert out.loc[1, "review_reasons"][0] == "invoices more than 90 days past due: credit hold"
    assert out["review_flag"].tolist() == [False, True]
    assert out.loc[1, "recommended_limit"] == 0.0
    assert out.loc[1, "reasons"][0].startswith("grade E: 5,000 already 90+ days past due: credit "
                                               "hold, recommended limit 0")


def test_the_review_queue_is_capped_and_ranked_by_the_change_in_expected_loss() -> None:
    n = 40
    probability = np.linspace(0.001, 0.2, n)
    customers = _customers(n, credit_limit_base=np.linspace(10_000, 400_000, n),
                           overdue_90_plus_amount=[1_000.0, 2_000.0] + [0.0] * (n - 2))
    out = recommend_limits(customers, probability, config=LimitsConfig())
    assert out["review_reasons"].map(bool).sum() > 30  # most have a reason (a change >= 50%)
    flagged = out[out["review_flag"]].sort_values("review_rank")
    assert len(flagged) == 6  # 15% of 40
    assert flagged["review_rank"].tolist() == list(range(1, 7))
    assert set(flagged["customer_id"].iloc[:2]) == {"K000", "K001"}  # credit holds first
    size = flagged["expected_loss_change"].abs().to_numpy()[2:]
    assert np.all(np.diff(size) <= 0)
    others = out[~out["review_flag"] & out["review_reasons"].map(bool)]
    assert others["expected_loss_change"].abs().max() <= size.min()
    assert out.loc[~out["review_flag"], "review_rank"].isna().all()
    loss = out["probability"] * 0.6 * (out["recommended_limit"] - out["current_limit"]
                                       .clip(lower=customers["utilization"][0]
                                             * out["current_limit"]))
    regular = ~out["customer_id"].isin(["K000", "K001"])
    np.testing.assert_allclose(out.loc[regular, "expected_loss_change"], loss[regular])


def test_probabilities_of_another_label_are_graded_on_the_design_scale() -> None:
    label = SeriousLabel(182, 90)
    assert label.text == "an invoice 90+ days past due within 6 months"
    config = LimitsConfig()
    six_months = design_probability(np.array([0.0, 0.1, 1.0]), label, None, config)
    np.testing.assert_allclose(six_months, [0.0, 0.19, 1.0], atol=1e-3)
    lower = design_probability(np.array([0.2, 0.4, 0.9]), SeriousLabel(182, 5), 0.4, config)
    np.testing.assert_allclose(lower, [0.025, 0.05, 0.1125])
    with pytest.raises(ValueError, match="base rate"):
        design_probability(np.array([0.2]), SeriousLabel(182, 5), None, config)
    out = recommend_limits(_customers(2), np.array([0.02, 0.1]), config=config, label=label)
    assert out["model_probability"].tolist() == [0.02, 0.1]
    assert out["grade"].tolist() == ["C", "E"]  # 4.0% and 19% over 12 months
    assert "the customer model learnt an invoice 90+ days past due within 6 months" in \
        out.loc[0, "reasons"][0]
    assert out.loc[0, "probability_of"] == "the customer model's an invoice 90+ days past due " \
        "within 6 months"


def test_without_a_customer_model_grades_follow_the_oldest_overdue_amount() -> None:
    customers = _customers(5, overdue_1_30_amount=[0, 10, 10, 0, 0.0],
                           overdue_31_60_amount=[0, 0, 10, 0, 0.0],
                           overdue_61_90_amount=[0, 0, 0, 10, 0.0],
                           overdue_90_plus_amount=[0, 0, 0, 0, 10.0])
    config = LimitsConfig()
    probability = rule_probability(customers, config)
    out = recommend_limits(customers, probability, config=config, probability_of=RULE_TEXT)
    assert out["grade"].tolist() == ["B", "C", "D", "E", "E"]
    assert out.loc[0, "reasons"][0].startswith(f"grade B ({RULE_TEXT})")
    assert out.loc[4, "recommended_limit"] == 0.0


def test_customers_who_only_owe_old_invoices_get_a_grade_and_a_credit_hold() -> None:
    """C4's only invoice (issued 2023-09-01) is unpaid: no invoice in the last 365 days, but
    it owes, so it is in the limits, graded E, on credit hold, at the head of the review
    queue."""
    from serving.history import customer_history
    from serving.portfolio import credit_limits, limit_customers

    ledger = ledger_from_frames(_labelled_frames("2024-07-14"))
    customers = customer_history(ledger, dt.date(2024, 12, 1))
    limits = credit_limits(customers, None, LimitsConfig(), None).set_index("customer_id")
    assert set(limit_customers(customers)["customer_id"]) == set(limits.index)
    assert "C4" in limits.index and customers.set_index("customer_id").loc[
        "C4", "invoice_count_365d"] == 0
    c4 = limits.loc["C4"]
    assert c4["grade"] == "E" and c4["recommended_limit"] == 0.0
    assert c4["reasons"][0] == ("grade E: 300 already 90+ days past due: credit hold, "
                                "recommended limit 0 (no new credit until it is paid; what is "
                                "owed stays owed)")
    holds = limits["review_reasons"].map(lambda r: bool(r) and r[0].endswith("credit hold"))
    assert holds["C4"] and c4["review_flag"] and c4["review_rank"] <= holds.sum()
    assert all(RULE_TEXT in r[0] for r in limits.loc[~holds, "reasons"]) and (~holds).any()
