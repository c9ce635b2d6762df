"""Trust boundaries: integration keys, proven addresses, reply caches keyed by sender too.

``processed_messages`` and ``channel_receipts`` gain ``sender_key`` in their primary key
(channel, sender, message id). Both are caches of replies to retried deliveries; their rows
are recreated empty, since a row without its sender cannot be told apart from another
sender's. A delivery retried across the upgrade is answered once more, nothing else is lost.

Revision ID: 0007_trust
Revises: 0006_triage_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_trust"
down_revision = "0006_triage_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integration_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "proven_addresses",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("address_key", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.drop_table("processed_messages")
    op.create_table(
        "processed_messages",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("sender_key", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(200), primary_key=True),
        sa.Column("reply", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.drop_table("channel_receipts")
    op.create_table(
        "channel_receipts",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("sender_key", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(200), primary_key=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_receipts")
    op.create_table(
        "channel_receipts",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("message_id", sa.String(200), primary_key=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.drop_table("processed_messages")
    op.create_table(
        "processed_messages",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("message_id", sa.String(200), primary_key=True),
        sa.Column("reply", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.drop_table("proven_addresses")
    op.drop_table("integration_keys")
