"""RiskModel's numeric design matrix: the same scores as LightGBM's pandas path (boosters of
earlier versions were trained on pandas categoricals), the same model trained on it, clear
errors."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.reasons import reason_codes
from models.risk_model import (
    LOOKUP_TREE_STEPS,
    PARALLEL_ROWS,
    RiskModel,
    numeric_design,
    tree_costs,
    within_explain_budget,
)
from models.treeshap import MAX_SPLITS

FEATURES = ["late_share_all", "log_amount", "terms_days", "has_open_dispute", "country"]
CATEGORIES = {"country": ["DE", "FR", "US"]}


def _pandas_design(frame: pd.DataFrame) -> pd.DataFrame:
    """The features as LightGBM's pandas input: floats and pandas categoricals."""
    return frame[FEATURES].astype({"has_open_dispute": float}).assign(
        country=pd.Categorical(frame["country"], categories=CATEGORIES["country"]))


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    late = rng.random(rows)
    late[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame({
        "late_share_all": late,
        "log_amount": rng.normal(8, 1.5, rows),
        "terms_days": rng.choice([30, 45, 60], rows),
        "has_open_dispute": rng.random(rows) < 0.2,
        "country": rng.choice(np.array(["DE", "FR", "US", None], dtype=object), rows),
    })


@pytest.fixture(scope="module")
def model() -> RiskModel:
    """A LightGBM model trained on the pandas-categorical design, as training does."""
    frame = _frame(3000, 0)
    risk = 0.8 * frame["late_share_all"].fillna(0.5) + 0.3 * (frame["country"] == "US")
    label = (np.random.default_rng(1).random(len(frame)) < risk).astype(int)
    booster = lgb.train({"objective": "binary", "num_leaves": 7, "min_data_in_leaf": 20,
                         "verbose": -1, "seed": 0, "num_threads": 1},
                        lgb.Dataset(_pandas_design(frame), label,
                                    categorical_feature=["country"]),
                        num_boost_round=30)
    return RiskModel(booster=booster, features=FEATURES, categories=CATEGORIES,
                     metadata={"trained": "test"})


def test_lightgbm_stored_the_training_categories(model: RiskModel) -> None:
    assert model.booster.pandas_categorical == [CATEGORIES["country"]]


@pytest.mark.parametrize("rows", [7, PARALLEL_ROWS * 2])
def test_numeric_path_scores_as_lightgbm_on_the_pandas_design(model: RiskModel,
                                                              rows: int) -> None:
    """Probabilities and TreeSHAP contributions through the numeric matrix equal LightGBM's
    own on the pandas-categorical frame, unseen categories included (the contributions come
    from `models.treeshap`'s tables for these small trees: equal up to the order of the
    additions)."""
    frame = _frame(rows, 2)
    frame.loc[0, "country"] = "ZZ"  # unseen in training
    pandas_design = _pandas_design(frame)
    raw = model.booster.predict(pandas_design, raw_score=True)
    np.testing.assert_array_equal(model.raw_logit(frame), raw)
    np.testing.assert_array_equal(model.predict_proba(frame), model.calibration.apply(raw))
    contributions = model.booster.predict(pandas_design, pred_contrib=True)[:, :-1]
    np.testing.assert_allclose(model.contributions(frame).to_numpy(), contributions,
                               rtol=0, atol=1e-12)


def test_training_on_the_numeric_design_gives_the_same_model(model: RiskModel) -> None:
    """What training now hands LightGBM (`numeric_design`, categoricals by index) makes the
    same trees as the pandas categoricals did, and the rows' mask takes the same rows."""
    frame = _frame(3000, 0)
    risk = 0.8 * frame["late_share_all"].fillna(0.5) + 0.3 * (frame["country"] == "US")
    label = (np.random.default_rng(1).random(len(frame)) < risk).astype(int)
    booster = lgb.train({"objective": "binary", "num_leaves": 7, "min_data_in_leaf": 20,
                         "verbose": -1, "seed": 0, "num_threads": 1},
                        lgb.Dataset(numeric_design(frame, FEATURES, CATEGORIES), label,
                                    feature_name=FEATURES, categorical_feature=["country"]),
                        num_boost_round=30)
    scored = _frame(200, 5)
    twin = RiskModel(booster=booster, features=FEATURES, categories=CATEGORIES)
    np.testing.assert_array_equal(twin.raw_logit(scored), model.raw_logit(scored))
    rows = np.arange(len(scored)) % 3 == 0
    np.testing.assert_array_equal(numeric_design(scored, FEATURES, CATEGORIES, rows),
                                  model.design_matrix(scored[rows]))


def test_categories_become_codes_and_unseen_ones_missing(model: RiskModel) -> None:
    frame = _frame(5, 3).assign(country=["FR", "ZZ", None, "US", np.nan])
    matrix = model.design_matrix(frame)
    assert matrix.dtype == np.float64 and matrix.shape == (5, len(FEATURES))
    np.testing.assert_array_equal(matrix[:, FEATURES.index("country")],
                                  [1.0, np.nan, np.nan, 2.0, np.nan])
    same = pd.concat([frame.iloc[[1]]] * 2).assign(country=["ZZ", None])
    assert model.predict_proba(same)[0] == model.predict_proba(same)[1]


def test_numbers_of_any_numeric_dtype_and_missing_values(model: RiskModel) -> None:
    frame = _frame(4, 4)
    mixed = frame.assign(terms_days=pd.array([30, None, 45, 60], dtype="Int64"),
                         late_share_all=pd.Series([0.1, None, 0.5, 1], dtype=object),
                         country=pd.Categorical(["DE", None, "US", "FR"]))
    plain = frame.assign(terms_days=[30, np.nan, 45, 60], late_share_all=[0.1, np.nan, 0.5, 1],
                         country=["DE", None, "US", "FR"])
    np.testing.assert_array_equal(model.design_matrix(mixed), model.design_matrix(plain))


def test_a_missing_column_is_named(model: RiskModel) -> None:
    with pytest.raises(ValueError, match="lacks the model's columns: log_amount, country"):
        model.predict_proba(_frame(3, 5).drop(columns=["log_amount", "country"]))


@pytest.mark.parametrize(("column", "value", "message"), [
    ("log_amount", "12.5k", r"feature log_amount: expected numbers, found '12.5k' \(str\) "
                            r"in row 2"),
    ("terms_days", pd.Timestamp("2024-01-01"), r"feature terms_days: expected numbers, "
                                               r"found Timestamp.* in row 2"),
    ("country", 49, r"feature country: expected text categories, found 49 \(int\) in row 2"),
])
def test_a_value_of_the_wrong_type_is_named(model: RiskModel, column: str, value: object,
                                            message: str) -> None:
    frame = _frame(4, 6)
    frame[column] = frame[column].astype(object)
    frame.loc[2, column] = value
    for method in (model.predict_proba, model.contributions, model.design_matrix):
        with pytest.raises(ValueError, match=message):
            method(frame)
    with pytest.raises(ValueError, match=message):  # training input too
        numeric_design(frame, FEATURES, CATEGORIES)


def test_dates_are_not_numbers(model: RiskModel) -> None:
    frame = _frame(3, 7).assign(terms_days=pd.to_datetime(["2024-01-01"] * 3))
    with pytest.raises(ValueError, match="feature terms_days: expected numbers"):
        model.predict_proba(frame)


def test_categories_unlike_the_boosters_are_refused(model: RiskModel) -> None:
    with pytest.raises(ValueError, match="booster's categories"):
        RiskModel(booster=model.booster, features=FEATURES,
                  categories={"country": ["FR", "DE", "US"]})


def test_saved_and_loaded_model_scores_the_same(model: RiskModel, tmp_path) -> None:  # noqa: ANN001
    frame = _frame(50, 8)
    loaded = RiskModel.load(model.save(tmp_path / "model"))
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == sorted(RiskModel.FILES)
    assert loaded.booster.pandas_categorical == [CATEGORIES["country"]]
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    np.testing.assert_array_equal(loaded.contributions(frame), model.contributions(frame))


def test_empty_frames(model: RiskModel) -> None:
    empty = _frame(0, 9)
    assert model.predict_proba(empty).shape == (0,)
    assert list(model.contributions(empty).columns) == FEATURES


def test_reason_codes_without_lowers_give_the_same_raises(model: RiskModel) -> None:
    """The API's reason codes (`lowers=False`) are the first side of the full ones."""
    frame = _frame(40, 10)
    full = reason_codes(model, frame, top=3)
    raises = reason_codes(model, frame, top=3, lowers=False)
    assert [r.keys() for r in raises] == [{"raises": 0}.keys()] * len(frame)
    assert [r["raises"] for r in raises] == [r["raises"] for r in full]
    contributions = model.contributions(frame)
    for row, reason in zip(contributions.itertuples(index=False), full, strict=True):
        top = sorted((v for v in row if v > 0), reverse=True)[:3]
        assert [r["contribution"] for r in reason["raises"]] == [round(v, 4) for v in top]
        assert all(r["contribution"] < 0 for r in reason["lowers"])


def test_scores_and_contributions_from_one_design_matrix(model: RiskModel) -> None:
    """What the API's reason codes use: the same probabilities, contributions and reasons as
    the separate calls."""
    frame = _frame(PARALLEL_ROWS + 50, 11)
    probability, contributions = model.predict_with_contributions(frame)
    np.testing.assert_array_equal(probability, model.predict_proba(frame))
    pd.testing.assert_frame_equal(contributions, model.contributions(frame))
    assert reason_codes(model, frame, contributions=contributions) == reason_codes(model, frame)
    assert model.predict_with_contributions(_frame(0, 1))[0].shape == (0,)


def test_reason_values_and_words_of_missing_and_known_values(model: RiskModel) -> None:
    frame = _frame(30, 12).assign(late_share_all=np.nan, country="US")
    reasons = [r for row in reason_codes(model, frame, top=5) for side in row.values()
               for r in side]
    shares = [r for r in reasons if r["feature"] == "late_share_all"]
    countries = [r for r in reasons if r["feature"] == "country"]
    assert shares and countries
    assert {r["value"] for r in shares} == {None} and {r["value"] for r in countries} == {"US"}
    assert len({r["text"] for r in shares}) == 1 and "US" in countries[0]["text"]


def test_trees_beyond_the_look_up_cost_their_leaves_squared_depths() -> None:
    """A model with a tree of more than `MAX_SPLITS` splits is explained by LightGBM, whose
    TreeSHAP works through every leaf's path: each tree costs its leaves' squared depths."""
    frame = _frame(3000, 2)
    label = (np.random.default_rng(3).random(len(frame)) < 0.4).astype(int)
    booster = lgb.train({"objective": "binary", "num_leaves": 31, "min_data_in_leaf": 5,
                         "verbose": -1, "seed": 0, "num_threads": 1},
                        lgb.Dataset(_pandas_design(frame), label,
                                    categorical_feature=["country"]), num_boost_round=3)
    trees = booster.dump_model()["tree_info"]
    assert max(tree["num_leaves"] for tree in trees) - 1 > MAX_SPLITS

    def squared_depths(node: dict, depth: int) -> int:
        if "left_child" not in node:
            return max(depth, 1) ** 2
        return sum(squared_depths(node[side], depth + 1) for side in ("left_child",
                                                                        "right_child"))

    assert tree_costs(booster).tolist() == [squared_depths(tree["tree_structure"], 0)
                                            for tree in trees]


def test_explain_budget_keeps_the_first_trees(model: RiskModel, tmp_path) -> None:  # noqa: ANN001
    """A model over the TreeSHAP budget keeps its first trees (the booster at that round)."""
    costs = tree_costs(model.booster)
    # 7 leaves, explained by look-up: scoring the tree, 6 comparisons, a read per feature
    # split on (1-4) and a table of 2^6 x features values (one step)
    base = LOOKUP_TREE_STEPS + 6 + 1
    assert len(costs) == 30 and costs.min() >= base + 1 and costs.max() <= base + 4
    assert model.explain_cost() == costs.sum()
    small = within_explain_budget(model, int(costs[:10].sum()) + 1)
    assert small.booster.num_trees() == 10 and small.metadata["trees_cut"] == 20
    assert small.explain_cost() == costs[:10].sum() == small.metadata["explain_cost"]
    frame = _frame(60, 13)
    np.testing.assert_array_equal(small.raw_logit(frame), model.booster.predict(
        model.design_matrix(frame), raw_score=True, num_iteration=10))
    loaded = RiskModel.load(small.save(tmp_path / "small"))
    assert loaded.booster.pandas_categorical == [CATEGORIES["country"]]
    np.testing.assert_array_equal(loaded.predict_proba(frame), small.predict_proba(frame))
    assert within_explain_budget(model, int(costs.sum())) is model
    assert within_explain_budget(model, 1).booster.num_trees() == 1
