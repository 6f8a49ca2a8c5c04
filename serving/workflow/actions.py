"""The collectors' actions: log a contact or a promise to pay, open or resolve a dispute, add
a note. Each is one transaction: checked against the book (the snapshot's customers and open
invoices), written with who and when to the activity log and the audit log, or refused with a
`WorkflowError` naming the field and nothing written.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.workflow import audit
from serving.workflow.db import Store
from serving.workflow.errors import WorkflowError
from serving.workflow.tables import CHANNELS, Activity, Dispute, Promise, PromiseInvoice
from serving.workflow.users import Actor, actor_user

if TYPE_CHECKING:
    from serving.portfolio import Portfolio

MAX_TEXT = 2000
"""Longest note, reason, resolution or outcome."""
MAX_AMOUNT = 1e13


@dataclass(frozen=True)
class Book:
    """What actions are checked against: the snapshot's customers and open invoices."""

    as_of: dt.date
    customers: frozenset[str]
    open_invoices: Mapping[str, str]
    """Open invoice id -> its customer id."""

    @classmethod
    def of(cls, portfolio: Portfolio) -> Book:
        """The book of a portfolio snapshot."""
        scores = portfolio.invoice_scores
        return cls(portfolio.as_of, frozenset(portfolio.customers["customer_id"].astype(str)),
                   dict(zip(scores["invoice_id"].astype(str), scores["customer_id"].astype(str),
                            strict=True)))

    def customer(self, customer_id: str, field: str = "customer_id") -> str:
        """The id, if the snapshot knows the customer; else 404 naming the field."""
        if customer_id not in self.customers:
            raise WorkflowError(f"unknown customer {customer_id!r} in the snapshot of "
                                f"{self.as_of}", field, 404)
        return customer_id

    def invoice(self, invoice_id: str, field: str = "invoice_id") -> str:
        """The customer of an invoice open in the snapshot; else 404 naming the field."""
        customer = self.open_invoices.get(invoice_id)
        if customer is None:
            raise WorkflowError(f"unknown invoice {invoice_id!r}: not open in the snapshot of "
                                f"{self.as_of}", field, 404)
        return customer


def _text(value: str | None, field: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise WorkflowError(f"{field} must not be empty", field)
    if len(text) > MAX_TEXT:
        raise WorkflowError(f"{field} is longer than {MAX_TEXT} characters", field)
    if "\x00" in text:
        raise WorkflowError(f"{field} must not contain NUL characters", field)
    return text or None


def log_activity(session: Session, actor: Actor, kind: str, customer_id: str,
         details: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
    """Write an activity row and its audit row; the activity as JSON-ready values."""
    user = actor_user(session, actor)
    activity = Activity(user_id=user.id, customer_id=customer_id, kind=kind, **fields)
    session.add(activity)
    session.flush()
    audit.record(session, user=actor.name, role=actor.role, action=_AUDITED[kind],
                 subject=customer_id, details={"activity_id": activity.id, **details},
                 at=activity.at)
    return activity_row(activity, actor.name)


_AUDITED = {"contact": "log_contact", "promise": "log_promise",
            "dispute_opened": "open_dispute", "dispute_resolved": "resolve_dispute",
            "note": "add_note", "assigned": "assign"}


def activity_row(activity: Activity, user: str) -> dict[str, Any]:
    """An activity as the API answers it."""
    return {"id": activity.id, "at": activity.at.isoformat(), "user": user,
            "kind": activity.kind, "customer_id": activity.customer_id,
            "invoice_id": activity.invoice_id, "channel": activity.channel,
            "outcome": activity.outcome, "note": activity.note,
            "promise_id": activity.promise_id, "dispute_id": activity.dispute_id}


def log_contact(store: Store, actor: Actor, book: Book, *, customer_id: str, channel: str,
                outcome: str, note: str | None = None) -> dict[str, Any]:
    """Record a call, e-mail or letter to a customer and its outcome."""
    book.customer(customer_id)
    if channel not in CHANNELS:
        raise WorkflowError(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}",
                            "channel")
    outcome = _text(outcome, "outcome", required=True)
    note = _text(note, "note", required=False)
    with store.begin() as session:
        return log_activity(session, actor, "contact", customer_id,
                    {"channel": channel, "outcome": outcome, "note": note},
                    channel=channel, outcome=outcome, note=note)


def log_promise(store: Store, actor: Actor, book: Book, *, customer_id: str,
                promised_date: dt.date, amount: float, invoice_ids: Sequence[str] = (),
                note: str | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """Record a promise to pay `amount` (the customer's currency) by `promised_date` (today
    or later), on some open invoices of the customer or, none named, on their balance."""
    book.customer(customer_id)
    today = today or dt.date.today()
    if promised_date < today:
        raise WorkflowError(f"promised_date {promised_date} is in the past (today is "
                            f"{today})", "promised_date")
    if not (isinstance(amount, int | float) and math.isfinite(amount)
            and 0 < amount <= MAX_AMOUNT):
        raise WorkflowError(f"amount must be a number above 0 and at most {MAX_AMOUNT:g}, "
                            f"got {amount!r}", "amount")
    for i, invoice_id in enumerate(invoice_ids):
        field = f"invoice_ids[{i}]"
        if book.invoice(invoice_id, field) != customer_id:
            raise WorkflowError(f"invoice {invoice_id!r} is not customer {customer_id!r}'s",
                                field)
    if len(set(invoice_ids)) != len(invoice_ids):
        raise WorkflowError("an invoice is named twice", "invoice_ids")
    note = _text(note, "note", required=False)
    with store.begin() as session:
        user = actor_user(session, actor)
        promise = Promise(customer_id=customer_id, promised_date=promised_date,
                          amount=float(amount), note=note, created_by=user.id,
                          invoices=[PromiseInvoice(invoice_id=i) for i in invoice_ids])
        session.add(promise)
        session.flush()
        row = log_activity(session, actor, "promise", customer_id,
                   {"promise_id": promise.id, "promised_date": promised_date.isoformat(),
                    "amount": float(amount), "invoice_ids": list(invoice_ids), "note": note},
                   promise_id=promise.id, note=note, at=promise.created_at)
        return {**row, "promised_date": promised_date.isoformat(), "amount": float(amount),
                "invoice_ids": list(invoice_ids)}


def open_dispute(store: Store, actor: Actor, book: Book, *, invoice_id: str,
                 reason: str) -> dict[str, Any]:
    """Open a dispute on an open invoice, with its reason (one open dispute per invoice)."""
    customer_id = book.invoice(invoice_id)
    reason = _text(reason, "reason", required=True)
    with store.begin() as session:
        if _open_dispute(session, invoice_id) is not None:
            raise WorkflowError(f"invoice {invoice_id!r} is in open dispute already",
                                "invoice_id", 409)
        user = actor_user(session, actor)
        dispute = Dispute(invoice_id=invoice_id, customer_id=customer_id, reason=reason,
                          opened_by=user.id)
        session.add(dispute)
        session.flush()
        row = log_activity(session, actor, "dispute_opened", customer_id,
                   {"dispute_id": dispute.id, "invoice_id": invoice_id, "reason": reason},
                   invoice_id=invoice_id, dispute_id=dispute.id, note=reason,
                   at=dispute.opened_at)
        return {**row, "reason": reason}


def _open_dispute(session: Session, invoice_id: str) -> Dispute | None:
    return session.scalars(select(Dispute).where(Dispute.invoice_id == invoice_id,
                                                 Dispute.resolved_at.is_(None))).first()


def resolve_dispute(store: Store, actor: Actor, *, resolution: str,
                    dispute_id: int | None = None,
                    invoice_id: str | None = None) -> dict[str, Any]:
    """Resolve the open dispute given by its id or its invoice, with a resolution."""
    if (dispute_id is None) == (invoice_id is None):
        raise WorkflowError("give the dispute_id or the invoice_id, not both", "dispute_id")
    resolution = _text(resolution, "resolution", required=True)
    with store.begin() as session:
        if dispute_id is not None:
            dispute = session.get(Dispute, dispute_id) if 0 < dispute_id < 2**31 else None
            if dispute is None or dispute.resolved_at is not None:
                raise WorkflowError(f"no open dispute {dispute_id}", "dispute_id", 404)
        else:
            dispute = _open_dispute(session, invoice_id)
            if dispute is None:
                raise WorkflowError(f"invoice {invoice_id!r} has no open dispute",
                                    "invoice_id", 404)
        user = actor_user(session, actor)
        row = log_activity(session, actor, "dispute_resolved", dispute.customer_id,
                   {"dispute_id": dispute.id, "invoice_id": dispute.invoice_id,
                    "resolution": resolution},
                   invoice_id=dispute.invoice_id, dispute_id=dispute.id, note=resolution)
        dispute.resolved_at = _moment(row["at"])
        dispute.resolved_by = user.id
        dispute.resolution = resolution
        return {**row, "resolution": resolution}


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def add_note(store: Store, actor: Actor, book: Book, *, customer_id: str, note: str,
             invoice_id: str | None = None) -> dict[str, Any]:
    """Add a note on a customer (or one of their open invoices)."""
    book.customer(customer_id)
    if invoice_id is not None and book.invoice(invoice_id) != customer_id:
        raise WorkflowError(f"invoice {invoice_id!r} is not customer {customer_id!r}'s",
                            "invoice_id")
    note = _text(note, "note", required=True)
    with store.begin() as session:
        return log_activity(session, actor, "note", customer_id, {"note": note,
                                                          "invoice_id": invoice_id},
                    note=note, invoice_id=invoice_id)
