"""Rate-limit counters shared by every instance (bot/storage/rate_counters.py).

Revision ID: 0008_rate_counters
Revises: 0007_trust
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_rate_counters"
down_revision = "0007_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_rate_counters_expires_at", "rate_counters", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_counters_expires_at", "rate_counters")
    op.drop_table("rate_counters")
