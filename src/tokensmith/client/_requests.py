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
    from ._token import Token

_RETRIED = "_tokensmith_retried"


class RequestsAuth(AuthBase):
    """Access tokens from a :class:`TokenSource` for ``requests`` (with a DPoP proof for a
    DPoP-bound token); on a 401 asking for the API's DPoP nonce, resends once with it; on
    another 401 to a token still held, gets a new one and resends the request once (when its
    body can be resent)."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"RequestsAuth({self.source!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.source.token()
        self._authorize(request, token)
        request.register_hook("response", self._on_response)
        return request

    def _authorize(self, request: requests.PreparedRequest, token: Token) -> None:
        request.headers["Authorization"] = token.authorization
        proof = self.source.dpop_proof(token, str(request.method), str(request.url))
        if proof is not None:
            request.headers["DPoP"] = proof

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if response.status_code != 401 or getattr(request, _RETRIED, False):
            return response
        sent = str(request.headers.get("Authorization", "")).partition(" ")[2]
        asked = self.source.dpop_nonce_asked(
            str(request.url), response.status_code, response.headers
        )
        token = self.source.current
        if asked and token is not None and token.access_token == sent:
            fresh = token  # the same token, with a proof that carries the API's nonce
        else:
            self.source.invalidate(sent)
            fresh = self.source.token()
            if fresh.access_token == sent:
                return response
        if hasattr(request.body, "read"):
            return response
        response.content  # noqa: B018 (drain so the connection can be reused)
        response.close()
        retry = request.copy()
        self._authorize(retry, fresh)
        setattr(retry, _RETRIED, True)
        new: requests.Response = response.connection.send(retry, **kwargs)
        new.history.append(response)
        new.request = retry
        return new
