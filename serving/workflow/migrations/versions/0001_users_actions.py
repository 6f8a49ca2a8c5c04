"""Users, API keys, the collectors' actions (activity log, promises, disputes) and ownership.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

MOMENT = sa.DateTime(timezone=True)
ID = sa.String(length=200)


def _user(column: str, table: str, nullable: bool = False) -> list[sa.SchemaItem]:
    return [sa.Column(column, sa.Integer(), nullable=nullable),
            sa.ForeignKeyConstraint([column], ["users.id"],
                                    name=op.f(f"fk_{table}_{column}_users"))]


def upgrade() -> None:
    """Create the tables of revision 0001."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        *_user("user_id", "api_keys"),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("revoked_at", MOMENT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_keys_digest")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"])
    op.create_table(
        "promises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("promised_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        *_user("created_by", "promises"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises")),
    )
    op.create_index(op.f("ix_promises_customer_id"), "promises", ["customer_id"])
    op.create_table(
        "promise_invoices",
        sa.Column("promise_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.ForeignKeyConstraint(["promise_id"], ["promises.id"],
                                name=op.f("fk_promise_invoices_promise_id_promises")),
        sa.PrimaryKeyConstraint("promise_id", "invoice_id", name=op.f("pk_promise_invoices")),
    )
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_at", MOMENT, nullable=False),
        *_user("opened_by", "disputes"),
        sa.Column("resolved_at", MOMENT, nullable=True),
        *_user("resolved_by", "disputes", nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
    )
    op.create_index(op.f("ix_disputes_customer_id"), "disputes", ["customer_id"])
    op.create_index(op.f("ix_disputes_invoice_id"), "disputes", ["invoice_id"])
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", MOMENT, nullable=False),
        *_user("user_id", "activities"),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("promise_id", sa.Integer(), nullable=True),
        sa.Column("dispute_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["promise_id"], ["promises.id"],
                                name=op.f("fk_activities_promise_id_promises")),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"],
                                name=op.f("fk_activities_dispute_id_disputes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    op.create_index(op.f("ix_activities_at"), "activities", ["at"])
    op.create_index(op.f("ix_activities_customer_id"), "activities", ["customer_id"])
    op.create_table(
        "owners",
        sa.Column("customer_id", ID, nullable=False),
        *_user("user_id", "owners"),
        sa.Column("since", MOMENT, nullable=False),
        *_user("assigned_by", "owners", nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_owners")),
    )
    op.create_index(op.f("ix_owners_user_id"), "owners", ["user_id"])


def downgrade() -> None:
    """Drop the tables of revision 0001."""
    for table in ("owners", "activities", "disputes", "promise_invoices", "promises",
                  "api_keys", "users"):
        op.drop_table(table)
