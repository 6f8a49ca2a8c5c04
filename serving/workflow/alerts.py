"""Alerts: stored once per key, each for the collector who owns the customer (None: admins
only), read back per user (`POST /alerts`), and optionally POSTed to a webhook.

`refresh` runs when the service loads or reloads a snapshot: it compares the snapshot with
the previous one (`alert_rules.snapshot_drafts`), reads the latest monitoring report, and
stores what is new. `add` stores drafts raised by an action.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from sqlalchemy import JSON, Date, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from serving.portfolio import Portfolio, latest_portfolio_dir, manifest_date
from serving.workflow.alert_rules import (
    AlertsConfig,
    Draft,
    Snapshot,
    monitoring_draft,
    snapshot_drafts,
)
from serving.workflow.base import Base, now
from serving.workflow.db import Store
from serving.workflow.tables import Owner, User

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
    """The user name of the customer's collector; None: for admins only."""
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
    """The alerts a user sees, newest first: an admin every one, others those they own."""
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if not admin:
        query = query.where(Alert.owner == user)
    if kinds:
        query = query.where(Alert.kind.in_(list(kinds)))
    return list(session.scalars(query))


def snapshot_of(portfolio: Portfolio) -> Snapshot:
    """What the alert rules read of a loaded portfolio."""
    return Snapshot(portfolio.as_of, portfolio.limits, portfolio.worklist,
                    portfolio.invoice_scores)


def previous_snapshot(root: Path, as_of: dt.date) -> Snapshot | None:
    """The parts the rules read of the latest snapshot before `as_of` under `root`."""
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


def refresh(session: Session, portfolio: Portfolio, *, snapshots_dir: Path,
            monitoring_path: Path, owners: Mapping[str, str],
            config: AlertsConfig) -> list[Alert]:
    """Store the alerts the snapshot (against the previous one) and the monitoring report
    deserve and that are not stored yet; the new ones."""
    drafts = snapshot_drafts(snapshot_of(portfolio),
                             previous_snapshot(snapshots_dir, portfolio.as_of), config)
    report = monitoring_draft(monitoring_report(monitoring_path), config)
    if report is not None:
        drafts.append(report)
    return add(session, drafts, owners=owners, as_of=portfolio.as_of)


def owners(session: Session) -> dict[str, str]:
    """Customer id -> the user name of the collector who owns it."""
    rows = session.execute(select(Owner.customer_id, User.name)
                           .join(User, Owner.user_id == User.id))
    return {customer: name for customer, name in rows}


def refresh_store(store: Store, portfolio: Portfolio, *, snapshots_dir: Path,
                  monitoring_path: Path, config: AlertsConfig) -> list[Alert]:
    """`refresh` in a transaction of its own, then `notify` the new alerts."""
    with store.begin() as session:
        fresh = refresh(session, portfolio, snapshots_dir=snapshots_dir,
                        monitoring_path=monitoring_path, owners=owners(session),
                        config=config)
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
