"""The token service: an ASGI application, its settings, administration and demo mode.

Every name is imported on first use (PEP 562): ``import tokensmith.server`` loads nothing of the
service, so that the process supervising ``serve --workers N`` (``_supervisor``, the standard
library only) starts without SQLAlchemy or the application.
"""

from .._lazy import lazy_getattr as _lazy_getattr

# typing.TYPE_CHECKING's value without importing typing (~0.4 MB), which the supervisor of
# `serve --workers N` (a process that lives as long as the service) has no other use for.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from ._admin import Admin, NewClient
    from ._admin_api import ADMIN_READ_SCOPE, ADMIN_SCOPE, MASTER_REALM, ensure_master_realm
    from ._admin_checks import AdminError, RealmNotEmpty
    from ._app import TokensmithApp
    from ._demo import DEMO_REALMS, demo_instructions, ensure_demo
    from ._federation_admin import Federation
    from ._keycloak import (
        describe_import,
        import_json,
        import_keycloak_realm,
        keycloak_export,
        plan_keycloak_import,
    )
    from ._keys import MasterKey, MasterKeyError, open_master_key
    from ._settings import Settings
    from ._trust import DEMO_AUDIENCE, DEMO_ISSUER, Trust

__getattr__ = _lazy_getattr(
    __name__,
    {
        "DEMO_AUDIENCE": "._trust",
        "DEMO_ISSUER": "._trust",
        "DEMO_REALMS": "._demo",
        "ADMIN_READ_SCOPE": "._admin_api",
        "ADMIN_SCOPE": "._admin_api",
        "MASTER_REALM": "._admin_api",
        "Admin": "._admin",
        "AdminError": "._admin_checks",
        "Federation": "._federation_admin",
        "MasterKey": "._keys",
        "MasterKeyError": "._keys",
        "NewClient": "._admin",
        "RealmNotEmpty": "._admin_checks",
        "Settings": "._settings",
        "TokensmithApp": "._app",
        "Trust": "._trust",
        "demo_instructions": "._demo",
        "describe_import": "._keycloak",
        "ensure_demo": "._demo",
        "ensure_master_realm": "._admin_api",
        "import_json": "._keycloak",
        "import_keycloak_realm": "._keycloak",
        "keycloak_export": "._keycloak",
        "open_master_key": "._keys",
        "plan_keycloak_import": "._keycloak",
    },
)

__all__ = [
    "ADMIN_READ_SCOPE",
    "ADMIN_SCOPE",
    "DEMO_AUDIENCE",
    "DEMO_ISSUER",
    "DEMO_REALMS",
    "MASTER_REALM",
    "Admin",
    "AdminError",
    "Federation",
    "MasterKey",
    "MasterKeyError",
    "NewClient",
    "RealmNotEmpty",
    "Settings",
    "TokensmithApp",
    "Trust",
    "demo_instructions",
    "describe_import",
    "ensure_demo",
    "ensure_master_realm",
    "import_json",
    "import_keycloak_realm",
    "keycloak_export",
    "open_master_key",
    "plan_keycloak_import",
]
