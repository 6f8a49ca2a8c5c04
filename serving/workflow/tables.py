"""Tables of users, API keys, the collectors' actions and portfolio ownership (revision 0001).

Every action row records who (`user_id`) and when (UTC). Amounts are in the customer's own
currency, as in the ledger's promises table.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from serving.workflow.base import Base, now

ROLES: tuple[str, ...] = ("collector", "credit_manager", "admin")
"""Roles in increasing order of access (as serving.auth.ROLES)."""
CHANNELS: tuple[str, ...] = ("call", "email", "letter")
"""How a contact was made."""
ACTIVITY_KINDS: tuple[str, ...] = ("contact", "promise", "dispute_opened", "dispute_resolved",
                                   "note", "assigned")
"""Kinds of rows of the activity log."""
Money = Numeric(18, 2, asdecimal=False)


class User(Base):
    """A named person with a role; keys and a password let them in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    keys: Mapped[list[ApiKey]] = relationship(back_populates="user")


class ApiKey(Base):
    """An API key of a user, kept as its SHA-256 digest only."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    user: Mapped[User] = relationship(back_populates="keys")


class Activity(Base):
    """One line of a customer's activity log: a contact, a promise, a dispute opened or
    resolved, a note, an assignment; who, when and what."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=now, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    invoice_id: Mapped[str | None] = mapped_column(String(200), default=None)
    channel: Mapped[str | None] = mapped_column(String(20), default=None)
    outcome: Mapped[str | None] = mapped_column(String(200), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    promise_id: Mapped[int | None] = mapped_column(ForeignKey("promises.id"), default=None)
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id"), default=None)
    user: Mapped[User] = relationship()


class Promise(Base):
    """A promise to pay `amount` by `promised_date`, on some invoices or (none named) on the
    customer's balance."""

    __tablename__ = "promises"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    promised_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[float] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    invoices: Mapped[list[PromiseInvoice]] = relationship(
        cascade="all, delete-orphan", order_by="PromiseInvoice.invoice_id")
    author: Mapped[User] = relationship()

    @property
    def invoice_ids(self) -> list[str]:
        """The invoices promised (empty: the customer's balance)."""
        return [link.invoice_id for link in self.invoices]


class PromiseInvoice(Base):
    """An invoice a promise names."""

    __tablename__ = "promise_invoices"

    promise_id: Mapped[int] = mapped_column(ForeignKey("promises.id"), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(200), primary_key=True)


class Dispute(Base):
    """A dispute on an invoice: opened with a reason, resolved with a resolution."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(200), index=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    reason: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[dt.datetime] = mapped_column(default=now)
    opened_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    resolution: Mapped[str | None] = mapped_column(Text, default=None)


class Owner(Base):
    """The collector a customer belongs to, since when, and who assigned them (None: the
    configured rule)."""

    __tablename__ = "owners"

    customer_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    since: Mapped[dt.datetime] = mapped_column(default=now)
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    user: Mapped[User] = relationship(foreign_keys=[user_id])
