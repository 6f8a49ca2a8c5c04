"""Typed monitoring settings: the thresholds behind `ok`, `warn` and `alert`, and the sample.

Every check has a `warn` and an `alert` threshold; the verdict is the worst level any check
reaches. The defaults were chosen on generated ledgers (`o2c generate --shock-month`): after
a macro shock the matured late share runs 10-15 points above the calibrated scores and the
Brier score rises by 0.05-0.07, while a stable period six to twelve months after a reference
window moves them by under 0.01. Feature drift alone only warns by default: history features
(settled invoices, promises, tenure) grow with the age of the book, so many drift between any
two periods a year apart without the model getting worse.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MonitoringConfig(BaseModel):
    """Thresholds of the drift and quality checks, and how much data Evidently sees."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    drifted_share_warn: float = Field(0.6, gt=0, le=1)
    """Warn when at least this share of the features fails Evidently's drift test (on the
    sample; Wasserstein distance for numbers, Jensen-Shannon for categories, each at 0.1)."""
    drifted_share_alert: float | None = Field(None, gt=0, le=1)
    """Alert at this share of drifted features; None: feature drift never alerts by itself."""
    feature_psi_warn: float = Field(0.25, gt=0)
    """Warn when a feature's population stability index (exact, all rows) reaches this
    (0.25 is the usual mark of a large shift)."""
    feature_psi_alert: float | None = Field(None, gt=0)
    """Alert when a feature's PSI reaches this; None: a single feature never alerts."""
    score_psi_warn: float = Field(0.1, gt=0)
    """Warn when the PSI of the champion's scores reaches this (prediction drift)."""
    score_psi_alert: float = Field(0.25, gt=0)
    """Alert when the PSI of the champion's scores reaches this."""
    auc_drop_warn: float = Field(0.05, gt=0)
    """Warn when ROC AUC on matured current invoices is this much below the reference's.
    The reference is often the training window, where AUC runs ~0.03 higher."""
    auc_drop_alert: float = Field(0.10, gt=0)
    """Alert at this drop of ROC AUC."""
    brier_rise_warn: float = Field(0.02, gt=0)
    """Warn when the Brier score on matured current invoices is this much above the
    reference's."""
    brier_rise_alert: float = Field(0.04, gt=0)
    """Alert at this rise of the Brier score."""
    calibration_gap_warn: float = Field(0.03, gt=0)
    """Warn when the observed late share of matured current invoices differs from their mean
    calibrated score by this much (absolute, in share points)."""
    calibration_gap_alert: float = Field(0.06, gt=0)
    """Alert at this calibration gap. Amounts at risk are open amount x probability, so a
    gap of 6 points misstates them by a fifth at a late share of 30%."""
    min_matured: int = Field(300, ge=1)
    """Quality is judged only with at least this many matured invoices (and both outcomes) in
    the current window; with fewer, the quality checks are skipped and the summary says so."""
    sample_rows: int = Field(5000, ge=100)
    """Rows per window given to Evidently (seeded sample; all rows when fewer). The PSI
    always uses every row; Evidently's cost grows with rows and columns, see benchmarks."""
    psi_bins: int = Field(10, ge=2, le=100)
    """Quantile bins of the reference for numeric PSI."""
    seed: int = 0
    """Seed of the Evidently samples: the same inputs give the same summary."""
    experiment: str = "o2c-monitoring"
    """MLflow experiment of the monitoring runs."""

    @model_validator(mode="after")
    def _ordered(self) -> MonitoringConfig:
        pairs = [("drifted_share", self.drifted_share_warn, self.drifted_share_alert),
                 ("feature_psi", self.feature_psi_warn, self.feature_psi_alert),
                 ("score_psi", self.score_psi_warn, self.score_psi_alert),
                 ("auc_drop", self.auc_drop_warn, self.auc_drop_alert),
                 ("brier_rise", self.brier_rise_warn, self.brier_rise_alert),
                 ("calibration_gap", self.calibration_gap_warn, self.calibration_gap_alert)]
        for name, warn, alert in pairs:
            if alert is not None and alert < warn:
                raise ValueError(f"{name}_alert ({alert}) must not be below {name}_warn "
                                 f"({warn})")
        return self
