"""The promotion gate: whether a newly trained version may become champion, and why.

In order, a version is promoted only if
1. its out-of-time validation holds at least `min_outcomes` examples of each outcome;
2. it beats the best baseline there: AUC higher by `auc_margin`, Brier score no worse (by more
   than `brier_margin`); a model that is itself a baseline rule (cross-validation chose it)
   need only match the best baseline: serving the best rule is never serving a loser;
3. there is no champion, or the champion was trained on another ledger and `--force` is given
   (without it, such a champion stays), or it beats the champion (higher AUC, Brier no worse)
   on the validation examples after both models' training windows.
Every verdict comes with its reason, in words, and the figures behind it (`checks`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from training.config import GateConfig
from training.fingerprint import customers_held
from training.tracking import MODEL_ROW


@dataclass(frozen=True)
class ChampionWindow:
    """The current champion and the validation rows after its training window, on which a
    new version is compared with it."""

    version: str
    customers_held: float | None
    """The share of the champion's customers this ledger holds; None when not recorded."""
    trained_before: str | None
    rows: pd.DataFrame


def champion_window(registry, name: str, judged: pd.DataFrame,  # noqa: ANN001
                    customer_ids: list[str]) -> ChampionWindow | None:
    """The champion of `name` in `registry` (None: there is none) and the `judged` rows dated
    on or after the end of its training window."""
    champion = registry.champion(name)
    if champion is None:
        return None
    tags = champion.tags
    trained_before = tags.get("trained_before")
    rows = judged
    if trained_before:
        rows = judged[judged["as_of"] >= pd.Timestamp(trained_before)]
    return ChampionWindow(str(champion.version), customers_held(tags, customer_ids),
                          trained_before, rows)


@dataclass(frozen=True)
class ChampionCheck:
    """The current champion as the gate sees it."""

    version: str
    customers_held: float | None
    """The share of the champion's customers this ledger holds; None when it was not
    recorded."""
    trained_before: str | None = None
    """The champion's training window ends before this day (None: not recorded)."""
    n_positive: int = 0
    n_negative: int = 0
    """Validation examples after both training windows, by outcome."""
    auc: float = math.nan
    brier: float = math.nan
    """The champion's metrics on those examples."""
    new_auc: float = math.nan
    new_brier: float = math.nan
    """The new version's metrics on the same examples."""
    error: str | None = None
    """Why the champion could not be scored, if it could not."""


@dataclass(frozen=True)
class Decision:
    """The gate's verdict on a version."""

    promote: bool
    reason: str
    checks: dict[str, float] = field(default_factory=dict)
    """The figures behind it, logged as `gate_*` metrics."""


def judge(
    comparison: pd.DataFrame, *, outcomes: tuple[str, str], champion: ChampionCheck | None,
    force: bool, config: GateConfig, is_baseline: bool = False,
) -> Decision:
    """The verdict on a model given its comparison with its baselines (`compare_models` rows:
    the model's row is `MODEL_ROW`) on its validation examples, and the champion.
    `is_baseline`: the model is one of the baseline rules, refitted (no margin over them)."""
    model = comparison.set_index("model").loc[MODEL_ROW]
    n_positive = int(round(model["base_rate"] * model["n"]))
    n_negative = int(model["n"]) - n_positive
    checks = {"n_positive": float(n_positive), "n_negative": float(n_negative)}
    if min(n_positive, n_negative) < config.min_outcomes:
        return Decision(False, f"too few validation examples to judge: {n_positive} "
                        f"{outcomes[0]} and {n_negative} {outcomes[1]}, the gate needs at "
                        f"least {config.min_outcomes} of each", checks)
    beaten = _against_best_baseline(comparison, model, config, checks, is_baseline)
    if not beaten.promote:
        return beaten
    if champion is None:
        return Decision(True, f"no champion yet; {beaten.reason}", checks)
    return _against_champion(champion, beaten.reason, force, config, checks)


def _against_best_baseline(
    comparison: pd.DataFrame, model: pd.Series, config: GateConfig, checks: dict[str, float],
    is_baseline: bool,
) -> Decision:
    baselines = comparison[(comparison["model"] != MODEL_ROW) & comparison["auc"].notna()]
    if baselines.empty:
        return Decision(True, "no baseline to beat", checks)
    best = baselines.loc[baselines["auc"].idxmax()]
    checks.update(auc_vs_baseline=float(model["auc"] - best["auc"]),
                  brier_vs_baseline=float(model["brier"] - best["brier"]))
    figures = (f"AUC {model['auc']:.4f} vs {best['auc']:.4f}, Brier {model['brier']:.4f} vs "
               f"{best['brier']:.4f} of the best baseline ({best['model']})")
    margin = 0.0 if is_baseline else config.auc_margin
    wins = (model["auc"] >= best["auc"] + margin
            and model["brier"] <= best["brier"] + config.brier_margin)
    if wins and is_baseline:
        return Decision(True, f"a baseline rule itself, as good as the best baseline: {figures}",
                        checks)
    if wins:
        return Decision(True, f"beats the best baseline: {figures}", checks)
    if is_baseline:
        return Decision(False, f"a baseline rule itself, worse than the best baseline: "
                        f"{figures}", checks)
    return Decision(False, f"does not beat the best baseline by the margin (AUC +"
                    f"{config.auc_margin:g}, Brier no worse): {figures}", checks)


def _other_ledger(
    name: str, held: float | None, baseline_reason: str, force: bool, config: GateConfig,
    checks: dict[str, float],
) -> Decision | None:
    """The verdict when the champion was trained on another ledger; None when it was not."""
    if held is not None:
        checks["champion_customers_held"] = held
    if held is None or held >= config.same_ledger_share:
        return None
    other = (f"{name} was trained on another ledger (this one holds {held:.0%} of its "
             "customers)")
    if force:
        return Decision(True, f"replaces {other} (--force); {baseline_reason}", checks)
    return Decision(False, f"{other}: kept it; --force replaces it. ({baseline_reason})",
                    checks)


def _against_champion(
    champion: ChampionCheck, baseline_reason: str, force: bool, config: GateConfig,
    checks: dict[str, float],
) -> Decision:
    name = f"champion v{champion.version}"
    other = _other_ledger(name, champion.customers_held, baseline_reason, force, config, checks)
    if other is not None:
        return other
    if champion.error is not None:
        return Decision(False, f"{name} could not be scored on this validation ({champion.error});"
                        " kept it", checks)
    window = f"after both training windows (from {champion.trained_before or 'the start'})"
    if min(champion.n_positive, champion.n_negative) < config.min_outcomes:
        return Decision(False, f"too few validation examples {window} to compare with {name}: "
                        f"{champion.n_positive} and {champion.n_negative} of each outcome, "
                        f"{config.min_outcomes} needed; kept it", checks)
    checks.update(champion_auc=champion.auc, champion_brier=champion.brier,
                  auc_vs_champion=champion.new_auc - champion.auc,
                  brier_vs_champion=champion.new_brier - champion.brier)
    better = champion.new_auc > champion.auc and champion.new_brier <= champion.brier
    verdict = "beats" if better else "does not beat"
    n = champion.n_positive + champion.n_negative
    return Decision(better, f"AUC {champion.new_auc:.4f} vs {champion.auc:.4f}, Brier "
                    f"{champion.new_brier:.4f} vs {champion.brier:.4f} on {n:,} validation "
                    f"examples {window}: {verdict} {name}", checks)


# --------------------------------------------------------------------- quantiles of days

COVERAGE_TOLERANCE = 0.07
"""A payment-date model's P10-P90 interval may hold its target share (80%) of validation
outcomes give or take this much."""


@dataclass(frozen=True)
class DaysChampion:
    """The current payment-date champion as the gate sees it."""

    version: str
    customers_held: float | None
    trained_before: str | None = None
    n: int = 0
    """Validation examples after both training windows."""
    mae: float = math.nan
    coverage: float = math.nan
    """The champion's MAE (days) and interval coverage on those examples."""
    new_mae: float = math.nan
    new_coverage: float = math.nan
    error: str | None = None


def judge_days(
    comparison: pd.DataFrame, *, champion: DaysChampion | None, force: bool, config: GateConfig,
    target: float, tolerance: float = COVERAGE_TOLERANCE,
) -> Decision:
    """The verdict on a model of days to payment (`mae`, `coverage` per row of `comparison`,
    the model's row `MODEL_ROW`): promoted only with at least `min_outcomes` validation
    examples, an MAE below every baseline's, its interval's coverage within `tolerance` of
    `target`, and then no champion, or one of another ledger with `--force`, or a lower MAE
    than the champion's (coverage within the tolerance) after both training windows."""
    table = comparison.set_index("model")
    model = table.loc[MODEL_ROW]
    checks = {"n": float(model["n"]), "mae": float(model["mae"]),
              "coverage": float(model["coverage"])}
    if model["n"] < config.min_outcomes:
        return Decision(False, f"too few validation examples to judge: {int(model['n'])}, the "
                        f"gate needs at least {config.min_outcomes}", checks)
    rules = table.drop(index=MODEL_ROW)
    best = rules["mae"].idxmin()
    checks["mae_vs_baseline"] = float(model["mae"] - rules.loc[best, "mae"])
    figures = (f"MAE {model['mae']:.2f} days vs {rules.loc[best, 'mae']:.2f} of the best rule "
               f"({best}); P10-P90 covers {model['coverage']:.1%} (target {target:.0%} "
               f"± {tolerance:.0%})")
    if model["mae"] >= rules.loc[best, "mae"]:
        return Decision(False, f"does not beat the best rule: {figures}", checks)
    if abs(model["coverage"] - target) > tolerance:
        return Decision(False, f"interval not calibrated: {figures}", checks)
    reason = f"beats the rules: {figures}"
    if champion is None:
        return Decision(True, f"no champion yet; {reason}", checks)
    name = f"champion v{champion.version}"
    other = _other_ledger(name, champion.customers_held, reason, force, config, checks)
    if other is not None:
        return other
    if champion.error is not None:
        return Decision(False, f"{name} could not be scored on this validation "
                        f"({champion.error}); kept it", checks)
    window = f"after both training windows (from {champion.trained_before or 'the start'})"
    if champion.n < config.min_outcomes:
        return Decision(False, f"too few validation examples {window} to compare with {name}: "
                        f"{champion.n}, {config.min_outcomes} needed; kept it", checks)
    checks.update(champion_mae=champion.mae, mae_vs_champion=champion.new_mae - champion.mae)
    better = (champion.new_mae < champion.mae
              and abs(champion.new_coverage - target) <= tolerance)
    verdict = "beats" if better else "does not beat"
    return Decision(better, f"MAE {champion.new_mae:.2f} vs {champion.mae:.2f} days, coverage "
                    f"{champion.new_coverage:.1%} vs {champion.coverage:.1%} on {champion.n:,} "
                    f"validation examples {window}: {verdict} {name}", checks)
