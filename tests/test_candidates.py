"""Candidates chosen honestly: rolling-origin folds, the family that fits the signal wins,
and the linear model is stored as data and read back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.linear_model import LinearRiskModel
from models.pyfunc import _load_pyfunc
from models.risk_model import Calibration, RiskModel, tree_costs, within_explain_budget
from models.store import load_model
from training.candidates import COMPARISON_COLUMNS, choose_model, fit_linear, rolling_folds
from training.config import TrainingConfig
from training.fit import fit_booster
from training.plots import candidate_plot

FAST = TrainingConfig(lightgbm={"learning_rate": 0.1, "max_rounds": 300,
                                "early_stopping_rounds": 20, "num_threads": 1})
NUMBERS = ["x1", "x2", "x3", "x4"]


def examples(n: int, signal: str, seed: int = 0) -> pd.DataFrame:
    """`n` examples over 400 days: numbers x1-x4 (x3 partly missing), a category, `late`
    drawn from a linear or a strongly nonlinear (checkerboard) function of x1 and x2."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=NUMBERS)
    frame.loc[rng.random(n) < 0.2, "x3"] = np.nan
    frame["industry"] = rng.choice(["retail", "energy", "health"], size=n)
    if signal == "linear":
        logit = 1.2 * frame["x1"] - 0.8 * frame["x2"] + 0.4 * frame["x4"]
    else:
        logit = 4.0 * np.sign(np.sin(2 * frame["x1"]) * np.sin(2 * frame["x2"]))
    frame["late"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    start = pd.Timestamp("2024-01-01")
    frame["as_of"] = start + pd.to_timedelta(np.sort(rng.integers(0, 400, size=n)), unit="D")
    frame["due_date"] = frame["as_of"] + pd.Timedelta(days=30)
    return frame


FEATURES = [*NUMBERS, "industry"]


def test_folds_fit_only_on_earlier_rows_whose_label_was_known() -> None:
    frame = examples(2000, "linear")
    folds = rolling_folds(frame["as_of"], folds=4, scored_share=0.5,
                          known_from=frame["due_date"])
    assert len(folds) == 4
    scored = np.concatenate([f.scored_rows for f in folds])
    assert len(scored) == len(set(scored)), "a row is scored by two folds"
    assert frame["as_of"].iloc[scored].min() >= frame["as_of"].quantile(0.5) - pd.Timedelta(1)
    for fold in folds:
        start = frame["as_of"].iloc[fold.scored_rows].min()
        assert frame["as_of"].iloc[fold.fit_rows].max() < start
        assert frame["due_date"].iloc[fold.fit_rows].max() < start
    later_starts = [frame["as_of"].iloc[f.scored_rows].min() for f in folds]
    assert later_starts == sorted(later_starts)
    assert [len(f.fit_rows) for f in folds] == sorted(len(f.fit_rows) for f in folds)


def test_a_linear_signal_is_fitted_by_the_linear_candidate() -> None:
    frame = examples(3000, "linear")
    model, info, comparison = choose_model(frame, label="late", features=FEATURES,
                                           config=FAST, known_from=frame["due_date"])
    assert isinstance(model, LinearRiskModel)
    assert info["family"] == "linear" and info["cv_folds"] == 4
    assert list(comparison.columns) == COMPARISON_COLUMNS
    assert set(comparison["candidate"]) >= {"linear_c0.01", "lightgbm_small"}
    assert (comparison.groupby("candidate").size() == 4).all()
    assert candidate_plot(comparison, chosen=info["chosen"]).axes


def test_a_nonlinear_signal_with_many_rows_is_fitted_by_lightgbm() -> None:
    frame = examples(12000, "checkerboard")
    model, info, comparison = choose_model(frame, label="late", features=FEATURES,
                                           config=FAST, known_from=frame["due_date"])
    assert isinstance(model, RiskModel)
    assert info["family"] == "lightgbm"
    means = comparison.groupby("candidate")["auc"].mean()
    assert means[info["chosen"]] > means["linear_c1"] + 0.1


def test_the_winner_is_calibrated_on_the_last_folds_scores() -> None:
    # The late rate doubles over time: probabilities fitted on early dates are too low, and
    # calibration on later slices than the ones fitted corrects them.
    frame = examples(4000, "linear")
    rng = np.random.default_rng(1)
    later = frame["as_of"] >= frame["as_of"].quantile(0.5)
    frame.loc[later & (rng.random(len(frame)) < 0.4), "late"] = True
    _, info, _ = choose_model(frame, label="late", features=FEATURES, config=FAST)
    assert info["calibration"] == "platt"
    assert info["calibration_ece_platt"] < info["calibration_ece_raw"]
    assert 0.1 * len(frame) < info["calibration_rows"] < 0.15 * len(frame)  # the last fold


def test_too_few_dates_for_a_fold_fall_back_to_the_regularized_linear_model() -> None:
    frame = examples(300, "linear")
    frame["as_of"] = pd.Timestamp("2024-05-01")
    model, info, comparison = choose_model(frame, label="late", features=FEATURES,
                                           config=FAST)
    assert comparison.empty and info["cv_folds"] == 0
    assert info["chosen"] == "linear_c0.01" and isinstance(model, LinearRiskModel)


def test_missing_columns_are_named() -> None:
    frame = examples(100, "linear").drop(columns=["x2"])
    with pytest.raises(ValueError, match="lack the columns x2"):
        choose_model(frame, label="late", features=FEATURES, config=FAST)


def test_linear_model_round_trip_is_exact_and_json_only(tmp_path: Path) -> None:
    train = examples(1500, "linear")
    model = fit_linear(train, features=FEATURES, label="late", c=0.5, seed=0)
    model.calibration = Calibration("platt", 0.9, -0.1)
    scored = examples(200, "linear", seed=3)
    scored.loc[0, "industry"] = "mining"    # unseen category
    scored.loc[1, "x1"] = np.nan          # missing where training had none
    saved = model.save(tmp_path / "model")
    assert sorted(p.name for p in saved.iterdir()) == ["model.json"]
    meta = json.loads((saved / "model.json").read_text())
    assert meta["kind"] == "linear"
    loaded = load_model(saved)
    assert isinstance(loaded, LinearRiskModel)
    np.testing.assert_array_equal(loaded.predict_proba(scored), model.predict_proba(scored))
    pd.testing.assert_frame_equal(loaded.contributions(scored), model.contributions(scored))
    contributions = model.contributions(scored)
    assert list(contributions.columns) == FEATURES
    np.testing.assert_allclose(model.intercept + contributions.sum(axis=1),
                               model.raw_logit(scored))
    # an unseen industry sets no industry column; a missing x1 is the median with its indicator
    # off (x1 had no missing value in training), so its contribution is the median's
    assert "x1" not in model.indicators and "x3" in model.indicators
    median_row = scored.iloc[[1]].assign(x1=model.medians["x1"])
    assert contributions.loc[1, "x1"] == pytest.approx(
        model.contributions(median_row).loc[1, "x1"])
    np.testing.assert_array_equal(_load_pyfunc(str(saved)).predict(scored),
                                  model.predict_proba(scored))


def test_linear_model_signs_follow_the_signal() -> None:
    model = fit_linear(examples(3000, "linear"), features=FEATURES, label="late", c=1.0,
                       seed=0)
    coefficient = dict(zip(model.columns, model.coefficients, strict=True))
    assert coefficient["x1"] > 0.5 and coefficient["x2"] < -0.3
    assert abs(coefficient["x3"]) < 0.15


def test_store_reads_either_kind_and_names_an_unknown_one(tmp_path: Path) -> None:
    train = examples(1500, "linear")
    booster, _ = fit_booster(train, FAST, features=FEATURES)
    assert isinstance(load_model(booster.save(tmp_path / "gbm")), RiskModel)
    linear = fit_linear(train, features=FEATURES, label="late", c=1.0, seed=0)
    folder = linear.save(tmp_path / "linear")
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "kind": "neural"}))
    with pytest.raises(ValueError, match="unknown model kind 'neural'"):
        load_model(folder)
    (folder / "model.json").write_text(json.dumps({**meta, "coefficients": [1.0]}))
    with pytest.raises(ValueError, match="coefficients has 1 values"):
        load_model(folder)


def test_lightgbm_fits_examples_of_a_single_date_without_early_stopping() -> None:
    """A short ledger or an early fold can hold examples of one date only: nothing later to
    stop early on, so LightGBM fits them whole for `unsplit_rounds` rounds, not fail."""
    frame = examples(2000, "linear").assign(as_of=pd.Timestamp("2024-06-01"))
    config = FAST.model_copy(update={"lightgbm": FAST.lightgbm.model_copy(
        update={"unsplit_rounds": 37})})
    model, info = fit_booster(frame, config, features=FEATURES)
    assert info["best_iteration"] == 37 and info["n_inner"] == 0
    assert model.booster.num_trees() == 37
    assert roc_auc_score(frame["late"], model.predict_proba(frame)) > 0.7


def test_a_budget_adds_the_shallow_candidate_whose_trees_are_three_deep() -> None:
    from training.candidates import candidates

    frame = examples(4000, "checkerboard")
    budgeted = FAST.model_copy(update={"candidates": FAST.candidates.model_copy(
        update={"explain_budget": 5_000})})
    free = FAST.model_copy(update={"candidates": FAST.candidates.model_copy(
        update={"explain_budget": None})})
    pool = {c.name: c for c in candidates(len(frame), features=FEATURES, label="late",
                                          config=budgeted)}
    assert "lightgbm_shallow" in pool
    assert "lightgbm_shallow" not in {c.name for c in candidates(
        len(frame), features=FEATURES, label="late", config=free)}
    model = pool["lightgbm_shallow"].fit(frame)
    assert model.metadata["max_depth"] == 3 and model.metadata["learning_rate"] == 0.3
    assert model.metadata["explain_cost"] <= 5_000
    assert max(tree_costs(model.booster)) <= 8 * 3 ** 2  # 8 leaves, none deeper than 3
    later = examples(2000, "checkerboard", seed=5)
    assert roc_auc_score(later["late"], model.predict_proba(later)) > 0.8


def test_a_lightgbm_candidate_over_the_serving_budget_converges_within_it() -> None:
    # The checkerboard needs many trees at a small learning rate; a tight budget makes the
    # candidate fit again with larger steps instead of keeping a model cut short.
    from training.candidates import _lightgbm_rule

    frame = examples(6000, "checkerboard")
    slow = FAST.model_copy(update={"lightgbm": FAST.lightgbm.model_copy(
        update={"learning_rate": 0.02, "max_rounds": 2000})})
    budget = 1_500
    tight = slow.model_copy(update={"candidates": slow.candidates.model_copy(
        update={"explain_budget": budget})})
    free = slow.model_copy(update={"candidates": slow.candidates.model_copy(
        update={"explain_budget": None})})
    kept = _lightgbm_rule(15, 0.0025, features=FEATURES, label="late", config=tight)(frame)
    whole = _lightgbm_rule(15, 0.0025, features=FEATURES, label="late", config=free)(frame)
    assert kept.metadata["explain_cost"] <= budget
    assert kept.metadata["learning_rate"] > 0.02
    assert whole.metadata["learning_rate"] == 0.02 and "explain_cost" not in whole.metadata
    assert sum(tree_costs(whole.booster)) > budget
    later = examples(3000, "checkerboard", seed=5)
    auc_kept = roc_auc_score(later["late"], kept.predict_proba(later))
    cut_only = within_explain_budget(whole, budget)
    assert auc_kept > roc_auc_score(later["late"], cut_only.predict_proba(later))
