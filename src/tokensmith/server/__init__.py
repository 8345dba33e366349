"""The token service: an ASGI application, its settings, administration and demo mode."""

from ._admin import Admin, NewClient
from ._admin_checks import AdminError, RealmNotEmpty
from ._app import TokensmithApp
from ._demo import DEMO_REALMS, demo_instructions, ensure_demo
from ._keys import MasterKey, MasterKeyError, open_master_key
from ._settings import Settings
from ._trust import DEMO_AUDIENCE, DEMO_ISSUER, Trust

__all__ = [
    "DEMO_AUDIENCE",
    "DEMO_ISSUER",
    "DEMO_REALMS",
    "Admin",
    "AdminError",
    "MasterKey",
    "MasterKeyError",
    "NewClient",
    "RealmNotEmpty",
    "Settings",
    "TokensmithApp",
    "Trust",
    "demo_instructions",
    "ensure_demo",
    "open_master_key",
]
