"""Monitoring pieces on hand-made data: PSI, quality and label delay, the verdict's rules."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from monitoring.config import MonitoringConfig
from monitoring.psi import EMPTY_SHARE, population_stability, psi_from_counts
from monitoring.quality import label_delay, quality_comparison
from monitoring.verdict import decide, level_of


def _psi(reference: pd.DataFrame, current: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
    con = duckdb.connect()
    con.register("ref", reference)
    con.register("cur", current)
    return population_stability(con, "ref", "cur", **kwargs).set_index("column")


def test_numeric_psi_matches_the_hand_computed_value() -> None:
    # Two bins from the reference median (2): {<= 2} and {> 2}; the reference has half in
    # each, the current a quarter and three quarters. The missing bin is empty in both.
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    current = pd.DataFrame({"x": [1.0, 5.0, 6.0, 7.0]})
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    result = _psi(reference, current, numeric=["x"], n_bins=2)
    assert result.loc["x", "psi"] == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.274653, abs=1e-6)
    assert result.loc["x", "bins"] == 3  # two value bins and the missing bin


def test_categorical_psi_counts_unseen_and_missing_values_as_bins() -> None:
    reference = pd.DataFrame({"c": ["a", "a", "b", "b"]})
    current = pd.DataFrame({"c": ["a", "b", "b", "zz"]})
    # a: 0.5 -> 0.25; b: 0.5 -> 0.5; unseen: 0 (floored) -> 0.25; missing: empty in both.
    expected = ((0.25 - 0.5) * math.log(0.25 / 0.5)
                + (0.25 - EMPTY_SHARE) * math.log(0.25 / EMPTY_SHARE))
    result = _psi(reference, current, categorical=["c"])
    assert result.loc["c", "psi"] == pytest.approx(expected, abs=1e-12)


def test_psi_is_zero_for_the_same_rows_and_sees_missing_values() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["p", "q"], 2000)})
    same = _psi(frame, frame.sample(frac=1, random_state=1), numeric=["x"], categorical=["c"])
    assert same["psi"].abs().max() < 1e-12
    holes = frame.assign(x=frame["x"].where(frame.index % 2 == 0))  # half NaN
    assert _psi(frame, holes, numeric=["x"]).loc["x", "psi"] > 1.0


def test_psi_refuses_empty_tables_and_mismatched_counts() -> None:
    with pytest.raises(ValueError, match="empty table"):
        _psi(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": pd.Series([], dtype=float)}),
             numeric=["x"])
    with pytest.raises(ValueError, match="one length"):
        psi_from_counts([1, 2], [1, 2, 3])


def _window(matured: list[bool], late: list[float], score: list[float],
            settled: list[bool]) -> pd.DataFrame:
    return pd.DataFrame({"matured": matured, "late": late, "score": score,
                         "settled_by_end": settled})


def test_label_delay_figures() -> None:
    frame = _window([True, True, False, False, False, False],
                    [1.0, 0.0, np.nan, np.nan, np.nan, np.nan],
                    [0.5, 0.5, 0.1, 0.2, 0.3, 0.6],
                    [True, True, True, False, False, False])
    delay = label_delay(frame)
    assert delay["rows"] == 6 and delay["matured"] == 2 and delay["immature"] == 4
    assert delay["matured_share"] == pytest.approx(2 / 6)
    assert delay["expected_late_share"] == pytest.approx(0.3)  # mean of 0.1, 0.2, 0.3, 0.6
    assert delay["expected_late_invoices"] == pytest.approx(1.2)
    assert delay["paid_so_far_share"] == pytest.approx(0.25)
    assert delay["still_open_share"] == pytest.approx(0.75)
    assert delay["observed_late_share"] == pytest.approx(0.5)


def test_quality_is_judged_only_on_matured_rows_and_enough_of_them() -> None:
    rng = np.random.default_rng(3)
    score = rng.uniform(0.05, 0.6, 4000)
    late = (rng.uniform(size=4000) < score).astype(float)
    reference = _window([True] * 4000, list(late), list(score), [True] * 4000)
    # Current: same scores, but twice as many late; its immature rows carry no label.
    late_now = (rng.uniform(size=4000) < np.minimum(score * 2, 1)).astype(float)
    matured = np.arange(4000) < 3000
    current = _window(list(matured), list(np.where(matured, late_now, np.nan)), list(score),
                      [True] * 4000)
    quality = quality_comparison(reference, current, min_matured=300)
    assert quality["judged"]
    assert quality["current"]["n"] == 3000
    assert quality["calibration_gap"] == pytest.approx(
        late_now[:3000].mean() - score[:3000].mean())
    assert quality["calibration_gap"] > 0.2
    assert quality["brier_rise"] > 0.05
    too_few = quality_comparison(reference, current, min_matured=3001)
    assert not too_few["judged"] and too_few["auc_drop"] is None


QUIET = {"judged": True, "auc_drop": 0.01, "brier_rise": 0.005, "calibration_gap": 0.01,
         "reference": {"auc": 0.76, "brier": 0.16, "base_rate": 0.27, "mean_p": 0.26},
         "current": {"auc": 0.75, "brier": 0.165, "base_rate": 0.27, "mean_p": 0.26}}


def _decide(config: MonitoringConfig | None = None, **changes: object) -> object:
    figures = {"drifted_share": 0.1, "drifted_features": ["a"], "feature_psi": {"a": 0.05},
               "score_psi": 0.01, "quality": QUIET}
    figures.update(changes)
    return decide(config=config or MonitoringConfig(), **figures)


def test_verdict_is_ok_when_nothing_moved() -> None:
    verdict = _decide()
    assert verdict.verdict == "ok" and verdict.reasons == [] and verdict.notes == []


@pytest.mark.parametrize(("changes", "check", "level"), [
    ({"score_psi": 0.12}, "score_psi", "warn"),
    ({"score_psi": 0.3}, "score_psi", "alert"),
    ({"quality": {**QUIET, "auc_drop": 0.06}}, "auc_drop", "warn"),
    ({"quality": {**QUIET, "auc_drop": 0.12}}, "auc_drop", "alert"),
    ({"quality": {**QUIET, "brier_rise": 0.05}}, "brier_rise", "alert"),
    ({"quality": {**QUIET, "calibration_gap": -0.04}}, "calibration_gap", "warn"),
    ({"quality": {**QUIET, "calibration_gap": 0.07}}, "calibration_gap", "alert"),
    ({"drifted_share": 0.9}, "drifted_share", "warn"),
    ({"feature_psi": {"a": 3.0, "b": 0.3}}, "feature_psi", "warn"),
])
def test_each_rule_reaches_its_level(changes: dict, check: str, level: str) -> None:
    verdict = _decide(**changes)
    assert verdict.verdict == level
    assert [(r.check, r.level) for r in verdict.reasons] == [(check, level)]


def test_verdict_is_the_worst_level_with_alerts_listed_first() -> None:
    verdict = _decide(drifted_share=0.9, quality={**QUIET, "calibration_gap": 0.1})
    assert verdict.verdict == "alert"
    assert [r.level for r in verdict.reasons] == ["alert", "warn"]
    assert "more than the 26.0% the scores expect" in verdict.reasons[0].message


def test_feature_drift_alerts_only_when_configured() -> None:
    config = MonitoringConfig(drifted_share_alert=0.8, feature_psi_alert=1.0)
    assert _decide(config, drifted_share=0.9).verdict == "alert"
    assert _decide(config, feature_psi={"a": 1.5}).verdict == "alert"
    assert _decide(feature_psi={"a": 1.5}).verdict == "warn"


def test_quality_not_judged_is_a_note_not_a_verdict() -> None:
    verdict = _decide(quality={"judged": False, "calibration_gap": None})
    assert verdict.verdict == "ok" and "quality not judged" in verdict.notes[0]


def test_levels_and_config_checks() -> None:
    assert level_of(0.1, 0.1, 0.2) == "warn" and level_of(0.2, 0.1, 0.2) == "alert"
    assert level_of(5.0, 0.1, None) == "warn" and level_of(0.05, 0.1, None) == "ok"
    with pytest.raises(ValidationError, match="auc_drop_alert"):
        MonitoringConfig(auc_drop_warn=0.2, auc_drop_alert=0.1)
    with pytest.raises(ValidationError):
        MonitoringConfig(unknown_threshold=1)


def test_unmatured_invoices_are_noted_not_judged() -> None:
    delay = {"rows": 100, "immature": 25, "matured_share": 0.75,
             "expected_late_share": 0.331}
    verdict = _decide(label_delay=delay)
    assert verdict.verdict == "ok"
    assert verdict.notes == ["25 of 100 current invoices (25%) have not matured yet: quality "
                             "covers the rest; the scores expect 33.1% of them to be paid late"]
    assert _decide(label_delay={**delay, "immature": 0}).notes == []
