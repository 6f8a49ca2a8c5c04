"""The audit log: one row per decision or action, who and when, never changed afterwards.

Every writer calls `record` inside its own transaction, so the action and its audit row are
committed together or not at all. The log is append-only three times over: the ORM refuses to
flush a change or a deletion of an `AuditEntry` (mapper events), a bulk UPDATE or DELETE of
the table through a session (`do_orm_execute`), and the database itself refuses both
(triggers of migration 0002, on SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Index, String, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from serving.workflow.base import Base, now

TABLE = "audit_log"


class AuditLogIsAppendOnly(PermissionError):
    """An attempt to change or delete a row of the audit log."""


class AuditEntry(Base):
    """One audited decision or action."""

    __tablename__ = TABLE
    __table_args__ = (Index("ix_audit_log_subject", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=now)
    """When, in UTC."""
    user_name: Mapped[str] = mapped_column(String(200))
    """Who: the user's name."""
    role: Mapped[str | None] = mapped_column(String(40))
    """The user's role at the time."""
    action: Mapped[str] = mapped_column(String(60))
    """What: `decide_limit`, `log_promise`, `open_dispute`..."""
    subject: Mapped[str | None] = mapped_column(String(200))
    """Whom it is about: a customer id (None for actions on no customer)."""
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Everything else worth keeping: the recommendation and model version at the time, the
    reasons shown, the decision and its reason, the amounts..."""

    def as_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready values (time as ISO 8601 UTC)."""
        return {"id": self.id, "at": self.at.isoformat(), "user": self.user_name,
                "role": self.role, "action": self.action, "subject": self.subject,
                "details": self.details}


def record(session: Session, *, user: str, action: str, subject: str | None,
           details: Mapping[str, Any], role: str | None = None,
           at: dt.datetime | None = None) -> AuditEntry:
    """Add an audit row to the session's transaction (flushed, not committed: the caller
    commits it with the action it records). `details` must be JSON-serializable."""
    entry = AuditEntry(at=at or now(), user_name=user, role=role, action=action,
                       subject=subject, details=dict(details))
    session.add(entry)
    session.flush()
    return entry


def entries(session: Session, *, subject: str | None = None,
            actions: Sequence[str] | None = None, limit: int | None = None) -> list[AuditEntry]:
    """Audit rows, newest first: of one subject, of some actions, at most `limit`."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    if actions:
        query = query.where(AuditEntry.action.in_(list(actions)))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(mapper: Any, connection: Any, target: AuditEntry) -> None:
    raise AuditLogIsAppendOnly(f"audit log entry {target.id} cannot be changed: the audit log "
                               "is append-only")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(mapper: Any, connection: Any, target: AuditEntry) -> None:
    raise AuditLogIsAppendOnly(f"audit log entry {target.id} cannot be deleted: the audit log "
                               "is append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk(state: Any) -> None:
    """Refuse `session.execute(update(AuditEntry)...)` and `delete(...)`."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == TABLE:
        raise AuditLogIsAppendOnly("the audit log is append-only: no UPDATE or DELETE")


APPEND_ONLY_TRIGGERS: dict[str, list[str]] = {
    "sqlite": [
        f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    ],
    "postgresql": [
        f"CREATE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()",
    ],
}
"""What migration 0002 runs, per database dialect, so the database refuses changes too."""
