"""Counters of failed staff sign-ins, for the sign-in throttle shared by every instance.

Revision ID: 0005_sign_in_failures
Revises: 0004_outbox_outcome
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_sign_in_failures"
down_revision = "0004_outbox_outcome"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_sign_in_failures",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_staff_sign_in_failures_last_failed_at", "staff_sign_in_failures", ["last_failed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_staff_sign_in_failures_last_failed_at", table_name="staff_sign_in_failures")
    op.drop_table("staff_sign_in_failures")
