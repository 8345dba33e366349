"""tokensmith: OAuth 2.0 machine-to-machine authentication.

The client-side public names live here (``from tokensmith import TokenSource``); the token service
is ``tokensmith.server`` and the protected-API check ``tokensmith.resource``.
"""

from . import client as _client
from .client import *  # noqa: F403  (the client's public face is the package's)

__version__ = "0.1.0"

__all__ = list(_client.__all__)
