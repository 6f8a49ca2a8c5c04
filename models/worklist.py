"""The collections worklist: which customers to contact today, in what order, and how.

Input: a snapshot frame (`features.build_snapshot`, one row per open invoice) with the
collections model's `p_unpaid_30d` (probability the invoice is still unpaid 30 days later).
Collectors contact customers, not invoices, so everything is summed per customer, amounts in
the reporting currency (`open_amount_base`), and also in the customer's own currency
(`*_local`, from `open_amount`; `customer_currency`), which is what a collector quotes:

- amount at risk = Σ open amount × p_unpaid_30d over the customer's open invoices;
- priority = (overdue_weight × overdue amount at risk + not_due_weight × not-yet-due amount
  at risk) × (1 + age_weight × min(oldest days past due, age_cap_days) / age_cap_days)
  × risk ** risk_exponent × (1 + broken_promise_boost if a promise was broken), where risk =
  amount at risk / open amount. The default ranks by the expected unpaid overdue amount,
  which the back-test judges, pulled towards old balances and towards customers likely to
  leave most of theirs unpaid, and up for broken promises;
- held: a customer whose overdue invoices are ALL in open dispute or under a promise to pay
  not yet due (each rule can be switched off) is kept in the list with action "hold" and a
  `held_reason`, ranked after every customer not held;
- customers with nothing overdue appear only when some open invoice has p_unpaid_30d of at
  least `not_due_min_risk` (a reminder before the due date); their priority uses the smaller
  `not_due_weight`;
- customers whose amount at risk is below `min_amount_at_risk` are left out.

Order: not held before held, then priority descending, then amount at risk descending (which
orders the reminders of customers with nothing overdue, whose priority is 0 by default), then
customer_id: the same frame gives the same list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

ACTIONS = ("escalate", "call", "reminder", "hold")
WORKLIST_COLUMNS = (
    "rank", "customer_id", "priority", "open_amount", "overdue_amount", "amount_at_risk",
    "overdue_at_risk", "risk", "currency", "customer_currency", "invoice_count",
    "overdue_invoice_count", "oldest_days_past_due", "broken_promise", "reasons", "action",
    "held", "held_reason", "invoices", "open_amount_local", "overdue_amount_local",
    "amount_at_risk_local",
)
HELD_DISPUTE = "all overdue invoices are in open dispute"
HELD_PROMISE = "a promise to pay covering the overdue invoices is not yet due"
HELD_BOTH = "every overdue invoice is in open dispute or under a promise to pay not yet due"


class WorklistConfig(BaseModel):
    """How the worklist ranks customers and suggests an action."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    overdue_weight: float = Field(1.0, ge=0)
    """Weight of the overdue amount at risk in the priority."""
    not_due_weight: float = Field(0.0, ge=0)
    """Weight of the amount at risk not yet due. 0 by default: money that can still be paid
    on time does not compete with money already late (customers with nothing overdue follow
    every overdue one, ordered by amount at risk)."""
    age_weight: float = Field(2.0, ge=0)
    """Extra priority for old debt: the priority is multiplied by 1 + age_weight × (oldest
    days past due, capped at age_cap_days) / age_cap_days (up to ×3 by default)."""
    age_cap_days: int = Field(90, ge=1)
    """Days past due beyond which age adds no more priority."""
    risk_exponent: float = Field(0.5, ge=0)
    """The priority is multiplied by risk ** risk_exponent (risk = amount at risk / open
    amount), to favour customers likely to leave most of their balance unpaid. The defaults
    of the weights did best in `o2c backtest worklist` on generated ledgers (README)."""
    broken_promise_boost: float = Field(0.25, ge=0)
    """A customer with an open invoice whose promise to pay was broken gets its priority
    multiplied by 1 + this."""
    min_amount_at_risk: float = Field(1.0, ge=0)
    """Customers with less amount at risk (reporting currency) are left out of the list."""
    not_due_min_risk: float = Field(0.6, ge=0, le=1)
    """A customer with nothing overdue is listed only when one of its open invoices has at
    least this probability of being unpaid 30 days from now."""
    hold_disputed: bool = True
    """Hold a customer whose overdue invoices are all in open dispute."""
    hold_promised: bool = True
    """Hold a customer whose overdue invoices are all under a promise to pay not yet due (or,
    with both hold rules on, each either disputed or promised)."""
    escalate_days_past_due: int = Field(60, ge=1)
    """Escalate when the oldest overdue invoice is at least this many days past due..."""
    escalate_risk: float = Field(0.7, ge=0, le=1)
    """...or when the customer's risk is at least this and its overdue amount at risk is at
    least escalate_amount, or when a promise to pay was broken on an overdue balance."""
    escalate_amount: float = Field(10_000.0, ge=0)
    """Overdue amount at risk (reporting currency) that, with escalate_risk, escalates."""
    call_days_past_due: int = Field(15, ge=1)
    """Call when the oldest overdue invoice is at least this many days past due..."""
    call_amount: float = Field(5_000.0, ge=0)
    """...or when the amount at risk is at least this (reporting currency)..."""
    call_risk: float = Field(0.5, ge=0, le=1)
    """...or when the customer's risk is at least this; otherwise send a reminder."""
    reporting_currency: str = "BASE"
    """Label of the reporting currency the amounts are in (the ledger's `rate_to_base`)."""
    reason_codes: int = Field(3, ge=0)
    """At most this many model reasons (of the largest at-risk invoice) per customer."""


HOLD_FLAGS = ("has_open_dispute", "has_active_promise", "has_broken_promise")
"""Invoice facts the hold rules and the broken-promise boost read."""
REQUIRED = ("customer_id", "invoice_id", "currency", "open_amount_base", "days_past_due",
            *HOLD_FLAGS, "p_unpaid_30d")


def build_worklist(
    scored: pd.DataFrame, *, config: WorklistConfig, reasons: list[dict] | None = None,
) -> pd.DataFrame:
    """One row per customer to contact, ranked (columns `WORKLIST_COLUMNS`).

    `reasons`, when given, are `models.reasons.reason_codes` of `scored`'s rows in order; the
    customer's row lists the texts raising the risk of its largest at-risk invoice.
    """
    missing = [c for c in REQUIRED if c not in scored.columns]
    if missing:
        raise ValueError(f"scored frame lacks columns: {', '.join(missing)}")
    if reasons is not None and len(reasons) != len(scored):
        raise ValueError(f"reasons has {len(reasons)} rows, scored has {len(scored)}")
    invoices = _invoice_frame(scored, reasons)
    customers = _customer_frame(invoices, config)
    customers = customers[_listed(customers, config)]
    customers = _rank(customers.assign(priority=_priority(customers, config)))
    customers["action"] = [_action(row, config) for row in customers.itertuples()]
    customers["reasons"] = [_reasons(row, config) for row in customers.itertuples()]
    customers["invoices"] = [list(ids) for ids in customers["invoices"]]
    return customers[list(WORKLIST_COLUMNS)].reset_index(drop=True)


def _invoice_frame(scored: pd.DataFrame, reasons: list[dict] | None) -> pd.DataFrame:
    p = scored["p_unpaid_30d"].to_numpy(dtype=float)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("p_unpaid_30d must be probabilities in [0, 1]")
    amount = scored["open_amount_base"].to_numpy(dtype=float)
    frame = pd.DataFrame({
        "customer_id": scored["customer_id"].astype(str).to_numpy(),
        "invoice_id": scored["invoice_id"].astype(str).to_numpy(),
        "currency": scored["currency"].astype(str).to_numpy(),
        "amount": amount, "p": p, "at_risk": amount * p,
        "local": scored["open_amount"].to_numpy(dtype=float) if "open_amount" in scored
        else amount,
        "dpd": scored["days_past_due"].to_numpy(dtype=float),
        "disputed": scored["has_open_dispute"].to_numpy(dtype=bool),
        "promised": scored["has_active_promise"].to_numpy(dtype=bool),
        "broken": scored["has_broken_promise"].to_numpy(dtype=bool),
        "model_reasons": [_raising(r) for r in reasons] if reasons is not None
        else [[] for _ in range(len(scored))],
    })
    frame["overdue"] = frame["dpd"] > 0
    frame["local_at_risk"] = frame["local"] * frame["p"]
    return frame.sort_values(["customer_id", "at_risk", "invoice_id"],
                             ascending=[True, False, True], kind="stable")


def _raising(reason: dict) -> list[str]:
    return [item["text"] for item in reason.get("raises", [])]


def _customer_frame(invoices: pd.DataFrame, config: WorklistConfig) -> pd.DataFrame:
    over = invoices[invoices["overdue"]]
    groups = invoices.groupby("customer_id", sort=True)
    overdue_groups = over.groupby("customer_id", sort=True)
    frame = pd.DataFrame({
        "open_amount": groups["amount"].sum(),
        "amount_at_risk": groups["at_risk"].sum(),
        "open_amount_local": groups["local"].sum(),
        "amount_at_risk_local": groups["local_at_risk"].sum(),
        "max_p": groups["p"].max(),
        "invoice_count": groups.size(),
        "broken_promise": groups["broken"].any(),
        "currencies": groups["currency"].agg(lambda c: sorted(set(c))),
        "invoices": groups["invoice_id"].agg(list),
        "top_reasons": groups["model_reasons"].agg(lambda r: r.iloc[0]),
    })
    frame["overdue_amount"] = overdue_groups["amount"].sum()
    frame["overdue_amount_local"] = overdue_groups["local"].sum()
    frame["overdue_at_risk"] = overdue_groups["at_risk"].sum()
    frame["overdue_invoice_count"] = overdue_groups.size()
    frame["oldest_days_past_due"] = overdue_groups["dpd"].max()
    frame["overdue_disputed"] = overdue_groups["disputed"].sum()
    frame["overdue_promised"] = overdue_groups["promised"].sum()
    frame["overdue_covered"] = (over["disputed"] | over["promised"]).groupby(
        over["customer_id"]).sum()
    frame["broken_overdue"] = overdue_groups["broken"].any()
    fill = {c: 0 for c in ("overdue_amount", "overdue_amount_local", "overdue_at_risk",
                           "overdue_invoice_count", "oldest_days_past_due", "overdue_disputed",
                           "overdue_promised", "overdue_covered")}
    frame = frame.fillna(fill)
    frame["broken_overdue"] = frame["broken_overdue"].astype("boolean").fillna(False).astype(bool)
    frame["risk"] = np.where(frame["open_amount"] > 0,
                             frame["amount_at_risk"] / frame["open_amount"].where(
                                 frame["open_amount"] > 0, 1.0), 0.0)
    frame["currency"] = config.reporting_currency
    frame["customer_currency"] = [c[0] if len(c) == 1 else None for c in frame["currencies"]]
    frame["held_reason"] = [_held_reason(row, config) for row in frame.itertuples()]
    frame["held"] = frame["held_reason"].notna()
    return frame.rename_axis("customer_id").reset_index()


def _held_reason(row: object, config: WorklistConfig) -> str | None:
    n = row.overdue_invoice_count
    if n == 0:
        return None
    if config.hold_disputed and row.overdue_disputed == n:
        return HELD_DISPUTE
    if config.hold_promised and row.overdue_promised == n:
        return HELD_PROMISE
    if config.hold_disputed and config.hold_promised and row.overdue_covered == n:
        return HELD_BOTH
    return None


def _listed(customers: pd.DataFrame, config: WorklistConfig) -> pd.Series:
    overdue = customers["overdue_invoice_count"] > 0
    risky = customers["max_p"] >= config.not_due_min_risk
    return (overdue | risky) & (customers["amount_at_risk"] >= config.min_amount_at_risk)


def _priority(customers: pd.DataFrame, config: WorklistConfig) -> pd.Series:
    not_due = (customers["amount_at_risk"] - customers["overdue_at_risk"]).clip(lower=0)
    base = config.overdue_weight * customers["overdue_at_risk"] + config.not_due_weight * not_due
    age = customers["oldest_days_past_due"].clip(lower=0, upper=config.age_cap_days)
    factor = 1 + config.age_weight * age / config.age_cap_days
    factor = factor * customers["risk"] ** config.risk_exponent
    factor = factor * np.where(customers["broken_promise"], 1 + config.broken_promise_boost, 1.0)
    return (base * factor).round(6)


def rank_key(row: Mapping) -> tuple:
    """The worklist's order (as `_rank` sorts) as the sort key of one row: not held first,
    then priority and amount at risk descending, then customer_id."""
    return (bool(row["held"]), -row["priority"], -row["amount_at_risk"], row["customer_id"])


def _rank(customers: pd.DataFrame) -> pd.DataFrame:
    ranked = customers.sort_values(["held", "priority", "amount_at_risk", "customer_id"],
                                   ascending=[True, False, False, True], kind="stable")
    return ranked.assign(rank=np.arange(1, len(ranked) + 1))


def _action(row: object, config: WorklistConfig) -> str:
    if row.held:
        return "hold"
    overdue = row.overdue_invoice_count > 0
    if overdue and (row.oldest_days_past_due >= config.escalate_days_past_due
                    or row.broken_overdue
                    or (row.risk >= config.escalate_risk
                        and row.overdue_at_risk >= config.escalate_amount)):
        return "escalate"
    if overdue and (row.oldest_days_past_due >= config.call_days_past_due
                    or row.amount_at_risk >= config.call_amount
                    or row.risk >= config.call_risk):
        return "call"
    return "reminder"


def _reasons(row: object, config: WorklistConfig) -> list[str]:
    facts = []
    if row.overdue_invoice_count > 0:
        count = int(row.overdue_invoice_count)
        noun = "invoice" if count == 1 else "invoices"
        facts.append(f"{count} {noun} overdue ({row.overdue_amount:,.0f} "
                     f"{config.reporting_currency}), oldest "
                     f"{row.oldest_days_past_due:.0f} days past due")
    else:
        facts.append(f"nothing overdue yet; {row.max_p:.0%} chance an invoice is still unpaid "
                     "in 30 days")
    facts.append(f"{row.amount_at_risk:,.0f} {config.reporting_currency} at risk of staying "
                 "unpaid 30 more days")
    if row.broken_promise:
        facts.append("broken promise to pay")
    if row.overdue_disputed:
        facts.append(f"{int(row.overdue_disputed)} overdue in open dispute")
    if row.overdue_promised:
        facts.append(f"{int(row.overdue_promised)} overdue under a promise to pay not yet due")
    return facts + list(row.top_reasons)[: config.reason_codes]


def assign_collectors(worklist: pd.DataFrame, capacities: Mapping[str, int]) -> pd.DataFrame:
    """Add `collector`: rows not held, in rank order, each go to the collector with the least
    amount at risk assigned so far among those below their daily capacity (ties: name order),
    which balances the money each collector works on. Held rows and rows beyond the total
    capacity get None."""
    for name, capacity in capacities.items():
        if not isinstance(capacity, int | np.integer) or capacity < 0:
            raise ValueError(f"capacity of collector {name!r} must be an integer >= 0, "
                             f"got {capacity!r}")
    names = sorted(capacities)
    load = dict.fromkeys(names, 0.0)
    taken = dict.fromkeys(names, 0)
    collectors: list[str | None] = []
    for row in worklist.sort_values("rank", kind="stable").itertuples():
        free = [n for n in names if taken[n] < capacities[n]]
        if row.held or not free:
            collectors.append(None)
            continue
        chosen = min(free, key=lambda n: (load[n], names.index(n)))
        taken[chosen] += 1
        load[chosen] += float(row.amount_at_risk) if math.isfinite(row.amount_at_risk) else 0.0
        collectors.append(chosen)
    out = worklist.sort_values("rank", kind="stable").copy()
    out["collector"] = pd.Series(collectors, index=out.index, dtype=object)
    return out.loc[worklist.index]
