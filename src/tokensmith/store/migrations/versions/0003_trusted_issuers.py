"""Trusted external issuers per realm, and per-client grant types, audience and extra claims.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trusted_issuers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "realm_id", sa.Integer(), sa.ForeignKey("realms.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("jwks_url", sa.String(1024), nullable=True),
        sa.Column("jwks", sa.Text(), nullable=True),
        sa.Column("audiences", sa.Text(), nullable=False),
        sa.Column("algorithms", sa.Text(), nullable=False),
        sa.Column("max_age", sa.Integer(), nullable=False),
        sa.Column("claims", sa.Text(), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("realm_id", "issuer", name="uq_trusted_issuers_realm_issuer"),
    )
    # Plain ADD COLUMN, never a batch copy: on SQLite a batch copy drops the old table, and with
    # foreign keys on that would cascade into client secrets and refresh tokens.
    op.add_column("clients", sa.Column("grant_types", sa.Text(), nullable=False, server_default=""))
    op.add_column("clients", sa.Column("audience", sa.String(255), nullable=True))
    op.add_column("clients", sa.Column("extra_claims", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("clients", "extra_claims")
    op.drop_column("clients", "audience")
    op.drop_column("clients", "grant_types")
    op.drop_table("trusted_issuers")
