"""Outbox rows that may have been filed, token look-ups counted on their own, and the body
hash of an Open311 POST kept with its Idempotency-Key, how phone calls ended, and the row
/readyz writes.

Also joins the heads that 0001_initial branched into (0003_staff through 0004_notice_author).

Revision ID: 0004_outbox_outcome
Revises: 0002_channel_state, 0002_outbox_claims, 0004_notice_author
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_outbox_outcome"
down_revision = ("0002_channel_state", "0002_outbox_claims", "0004_notice_author")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("token_lookups", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("maybe_filed", sa.Boolean, nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("open311_posts") as batch:
        batch.add_column(sa.Column("body_hash", sa.String(64), nullable=True))
    op.create_table(
        "health_probes",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "call_outcomes",
        sa.Column("call_sid", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("duration_seconds", sa.Integer, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("call_outcomes")
    op.drop_table("health_probes")
    with op.batch_alter_table("open311_posts") as batch:
        batch.drop_column("body_hash")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("maybe_filed")
        batch.drop_column("token_lookups")
