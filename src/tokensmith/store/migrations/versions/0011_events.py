"""The admin-event and event logs the admin API reads (Keycloak's admin events and events), and
when each client last got a token.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("realm", sa.String(64), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_path", sa.String(1024), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("address", sa.String(255), nullable=True),
        sa.Column("details", sa.Text(), nullable=False, server_default="{}"),
    )
    op.create_index("ix_admin_events_time", "admin_events", ["time"])
    op.create_index("ix_admin_events_realm_time", "admin_events", ["realm", "time"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("realm", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=True),
        sa.Column("address", sa.String(255), nullable=True),
        sa.Column("error", sa.String(64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False, server_default="{}"),
    )
    op.create_index("ix_events_time", "events", ["time"])
    op.create_index("ix_events_realm_time", "events", ["realm", "time"])
    # Existing clients have not been seen since this version counts: NULL until their next token.
    op.add_column("clients", sa.Column("last_used_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # In place, on SQLite too (3.35 and later), as in 0007 and 0008: batch mode would copy
    # clients, and dropping the old copy under PRAGMA foreign_keys=ON cascades to their secrets.
    op.drop_column("clients", "last_used_at")
    op.drop_table("events")  # dropping a table drops its indexes
    op.drop_table("admin_events")
