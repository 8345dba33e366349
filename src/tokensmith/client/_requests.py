"""``requests`` integration: the one module that imports requests (an optional extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import requests
    from requests.auth import AuthBase
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError("requests support needs: pip install 'tokensmith[requests]'") from exc

if TYPE_CHECKING:
    from ._source import TokenSource

_RETRIED = "_tokensmith_retried"


class RequestsAuth(AuthBase):
    """Bearer tokens from a :class:`TokenSource` for ``requests``; on a 401 to a token still
    held, gets a new one and resends the request once (when its body can be resent)."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"RequestsAuth({self.source!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.source.token()
        request.headers["Authorization"] = token.authorization
        request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.status_code != 401 or getattr(request, _RETRIED, False):
            return response
        sent = str(request.headers.get("Authorization", "")).partition(" ")[2]
        self.source.invalidate(sent)
        fresh = self.source.token()
        if fresh.access_token == sent or hasattr(request.body, "read"):
            return response
        response.content  # noqa: B018 (drain so the connection can be reused)
        response.close()
        retry = request.copy()
        retry.headers["Authorization"] = fresh.authorization
        setattr(retry, _RETRIED, True)
        new: requests.Response = response.connection.send(retry, **kwargs)
        new.history.append(response)
        new.request = retry
        return new
