"""The verifiers of keys the service fetches or holds for others: clients' assertion keys and
trusted issuers' keys, one cache for both."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core import Verifier


class Verifiers:
    """Verifiers by key (whose key set it is, and which version of it), the least recently
    used dropped past ``size``, so that the service holds a bounded number of JWKS caches and
    HTTP clients however many clients and issuers come and go."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Verifier] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable, make: Callable[[], Verifier]) -> Verifier:
        """The verifier kept under ``key``, made by ``make()`` the first time.

        Raises:
            whatever ``make`` raises (nothing is kept then).
        """
        verifier = self._items.get(key)
        if verifier is not None:
            self._items.move_to_end(key)
            return verifier
        verifier = self._items[key] = make()
        while len(self._items) > self.size:
            # Not closed: a request may be using it right now; its HTTP client goes with it.
            self._items.popitem(last=False)
        return verifier

    async def aclose(self) -> None:
        """Close every verifier's HTTP clients."""
        for verifier in self._items.values():
            await verifier.aclose()
        self._items.clear()
