"""tokensmith: OAuth 2.0 machine-to-machine authentication.

The client-side public names live here (``from tokensmith import TokenSource``); the token service
is ``tokensmith.server`` and the protected-API check ``tokensmith.resource``. They are imported on
first use, so that ``import tokensmith`` (and the ``tokensmith`` command) starts fast.
"""

from . import client as _client

# typing.TYPE_CHECKING's value without importing typing (~0.4 MB), which the supervisor of
# `serve --workers N` (a process that lives as long as the service) has no other use for.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from .client import *  # noqa: F403  (the client's public face is the package's)

__version__ = "0.1.0"

__all__ = list(_client.__all__)


def __getattr__(name: str) -> object:
    if name in _client.__all__:
        return getattr(_client, name)
    raise AttributeError(f"module 'tokensmith' has no attribute {name!r}")
