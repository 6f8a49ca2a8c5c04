"""Alerts: stored once per key, each for the collector who owns the customer (None: admins
only), read back per user (`POST /alerts`), and optionally POSTed to a webhook.

When the service loads or reloads a snapshot, `snapshot_alerts` compares it with the previous
one (`alert_rules.snapshot_drafts`) and reads the latest monitoring report; then, and after
each collector's action and before `/alerts` answers, `store_promise_alerts` finds promises
logged in the store that are broken by today. `raise_alerts` stores what is new and sends it
to the webhook.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pandas as pd
from sqlalchemy import JSON, Date, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from serving.workflow.alert_rules import (
    AlertsConfig,
    Draft,
    Snapshot,
    broken_promise,
    monitoring_draft,
    snapshot_drafts,
)
from serving.workflow.base import Base, now
from serving.workflow.db import Store
from serving.workflow.tables import Owner, User

if TYPE_CHECKING:  # the migrations import this module: no model libraries at import
    from models.worklist import WorklistConfig
    from serving.portfolio import Portfolio

logger = logging.getLogger(__name__)


class Alert(Base):
    """One alert."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_owner", "owner", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    kind: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(100))
    """The user name of the customer's collector when the alert was raised (None: none, or
    an alert for admins only); `alerts_for` follows the current owner."""
    message: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    snapshot_as_of: Mapped[dt.date | None] = mapped_column(Date)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"id": self.id, "key": self.key, "created_at": self.created_at.isoformat(),
                "kind": self.kind,
                "customer_id": self.customer_id, "owner": self.owner,
                "message": self.message,
                "snapshot_as_of": self.snapshot_as_of.isoformat() if self.snapshot_as_of
                else None, "details": self.details}


def add(session: Session, drafts: Iterable[Draft], *, owners: Mapping[str, str],
        as_of: dt.date | None) -> list[Alert]:
    """Store the drafts whose key is new (flushed in the caller's transaction); the new
    alerts. `owners`: customer id -> its collector's user name."""
    drafts = list({d.key: d for d in drafts}.values())
    if not drafts:
        return []
    keys = [d.key for d in drafts]
    seen = set()
    for start in range(0, len(keys), 500):
        seen.update(session.scalars(select(Alert.key).where(
            Alert.key.in_(keys[start:start + 500]))))
    fresh = [Alert(kind=d.kind, key=d.key, message=d.message, customer_id=d.customer_id,
                   owner=owners.get(d.customer_id) if d.customer_id else None,
                   snapshot_as_of=as_of, details=d.details)
             for d in drafts if d.key not in seen]
    session.add_all(fresh)
    session.flush()
    return fresh


def alerts_for(session: Session, *, user: str, admin: bool, kinds: Sequence[str] | None = None,
               limit: int = 500) -> list[Alert]:
    """The alerts a user sees, newest first: an admin every one, others those about the
    customers they own now (a reassigned customer's alerts go with it)."""
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if not admin:
        owned = (select(Owner.customer_id).join(User, Owner.user_id == User.id)
                 .where(User.name == user))
        query = query.where(Alert.customer_id.in_(owned))
    if kinds:
        query = query.where(Alert.kind.in_(list(kinds)))
    return list(session.scalars(query))


def snapshot_of(portfolio: Portfolio) -> Snapshot:
    """What the alert rules read of a loaded portfolio."""
    return Snapshot(portfolio.as_of, portfolio.limits, portfolio.worklist,
                    portfolio.invoice_scores)


def previous_snapshot(root: Path, as_of: dt.date) -> Snapshot | None:
    """The parts the rules read of the latest snapshot before `as_of` under `root`."""
    from serving.portfolio import latest_portfolio_dir, manifest_date

    folder = latest_portfolio_dir(root, before=as_of)
    if folder is None:
        return None
    try:
        return Snapshot(
            manifest_date(folder),
            pd.read_parquet(folder / "limits.parquet",
                            columns=["customer_id", "grade", "utilization"]),
            pd.read_parquet(folder / "worklist.parquet",
                            columns=["customer_id", "broken_promise"]),
            pd.DataFrame(columns=["invoice_id", "customer_id", "days_past_due"]))
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("alerts: the previous snapshot %s is unreadable (%s): compared with "
                       "nothing", folder, exc)
        return None


def monitoring_report(path: Path) -> dict[str, Any] | None:
    """The latest monitoring report, or None when absent or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def snapshot_alerts(portfolio: Portfolio, *, snapshots_dir: Path, monitoring_path: Path,
                    config: AlertsConfig) -> list[Draft]:
    """The alerts the snapshot (against the previous one in `snapshots_dir`) and the latest
    monitoring report deserve."""
    drafts = snapshot_drafts(snapshot_of(portfolio),
                             previous_snapshot(snapshots_dir, portfolio.as_of), config)
    report = monitoring_draft(monitoring_report(monitoring_path), config)
    return [*drafts, report] if report is not None else drafts


def store_promise_alerts(store: Store, portfolio: Portfolio, worklist: WorklistConfig,
                         today: dt.date, config: AlertsConfig) -> list[Draft]:
    """Customers whose promise logged in the store is broken by `today` (as the worklist
    overlay judges it: the promised date passed, its invoices still open in the snapshot)
    while the snapshot did not flag a broken promise."""
    from serving.workflow.overlay import overlaid_frame

    if not config.broken_promise:
        return []
    rows = portfolio.worklist
    before = set(rows.loc[rows["broken_promise"].astype(bool), "customer_id"])
    now = overlaid_frame(portfolio, store, worklist, today)
    broken = now.loc[now["broken_promise"].astype(bool), "customer_id"]
    return [broken_promise(customer, f"{portfolio.as_of}:store", "logged in the store")
            for customer in broken if customer not in before]


def owners(session: Session) -> dict[str, str]:
    """Customer id -> the user name of the collector who owns it."""
    rows = session.execute(select(Owner.customer_id, User.name)
                           .join(User, Owner.user_id == User.id))
    return {customer: name for customer, name in rows}


def raise_alerts(store: Store, drafts: Iterable[Draft], *, as_of: dt.date,
                 config: AlertsConfig) -> list[Alert]:
    """Store the drafts not stored yet (each for its customer's owner) in a transaction of
    its own, then `notify` the new alerts; the new ones."""
    with store.begin() as session:
        fresh = add(session, drafts, owners=owners(session), as_of=as_of)
    notify(fresh, config)
    return fresh


def notify(alerts: Sequence[Alert], config: AlertsConfig) -> threading.Thread | None:
    """POST the alerts as JSON (`{"alerts": [...]}`) to the configured webhook, in a
    background thread (the caller never waits); failures are logged, never raised."""
    if not alerts or not config.webhook_url:
        return None
    body = {"alerts": [a.as_dict() for a in alerts]}
    url, timeout = config.webhook_url, config.webhook_timeout

    def send() -> None:
        try:
            response = httpx.post(url, json=body, timeout=timeout)
            if response.status_code >= 400:
                logger.warning("alert webhook answered %s for %d alert(s)",
                               response.status_code, len(body["alerts"]))
        except Exception as exc:  # noqa: BLE001 - a webhook never fails what raised the alert
            logger.warning("alert webhook failed for %d alert(s): %s: %s",
                           len(body["alerts"]), type(exc).__name__, exc)

    thread = threading.Thread(target=send, name="alert-webhook", daemon=True)
    thread.start()
    return thread
