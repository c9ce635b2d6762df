"""notices.author: the first name a member of staff signs a reply with (null: automatic).

Revision ID: 0004_notice_author
Revises: 0003_staff
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_notice_author"
down_revision = "0003_staff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("author", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("author")
