"""Channel state: webhook receipts, SMS opt-outs and replies waiting for MORE.

Revision ID: 0002_channel_state
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_channel_state"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_receipts",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("message_id", sa.String(200), primary_key=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "opt_outs",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("address_key", sa.String(64), primary_key=True),
        sa.Column("keyword", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "channel_sessions",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("sender_key", sa.String(64), primary_key=True),
        sa.Column("pending", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_sessions")
    op.drop_table("opt_outs")
    op.drop_table("channel_receipts")
