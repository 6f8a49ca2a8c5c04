"""Typed configuration of a training run; every field documents itself."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LightGBMParams(BaseModel):
    """Booster settings (LightGBM names). The defaults (small trees, large leaves, half the
    features per tree) were chosen on generated ledgers of 12k to 200k invoices, where they
    generalized best out of time."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    learning_rate: float = Field(0.05, gt=0, le=1)
    """Shrinkage per boosting round."""
    num_leaves: int = Field(15, ge=2)
    """Maximum leaves per tree."""
    max_depth: int = Field(-1, ge=-1)
    """Maximum depth of a tree (-1: no limit beyond the leaves)."""
    min_child_samples: int = Field(200, ge=1)
    """Minimum examples in a leaf; larger values smooth the probabilities."""
    feature_fraction: float = Field(0.5, gt=0, le=1)
    """Share of features each tree may use."""
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    """Share of rows each tree sees (with bagging_freq 1)."""
    lambda_l2: float = Field(1.0, ge=0)
    """L2 regularization of leaf values."""
    max_rounds: int = Field(2000, ge=1)
    """Upper bound on boosting rounds; early stopping usually ends sooner."""
    early_stopping_rounds: int = Field(50, ge=1)
    """Stop when the time-ordered inner validation log loss has not improved for this many
    rounds."""
    unsplit_rounds: int = Field(200, ge=1)
    """Rounds when the examples span a single date and so leave no later slice to stop
    early on (a short ledger, an early cross-validation fold)."""
    num_threads: int = Field(2, ge=1)
    """Threads; fixed so that results do not depend on the machine's core count."""


class GateConfig(BaseModel):
    """When a newly trained version becomes champion (`o2c train`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    auc_margin: float = Field(0.005, ge=0, le=1)
    """It must beat the best baseline's validation AUC by at least this much."""
    brier_margin: float = Field(0.0, ge=0, le=1)
    """Its validation Brier score may exceed the best baseline's by at most this much."""
    min_outcomes: int = Field(30, ge=1)
    """Validation examples needed of each outcome (e.g. late and on time) to judge it."""
    same_ledger_share: float = Field(0.5, gt=0, le=1)
    """A champion counts as trained on this ledger when this ledger holds at least this share
    of its customers; else it is replaced only with `--force`."""


class CandidatesConfig(BaseModel):
    """How the model family is chosen: candidates scored by rolling-origin cross-validation
    inside the training period (`training.candidates`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    folds: int = Field(4, ge=1, le=10)
    """Folds; each trains on earlier dates and scores the next slice of dates."""
    scored_share: float = Field(0.5, gt=0, lt=1)
    """The latest share of training examples (by date) the folds score, in equal slices."""
    max_fold_rows: int = Field(30_000, ge=1000)
    """A fold trains on at most this many rows (seeded sample), which bounds the time
    cross-validation takes on large ledgers."""
    linear_c: tuple[float, ...] = Field((0.01, 1.0), min_length=1)
    """Inverse L2 strengths of the logistic-regression candidates on every input."""
    explain_budget: int | None = Field(10_000, ge=1)
    """Serving budget of a LightGBM candidate of a model the API explains per request (the
    late-payment model; None: no budget): the steps its reason codes take per row
    (`models.risk_model.tree_costs`: for trees of at most 14 splits, explained by look-up in
    `models.treeshap`, a step per split, per feature split on and per 1,024 values of the
    tables the look-up holds; for larger trees LightGBM's TreeSHAP, each leaf's depth
    squared). A candidate that needs more trees is fitted again with larger steps, then
    keeps only its first trees within it, in cross-validation and refit alike, so the model
    chosen is the one served (`training.candidates`). At 10,000 the acceptance ledger's
    champion is 44 trees of 15 leaves (AUC 0.960 of the ground truth's; 58 MB of tables,
    3-4 ms for 1,000 invoices' contributions); 20,000 gave 103 trees at a smaller step and
    0.959; counting the look-up without its tables let 360 trees through (0.963), with
    480 MB of tables and 50 ms per 1,000 invoices (docs/modelling.md)."""


class TrainingConfig(BaseModel):
    """How examples are built and the model is fitted."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    grace_days: int = Field(0, ge=0)
    """An invoice is late when it is settled more than this many days after its due date."""
    snapshot_every_days: int = Field(28, ge=1)
    """Spacing of the as-of dates at which open, not yet overdue invoices become extra
    training examples (so the model also scores invoices that are days or weeks old)."""
    snapshot_max_dates: int = Field(12, ge=0)
    """At most this many snapshot dates (the latest ones) feed training; 0 disables them.
    Validation uses at most a quarter as many (enough to judge invoices by age)."""
    max_train_rows: int = Field(1_000_000, ge=1000)
    """Larger training sets are sampled down to this many rows (seeded, all dates kept), which
    bounds time and memory on big ledgers while costing little accuracy."""
    inner_valid_share: float = Field(0.2, gt=0, lt=0.5)
    """The latest share of the training period used for early stopping and calibration."""
    calibration_min_gain: float = Field(0.002, ge=0)
    """Platt calibration is kept only when it lowers the inner expected calibration error by
    at least this much."""
    seed: int = 0
    """Seed for LightGBM; the same ledger, configuration and seed give the same model."""
    lightgbm: LightGBMParams = Field(default_factory=LightGBMParams)
    """Booster settings."""
    gate: GateConfig = Field(default_factory=GateConfig)
    """The promotion gate."""
    candidates: CandidatesConfig = Field(default_factory=CandidatesConfig)
    """The candidate models and their cross-validation."""
