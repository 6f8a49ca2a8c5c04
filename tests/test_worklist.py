"""The collections model, the worklist policy, collector assignment and the worklist back-test."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from ledger import Ledger, ledger_from_frames
from ledger.synthetic import SyntheticConfig, generate_ledger
from models.worklist import (
    HELD_DISPUTE,
    HELD_PROMISE,
    WORKLIST_COLUMNS,
    WorklistConfig,
    assign_collectors,
    build_worklist,
)
from tests.conftest import facts_before, tiny_ledger_frames
from training.backtest_worklist import (
    backtest_worklist,
    capture_curve,
    capture_share,
    rule_orders,
)
from training.collections import (
    COLLECTIONS_MODEL_NAME,
    LABEL,
    collections_examples,
    collections_training_set,
)
from training.config import CandidatesConfig, LightGBMParams, TrainingConfig
from training.registry import Registry
from training.tasks import COLLECTIONS
from training.trainer import train_task

FAST = TrainingConfig(snapshot_max_dates=6,
                      lightgbm=LightGBMParams(learning_rate=0.1, max_rounds=200))
CUT = dt.date(2025, 7, 1)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    tables = generate_ledger(SyntheticConfig(customers=400, months=24, seed=3))
    return {name: table.to_pandas() for name, table in tables.items()
            if not name.startswith("truth_")}


@pytest.fixture(scope="module")
def ledger(frames: dict[str, pd.DataFrame]) -> Ledger:
    return ledger_from_frames(frames)


# --- labels and leakage ----------------------------------------------------------------------


def test_label_is_unpaid_30_days_after_the_as_of_date() -> None:
    ledger = ledger_from_frames(tiny_ledger_frames())
    as_of = dt.date(2024, 3, 1)
    examples = collections_examples(ledger, [as_of], cutoff=dt.date(2024, 4, 1))
    labels = dict(zip(examples.frame["invoice_id"], examples.frame[LABEL], strict=True))
    # I1 was settled before as_of, I4 issued on it; I3 is settled on 2024-03-20 (< 03-31),
    # I2 is never paid.
    assert labels == {"I2": True, "I3": False}
    shorter = collections_examples(ledger, [as_of], cutoff=dt.date(2024, 4, 1), horizon_days=10)
    assert dict(zip(shorter.frame["invoice_id"], shorter.frame[LABEL], strict=True)) == {
        "I2": True, "I3": True}


def test_immature_dates_are_left_out_and_counted() -> None:
    ledger = ledger_from_frames(tiny_ledger_frames())
    examples = collections_examples(ledger, [dt.date(2024, 3, 1)], cutoff=dt.date(2024, 3, 25))
    assert len(examples.frame) == 0
    assert examples.counts["dates_immature_left_out"] == 1


def test_training_examples_use_only_facts_before_the_cutoff(
    ledger: Ledger, frames: dict[str, pd.DataFrame]
) -> None:
    full = collections_training_set(ledger, known_before=CUT, config=FAST).frame
    known = collections_training_set(ledger_from_frames(facts_before(frames, CUT)),
                                     known_before=CUT, config=FAST).frame
    assert len(full) > 1000 and full[LABEL].nunique() == 2
    assert (full["as_of"] + pd.Timedelta(days=30) <= pd.Timestamp(CUT)).all()
    pd.testing.assert_frame_equal(full, known)


# --- the worklist policy ---------------------------------------------------------------------


def scored_frame(rows: list[dict]) -> pd.DataFrame:
    """Scored snapshot rows with defaults: an overdue, undisputed EUR invoice."""
    base = {"currency": "EUR", "open_amount_base": 1000.0, "days_past_due": 10.0,
            "has_open_dispute": False, "has_active_promise": False,
            "has_broken_promise": False, "p_unpaid_30d": 0.5}
    return pd.DataFrame([{**base, **row} for row in rows])


def by_customer(worklist: pd.DataFrame) -> pd.DataFrame:
    return worklist.set_index("customer_id")


def test_all_overdue_disputed_is_held_and_ranked_last() -> None:
    scored = scored_frame([
        {"customer_id": "A", "invoice_id": "A1", "open_amount_base": 90_000.0,
         "has_open_dispute": True, "p_unpaid_30d": 0.9},
        {"customer_id": "A", "invoice_id": "A2", "days_past_due": -5.0},  # not due: no matter
        {"customer_id": "B", "invoice_id": "B1"},
        {"customer_id": "C", "invoice_id": "C1", "has_open_dispute": True},
        {"customer_id": "C", "invoice_id": "C2"},  # one overdue invoice not disputed
    ])
    rows = by_customer(build_worklist(scored, config=WorklistConfig()))
    assert rows.loc["A", "held"] and rows.loc["A", "action"] == "hold"
    assert rows.loc["A", "held_reason"] == HELD_DISPUTE
    assert rows.loc["A", "priority"] > rows.loc["B", "priority"]
    assert rows.loc["A", "rank"] == 3
    assert not rows.loc["C", "held"] and rows.loc["C", "held_reason"] is None
    off = by_customer(build_worklist(scored, config=WorklistConfig(hold_disputed=False)))
    assert not off.loc["A", "held"] and off.loc["A", "rank"] == 1


def test_active_promise_is_held() -> None:
    scored = scored_frame([
        {"customer_id": "A", "invoice_id": "A1", "has_active_promise": True},
        {"customer_id": "B", "invoice_id": "B1"},
    ])
    rows = by_customer(build_worklist(scored, config=WorklistConfig()))
    assert rows.loc["A", "held"] and rows.loc["A", "held_reason"] == HELD_PROMISE
    assert rows.loc["A", "action"] == "hold" and not rows.loc["B", "held"]
    off = by_customer(build_worklist(scored, config=WorklistConfig(hold_promised=False)))
    assert not off.loc["A", "held"]


def test_broken_promise_raises_priority() -> None:
    scored = scored_frame([
        {"customer_id": "A", "invoice_id": "A1"},
        {"customer_id": "B", "invoice_id": "B1", "has_broken_promise": True},
    ])
    rows = by_customer(build_worklist(scored, config=WorklistConfig(broken_promise_boost=0.5)))
    assert rows.loc["B", "priority"] == pytest.approx(1.5 * rows.loc["A", "priority"])
    assert rows.loc["B", "rank"] == 1
    assert "broken promise to pay" in rows.loc["B", "reasons"]
    assert rows.loc["B", "action"] == "escalate"


def test_customers_with_nothing_overdue_need_high_risk() -> None:
    scored = scored_frame([
        {"customer_id": "A", "invoice_id": "A1", "days_past_due": -10.0, "p_unpaid_30d": 0.2},
        {"customer_id": "B", "invoice_id": "B1", "days_past_due": -10.0, "p_unpaid_30d": 0.8},
    ])
    worklist = build_worklist(scored, config=WorklistConfig(not_due_min_risk=0.6))
    assert worklist["customer_id"].tolist() == ["B"]
    assert worklist.loc[0, "action"] == "reminder"
    assert worklist.loc[0, "overdue_amount"] == 0


def test_rows_carry_amounts_counts_and_ordered_invoices() -> None:
    scored = scored_frame([
        {"customer_id": "A", "invoice_id": "A1", "open_amount_base": 100.0,
         "days_past_due": 45.0, "p_unpaid_30d": 0.9},
        {"customer_id": "A", "invoice_id": "A2", "open_amount_base": 2000.0,
         "days_past_due": 5.0, "p_unpaid_30d": 0.5},
        {"customer_id": "A", "invoice_id": "A3", "open_amount_base": 500.0,
         "days_past_due": -3.0, "p_unpaid_30d": 0.1},
        {"customer_id": "B", "invoice_id": "B1", "currency": "USD"},
        {"customer_id": "B", "invoice_id": "B2", "currency": "EUR"},
    ])
    reasons = [{"raises": [{"text": f"reason of {i}"}], "lowers": []} for i in range(5)]
    worklist = build_worklist(scored, config=WorklistConfig(), reasons=reasons)
    assert tuple(worklist.columns) == WORKLIST_COLUMNS
    assert worklist["rank"].tolist() == [1, 2]
    a = by_customer(worklist).loc["A"]
    assert a["open_amount"] == pytest.approx(2600.0)
    assert a["overdue_amount"] == pytest.approx(2100.0)
    assert a["amount_at_risk"] == pytest.approx(90 + 1000 + 50)
    assert (a["invoice_count"], a["overdue_invoice_count"]) == (3, 2)
    assert a["oldest_days_past_due"] == 45
    assert a["invoices"] == ["A2", "A1", "A3"]
    assert a["customer_currency"] == "EUR"
    assert by_customer(worklist).loc["B", "customer_currency"] is None
    assert "reason of 1" in a["reasons"]  # the largest at-risk invoice's model reasons
    assert a["reasons"][0].startswith("2 invoices overdue")
    assert a["action"] == "call"  # 45 days past due >= call_days_past_due


def test_same_frame_in_any_row_order_gives_the_same_list() -> None:
    rng = np.random.default_rng(0)
    n = 200
    scored = scored_frame([
        {"customer_id": f"C{i % 40:03d}", "invoice_id": f"I{i:04d}",
         "open_amount_base": float(rng.integers(100, 10_000)),
         "days_past_due": float(rng.integers(-30, 90)),
         "p_unpaid_30d": float(rng.uniform()), "has_open_dispute": bool(rng.uniform() < 0.1),
         "has_broken_promise": bool(rng.uniform() < 0.05)} for i in range(n)
    ])
    first = build_worklist(scored, config=WorklistConfig())
    shuffled = build_worklist(scored.sample(frac=1, random_state=1), config=WorklistConfig())
    pd.testing.assert_frame_equal(first, shuffled)
    assert first["rank"].tolist() == list(range(1, len(first) + 1))
    held = first["held"].to_numpy()
    assert not (held[:-1] & ~held[1:]).any()  # no customer not held after a held one
    active = first[~first["held"]]["priority"].to_numpy()
    assert (np.diff(active) <= 0).all()


def test_collectors_take_at_most_their_capacity_in_rank_order() -> None:
    scored = scored_frame([
        {"customer_id": f"C{i:02d}", "invoice_id": f"I{i:02d}",
         "open_amount_base": 1000.0 * (i + 1), "has_open_dispute": i == 3} for i in range(10)
    ])
    worklist = build_worklist(scored, config=WorklistConfig())
    assigned = assign_collectors(worklist, {"ann": 2, "bob": 3})
    assert assigned["collector"].value_counts().to_dict() == {"bob": 3, "ann": 2}
    assert assigned.loc[assigned["held"], "collector"].isna().all()
    taken = assigned.sort_values("rank")["collector"].notna().tolist()
    assert taken == [True] * 5 + [False] * 5  # the five highest ranks, held one last
    assert assigned["customer_id"].tolist() == worklist["customer_id"].tolist()
    with pytest.raises(ValueError, match="capacity"):
        assign_collectors(worklist, {"ann": -1})


# --- back-test and MLflow --------------------------------------------------------------------


@pytest.mark.slow  # ~16 s: cross-validates the collections candidates
def test_backtest_reports_capture_per_rule(ledger: Ledger) -> None:
    config = FAST.model_copy(update={"candidates": CandidatesConfig(folds=2, linear_c=(1.0,))})
    result = backtest_worklist(ledger, dt.date(2025, 9, 1), config=config,
                               worklist=WorklistConfig())
    # trained the way `o2c train` trains: a candidate chosen by cross-validation
    assert result["model"] in {"late_share", "logistic_history", "linear_c1",
                               "lightgbm_small", "lightgbm_medium", "lightgbm_large"}
    assert result["calibration"] in {"platt", "identity"}
    assert result["customers"] > 20 and result["unpaid_amount"] > 0
    capture = result["capture"]
    assert set(capture) == {"worklist", "largest_overdue", "oldest_overdue", "hindsight"}
    for share in ("top_10", "top_20"):
        for rule in capture:
            assert 0 <= capture[rule][share] <= capture["hindsight"][share] + 1e-9
        assert capture["worklist"][share] <= capture["worklist"]["top_20"] + 1e-9
    assert result["better_rule"] in ("largest_overdue", "oldest_overdue")
    assert np.isfinite(result["closes_gap_20"])
    # held customers are judged apart, and `all` covers everyone
    held, everyone = result["held"], result["all"]
    assert everyone["customers"] == result["customers"] + held["customers"]
    assert everyone["unpaid_amount"] == pytest.approx(
        result["unpaid_amount"] + held["unpaid_amount"], abs=0.05)
    assert set(everyone["capture"]) == set(capture)


def test_capture_curve_rises_from_none_to_all_and_hindsight_bounds_every_order() -> None:
    outcome = pd.DataFrame({
        "customer_id": ["A", "B", "C", "D", "E"],
        "overdue_amount": [500.0, 300.0, 900.0, 100.0, 200.0],
        "oldest_dpd": [10.0, 80.0, 5.0, 45.0, 20.0],
        "unpaid": [0.0, 300.0, 100.0, 100.0, 150.0],
    })
    listed = pd.DataFrame({"customer_id": ["E", "A", "B", "D", "C"], "rank": [1, 2, 3, 4, 5]})
    orders = rule_orders(outcome, listed)
    curves = {rule: capture_curve(outcome, order) for rule, order in orders.items()}
    for rule, curve in curves.items():
        captured = curve["captured"].to_numpy()
        assert curve["worked"].tolist() == list(range(6)), rule
        assert curve["share_worked"].iloc[0] == 0 and curve["share_worked"].iloc[-1] == 1
        assert captured[0] == 0 and captured[-1] == pytest.approx(1.0)
        assert (np.diff(captured) >= 0).all(), rule
        assert (curves["hindsight"]["captured"].to_numpy() >= captured - 1e-12).all(), rule
        # the curve at ceil(share × n) customers is the back-test's capture at that share
        assert curve["captured"].iloc[2] == pytest.approx(capture_share(outcome, orders[rule],
                                                                        0.4))
    # hindsight: B (300), E (150), then C and D (100 each, by id), A (0) out of 650
    assert curves["hindsight"]["captured"].round(4).tolist() == [
        0.0, 0.4615, 0.6923, 0.8462, 1.0, 1.0]
    assert curves["worklist"]["captured"].iloc[1] == pytest.approx(150 / 650)
    assert capture_curve(outcome.assign(unpaid=0.0), orders["worklist"])["captured"].isna().all()


def test_mlflow_run_registers_collections_risk(
    ledger: Ledger, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("mlflow")
    tracking = Registry(f"sqlite:///{folder / 'mlflow.db'}", "test",
                        (folder / "artifacts").as_uri())
    result = train_task(COLLECTIONS, ledger, valid_from=CUT, config=FAST, registry=tracking)
    summary = result.summary()
    assert summary["promoted"] and str(summary["model_version"]) == "1"
    assert 0.6 < summary["auc"] <= 1 and summary["n_train"] > 0 and summary["n_valid"] > 0
    client = MlflowClient(tracking.tracking_uri)
    champion = client.get_model_version_by_alias(COLLECTIONS_MODEL_NAME, "champion")
    assert str(champion.version) == "1"
    run = client.get_run(summary["run_id"])
    assert "auc" in run.data.metrics and "ledger_sha256" in run.data.tags
    assert (result.predictions["as_of"] >= pd.Timestamp(CUT)).all()
