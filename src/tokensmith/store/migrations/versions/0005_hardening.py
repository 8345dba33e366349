"""Hardening: a master-key check value, when a signing key stopped signing, the refresh-token reuse
grace period (and each refresh token's parent) and client-authentication rate limits per realm.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.add_column("signing_keys", sa.Column("stopped_at", sa.BigInteger(), nullable=True))
    op.add_column("realms", sa.Column("refresh_reuse_grace", sa.Integer(), nullable=True))
    op.add_column("realms", sa.Column("client_auth_limit", sa.String(255), nullable=True))
    op.add_column("realms", sa.Column("address_auth_limit", sa.String(255), nullable=True))
    op.add_column("refresh_tokens", sa.Column("parent", sa.String(64), nullable=True))
    op.create_index("ix_refresh_tokens_parent", "refresh_tokens", ["parent"])


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_parent", "refresh_tokens")
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("parent")
    # In place, on SQLite too (3.35 and later): batch mode would copy realms, and dropping the
    # old copy under PRAGMA foreign_keys=ON cascades to every client, key and token of the realm.
    op.drop_column("realms", "address_auth_limit")
    op.drop_column("realms", "client_auth_limit")
    op.drop_column("realms", "refresh_reuse_grace")
    op.drop_column("signing_keys", "stopped_at")
    op.drop_table("service_meta")
