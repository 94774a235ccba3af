# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Alembic environment, configured from code by the migrator module (no alembic.ini).

Run migrations with `bin/admin migrate`: it opens the connection, takes the migration
lock and the transaction, and hands the connection over in config.attributes.
"""

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.schema import SchemaItem

from {{ cookiecutter.project_slug }}.migrator import TEMPLATE_TABLES

# The template's tables and yours (tables.py builds on db.metadata).
from {{ cookiecutter.project_slug }}.tables import metadata


def service_table(item: SchemaItem, name: str | None, kind: str, *_: object) -> bool:
    """Autogenerate (`bin/admin new_migration`) compares the service's tables only: the
    template's come from its own migrations, and a database may lack one of them on purpose
    (the sessions table lives in the session store's database)."""
    return kind != "table" or name not in TEMPLATE_TABLES


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
        include_object=service_table,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations()
