"""DPoP (RFC 9449): whether a realm or a client requires DPoP-bound access tokens, and whether a
realm asks for proofs with its server nonce.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing realms and clients accept a proof when one is sent and require none.
    false = sa.false()
    op.add_column(
        "realms", sa.Column("dpop_required", sa.Boolean(), nullable=False, server_default=false)
    )
    op.add_column(
        "realms", sa.Column("dpop_nonce", sa.Boolean(), nullable=False, server_default=false)
    )
    op.add_column(
        "clients", sa.Column("dpop_required", sa.Boolean(), nullable=False, server_default=false)
    )


def downgrade() -> None:
    # In place, as in 0008 (batch mode would cascade deletes on SQLite).
    op.drop_column("clients", "dpop_required")
    op.drop_column("realms", "dpop_nonce")
    op.drop_column("realms", "dpop_required")
