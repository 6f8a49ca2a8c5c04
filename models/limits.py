"""The credit-limit policy: a limit that follows the customer's need, scaled by risk.

The policy works in each customer's own currency, which is what an ERP holds: need, cap,
rounding and the change per review are in it (converted from the reporting-currency
features `credit_limit_base`, `invoiced_amount_base_365d` of `build_customer_features` by the
customer's `rate`, 1 without one); the output gives every limit in both currencies
(`current_limit`, `recommended_limit`, `change` in the reporting currency, comparable across
customers; `current_limit_local`, `recommended_limit_local` in `currency`).

Per customer, with p its probability of serious delinquency (an invoice 90+ days past due
within 12 months: `p` on "the design's scale"):

1. need = expected monthly sales x (payment terms + buffer days) / 30, where monthly sales
   are the amount invoiced over the last 365 days, or over the tenure when shorter (at least
   `min_sales_window_days`), scaled to 365/12 days;
2. grade A..E from p (`grade_thresholds`), target = need x the grade's scale;
3. capped so that p x limit x LGD stays within the expected-loss budget;
4. rounded down to `rounding_unit` (so the cap holds), then the change against the current
   limit clipped to [`max_decrease`, `max_increase`] per review (none without a current limit).

The customer model may have learnt another label (`SeriousLabel`: on short ledgers a shorter
horizon, on ledgers without 90+ days past due a lower threshold; `training.delinquency`).
Its probability q is put on the design's scale before grading (`design_probability`): for
90+ days past due within H days, p = 1 - (1 - q)^(365/H) (the same monthly hazard over 12
months); for a lower threshold, which says how a customer compares with the others rather
than how likely a default is, p = q / (the label's base rate in training) x
`reference_serious_rate` (capped at 1). Without any customer model (`rule_probability`),
the grade follows the customer's oldest overdue amount by a fixed rule. Either way the
reasons say what the probability is of.

A customer whose current limit is unknown (empty `credit_limit`: most exports hold none) is
recommended the limit of need and risk alone; its change is unknown (NaN) and its reasons and
review flag say so.

Customers already 90+ days past due (`overdue_90_plus_amount > 0`) are outside the model's
population: they are graded E and put on credit hold, recommended limit 0 whatever the
change per review: no new credit until the overdue invoices are paid (what they owe stays
owed; a credit manager releases the hold). Customers without sales in the last 365 days have
no measurable need: they keep their current limit. Every step is non-increasing in p, so a
riskier customer never gets a higher limit than an otherwise equal safer one.

The review queue: `review_reasons` lists what calls for a credit manager's look; of the
customers with one, those already 90+ days past due and then the largest changes in expected
loss (`expected_loss_change` = p x LGD x (recommended limit - the larger of the current
limit and the open balance), in the reporting currency) are flagged (`review_flag`, ranked
by `review_rank`): at most `review_max_share` of the customers, or all the credit holds
when they are more.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

GRADES: tuple[str, ...] = ("A", "B", "C", "D", "E")
OUTPUT_COLUMNS: tuple[str, ...] = (
    "customer_id", "current_limit", "recommended_limit", "change", "change_pct", "utilization",
    "grade", "probability", "reasons", "review_flag", "review_reasons", "currency",
    "current_limit_local", "recommended_limit_local", "review_rank", "expected_loss_change",
    "model_probability", "probability_of",
)
SERIOUS_DPD = 90
"""Days past due of serious delinquency: the design's threshold and the credit hold's."""
YEAR_DAYS = 365
RULE_TEXT = ("no customer model: graded by the oldest overdue amount (none: B, 1-30 days: C, "
             "31-60: D, 61+: E)")
"""The rule-based grades of `rule_probability`, in words."""


@dataclass(frozen=True)
class SeriousLabel:
    """What a customer model's probability is of: an invoice more than `dpd` days past due
    within `days` after the date (the design's: 90 within 365)."""

    days: int = YEAR_DAYS
    dpd: int = SERIOUS_DPD

    @property
    def text(self) -> str:
        """In words: 'an invoice 90+ days past due within 12 months'."""
        return f"an invoice {self.dpd}+ days past due within {round(self.days / 30.4)} months"

    @property
    def metadata(self) -> dict[str, object]:
        """What a model and its run record of the label."""
        return {"horizon_days": self.days, "serious_dpd": self.dpd, "label_text": self.text}

    @classmethod
    def of(cls, metadata: Mapping[str, object]) -> SeriousLabel:
        """The label in a model's metadata (the design's when not recorded: models trained
        before labels were chosen)."""
        return cls(int(metadata.get("horizon_days", YEAR_DAYS)),
                   int(metadata.get("serious_dpd", SERIOUS_DPD)))


DESIGN_LABEL = SeriousLabel()


class LimitsConfig(BaseModel):
    """Settings of the credit-limit policy (`rounding_unit` in each customer's currency,
    `loss_budget_amount` in the reporting currency)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    grade_thresholds: tuple[float, float, float, float] = (0.01, 0.03, 0.07, 0.15)
    """Upper bounds of the probability of serious delinquency for grades A, B, C and D
    (increasing); higher probabilities are grade E."""
    grade_scale: tuple[float, float, float, float, float] = (1.25, 1.1, 0.9, 0.6, 0.3)
    """Limit as a multiple of the need for grades A..E (non-increasing)."""
    buffer_days: float = Field(90.0, ge=0)
    """Days of sales added to the payment terms in the need (invoices issued while earlier
    ones are still being paid, seasonal peaks, modest delays). With the generator's payment
    calendars 60 days left the customers who did not go bad with 0.84 of their limits on
    the back-test of 2025-06-01 (seed 11), below the 0.9 they should keep."""
    min_sales_window_days: int = Field(90, ge=1, le=365)
    """Shortest window for the monthly sales of customers with less than 365 days of tenure."""
    loss_given_default: float = Field(0.6, gt=0, le=1)
    """Share of the exposure lost when a customer defaults."""
    loss_budget_share: float | None = Field(0.01, gt=0)
    """Expected-loss budget per customer as a share of its need (None = no such budget)."""
    loss_budget_amount: float | None = Field(None, gt=0)
    """Absolute expected-loss budget per customer (None = none); with both, the smaller."""
    rounding_unit: float = Field(500.0, gt=0)
    """Recommended limits are multiples of this amount (targets are rounded down)."""
    max_decrease: float = Field(-1.0, ge=-1, le=0)
    """Largest cut per review as a share of the current limit (-1 = none: the expected-loss
    cap may take a limit to zero in one review; such a cut is flagged for review as a change
    of 50% or more). On generated ledgers with payment calendars a floor of -75% (or -90%)
    left the customers who later go bad with more than 0.6 of the others' share of their
    limits on the back-test of 2025-06-01 (seed 11): 0.69 (0.61)."""
    max_increase: float = Field(0.5, ge=0)
    """Largest rise per review as a share of the current limit (rises of 50% or more are
    flagged for review by the default `review_change_pct`). On generated ledgers +25% left
    the good customers' total below 90% of their current one at some review dates, because
    the expected-loss cap cuts some of them while the rise of the others was clipped."""
    review_utilization: float = Field(1.0, gt=0)
    """Flag for review when the open balance exceeds this share of the current limit."""
    review_grade_drop: int = Field(2, ge=1)
    """Flag for review when the grade is this many steps worse than the previous grade."""
    review_change_pct: float = Field(0.5, gt=0)
    """Flag for review when the recommended change is at least this share of the limit."""
    review_max_share: float = Field(0.15, ge=0, le=1)
    """At most this share of the customers is flagged for review: those already 90+ days past
    due (always, even when they are more), then those with the largest change in expected
    loss. On the generated acceptance ledger two thirds had a reason, mostly a rise to the
    +50% cap: too many to work."""
    reference_serious_rate: float = Field(0.05, gt=0, lt=1)
    """The share of customers with an invoice 90+ days past due within 12 months assumed for a
    portfolio whose model learnt a lower threshold (a ledger without 90+ days past due): its
    probabilities become this rate x the customer's risk relative to the average."""

    @model_validator(mode="after")
    def _ordered(self) -> LimitsConfig:
        thresholds, scale = self.grade_thresholds, self.grade_scale
        if any(not 0 < t < 1 for t in thresholds) or list(thresholds) != sorted(set(thresholds)):
            raise ValueError("grade_thresholds must be strictly increasing probabilities in "
                             f"(0, 1), got {thresholds}")
        rising = any(a < b for a, b in zip(scale[:-1], scale[1:], strict=True))
        if any(s < 0 for s in scale) or rising:
            raise ValueError(f"grade_scale must be non-negative and non-increasing from A to "
                             f"E (a riskier grade never gets more), got {scale}")
        return self


def grade_of(probability: np.ndarray, config: LimitsConfig) -> np.ndarray:
    """Grade letters A..E of probabilities (thresholds are upper bounds, exclusive)."""
    index = np.searchsorted(np.asarray(config.grade_thresholds), probability, side="right")
    return np.asarray(GRADES, dtype=object)[index]


def monthly_sales(customers: pd.DataFrame, config: LimitsConfig) -> np.ndarray:
    """Expected monthly sales: invoiced over the last 365 days (or the shorter tenure)."""
    invoiced = customers["invoiced_amount_base_365d"].fillna(0.0).to_numpy(dtype=float)
    tenure = customers["tenure_days"].to_numpy(dtype=float) if "tenure_days" in customers \
        else np.full(len(customers), 365.0)
    window = np.clip(np.nan_to_num(tenure, nan=365.0), config.min_sales_window_days, 365.0)
    return invoiced / window * (365.0 / 12.0)


def need_of(customers: pd.DataFrame, config: LimitsConfig) -> np.ndarray:
    """Monthly sales x (payment terms + buffer) / 30 days."""
    terms = customers["payment_terms_days"].fillna(30.0).to_numpy(dtype=float)
    return monthly_sales(customers, config) * (terms + config.buffer_days) / 30.0


def loss_cap(probability: np.ndarray, need: np.ndarray, config: LimitsConfig) -> np.ndarray:
    """The largest limit with p x limit x LGD within the budget (inf when no budget binds)."""
    budget = np.full(len(need), np.inf)
    if config.loss_budget_share is not None:
        budget = np.minimum(budget, config.loss_budget_share * need)
    if config.loss_budget_amount is not None:
        budget = np.minimum(budget, config.loss_budget_amount)
    loss_rate = np.asarray(probability, dtype=float) * config.loss_given_default
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(loss_rate > 0, budget / loss_rate, np.inf)


def change_bounds(current: np.ndarray, config: LimitsConfig) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest limit allowed this review, on the rounding grid (inf without a
    current limit)."""
    unit = config.rounding_unit
    has_limit = np.nan_to_num(current, nan=0.0) > 0
    low = np.where(has_limit, np.ceil(current * (1 + config.max_decrease) / unit) * unit, 0.0)
    high = np.where(has_limit, np.floor(current * (1 + config.max_increase) / unit) * unit,
                    np.inf)
    return low, np.maximum(high, low)


def design_probability(
    probability: np.ndarray, label: SeriousLabel, base_rate: float | None,
    config: LimitsConfig,
) -> np.ndarray:
    """Probabilities of `label` on the design's scale (90+ days past due within 12 months; see
    the module docstring); `base_rate` is the label's share in training (needed below 90+)."""
    q = np.asarray(probability, dtype=float)
    if label.dpd >= SERIOUS_DPD:
        return q if label.days == YEAR_DAYS else 1.0 - (1.0 - q) ** (YEAR_DAYS / label.days)
    if base_rate is None or not 0 < base_rate < 1:
        raise ValueError(f"a model of {label.text} needs its training base rate to be "
                         f"graded, got {base_rate}")
    return np.clip(q / base_rate * config.reference_serious_rate, 0.0, 1.0)


def rule_probability(customers: pd.DataFrame, config: LimitsConfig) -> np.ndarray:
    """Without a customer model: grade B, C, D or E by the oldest overdue amount (none, 1-30,
    31-60, 61+ days; `RULE_TEXT`), each as the middle of its grade's probability band."""
    bounds = (0.0, *config.grade_thresholds, min(1.0, 2 * config.grade_thresholds[-1]))
    middle = [(low + high) / 2 for low, high in zip(bounds[:-1], bounds[1:], strict=True)]
    grade = np.full(len(customers), GRADES.index("B"))
    for step, column in enumerate(("overdue_1_30_amount", "overdue_31_60_amount",
                                   "overdue_61_90_amount", "overdue_90_plus_amount")):
        if column in customers:
            owed = customers[column].fillna(0.0).to_numpy(dtype=float) > 0
            grade = np.where(owed, np.maximum(grade, min(step + 2, 4)), grade)
    return np.asarray(middle)[grade]


def recommend_limits(
    customers: pd.DataFrame, probability: np.ndarray, *, config: LimitsConfig,
    reasons: list[dict] | None = None, previous_grades: pd.Series | None = None,
    label: SeriousLabel = DESIGN_LABEL, base_rate: float | None = None,
    probability_of: str | None = None,
) -> pd.DataFrame:
    """One recommendation per customer, ordered by customer_id (see the module docstring).

    `customers` is a `build_customer_features` frame, `probability` the customer model's
    probability of `label` per row (`base_rate`: the label's share in training, needed below
    90+ days past due), `reasons` the optional `models.reasons.reason_codes` per row and
    `previous_grades` the last review's grade letter by customer_id. `probability_of` says
    what the probabilities are of when they do not come from a model (`RULE_TEXT`).
    """
    model_probability = np.asarray(probability, dtype=float)
    if len(model_probability) != len(customers):
        raise ValueError(f"{len(model_probability)} probabilities for {len(customers)} "
                         "customers")
    if not np.all((model_probability >= 0) & (model_probability <= 1)):
        raise ValueError("probabilities must lie in [0, 1]")
    if reasons is not None and len(reasons) != len(customers):
        raise ValueError(f"{len(reasons)} reason entries for {len(customers)} customers")
    scaled = model_probability if probability_of else design_probability(
        model_probability, label, base_rate, config)
    current = customers["credit_limit_base"].to_numpy(dtype=float)
    unknown = np.isnan(current)
    rate, local = _local(customers, current)
    already = _already_serious(customers)
    probability = np.where(already, 1.0, scaled)
    grades = grade_of(probability, config)
    need = need_of(customers, config) / rate
    scale = np.asarray(config.grade_scale)[np.searchsorted(
        np.asarray(config.grade_thresholds), probability, side="right")]
    cap = loss_cap(probability, need * rate, config) / rate
    target = np.minimum(need * scale, cap)
    unit = config.rounding_unit
    rounded = np.floor(target / unit) * unit
    low, high = change_bounds(local, config)
    no_sales = need <= 0
    recommended_local = np.where(no_sales & ~unknown, local, np.clip(rounded, low, high))
    recommended_local = np.where(already, 0.0, recommended_local)
    recommended = recommended_local * rate
    change = recommended - current
    with np.errstate(divide="ignore", invalid="ignore"):
        change_pct = np.where(current > 0, change / current, np.nan)
    utilization = customers["utilization"].to_numpy(dtype=float)
    described = probability_of or label.text
    if not probability_of and label != DESIGN_LABEL:
        described = f"the customer model's {label.text}"
    out = pd.DataFrame({
        "customer_id": customers["customer_id"].astype(str).to_numpy(),
        "current_limit": current, "recommended_limit": recommended, "change": change,
        "change_pct": change_pct, "utilization": utilization, "grade": grades,
        "probability": scaled, "currency": _currency(customers),
        "current_limit_local": local, "recommended_limit_local": recommended_local,
        "model_probability": model_probability, "probability_of": described,
        "expected_loss_change": probability * config.loss_given_default
        * (recommended - np.fmax(np.nan_to_num(current, nan=0.0), _balance(customers))),
    })
    previous = _previous(previous_grades, out["customer_id"])
    notes = [[] if already[i] else
             _policy_notes(i, out, need, target, cap, rounded, low, high, no_sales, config)
             for i in range(len(out))]
    for i in range(len(out)):
        notes[i].insert(0, _grade_note(out.iloc[i], label, probability_of, already[i],
                                       customers))
    for i in np.flatnonzero(unknown):
        notes[i].append("current limit unknown: recommended from need and risk alone")
    out["reasons"] = [note + _model_reasons(reasons[i] if reasons else None)
                      for i, note in enumerate(notes)]
    review = [_review_reasons(out.iloc[i], previous[i], no_sales[i],
                              recommended_local[i] > cap[i], config) for i in range(len(out))]
    for i in np.flatnonzero(already):
        review[i] = ["invoices more than 90 days past due: credit hold"] + [
            r for r in review[i] if not r.startswith("recommended change")]
    out["review_reasons"] = review
    out["review_rank"] = review_ranks(out, already, config)
    out["review_flag"] = out["review_rank"].notna()
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)[
        list(OUTPUT_COLUMNS)]


def review_ranks(out: pd.DataFrame, already: np.ndarray, config: LimitsConfig) -> np.ndarray:
    """Rank in the review queue (1 = first; NaN = not flagged): of the customers with a review
    reason, the credit holds first, then by the size of the change in expected loss, at most
    `review_max_share` of all customers (or all the credit holds when they are more)."""
    size = np.nan_to_num(np.abs(out["expected_loss_change"].to_numpy(dtype=float)), nan=0.0)
    candidates = [i for i in range(len(out)) if out.at[i, "review_reasons"]]
    order = sorted(candidates, key=lambda i: (not already[i], -size[i], out.at[i, "customer_id"]))
    room = math.ceil(config.review_max_share * len(out) - 1e-9)
    flagged = order[:max(room, int(already.sum()))]
    ranks = np.full(len(out), np.nan)
    ranks[flagged] = np.arange(1, len(flagged) + 1)
    return ranks


def _balance(customers: pd.DataFrame) -> np.ndarray:
    """Open balance in the reporting currency (utilization x current limit without it)."""
    if "open_balance_base" in customers:
        return customers["open_balance_base"].fillna(0.0).to_numpy(dtype=float)
    used = customers["utilization"] * customers["credit_limit_base"]
    return used.fillna(0.0).to_numpy(dtype=float)


def _grade_note(
    row: pd.Series, label: SeriousLabel, probability_of: str | None, already: bool,
    customers: pd.DataFrame,
) -> str:
    """The grade and what it rests on, in words."""
    grade, p = row["grade"], row["probability"]
    if already:
        owed = customers.loc[customers["customer_id"].astype(str) == row["customer_id"],
                             "overdue_90_plus_amount"].iloc[0]
        return (f"grade E: {owed:,.0f} already 90+ days past due: credit hold, recommended "
                "limit 0 (no new credit until it is paid; what is owed stays owed)")
    if probability_of:
        return f"grade {grade} ({probability_of}): {p:.1%} assumed probability of "\
               f"{DESIGN_LABEL.text}"
    note = f"grade {grade}: {p:.1%} probability of {DESIGN_LABEL.text}"
    if label == DESIGN_LABEL:
        return note
    q = row["model_probability"]
    if label.dpd >= SERIOUS_DPD:
        return (f"{note} (the customer model learnt {label.text}, the longest horizon with "
                f"enough matured examples: {q:.1%}, at the same monthly rate over 12 months)")
    return (f"{note} (the customer model learnt {label.text}, the most serious label with "
            f"enough examples in this ledger: {q:.1%}, scaled to a portfolio rate of "
            f"{DESIGN_LABEL.text} assumed at the configured reference)")


def _local(customers: pd.DataFrame, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's rate to the reporting currency (1 without one) and current limit in its
    own currency (exact from `credit_limit_c` cents when the frame has them)."""
    rate = customers["rate"].fillna(1.0).to_numpy(dtype=float) if "rate" in customers \
        else np.ones(len(customers))
    if "credit_limit_c" in customers:
        return rate, customers["credit_limit_c"].to_numpy(dtype=float) / 100.0
    return rate, current / rate


def _currency(customers: pd.DataFrame) -> np.ndarray:
    """The customer's currency (`customer_currency` of `serving.history`), else None."""
    for column in ("customer_currency", "currency"):
        if column in customers:
            return customers[column].astype(object).to_numpy()
    return np.full(len(customers), None, dtype=object)


def _already_serious(customers: pd.DataFrame) -> np.ndarray:
    if "overdue_90_plus_amount" not in customers:
        return np.zeros(len(customers), dtype=bool)
    return customers["overdue_90_plus_amount"].fillna(0.0).to_numpy(dtype=float) > 0


def _previous(previous_grades: pd.Series | None, ids: pd.Series) -> list[str | None]:
    if previous_grades is None:
        return [None] * len(ids)
    lookup = {str(k): v for k, v in previous_grades.items() if isinstance(v, str)}
    return [lookup.get(i) for i in ids]


def _money(value: float) -> str:
    return "unlimited" if math.isinf(value) else f"{value:,.0f}"


def _policy_notes(
    i: int, out: pd.DataFrame, need: np.ndarray, target: np.ndarray, cap: np.ndarray,
    rounded: np.ndarray, low: np.ndarray, high: np.ndarray, no_sales: np.ndarray,
    config: LimitsConfig,
) -> list[str]:
    """How the policy arrived at the limit, in words."""
    grade = out.at[i, "grade"]
    if no_sales[i]:
        kept = "no limit needed" if np.isnan(out.at[i, "current_limit"]) else \
            "current limit kept"
        return [f"no sales in the last 365 days: {kept}"]
    notes = []
    scale = config.grade_scale[GRADES.index(grade)]
    code = f" {out.at[i, 'currency']}" if isinstance(out.at[i, "currency"], str) else ""
    notes.append(f"need {_money(need[i])}{code} (expected monthly sales over payment terms plus "
                 f"{config.buffer_days:.0f} days), x{scale:g} for grade {grade}")
    if cap[i] < need[i] * scale:
        notes.append(f"capped at {_money(cap[i])}{code} by the expected-loss budget")
    if rounded[i] < low[i]:
        notes.append(f"cut limited to {config.max_decrease:.0%} per review")
    elif rounded[i] > high[i]:
        notes.append(f"rise limited to +{config.max_increase:.0%} per review")
    return notes


def _model_reasons(reason: dict | None) -> list[str]:
    """`reason_codes` entries as sentences: what raises and what lowers the risk."""
    if not reason:
        return []
    return ([f"raises risk: {r['text']}" for r in reason.get("raises", [])]
            + [f"lowers risk: {r['text']}" for r in reason.get("lowers", [])])


def _review_reasons(
    row: pd.Series, previous: str | None, no_sales: bool, over_budget: bool,
    config: LimitsConfig,
) -> list[str]:
    """Why a credit manager should look at this customer (empty = no review due)."""
    found = []
    if np.isfinite(row["utilization"]) and row["utilization"] > config.review_utilization:
        found.append(f"utilization {row['utilization']:.0%} above "
                     f"{config.review_utilization:.0%} of the limit")
    if previous in GRADES:
        drop = GRADES.index(row["grade"]) - GRADES.index(previous)
        if drop >= config.review_grade_drop:
            found.append(f"grade fell {drop} steps, from {previous} to {row['grade']}")
    if np.isfinite(row["change_pct"]) and abs(row["change_pct"]) >= config.review_change_pct:
        found.append(f"recommended change {row['change_pct']:+.0%}")
    if np.isnan(row["current_limit"]):
        found.append("current limit unknown: first limit to set")
    elif row["current_limit"] <= 0:
        found.append("no current limit: first limit to set")
    if no_sales and row["grade"] in ("D", "E"):
        found.append(f"no recent sales and grade {row['grade']}")
    if over_budget and not no_sales:
        found.append("expected loss above budget even after the largest cut per review")
    return found
