"""Outbox claims, the SQLite dispatcher lease and Open311 POST idempotency.

Revision ID: 0002_outbox_claims
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_outbox_claims"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("delivered_to", sa.String(32), nullable=True))
        batch.add_column(sa.Column("external_token", sa.String(200), nullable=True))
    op.create_table(
        "dispatcher_leases",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "open311_posts",
        sa.Column("client", sa.String(64), primary_key=True),
        sa.Column("idempotency_key", sa.String(200), primary_key=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("service_requests.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("open311_posts")
    op.drop_table("dispatcher_leases")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("external_token")
        batch.drop_column("delivered_to")
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
