"""Alembic environment: runs on the connection tokensmith hands it (see ``_database._upgrade``)."""

from alembic import context

from tokensmith.store._tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
context.run_migrations()
