"""Model tasks and the promotion gate's rules, without training (fast)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from training.config import GateConfig
from training.fingerprint import customers_fingerprint, customers_held
from training.gate import ChampionCheck, judge
from training.tasks import TASKS, task_named
from training.tracking import MODEL_ROW

GATE = GateConfig()


def comparison(model_auc: float, model_brier: float, *, n: int = 200, base_rate: float = 0.3,
               baselines: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    rows = {MODEL_ROW: (model_auc, model_brier),
            **(baselines or {"late_share": (0.70, 0.20), "logistic": (0.72, 0.19)})}
    return pd.DataFrame([{"model": name, "auc": auc, "brier": brier, "n": n,
                          "base_rate": base_rate} for name, (auc, brier) in rows.items()])


def champion(**fields: object) -> ChampionCheck:
    values = {"version": "1", "customers_held": 1.0, "trained_before": "2025-01-01",
              "n_positive": 60, "n_negative": 140, "auc": 0.74, "brier": 0.18,
              "new_auc": 0.75, "new_brier": 0.17, **fields}
    return ChampionCheck(**values)


def decide(table: pd.DataFrame, check: ChampionCheck | None = None, *, force: bool = False):
    return judge(table, outcomes=("late", "on time"), champion=check, force=force, config=GATE)


def test_every_task_names_its_own_label_score_and_registry_name() -> None:
    assert [t.name for t in TASKS] == ["late-payment-risk", "collections-risk",
                                       "serious-delinquency", "payment-date"]
    assert len({t.label for t in TASKS}) == len(TASKS)  # `late` means one thing
    assert len({t.score for t in TASKS}) == len(TASKS)
    for task in TASKS:  # a task of its own kind (payment dates) brings its own rules
        assert (task.baselines or task.kind) and task.titles.roc and task.maturity
        assert task_named(task.name) is task
    with pytest.raises(LookupError, match="unknown model 'nope'; the models are"):
        task_named("nope")


def test_too_few_validation_outcomes_promote_nothing_and_say_why() -> None:
    decision = decide(comparison(0.95, 0.05, n=12, base_rate=0.25))
    assert not decision.promote
    assert decision.reason == ("too few validation examples to judge: 3 late and 9 on time, "
                               "the gate needs at least 30 of each")


@pytest.mark.parametrize(("auc", "brier"), [(0.724, 0.15), (0.80, 0.191), (0.70, 0.25)])
def test_a_model_that_does_not_beat_the_best_baseline_by_the_margin_is_kept_out(
    auc: float, brier: float
) -> None:
    decision = decide(comparison(auc, brier))
    assert not decision.promote
    assert decision.reason.startswith("does not beat the best baseline by the margin")
    assert "of the best baseline (logistic)" in decision.reason
    assert decision.checks["auc_vs_baseline"] == pytest.approx(auc - 0.72)


def test_the_first_model_that_beats_the_baselines_becomes_champion() -> None:
    decision = decide(comparison(0.725, 0.19))
    assert decision.promote and decision.reason.startswith("no champion yet; beats the best")


def test_a_champion_of_another_ledger_stays_unless_forced() -> None:
    other = champion(customers_held=0.0)
    kept = decide(comparison(0.80, 0.15), other)
    assert not kept.promote
    assert "champion v1 was trained on another ledger (this one holds 0% of its customers)" \
        in kept.reason and "--force replaces it" in kept.reason
    forced = decide(comparison(0.80, 0.15), other, force=True)
    assert forced.promote and "(--force)" in forced.reason
    # --force never lets a loser in
    assert not decide(comparison(0.60, 0.25), other, force=True).promote


def test_challenger_and_champion_are_compared_after_both_training_windows() -> None:
    better = decide(comparison(0.80, 0.15), champion())
    assert better.promote
    assert "on 200 validation examples after both training windows (from 2025-01-01): " \
           "beats champion v1" in better.reason
    worse = decide(comparison(0.80, 0.15), champion(new_auc=0.73))
    assert not worse.promote and "does not beat champion v1" in worse.reason
    unjudgeable = decide(comparison(0.80, 0.15), champion(n_positive=4, auc=math.nan))
    assert not unjudgeable.promote and "too few validation examples after both" in \
        unjudgeable.reason
    broken = decide(comparison(0.80, 0.15), champion(error="lacks booster.txt"))
    assert not broken.promote and "could not be scored" in broken.reason


def test_the_customer_fingerprint_tells_a_later_export_from_another_ledger() -> None:
    ids = [f"C{i:05d}" for i in range(1000)]
    tags = customers_fingerprint(ids)
    assert customers_held(tags, ids) == 1.0
    assert customers_held(tags, [*ids, "C99999"]) == 1.0  # a new customer: same books
    assert customers_held(tags, ids[:500]) == pytest.approx(0.5, abs=0.2)
    assert customers_held(tags, [f"X{i:05d}" for i in range(1000)]) == 0.0
    assert customers_held({}, ids) is None


def test_a_baseline_rule_chosen_as_the_model_only_has_to_match_the_best_baseline() -> None:
    """Cross-validation may choose the logistic baseline itself: serving it is no loss."""
    same = comparison(0.72, 0.185)
    assert not decide(same).promote  # another model would need the margin
    matched = judge(same, outcomes=("late", "on time"), champion=None, force=False,
                    config=GATE, is_baseline=True)
    assert matched.promote and "a baseline rule itself, as good as the best" in matched.reason
    worse = judge(comparison(0.70, 0.185), outcomes=("late", "on time"), champion=None,
                  force=False, config=GATE, is_baseline=True)
    assert not worse.promote and "worse than the best baseline" in worse.reason
