"""The schema, in SQLAlchemy Core. Timestamps are integer seconds since the epoch (portable across
SQLite and PostgreSQL); Alembic migrations in ``migrations/`` create exactly these tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

realms = Table(
    "realms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    # The name in lower case, unique: realm names are unique regardless of case (lookups and
    # URLs stay case-sensitive). NULL only for realms made before migration 0009 whose name an
    # older realm had in another case.
    Column("name_folded", String(64), nullable=True),
    Column("access_token_ttl", Integer, nullable=False),
    Column("refresh_token_ttl", Integer, nullable=False),
    Column("alg", String(16), nullable=False),
    Column("response_style", String(16), nullable=False),
    Column("audience", String(255), nullable=True),
    # Seconds a just-rotated refresh token may be presented again (NULL: the service default).
    Column("refresh_reuse_grace", Integer, nullable=True),
    # Client-authentication rate limits, in the `limits` notation ("20/minute;200/hour");
    # NULL: the service default.
    Column("client_auth_limit", String(255), nullable=True),
    Column("address_auth_limit", String(255), nullable=True),
    # Seconds a private_key_jwt assertion may live at most (NULL: the service default).
    Column("max_assertion_lifetime", Integer, nullable=True),
    # Origins whose pages may call the token endpoint (CORS), space-separated; "": none.
    Column("cors_origins", Text, nullable=False, server_default=""),
    # DPoP (RFC 9449): every access token must be bound to a key; proofs must carry our nonce.
    Column("dpop_required", Boolean, nullable=False, server_default=false()),
    Column("dpop_nonce", Boolean, nullable=False, server_default=false()),
    # Bumped by every change to the realm, its clients, keys or paths; services poll it.
    Column("version", BigInteger, nullable=False, default=1),
    Column("created_at", BigInteger, nullable=False),
)
Index("uq_realms_name_folded", realms.c.name_folded, unique=True)

token_paths = Table(
    "token_paths",
    metadata,
    Column("path", String(255), primary_key=True),
    Column(
        "realm_id", Integer, ForeignKey("realms.id", ondelete="CASCADE"), nullable=False, index=True
    ),
)

clients = Table(
    "clients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("realm_id", Integer, ForeignKey("realms.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("scopes", Text, nullable=False, default=""),
    Column("default_scopes", Text, nullable=False, default=""),
    Column("refresh_tokens", Boolean, nullable=False, default=False),
    Column("access_token_ttl", Integer, nullable=True),
    Column("response_style", String(16), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # Grants beyond client_credentials/refresh_token: "id_auth", token exchange, jwt-bearer.
    Column("grant_types", Text, nullable=False, server_default=""),
    Column("audience", String(255), nullable=True),
    Column("extra_claims", Text, nullable=True),  # a JSON object added to every access token
    Column("jwks", Text, nullable=True),  # private_key_jwt: the client's public keys…
    Column("jwks_url", String(1024), nullable=True),  # …or where to fetch them
    # RFC 8707: the resources (absolute URIs, space-separated) the client may name.
    Column("resources", Text, nullable=False, server_default=""),
    # DPoP (RFC 9449 §5.2, dpop_bound_access_tokens): the client's tokens must be bound.
    Column("dpop_required", Boolean, nullable=False, server_default=false()),
    # When the client last got a token: each worker remembers its clients' last use and writes
    # it at most once a minute (never per token, never bumping the realm's version).
    Column("last_used_at", BigInteger, nullable=True),
    UniqueConstraint("realm_id", "client_id", name="uq_clients_realm_client_id"),
)

trusted_issuers = Table(
    "trusted_issuers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("realm_id", Integer, ForeignKey("realms.id", ondelete="CASCADE"), nullable=False),
    Column("issuer", String(255), nullable=False),
    Column("jwks_url", String(1024), nullable=True),
    Column("jwks", Text, nullable=True),
    Column("audiences", Text, nullable=False),
    Column("algorithms", Text, nullable=False),
    Column("max_age", Integer, nullable=False),
    Column("claims", Text, nullable=False),
    # Only for demo issuers tokensmith signs for itself; encrypted with the master key.
    Column("private_key", LargeBinary, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # The platform whose quirks apply (server/_profiles.py): oidc, kubernetes, github-actions…
    Column("profile", String(32), nullable=False, server_default="oidc"),
    # The aud its tokens must name to authenticate a client (federated credentials); NULL: this
    # service's token endpoint or issuer URL.
    Column("client_audience", String(255), nullable=True),
    # A CA bundle (PEM file path) to fetch its keys with, e.g. a Kubernetes cluster's CA.
    Column("ca_file", String(1024), nullable=True),
    UniqueConstraint("realm_id", "issuer", name="uq_trusted_issuers_realm_issuer"),
)

federated_credentials = Table(
    "federated_credentials",
    metadata,
    # A client authenticates with a token of a trusted issuer whose sub is `subject`, or whose
    # claims make the CEL `condition` true (exactly one of the two is set).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "client_pk",
        Integer,
        ForeignKey("clients.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column(
        "issuer_id",
        Integer,
        ForeignKey("trusted_issuers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(64), nullable=False),
    Column("subject", String(255), nullable=True),
    Column("condition", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("client_pk", "name", name="uq_federated_credentials_client_name"),
)

client_secrets = Table(
    "client_secrets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "client_pk",
        Integer,
        ForeignKey("clients.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # "sha256$<hex>" for generated secrets, an argon2id PHC string for chosen ones.
    Column("digest", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column(
        "realm_id", Integer, ForeignKey("realms.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("alg", String(16), nullable=False),
    # next → current → previous → retired
    Column("state", String(16), nullable=False),
    Column("private_key", LargeBinary, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # When the key stopped being the current one: it stays published until every token it
    # signed has expired.
    Column("stopped_at", BigInteger, nullable=True),
)

service_meta = Table(
    "service_meta",
    metadata,
    # "master_key_check": a value encrypted under the master key, to detect a wrong key.
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

denied_jtis = Table(
    "denied_jtis",
    metadata,
    # JWT IDs refused until the token they name expires (then pruned): client assertions already
    # used (kind "assertion", RFC 7523 §3, federated platform tokens included), revoked access
    # tokens ("access_token", RFC 7009) and DPoP proofs ("dpop", RFC 9449 §11.1): the kind is the
    # purpose, so a jti used for one never burns another's.
    # One table for both so that one statement prunes them; _denylist.py reads and writes it.
    Column("realm_id", Integer, ForeignKey("realms.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", BigInteger, nullable=False, index=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("family", String(64), nullable=False, index=True),
    # No index on realm_id or client_pk: every grant of a busy client would insert into the same
    # index page (one key value), which cut the refresh grants/s on PostgreSQL by a third to a half
    # (bench/refresh_load.py back to back: 670-692 with them, 926-1,300 without). Deleting a
    # client or a realm scans the table instead (71 ms beside 400,000 tokens on SQLite).
    Column("realm_id", Integer, ForeignKey("realms.id", ondelete="CASCADE"), nullable=False),
    Column("client_pk", Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
    Column("scope", Text, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
    Column("used_at", BigInteger, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    # The digest of the token this one replaced: a retry within the reuse grace period may
    # only replace the used token's own live child.
    Column("parent", String(64), nullable=True, index=True),
    # RFC 8707: the resources (space-separated) the token was issued for; "" for none.
    Column("resources", Text, nullable=False, server_default=""),
)

# The two event logs read by the admin API (Keycloak's admin events and events). Their times are
# milliseconds since the epoch, as Keycloak's; they name the realm by name, without a foreign key,
# so that a deleted realm's events (its deletion among them) stay until retention prunes them.
admin_events = Table(
    "admin_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", BigInteger, nullable=False, index=True),
    Column("realm", String(64), nullable=False),
    # CREATE, UPDATE, DELETE or ACTION
    Column("operation", String(16), nullable=False),
    # REALM, CLIENT, CLIENT_SECRET, KEYS, TRUSTED_ISSUER
    Column("resource_type", String(32), nullable=False),
    Column("resource_path", String(1024), nullable=False),
    # Who made the change: via cli or admin-api (service: the service itself), by the system user
    # or the admin client, from address (over HTTP).
    Column("via", String(16), nullable=False),
    Column("actor", String(255), nullable=True),
    Column("address", String(255), nullable=True),
    Column("details", Text, nullable=False, server_default="{}"),  # a JSON object, no secret
)
Index("ix_admin_events_realm_time", admin_events.c.realm, admin_events.c.time)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", BigInteger, nullable=False, index=True),
    Column("realm", String(64), nullable=False),
    # CLIENT_LOGIN_ERROR, REFRESH_TOKEN_ERROR
    Column("type", String(32), nullable=False),
    # Only a client of the realm; never an id a caller made up (it could be a pasted secret).
    Column("client_id", String(255), nullable=True),
    Column("address", String(255), nullable=True),
    Column("error", String(64), nullable=True),
    Column("details", Text, nullable=False, server_default="{}"),  # a JSON object, no secret
)
Index("ix_events_realm_time", events.c.realm, events.c.time)
