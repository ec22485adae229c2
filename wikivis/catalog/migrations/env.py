"""Alembic environment: runs against the connection handed over by ``wikivis.catalog``."""

from alembic import context

from wikivis.catalog.models import Base

connection = context.config.attributes.get("connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
