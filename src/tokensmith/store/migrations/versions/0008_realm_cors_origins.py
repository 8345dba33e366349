"""The origins each realm lets a web page call its token endpoint from (CORS).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing realms allow no origin: their token endpoint keeps answering no CORS.
    op.add_column("realms", sa.Column("cors_origins", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    # In place, on SQLite too (3.35 and later), as in 0007: batch mode would copy realms, and
    # dropping the old copy under PRAGMA foreign_keys=ON cascades to every client of the realm.
    op.drop_column("realms", "cors_origins")
