# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Sessions table of the database session store.

The base of the `sessions` branch: `bin/admin migrate` applies this branch to the session
store's database (SESSION_STORE_URL when it names one), and to DATABASE_URL's only when the
store is that database. Release 0.1.0 ran one linear history, 0001 then 0002, on every
database, so a database it migrated has this table already while its version table says
only "0002" (now the `app` branch's base): the table is created only where it is missing,
never replaced.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("sessions",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("sessions"):
        return  # made by release 0.1.0's history; its shape is this one
    op.create_table(
        "sessions",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_expires_at"), "sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sessions_expires_at"), table_name="sessions")
    op.drop_table("sessions")
