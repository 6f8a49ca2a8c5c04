"""The credit-limit policy: a limit that follows the customer's need, scaled by risk.

The policy works in each customer's own currency, which is what an ERP holds: need, cap,
rounding and the change per review are in it (converted from the reporting-currency
features `credit_limit_base`, `invoiced_amount_base_365d` of `build_customer_features` by the
customer's `rate`, 1 without one); the output gives every limit in both currencies
(`current_limit`, `recommended_limit`, `change` in the reporting currency, comparable across
customers; `current_limit_local`, `recommended_limit_local` in `currency`).

Per customer, with p its probability of serious delinquency (90+ days past due within 12
months):

1. need = expected monthly sales x (payment terms + buffer days) / 30, where monthly sales
   are the amount invoiced over the last 365 days, or over the tenure when shorter (at least
   `min_sales_window_days`), scaled to 365/12 days;
2. grade A..E from p (`grade_thresholds`), target = need x the grade's scale;
3. capped so that p x limit x LGD stays within the expected-loss budget;
4. rounded down to `rounding_unit` (so the cap holds), then the change against the current
   limit clipped to [`max_decrease`, `max_increase`] per review (none without a current limit).

A customer whose current limit is unknown (empty `credit_limit`: most exports hold none) is
recommended the limit of need and risk alone; its change is unknown (NaN) and its reasons and
review flag say so.

Customers already 90+ days past due (`overdue_90_plus_amount > 0`) are outside the model's
population: they are limited as if their probability were 1 (grade E) and flagged for review.
Customers without sales in the last 365 days have no measurable need: they keep their
current limit (flagged for review when graded D or E). Every step is non-increasing in p, so a
riskier customer never gets a higher limit than an otherwise equal safer one.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

GRADES: tuple[str, ...] = ("A", "B", "C", "D", "E")
OUTPUT_COLUMNS: tuple[str, ...] = (
    "customer_id", "current_limit", "recommended_limit", "change", "change_pct", "utilization",
    "grade", "probability", "reasons", "review_flag", "review_reasons", "currency",
    "current_limit_local", "recommended_limit_local",
)


class LimitsConfig(BaseModel):
    """Settings of the credit-limit policy (`rounding_unit` in each customer's currency,
    `loss_budget_amount` in the reporting currency)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    grade_thresholds: tuple[float, float, float, float] = (0.01, 0.03, 0.07, 0.15)
    """Upper bounds of the probability of serious delinquency for grades A, B, C and D
    (increasing); higher probabilities are grade E."""
    grade_scale: tuple[float, float, float, float, float] = (1.25, 1.1, 0.9, 0.6, 0.3)
    """Limit as a multiple of the need for grades A..E (non-increasing)."""
    buffer_days: float = Field(60.0, ge=0)
    """Days of sales added to the payment terms in the need (invoices issued while earlier
    ones are still being paid, seasonal peaks, modest delays)."""
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
    max_decrease: float = Field(-0.75, ge=-1, le=0)
    """Largest cut per review as a share of the current limit (-0.75 = to a quarter at most).
    On generated ledgers a floor of -50% leaves the customers who later go bad with ~70% of
    their limits: too little separation for the model's ranking to act on."""
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


def recommend_limits(
    customers: pd.DataFrame, probability: np.ndarray, *, config: LimitsConfig,
    reasons: list[dict] | None = None, previous_grades: pd.Series | None = None,
) -> pd.DataFrame:
    """One recommendation per customer, ordered by customer_id (see the module docstring).

    `customers` is a `build_customer_features` frame, `probability` the serious-delinquency
    probability per row, `reasons` the optional `models.reasons.reason_codes` per row and
    `previous_grades` the last review's grade letter by customer_id.
    """
    probability = np.asarray(probability, dtype=float)
    if len(probability) != len(customers):
        raise ValueError(f"{len(probability)} probabilities for {len(customers)} customers")
    if not np.all((probability >= 0) & (probability <= 1)):
        raise ValueError("probabilities must lie in [0, 1]")
    if reasons is not None and len(reasons) != len(customers):
        raise ValueError(f"{len(reasons)} reason entries for {len(customers)} customers")
    current = customers["credit_limit_base"].to_numpy(dtype=float)
    unknown = np.isnan(current)
    rate, local = _local(customers, current)
    already = _already_serious(customers)
    model_probability, probability = probability, np.where(already, 1.0, probability)
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
    recommended = recommended_local * rate
    change = recommended - current
    with np.errstate(divide="ignore", invalid="ignore"):
        change_pct = np.where(current > 0, change / current, np.nan)
    utilization = customers["utilization"].to_numpy(dtype=float)
    out = pd.DataFrame({
        "customer_id": customers["customer_id"].astype(str).to_numpy(),
        "current_limit": current, "recommended_limit": recommended, "change": change,
        "change_pct": change_pct, "utilization": utilization, "grade": grades,
        "probability": model_probability, "currency": _currency(customers),
        "current_limit_local": local, "recommended_limit_local": recommended_local,
    })
    previous = _previous(previous_grades, out["customer_id"])
    notes = [_policy_notes(i, out, need, target, cap, rounded, low, high, no_sales, config)
             for i in range(len(out))]
    for i in np.flatnonzero(already):
        notes[i].insert(0, "already 90+ days past due: limited as grade E")
    for i in np.flatnonzero(unknown):
        notes[i].append("current limit unknown: recommended from need and risk alone")
    out["reasons"] = [note + _model_reasons(reasons[i] if reasons else None)
                      for i, note in enumerate(notes)]
    review = [_review_reasons(out.iloc[i], previous[i], no_sales[i],
                              recommended_local[i] > cap[i], config) for i in range(len(out))]
    for i in np.flatnonzero(already):
        review[i].insert(0, "invoices more than 90 days past due")
    out["review_flag"] = [bool(r) for r in review]
    out["review_reasons"] = review
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)[
        list(OUTPUT_COLUMNS)]


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
    grade, p = out.at[i, "grade"], out.at[i, "probability"]
    notes = [f"grade {grade}: {p:.1%} probability of an invoice 90+ days past due within "
             "12 months"]
    if no_sales[i]:
        kept = "no limit needed" if np.isnan(out.at[i, "current_limit"]) else \
            "current limit kept"
        return [*notes, f"no sales in the last 365 days: {kept}"]
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
