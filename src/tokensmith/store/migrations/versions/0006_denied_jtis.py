"""One deny list of JWT IDs: ``used_assertions`` and ``revoked_access_tokens`` become the rows of
``denied_jtis`` with kind ``assertion`` and ``access_token``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Each old table, the kind its rows take and its jti column's length. The kinds go in as SQL
# literals, not bound parameters: asyncpg cannot infer the type of a parameter in a SELECT list.
_OLD = {"used_assertions": ("assertion", 255), "revoked_access_tokens": ("access_token", 64)}
_DENIED = sa.table(
    "denied_jtis",
    sa.column("realm_id"),
    sa.column("kind"),
    sa.column("jti"),
    sa.column("expires_at"),
)


def _old(name: str) -> sa.TableClause:
    return sa.table(name, sa.column("realm_id"), sa.column("jti"), sa.column("expires_at"))


def upgrade() -> None:
    op.create_table(
        "denied_jtis",
        sa.Column(
            "realm_id",
            sa.Integer(),
            sa.ForeignKey("realms.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_denied_jtis_expires_at", "denied_jtis", ["expires_at"])
    for name, (kind, _) in _OLD.items():
        old = _old(name)
        op.execute(
            _DENIED.insert().from_select(
                ["realm_id", "kind", "jti", "expires_at"],
                sa.select(
                    old.c.realm_id, sa.literal_column(f"'{kind}'"), old.c.jti, old.c.expires_at
                ),
            )
        )
        # Dropping a table drops its index; nothing refers to these tables.
        op.drop_table(name)


def downgrade() -> None:
    for name, (kind, jti_length) in _OLD.items():
        op.create_table(
            name,
            sa.Column(
                "realm_id",
                sa.Integer(),
                sa.ForeignKey("realms.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("jti", sa.String(jti_length), primary_key=True),
            sa.Column("expires_at", sa.BigInteger(), nullable=False),
        )
        op.create_index(f"ix_{name}_expires_at", name, ["expires_at"])
        # An access-token jti longer than 64 characters (none is: revocation keeps 64) makes
        # PostgreSQL refuse the copy rather than deny a different, truncated jti.
        op.execute(
            _old(name)
            .insert()
            .from_select(
                ["realm_id", "jti", "expires_at"],
                sa.select(_DENIED.c.realm_id, _DENIED.c.jti, _DENIED.c.expires_at).where(
                    _DENIED.c.kind == sa.literal_column(f"'{kind}'")
                ),
            )
        )
    op.drop_table("denied_jtis")
