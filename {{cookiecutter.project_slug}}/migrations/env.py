# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Alembic environment, configured from code by the migrator module (no alembic.ini).

Run migrations with `bin/admin migrate`: it opens the connection, takes the migration
lock and the transaction, and hands the connection over in config.attributes.
"""

from alembic import context
from sqlalchemy.engine import Connection

# The template's tables and yours (tables.py builds on db.metadata).
from {{ cookiecutter.project_slug }}.tables import metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations with `bin/admin migrate`, not the alembic command")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: autogenerate "move and copy" batch operations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations()
