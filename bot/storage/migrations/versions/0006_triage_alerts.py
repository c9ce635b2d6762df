"""Triage alerts: a conversation's emergency or crisis flag, and the handoff it put first.

Revision ID: 0006_triage_alerts
Revises: 0005_sign_in_failures
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_triage_alerts"
down_revision = "0005_sign_in_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("alert", sa.String(16), nullable=True))
        batch.add_column(sa.Column("alert_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("alert", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("alert")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("alert_at")
        batch.drop_column("alert")
