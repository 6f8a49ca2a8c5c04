"""Credit managers' decisions: the review queue, accepting or overriding a recommended limit,
and the effective limit (the latest decision) that `o2c limits export` hands to the ERP.

A decision is stored with what was recommended at the time (the snapshot's row, the
serious-delinquency model's version) and audited in the same transaction
(`serving.workflow.audit.record`), so a refused decision writes nothing. Limits are in the
customer's own currency, as the ERP holds them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from sqlalchemy import Date, Float, Index, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from serving.workflow import audit
from serving.workflow.base import Base, now
from serving.workflow.db import Store
from serving.workflow.errors import WorkflowError

if TYPE_CHECKING:  # the snapshot's modules load the models' libraries: `o2c limits export`
    from serving.portfolio import Portfolio  # stays quick without them

Decision = Literal["accept", "override"]
DECISIONS: tuple[str, ...] = ("accept", "override")
EXPORT_COLUMNS: tuple[str, ...] = ("customer_id", "currency", "limit", "decided_by",
                                   "decided_at")
"""Columns of `o2c limits export`, in order."""


class LimitDecision(Base):
    """A credit manager's decision on a customer's recommended limit."""

    __tablename__ = "limit_decisions"
    __table_args__ = (Index("ix_limit_decisions_customer", "customer_id", "decided_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(20))
    """accept (the recommendation becomes the limit) or override (the manager's own)."""
    limit: Mapped[float] = mapped_column(Float)
    """The decided limit, in `currency` (the customer's own)."""
    currency: Mapped[str | None] = mapped_column(String(3))
    recommended_limit: Mapped[float | None] = mapped_column(Float)
    """The recommendation at the time, in `currency`."""
    grade: Mapped[str | None] = mapped_column(String(2))
    probability: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(40))
    """Version of the serious-delinquency champion behind the recommendation."""
    snapshot_as_of: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime] = mapped_column(default=now)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"customer_id": self.customer_id, "decision": self.decision,
                "limit": self.limit, "currency": self.currency,
                "recommended_limit": self.recommended_limit, "grade": self.grade,
                "probability": self.probability, "model_version": self.model_version,
                "snapshot_as_of": self.snapshot_as_of.isoformat(), "reason": self.reason,
                "decided_by": self.decided_by,
                "decided_at": self.decided_at.isoformat()}


@dataclass(frozen=True)
class Recommendation:
    """What the snapshot recommended for a customer, as the manager saw it."""

    row: Mapping[str, Any]
    """The customer's row of the snapshot's limits (`o2c limits --json`)."""
    as_of: dt.date
    model_name: str
    """The serious-delinquency model behind the recommendation."""
    model_version: str | None

    @property
    def limit(self) -> float | None:
        """The recommended limit in the customer's currency."""
        return _number(self.row.get("recommended_limit_local"))


def recommendation_for(portfolio: Portfolio, customer_id: str) -> Recommendation:
    """The snapshot's recommendation for a customer; WorkflowError (404) naming customer_id
    when the snapshot has no limit for it."""
    from serving.scoring import records
    from training.delinquency import SERIOUS_MODEL_NAME

    rows = portfolio.limits[portfolio.limits["customer_id"] == customer_id]
    if rows.empty:
        raise WorkflowError(f"no credit limit for customer {customer_id!r} in the snapshot of "
                            f"{portfolio.as_of}", "customer_id", 404)
    return Recommendation(records(rows)[0], portfolio.as_of, SERIOUS_MODEL_NAME,
                          portfolio.models.get(SERIOUS_MODEL_NAME))


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        else float(value)


def check_decision(decision: str, limit: float | None, reason: str | None) -> None:
    """WorkflowError (400) naming the field of a decision that cannot be taken."""
    if decision not in DECISIONS:
        raise WorkflowError(f"decision must be accept or override, got {decision!r}",
                            "decision")
    if decision == "override":
        if limit is None:
            raise WorkflowError("an override needs the limit decided", "limit")
        if not reason or not reason.strip():
            raise WorkflowError("an override needs a reason", "reason")
    elif limit is not None:
        raise WorkflowError("give a limit only with decision override (accept takes the "
                            "recommendation)", "limit")
    if reason is not None and "\x00" in reason:
        raise WorkflowError("the reason must not contain NUL characters", "reason")
    if limit is not None and not (math.isfinite(limit) and limit >= 0):
        raise WorkflowError(f"limit must be a number >= 0, got {limit}", "limit")


def decide_limit(
    session: Session, recommendation: Recommendation, *, user: str, role: str | None,
    decision: str, limit: float | None = None, reason: str | None = None,
) -> LimitDecision:
    """Record a decision and its audit row in the session's transaction (the caller commits).

    `accept` makes the recommendation the limit; `override` sets `limit` (>= 0, in the
    customer's currency) and needs a `reason`. WorkflowError naming the field otherwise."""
    check_decision(decision, limit, reason)
    row = recommendation.row
    if decision == "accept" and recommendation.limit is None:
        raise WorkflowError(f"customer {row['customer_id']} has no recommended limit to "
                            "accept: override it with a limit", "decision", 409)
    decided = recommendation.limit if decision == "accept" else float(limit)
    moment = now()
    entry = LimitDecision(
        customer_id=row["customer_id"], decision=decision, limit=decided,
        currency=row.get("currency"), recommended_limit=recommendation.limit,
        grade=row.get("grade"), probability=_number(row.get("probability")),
        model_version=recommendation.model_version, snapshot_as_of=recommendation.as_of,
        reason=reason.strip() if reason else None, decided_by=user, decided_at=moment)
    session.add(entry)
    audit.record(session, user=user, role=role, action="decide_limit",
                 subject=row["customer_id"], at=moment, details={
                     "decision": decision, "limit": decided, "currency": row.get("currency"),
                     "reason": entry.reason,
                     "recommendation": {k: row.get(k) for k in (
                         "recommended_limit_local", "current_limit_local", "grade",
                         "probability", "review_flag")},
                     "model": {"name": recommendation.model_name,
                               "version": recommendation.model_version},
                     "snapshot_as_of": recommendation.as_of.isoformat(),
                     "reasons_shown": list(row.get("reasons") or []),
                     "review_reasons": list(row.get("review_reasons") or [])})
    return entry


def effective_limits(session: Session,
                     customer_ids: Iterable[str] | None = None) -> dict[str, LimitDecision]:
    """The latest decision of each customer (of those named, else all)."""
    latest = (select(LimitDecision.customer_id, func.max(LimitDecision.id).label("id"))
              .group_by(LimitDecision.customer_id))
    if customer_ids is not None:
        latest = latest.where(LimitDecision.customer_id.in_(list(customer_ids)))
    ids = select(latest.subquery().c.id)
    rows = session.scalars(select(LimitDecision).where(LimitDecision.id.in_(ids)))
    return {row.customer_id: row for row in rows}


def decision_history(session: Session, customer_id: str) -> list[LimitDecision]:
    """Every decision on a customer, newest first."""
    return list(session.scalars(select(LimitDecision)
                                .where(LimitDecision.customer_id == customer_id)
                                .order_by(LimitDecision.id.desc())))


def with_effective(rows: list[dict[str, Any]],
                   decided: Mapping[str, LimitDecision]) -> list[dict[str, Any]]:
    """Limit rows with the decision beside the recommendation: `effective_limit` (in the
    customer's currency; the decided one, else None), `decision`, `decided_by`, `decided_at`."""
    out = []
    for row in rows:
        made = decided.get(row["customer_id"])
        out.append({**row, "effective_limit": made.limit if made else None,
                    "decision": made.decision if made else None,
                    "decided_by": made.decided_by if made else None,
                    "decided_at": made.decided_at.isoformat() if made else None})
    return out


def export_frame(session: Session) -> pd.DataFrame:
    """Every customer's effective limit for the ERP (EXPORT_COLUMNS), by customer id."""
    rows = [{"customer_id": d.customer_id, "currency": d.currency, "limit": d.limit,
             "decided_by": d.decided_by, "decided_at": d.decided_at.isoformat()}
            for d in effective_limits(session).values()]
    frame = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def decide(store: Store, portfolio: Portfolio, customer_id: str, *, user: str,
           role: str | None, decision: str, limit: float | None = None,
           reason: str | None = None) -> LimitDecision:
    """`decide_limit` on the snapshot's recommendation for the customer, in a transaction of
    its own (nothing written when refused)."""
    with store.begin() as session:
        return decide_limit(session, recommendation_for(portfolio, customer_id), user=user,
                            role=role, decision=decision, limit=limit, reason=reason)


def limits_with_decisions(store: Store, rows: list[dict[str, Any]],
                          every: bool) -> list[dict[str, Any]]:
    """Snapshot limit rows with their decisions beside them (`with_effective`); `every`:
    the rows are all the snapshot's (read every decision at once)."""
    with store.begin() as session:
        decided = effective_limits(session, None if every else
                                   [row["customer_id"] for row in rows])
    return with_effective(rows, decided)


@dataclass(frozen=True)
class QueueFilters:
    """Filters of the review queue (None: no filter)."""

    grades: tuple[str, ...] | None = None
    country: str | None = None
    segment: str | None = None
    min_exposure: float | None = None
    """Least open balance, in the reporting currency."""
    include_decided: bool = False
    """Keep customers already decided on this snapshot's recommendation."""
    top_k: int | None = None


def review_queue(limits: pd.DataFrame, customers: pd.DataFrame, as_of: dt.date,
                 decided: Mapping[str, LimitDecision],
                 filters: QueueFilters = QueueFilters()) -> pd.DataFrame:  # noqa: B008
    """Customers flagged for review in the policy's order (`review_rank` of
    `models.limits`: credit holds, then the largest changes in expected loss), filtered; in a
    snapshot written before that rank, by expected loss (probability of serious delinquency x
    open balance), largest first. `rank` numbers the rows left.

    `limits` and `customers` are the snapshot's frames; `decided` the effective decisions."""
    attributes = customers.set_index("customer_id")
    flagged = limits[limits["review_flag"].astype(bool)].copy()
    ids = flagged["customer_id"]
    for column in ("country", "segment"):
        flagged[column] = ids.map(attributes[column]) if column in attributes else None
    flagged["exposure"] = ids.map(attributes["open_balance_base"]).fillna(0.0).astype(float)
    flagged["expected_loss"] = flagged["exposure"] * flagged["probability"].astype(float)
    keep = pd.Series(True, index=flagged.index)
    if filters.grades:
        keep &= flagged["grade"].isin(filters.grades)
    if filters.country is not None:
        keep &= flagged["country"] == filters.country
    if filters.segment is not None:
        keep &= flagged["segment"] == filters.segment
    if filters.min_exposure is not None:
        keep &= flagged["exposure"] >= filters.min_exposure
    if not filters.include_decided:
        keep &= ~ids.map(lambda c: c in decided and decided[c].snapshot_as_of >= as_of)
    order = (["review_rank", "customer_id"], [True, True]) if "review_rank" in flagged \
        else (["expected_loss", "customer_id"], [False, True])
    queue = flagged[keep].sort_values(order[0], ascending=order[1], kind="stable")
    queue.insert(0, "rank", range(1, len(queue) + 1))
    if filters.top_k is not None:
        queue = queue.head(filters.top_k)
    return queue.reset_index(drop=True)


def queue_rows(store: Store, portfolio: Portfolio,
               filters: QueueFilters = QueueFilters()) -> list[dict[str, Any]]:  # noqa: B008
    """The review queue of the snapshot as JSON-ready rows, each with its decision beside."""
    with store.begin() as session:
        decided = effective_limits(session)
    queue = review_queue(portfolio.limits, portfolio.customers, portfolio.as_of, decided,
                         filters)
    from serving.scoring import records

    return with_effective(records(queue), decided)
