"""Indexes for what loading one realm or one client reads: a realm's signing keys and token paths,
and a client's secrets. Without them each of those reads scans the whole table, which grows with
the number of realms and clients (bench/realms.py: 10,000 realms of 5 clients).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_signing_keys_realm_id", "signing_keys", "realm_id"),
    ("ix_token_paths_realm_id", "token_paths", "realm_id"),
    ("ix_client_secrets_client_pk", "client_secrets", "client_pk"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table)
