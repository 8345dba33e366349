"""Resource indicators (RFC 8707) and the longest client assertion lifetime per realm: the
resources a client may name, the resources a refresh token was issued for, and each realm's
longest accepted private_key_jwt assertion lifetime.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("realms", sa.Column("max_assertion_lifetime", sa.Integer(), nullable=True))
    # Existing clients may name no resource; existing refresh tokens were issued for none.
    op.add_column("clients", sa.Column("resources", sa.Text(), nullable=False, server_default=""))
    op.add_column(
        "refresh_tokens", sa.Column("resources", sa.Text(), nullable=False, server_default="")
    )


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN in place, on SQLite too (3.35 and later): batch mode would copy
    # realms, and dropping the old copy under PRAGMA foreign_keys=ON cascades to every client,
    # key and token of the realm. None of these columns is indexed, unique or a key, which an
    # in-place drop on SQLite requires.
    op.drop_column("refresh_tokens", "resources")
    op.drop_column("clients", "resources")
    op.drop_column("realms", "max_assertion_lifetime")
