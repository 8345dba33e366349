"""Client keys for private_key_jwt, and the used-assertion list that refuses replays.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clients", sa.Column("jwks", sa.Text(), nullable=True))
    op.add_column("clients", sa.Column("jwks_url", sa.String(1024), nullable=True))
    op.create_table(
        "used_assertions",
        sa.Column(
            "realm_id",
            sa.Integer(),
            sa.ForeignKey("realms.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_used_assertions_expires_at", "used_assertions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("used_assertions")
    op.drop_column("clients", "jwks_url")
    op.drop_column("clients", "jwks")
