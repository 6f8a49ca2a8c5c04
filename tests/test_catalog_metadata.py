"""Features carry their own metadata in the catalog, and model inputs are its allow-list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features import build_invoice_features, build_snapshot, feature_catalog, model_inputs
from features.catalog import COLUMN_DTYPES, FeatureSpec, values_at_issue
from features.pipeline import output_columns
from ledger import ledger_from_frames
from models.reasons import describe
from o2c.cli import app
from tests.conftest import tiny_ledger_frames
from training.config import TrainingConfig
from training.examples import issue_examples
from training.fit import CATEGORICAL, MONOTONE_INCREASING, feature_columns, fit_risk_model

AT_ISSUE = {"as of issue date", "zero at issue", "minus the payment terms",
            "not available at issue"}


def _sample_values(spec: FeatureSpec) -> list[object]:
    if spec.dtype == "category":
        return ["DE", None]
    if spec.dtype == "bool":
        return [True, False]
    return [2.5, -3.0, 0.0, float("nan")]


@pytest.mark.parametrize("spec", feature_catalog(), ids=lambda s: s.name)
def test_every_feature_has_complete_metadata(spec: FeatureSpec) -> None:
    assert spec.dtype in COLUMN_DTYPES
    assert spec.monotone in (-1, 0, 1)
    assert spec.at_issue in AT_ISSUE
    assert spec.reason.text.strip()
    assert spec.categories is None or (spec.dtype == "category" and spec.categories)
    if spec.monotone:
        assert spec.model_input and spec.dtype in ("float", "int", "bool")
    if spec.kind == "state":  # the invoice builder does not compute them: say what they are
        assert spec.at_issue != "as of issue date"
    else:
        assert spec.at_issue == "as of issue date"
    if "nullif" in spec.sql or spec.name.startswith("days_since"):  # null has a meaning
        assert spec.reason.missing
    for value in _sample_values(spec):
        text = describe(spec.name, value)
        assert text and "_" not in text and "{" not in text, (value, text)
        if not pd.isna(value) and spec.dtype != "category":  # a phrase, not the fallback
            assert text != f"{spec.name.replace('_', ' ')} {float(value):g}", text


def test_reason_phrases_come_from_the_catalog_with_own_values() -> None:
    assert describe("days_late_mean_180d", 18.2) == \
        "paid 18 days late on average over the last 180 days"
    assert describe("days_late_mean_all", -4.0) == "paid 4 days early on average in all history"
    assert describe("days_past_due", 0.0) == "due today"
    assert describe("has_open_dispute", False) == "no open dispute"
    assert describe("log_amount", float(np.log1p(2500.0))) == "invoice of 2,500"
    assert describe("utilization", float("nan")) == "no credit limit"
    assert describe("segment", "large") == "segment large"
    assert describe("not_in_the_catalog", 3.0) == "not in the catalog 3"


def test_model_inputs_are_the_catalog_allow_list() -> None:
    snapshot = [s.name for s in model_inputs("snapshot")]
    assert {"late_share_all", "days_past_due", "country"} <= set(snapshot)
    assert {"currency", "open_amount", "open_amount_base"}.isdisjoint(snapshot)
    assert all(s.at_issue != "not available at issue" for s in model_inputs("snapshot"))
    assert [s.name for s in model_inputs("customer")] == \
        [s.name for s in feature_catalog("customer") if s.model_input]
    assert set(CATEGORICAL) == {s.name for s in model_inputs() if s.dtype == "category"}
    assert set(MONOTONE_INCREASING) == {s.name for s in model_inputs() if s.monotone > 0}
    assert {"late_share_all", "days_late_mean_90d", "has_broken_promise"} <= \
        set(MONOTONE_INCREASING)


def test_a_stray_column_never_becomes_a_feature() -> None:
    columns = [*output_columns("snapshot"), "kind", "late", "score_from_elsewhere", "row_number"]
    features = feature_columns(pd.DataFrame(columns=columns))
    assert features == [s.name for s in model_inputs("snapshot")]


def test_the_fitted_model_uses_only_catalog_inputs_and_keeps_their_direction() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    late_share = rng.uniform(0, 1, n)
    frame = pd.DataFrame({
        "invoice_id": [f"I{i}" for i in range(n)],
        "as_of": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n) // 10, unit="D"),
        "late_share_all": late_share,
        "terms_days": rng.choice([30.0, 60.0], n),
        "country": pd.array(rng.choice(["DE", "FR"], n), dtype="string"),
    })
    frame["late"] = rng.uniform(0, 1, n) < 0.2 + 0.6 * late_share
    frame["leak"] = frame["late"].astype(float)  # a stray column that gives the label away
    model, _ = fit_risk_model(frame, TrainingConfig())
    assert model.features == ["late_share_all", "terms_days", "country"]
    assert model.categories == {"country": ["DE", "FR"]}
    grid = pd.DataFrame({"late_share_all": np.linspace(0, 1, 41), "terms_days": 30.0,
                         "country": pd.array(["DE"] * 41, dtype="string")})
    p = model.predict_proba(grid)
    assert np.all(np.diff(p) >= -1e-12)  # late_share_all is +1 in the catalog
    assert p[-1] > p[0]


@pytest.fixture(scope="module")
def tiny_ledger():
    ledger = ledger_from_frames(tiny_ledger_frames())
    yield ledger
    ledger.close()


def test_every_late_payment_input_is_defined_at_issue(tiny_ledger) -> None:
    at_issue = issue_examples(build_invoice_features(tiny_ledger))
    for name, value in values_at_issue().items():
        assert (at_issue[name] == value).all(), name
    terms = (at_issue["due_date"] - at_issue["issue_date"]).dt.days
    assert (at_issue["days_past_due"] == -terms).all()
    inputs = [s.name for s in model_inputs("snapshot")]
    assert set(inputs) <= set(at_issue.columns)
    snapshot = build_snapshot(tiny_ledger, at_issue["as_of"].max().date())
    assert feature_columns(at_issue) == [c for c in at_issue.columns if c in inputs]
    assert set(feature_columns(at_issue)) == set(feature_columns(snapshot))


def test_features_list_shows_the_metadata() -> None:
    result = CliRunner().invoke(app, ["features", "list", "--scope", "snapshot"],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for heading in ("type", "input", "monotone", "at issue"):
        assert heading in result.output
    assert "not available at" in result.output and "+1" in result.output
