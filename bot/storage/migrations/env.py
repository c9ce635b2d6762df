"""Alembic environment: the core's tables and the knowledge base's, on the caller's connection."""

from alembic import context

from bot.storage.models import Base
from knowledge.models import KnowledgeBase

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=[Base.metadata, KnowledgeBase.metadata],
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
