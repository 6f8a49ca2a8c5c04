"""What deserves an alert (`[alerts]` in o2c.toml), computed from two snapshots and the latest
monitoring report. Light on purpose (pydantic, no database): the settings import it.

Each rule gives drafts with a `key`: an alert is stored once per key, so recomputing on a
reload never repeats one. A rule fires on a change, not on a state: a grade that fell since
the previous snapshot, a utilization that crossed the level since then, a promise that broke
since then, an invoice that became N days past due (once per invoice), a monitoring report
(once per report).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import pandas as pd

GRADES: tuple[str, ...] = ("A", "B", "C", "D", "E")
"""Grade letters from best to worst (as models.limits.GRADES)."""
KINDS: tuple[str, ...] = ("grade_drop", "utilization", "broken_promise", "overdue",
                          "monitoring")


class AlertsConfig(BaseModel):
    """Thresholds of the alerts and where to send them (None switches a rule off)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    grade_drop: int | None = Field(2, ge=1, le=4)
    """Alert when a customer's grade falls this many steps or more between two snapshots."""
    utilization_above: float | None = Field(1.0, gt=0)
    """Alert when a customer's open balance rises above this share of its credit limit."""
    broken_promise: bool = True
    """Alert when a customer breaks a promise to pay on an open invoice."""
    overdue_days: int | None = Field(90, ge=1)
    """Alert once per invoice when it becomes this many days past due."""
    monitoring: Literal["warn", "alert"] | None = "alert"
    """Alert (to admins) when the latest monitoring report's verdict reaches this level."""
    webhook_url: str | None = None
    """POST every new alert as JSON to this URL (e.g. a chat or ticketing hook); none: off."""
    webhook_timeout: float = Field(5.0, gt=0, le=60)
    """Seconds to wait for the webhook; a failure is logged, never raised."""


@dataclass(frozen=True)
class Draft:
    """An alert before it is stored: what, about whom, in words, and its unique key."""

    kind: str
    key: str
    message: str
    customer_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    """What the rules read of one snapshot."""

    as_of: dt.date
    limits: pd.DataFrame
    """customer_id, grade, utilization."""
    worklist: pd.DataFrame
    """customer_id, broken_promise."""
    invoices: pd.DataFrame
    """invoice_id, customer_id, days_past_due, open_amount, currency."""


def snapshot_drafts(current: Snapshot, previous: Snapshot | None,
                    config: AlertsConfig) -> list[Draft]:
    """The alerts the change from `previous` (None: nothing before) to `current` deserves."""
    drafts: list[Draft] = []
    day = current.as_of.isoformat()
    before = previous.limits.set_index("customer_id") if previous is not None else None
    if config.grade_drop is not None and before is not None:
        old = current.limits["customer_id"].map(before["grade"])
        for row, was in zip(current.limits.itertuples(), old, strict=True):
            if was in GRADES and row.grade in GRADES:
                drop = GRADES.index(row.grade) - GRADES.index(was)
                if drop >= config.grade_drop:
                    drafts.append(Draft("grade_drop", f"grade_drop:{row.customer_id}:{day}",
                                        f"grade fell {drop} steps, from {was} to {row.grade}",
                                        row.customer_id, {"from": was, "to": row.grade}))
    if config.utilization_above is not None:
        level = config.utilization_above
        old = (current.limits["customer_id"].map(before["utilization"])
               if before is not None else None)
        for i, row in enumerate(current.limits.itertuples()):
            was = None if old is None else old.iloc[i]
            if _above(row.utilization, level) and not _above(was, level):
                drafts.append(Draft("utilization", f"utilization:{row.customer_id}:{day}",
                                    f"utilization {row.utilization:.0%} above {level:.0%} of "
                                    "the credit limit", row.customer_id,
                                    {"utilization": float(row.utilization), "level": level}))
    if config.broken_promise:
        was_broken = set() if previous is None else set(
            previous.worklist.loc[previous.worklist["broken_promise"].astype(bool),
                                  "customer_id"])
        for row in current.worklist.itertuples():
            if row.broken_promise and row.customer_id not in was_broken:
                drafts.append(broken_promise(row.customer_id, day, "in the ledger"))
    if config.overdue_days is not None:
        late = current.invoices[current.invoices["days_past_due"] >= config.overdue_days]
        for row in late.itertuples():
            drafts.append(Draft("overdue", f"overdue:{row.invoice_id}",
                                f"invoice {row.invoice_id} is {int(row.days_past_due)} days "
                                f"past due ({row.open_amount:,.2f} {row.currency} open)",
                                row.customer_id, {"invoice_id": row.invoice_id,
                                                  "days_past_due": int(row.days_past_due)}))
    return drafts


def broken_promise(customer_id: str, day: str, where: str) -> Draft:
    """The alert of a promise broken by `day` (`where`: the ledger, or the store's promise)."""
    return Draft("broken_promise", f"broken_promise:{customer_id}:{day}",
                 f"broken promise to pay ({where})", customer_id, {"as_of": day})


def monitoring_draft(report: dict[str, Any] | None, config: AlertsConfig) -> Draft | None:
    """The alert of a monitoring report whose verdict reaches `config.monitoring`."""
    if report is None or config.monitoring is None:
        return None
    levels = ("ok", "warn", "alert")
    verdict = report.get("verdict")
    if verdict not in levels or levels.index(verdict) < levels.index(config.monitoring):
        return None
    model = report.get("model") or {}
    windows = report.get("windows") or {}
    ident = report.get("mlflow_run_id") or f"{model.get('version')}:{windows}"
    return Draft("monitoring", f"monitoring:{ident}",
                 f"monitoring verdict {verdict} for {model.get('name', 'the model')} "
                 f"v{model.get('version', '?')}: consider retraining",
                 None, {"verdict": verdict, "model": model})


def _above(value: Any, level: float) -> bool:
    try:
        return float(value) > level
    except (TypeError, ValueError):
        return False
