"""Credit-limit decisions, the append-only audit log, and alerts.

Revision ID: 0002
Revises: 0001

The audit log refuses UPDATE and DELETE in the database itself: triggers on SQLite and
PostgreSQL (`serving.workflow.audit.APPEND_ONLY_TRIGGERS`; PostgreSQL also refuses TRUNCATE).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from serving.workflow.audit import APPEND_ONLY_TRIGGERS, TABLE

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

MOMENT = sa.DateTime(timezone=True)
ID = sa.String(length=200)


def upgrade() -> None:
    """Create the tables of revision 0002 and the audit log's triggers."""
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", MOMENT, nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("subject", ID, nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index("ix_audit_log_subject", TABLE, ["subject"])
    op.create_table(
        "limit_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("limit", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("recommended_limit", sa.Float(), nullable=True),
        sa.Column("grade", sa.String(length=2), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(length=40), nullable=True),
        sa.Column("snapshot_as_of", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_decisions")),
    )
    op.create_index("ix_limit_decisions_customer", "limit_decisions",
                    ["customer_id", "decided_at"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("snapshot_as_of", sa.Date(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("key", name=op.f("uq_alerts_key")),
    )
    op.create_index("ix_alerts_owner", "alerts", ["owner", "created_at"])
    for statement in APPEND_ONLY_TRIGGERS.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    """Drop the tables of revision 0002 (the audit log's triggers go with it)."""
    for table in ("alerts", "limit_decisions", TABLE):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
