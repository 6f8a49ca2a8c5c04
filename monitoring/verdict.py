"""The verdict: `ok`, `warn` or `alert`, from the checks' figures and the thresholds.

Each check compares one figure with its warn and alert thresholds (`MonitoringConfig`); the
verdict is the worst level reached, and every check that reached warn or alert gives a
reason in words. Checks without a figure (quality before outcomes have matured) are skipped
and say so in `notes`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from monitoring.config import MonitoringConfig

Level = Literal["ok", "warn", "alert"]
LEVELS: tuple[Level, ...] = ("ok", "warn", "alert")


@dataclass(frozen=True)
class Reason:
    """One check that reached warn or alert."""

    check: str
    level: Level
    value: float
    threshold: float
    message: str


@dataclass
class Verdict:
    """The worst level reached, the reasons, and what could not be checked."""

    verdict: Level
    reasons: list[Reason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """For JSON: `verdict`, `reasons` (dicts), `notes`."""
        return {"verdict": self.verdict, "reasons": [asdict(r) for r in self.reasons],
                "notes": list(self.notes)}


def level_of(value: float, warn: float, alert: float | None) -> Level:
    """`alert` at or above `alert` (when set), `warn` at or above `warn`, else `ok`."""
    if alert is not None and value >= alert:
        return "alert"
    if value >= warn:
        return "warn"
    return "ok"


def _reason(check: str, value: float, warn: float, alert: float | None,
            text: str) -> Reason | None:
    level = level_of(value, warn, alert)
    if level == "ok":
        return None
    threshold = alert if level == "alert" and alert is not None else warn
    return Reason(check, level, round(float(value), 6), threshold,
                  f"{text} (≥ {threshold:g}: {level})")


def decide(
    *, config: MonitoringConfig, drifted_share: float, drifted_features: list[str],
    feature_psi: dict[str, float], score_psi: float, quality: dict,
    label_delay: dict | None = None,
) -> Verdict:
    """Apply every rule of `config` to the figures of one monitoring run (`label_delay`, when
    given, only adds a note on how much of the current window quality could see)."""
    reasons: list[Reason | None] = []
    notes: list[str] = []
    if label_delay and label_delay.get("immature"):
        notes.append(
            f"{label_delay['immature']:,} of {label_delay['rows']:,} current invoices "
            f"({1 - label_delay['matured_share']:.0%}) have not matured yet: quality covers "
            f"the rest; the scores expect {label_delay['expected_late_share']:.1%} of them "
            "to be paid late")
    top = ", ".join(drifted_features[:5]) + (", ..." if len(drifted_features) > 5 else "")
    reasons.append(_reason(
        "drifted_share", drifted_share, config.drifted_share_warn, config.drifted_share_alert,
        f"{drifted_share:.0%} of features drifted ({top})" if drifted_features
        else f"{drifted_share:.0%} of features drifted"))
    shifted = sorted(((v, k) for k, v in feature_psi.items()
                      if level_of(v, config.feature_psi_warn, config.feature_psi_alert) != "ok"),
                     reverse=True)
    if shifted:
        worst = shifted[0][0]
        names = ", ".join(f"{k} {v:.2f}" for v, k in shifted[:5])
        reasons.append(_reason(
            "feature_psi", worst, config.feature_psi_warn, config.feature_psi_alert,
            f"{len(shifted)} feature(s) with a large population shift, PSI {names}"
            + (", ..." if len(shifted) > 5 else "")))
    reasons.append(_reason("score_psi", score_psi, config.score_psi_warn,
                           config.score_psi_alert, f"score distribution moved, PSI "
                           f"{score_psi:.3f}"))
    if not quality.get("judged"):
        notes.append(f"quality not judged: fewer than {config.min_matured} matured invoices "
                     "with both outcomes in a window")
    else:
        ref, cur = quality["reference"], quality["current"]
        if quality["auc_drop"] is not None:
            reasons.append(_reason(
                "auc_drop", quality["auc_drop"], config.auc_drop_warn, config.auc_drop_alert,
                f"AUC {cur['auc']:.3f} vs {ref['auc']:.3f} in the reference"))
        reasons.append(_reason(
            "brier_rise", quality["brier_rise"], config.brier_rise_warn,
            config.brier_rise_alert,
            f"Brier score {cur['brier']:.3f} vs {ref['brier']:.3f} in the reference"))
    if quality.get("calibration_gap") is not None:
        gap = quality["calibration_gap"]
        cur = quality["current"]
        direction = "more" if gap > 0 else "fewer"
        reasons.append(_reason(
            "calibration_gap", abs(gap), config.calibration_gap_warn,
            config.calibration_gap_alert,
            f"{cur['base_rate']:.1%} of matured invoices paid late, {direction} than the "
            f"{cur['mean_p']:.1%} the scores expect"))
    kept = [r for r in reasons if r is not None]
    kept.sort(key=lambda r: -LEVELS.index(r.level))
    worst_level: Level = max((r.level for r in kept), key=LEVELS.index, default="ok")
    return Verdict(worst_level, kept, notes)
