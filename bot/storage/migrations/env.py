"""Alembic environment: the core's tables and the knowledge base's, on the caller's connection."""

from alembic import context

from bot.storage.tables import METADATA

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=METADATA,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
