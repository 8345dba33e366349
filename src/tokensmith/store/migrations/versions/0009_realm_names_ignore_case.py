"""Realm names unique regardless of case, so that no one creates "Acme" beside "acme" (two
issuers and two sets of clients told apart by one letter's case): each realm's name in lower
case, ``name_folded``, under a unique index.

A column rather than an index on lower(name): SQLite's expression indexes cannot be reflected
(SQLAlchemy and Alembic skip them with a warning), a plain column and index can.

A database may already hold realms whose names differ only in case. Upgrading keeps them, with
everything in them, at their own URLs (realm names stay case-sensitive in URLs, as Keycloak's
are): the oldest realm of each such group holds the folded name, which is enough to refuse any
new realm of that name in any case, and the others get none (NULL, which a unique index lets
repeat). ``tokensmith db upgrade`` lists them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEX = "uq_realms_name_folded"


def upgrade() -> None:
    # ADD COLUMN in place, on SQLite too: batch mode would copy realms, and dropping the old copy
    # under PRAGMA foreign_keys=ON cascades to every client (see 0007).
    op.add_column("realms", sa.Column("name_folded", sa.String(64), nullable=True))
    connection = op.get_bind()
    # Realm names are ASCII (letters, digits, '.', '_', '-'), which SQL's lower() and Python's
    # str.lower(), used for new realms, fold alike.
    rows = connection.execute(sa.text("SELECT id, lower(name) FROM realms ORDER BY id"))
    oldest: dict[str, int] = {}
    for realm_id, folded in rows:
        oldest.setdefault(folded, realm_id)
    if oldest:
        connection.execute(
            sa.text("UPDATE realms SET name_folded = :folded WHERE id = :id"),
            [{"folded": folded, "id": realm_id} for folded, realm_id in oldest.items()],
        )
    op.create_index(INDEX, "realms", ["name_folded"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, "realms")
    op.drop_column("realms", "name_folded")
