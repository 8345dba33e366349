"""Realms, token paths, clients, client secrets, signing keys and refresh tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "realms",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("access_token_ttl", sa.Integer(), nullable=False),
        sa.Column("refresh_token_ttl", sa.Integer(), nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("response_style", sa.String(16), nullable=False),
        sa.Column("audience", sa.String(255), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "token_paths",
        sa.Column("path", sa.String(255), primary_key=True),
        sa.Column(
            "realm_id", sa.Integer(), sa.ForeignKey("realms.id", ondelete="CASCADE"), nullable=False
        ),
    )
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "realm_id", sa.Integer(), sa.ForeignKey("realms.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("default_scopes", sa.Text(), nullable=False),
        sa.Column("refresh_tokens", sa.Boolean(), nullable=False),
        sa.Column("access_token_ttl", sa.Integer(), nullable=True),
        sa.Column("response_style", sa.String(16), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("realm_id", "client_id", name="uq_clients_realm_client_id"),
    )
    op.create_table(
        "client_secrets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "client_pk",
            sa.Integer(),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column(
            "realm_id", sa.Integer(), sa.ForeignKey("realms.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("family", sa.String(64), nullable=False),
        sa.Column(
            "realm_id", sa.Integer(), sa.ForeignKey("realms.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "client_pk",
            sa.Integer(),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["family"])
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("refresh_tokens")
    op.drop_table("signing_keys")
    op.drop_table("client_secrets")
    op.drop_table("clients")
    op.drop_table("token_paths")
    op.drop_table("realms")
