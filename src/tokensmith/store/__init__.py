"""Storage: SQLAlchemy Core tables, Alembic migrations and repositories on SQLite or PostgreSQL."""

from . import _clients as clients
from . import _denylist as denylist
from . import _eventlog as eventlog
from . import _federation as federation
from . import _issuers as issuers
from . import _meta as meta
from . import _realms as realms
from . import _refresh as refresh
from ._database import (
    DEFAULT_URL,
    Connection,
    Database,
    DatabaseError,
    DatabaseUnavailable,
    SchemaError,
    async_url,
    sqlite_path,
)
from ._errors import Conflict, NotFound
from ._models import (
    CLIENT_ID,
    DEFAULT_MAX_ASSERTION_LIFETIME,
    DEFAULT_REFRESH_REUSE_GRACE,
    REALM_NAME,
    AdminEventRecord,
    Client,
    EventRecord,
    FederatedCredential,
    Realm,
    RefreshTokenRecord,
    SigningKeyRecord,
    StoredSecret,
    TrustedIssuer,
)
from ._notify import ChangeListener
from ._schema import HEAD as SCHEMA_REVISION

__all__ = [
    "CLIENT_ID",
    "DEFAULT_MAX_ASSERTION_LIFETIME",
    "DEFAULT_REFRESH_REUSE_GRACE",
    "DEFAULT_URL",
    "REALM_NAME",
    "SCHEMA_REVISION",
    "AdminEventRecord",
    "ChangeListener",
    "Client",
    "Conflict",
    "Connection",
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "EventRecord",
    "FederatedCredential",
    "NotFound",
    "Realm",
    "RefreshTokenRecord",
    "SchemaError",
    "SigningKeyRecord",
    "StoredSecret",
    "TrustedIssuer",
    "async_url",
    "clients",
    "denylist",
    "eventlog",
    "federation",
    "issuers",
    "meta",
    "realms",
    "refresh",
    "sqlite_path",
]
