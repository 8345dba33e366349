"""Workload identity federation: a client's federated credentials (a trusted issuer and a subject
or a CEL condition), and the trusted issuers' profile, client audience and CA file.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy: on SQLite a batch copy drops the old table, and with
    # foreign keys on that would cascade into what refers to it.
    op.add_column(
        "trusted_issuers",
        sa.Column("profile", sa.String(32), nullable=False, server_default="oidc"),
    )
    op.add_column("trusted_issuers", sa.Column("client_audience", sa.String(255), nullable=True))
    op.add_column("trusted_issuers", sa.Column("ca_file", sa.String(1024), nullable=True))
    op.create_table(
        "federated_credentials",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "client_pk",
            sa.Integer(),
            sa.ForeignKey("clients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "issuer_id",
            sa.Integer(),
            sa.ForeignKey("trusted_issuers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("condition", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("client_pk", "name", name="uq_federated_credentials_client_name"),
    )
    op.create_index("ix_federated_credentials_client_pk", "federated_credentials", ["client_pk"])
    op.create_index("ix_federated_credentials_issuer_id", "federated_credentials", ["issuer_id"])


def downgrade() -> None:
    op.drop_table("federated_credentials")
    op.drop_column("trusted_issuers", "ca_file")
    op.drop_column("trusted_issuers", "client_audience")
    op.drop_column("trusted_issuers", "profile")
