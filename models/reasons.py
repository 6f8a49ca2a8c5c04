"""Reason codes: the features that raise and lower a score most, in words, with own values.

Contributions are LightGBM's per-row TreeSHAP values (`pred_contrib=True`) in log-odds; the
sentences use the customer's and invoice's own values, e.g. "paid 18 days late on average
over the last 180 days".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from models.risk_model import RiskModel

Phrase = Callable[[float], str]


def _window(suffix: str) -> str:
    return "in all history" if suffix == "all" else f"over the last {suffix.removesuffix('d')} days"


def _money(value: float) -> str:
    return f"{value:,.0f}"


_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str], float], str]]] = [
    (re.compile(r"late_share_(all|\d+d)$"),
     lambda m, v: f"paid {v:.0%} of invoices late {_window(m[1])}"),
    (re.compile(r"days_late_mean_(all|\d+d)$"),
     lambda m, v: f"paid {v:.0f} days late on average {_window(m[1])}"),
    (re.compile(r"days_late_weighted_(all|\d+d)$"),
     lambda m, v: f"paid {v:.0f} days late on average by amount {_window(m[1])}"),
    (re.compile(r"days_late_std_(all|\d+d)$"),
     lambda m, v: f"payment timing varied by {v:.0f} days {_window(m[1])}"),
    (re.compile(r"settled_count_(all|\d+d)$"),
     lambda m, v: f"{v:.0f} invoices settled {_window(m[1])}"),
    (re.compile(r"overdue_(\d+)_(\d+)_amount$"),
     lambda m, v: f"{_money(v)} overdue {m[1]}-{m[2]} days"),
    (re.compile(r"overdue_90_plus_amount$"), lambda m, v: f"{_money(v)} overdue more than 90 days"),
    (re.compile(r"disputes_opened_(all|\d+d)$"),
     lambda m, v: f"{v:.0f} disputes opened {_window(m[1])}"),
    (re.compile(r"credit_note_share_(all|\d+d)$"),
     lambda m, v: f"credit notes worth {v:.0%} of invoiced {_window(m[1])}"),
    (re.compile(r"promises_(made|kept|broken)_(all|\d+d)$"),
     lambda m, v: f"{v:.0f} promises to pay {m[1]} {_window(m[2])}"),
    (re.compile(r"invoice_count_365d$"), lambda m, v: f"{v:.0f} invoices in the last 365 days"),
    (re.compile(r"invoiced_amount_base_365d$"),
     lambda m, v: f"{_money(v)} invoiced in the last 365 days"),
]

_NAMED: dict[str, Phrase] = {
    "late_share_trend": lambda v: (f"late share {'up' if v > 0 else 'down'} {abs(v):.0%} "
                                   "in the last 90 days against all history"),
    "days_late_trend": lambda v: (f"paying {abs(v):.0f} days {'later' if v > 0 else 'sooner'} "
                                  "in the last 90 days than in all history"),
    "days_since_last_late": lambda v: f"last late payment {v:.0f} days ago",
    "days_since_last_payment": lambda v: f"last payment {v:.0f} days ago",
    "paid_vs_invoiced_90d": lambda v: f"paid {v:.0%} of what was invoiced in the last 90 days",
    "open_invoice_count": lambda v: f"{v:.0f} invoices open",
    "open_balance_base": lambda v: f"{_money(v)} open",
    "overdue_share": lambda v: f"{v:.0%} of the open balance overdue",
    "utilization": lambda v: f"using {v:.0%} of the credit limit",
    "disputes_open": lambda v: f"{v:.0f} disputes open",
    "promises_active": lambda v: f"{v:.0f} promises to pay not yet due",
    "log_amount": lambda v: f"invoice of {_money(math.exp(v))}",
    "invoiced_90d_vs_limit": lambda v: f"invoiced {v:.0%} of the credit limit in 90 days",
    "days_to_quarter_end": lambda v: f"issued {v:.0f} days before a quarter end",
    "amount_vs_typical": lambda v: f"invoice {v:.1f} times the customer's typical amount",
    "terms_days": lambda v: f"{v:.0f}-day payment terms on this invoice",
    "payment_terms_days": lambda v: f"{v:.0f}-day standard payment terms",
    "quarter_end": lambda v: "issued at a quarter end" if v else "issued away from a quarter end",
    "credit_limit_base": lambda v: f"credit limit {_money(v)}",
    "tenure_days": lambda v: f"customer for {v / 365:.1f} years",
    "days_past_due": lambda v: (f"{v:.0f} days past due" if v > 0
                                else f"due in {-v:.0f} days" if v < 0 else "due today"),
    "age_days": lambda v: f"issued {v:.0f} days ago",
    "paid_share": lambda v: f"{v:.0%} of the invoice already paid",
    "credited_share": lambda v: f"{v:.0%} of the invoice credited",
    "payments_count": lambda v: f"{v:.0f} part payments so far",
    "has_open_dispute": lambda v: "invoice in open dispute" if v else "no open dispute",
    "has_active_promise": lambda v: "promise to pay not yet due" if v else "no active promise",
    "has_broken_promise": lambda v: "a promise to pay was broken" if v else "no broken promise",
}

_HISTORY = re.compile(r"(?:late_share|days_late_\w+?)_(all|\d+d)$")
"""History features that are empty when no invoice was settled in their window."""

_MISSING: dict[str, str] = {
    "days_since_last_late": "no late payment on record",
    "days_since_last_payment": "no payment on record",
    "paid_vs_invoiced_90d": "nothing invoiced in the last 90 days",
}


def describe(feature: str, value: object) -> str:
    """A feature's value in words."""
    if isinstance(value, str):
        return f"{feature.replace('_', ' ')} {value}"
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        history = _HISTORY.match(feature)
        if history:
            return f"no invoices settled {_window(history[1])}"
        return _MISSING.get(feature, f"no {feature.replace('_', ' ')} on record")
    number = float(value)
    if feature in _NAMED:
        return _NAMED[feature](number)
    for pattern, phrase in _PATTERNS:
        match = pattern.match(feature)
        if match:
            return phrase(match, number)
    return f"{feature.replace('_', ' ')} {number:g}"


def reason_codes(model: RiskModel, frame: pd.DataFrame, *, top: int = 3) -> list[dict]:
    """Per row: the `top` features raising the risk most and lowering it most, in words.

    Each reason is `{"feature", "value", "contribution", "text"}` with the contribution in
    log-odds; rows come back in the frame's order.
    """
    contributions = model.contributions(frame).to_numpy()
    values = frame[model.features].to_numpy(dtype=object)
    order = np.argsort(contributions, axis=1, kind="stable")
    names = model.features
    reasons = []
    for row, ranked in enumerate(order):
        raising = [j for j in ranked[::-1][:top] if contributions[row, j] > 0]
        lowering = [j for j in ranked[:top] if contributions[row, j] < 0]
        reasons.append({
            side: [_reason(names[j], values[row, j], contributions[row, j]) for j in chosen]
            for side, chosen in (("raises", raising), ("lowers", lowering))
        })
    return reasons


def _reason(feature: str, value: object, contribution: float) -> dict:
    plain = None if pd.isna(value) else (value if isinstance(value, str) else float(value))
    return {"feature": feature, "value": plain, "contribution": round(float(contribution), 4),
            "text": describe(feature, value)}
