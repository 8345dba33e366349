"""The web console at ``/console``: static HTML, CSS and JavaScript modules shipped in the package
(``console/`` beside this module; no build step, nothing from a CDN) that sign in with an admin
client of the ``master`` realm and drive the admin API from the browser.

Only the files of that folder are served, looked up by exact name in a table read once: a path
that names anything else (``/console/../x``, ``%2e%2e``, a folder) is 404, and no file-system path
is ever made from a request. Every answer carries a strict Content-Security-Policy (scripts and
styles from the service only, no inline script, no framing), ``nosniff`` and ``no-referrer``;
assets are revalidated on each load (``no-cache`` with an ``ETag``), so an upgraded service never
runs yesterday's scripts.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from ..core import ASGIScope as Scope
from ..core import ASGISend as Send
from ._routes import CONSOLE as PREFIX

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".svg": b"image/svg+xml",
}
"""The content type of each kind of file served; a file of another kind is not served."""
_SECURITY = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class _Asset:
    __slots__ = ("body", "content_type", "etag")

    def __init__(self, body: bytes, content_type: bytes) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'


def _assets() -> dict[str, _Asset]:
    """Every file of the console folder by its path under it (``js/app.js``)."""
    found: dict[str, _Asset] = {}
    pending = [("", resources.files(__package__ or "tokensmith.server") / "console")]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                pending.append((name + "/", entry))
                continue
            kind = _TYPES.get("." + entry.name.rpartition(".")[2])
            if kind is not None:
                found[name] = _Asset(entry.read_bytes(), kind)
    return found


class Console:
    """Answers ``GET``/``HEAD`` under ``/console``: ``/console`` redirects to ``/console/``, which
    is ``index.html``; any other path is a file of the console folder or 404."""

    def __init__(self) -> None:
        self._assets = _assets()

    def __repr__(self) -> str:
        return f"Console({len(self._assets)} files)"

    async def __call__(self, path: str, scope: Scope, send: Send) -> None:
        """Answer the request for ``path`` (one that ``_routes.is_console_path`` accepts)."""
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            return await self._send(
                send, 405, b"the console is read with GET\n", [(b"allow", b"GET, HEAD")], method
            )
        if path == PREFIX:  # relative URLs in the page need the slash; relative, for proxies
            return await self._send(send, 308, b"", [(b"location", b"console/")], method)
        name = path[len(PREFIX) + 1 :] or "index.html"
        asset = self._assets.get(name)
        if asset is None:
            return await self._send(send, 404, b"there is no such page\n", [], method)
        headers = [
            (b"content-type", asset.content_type),
            (b"cache-control", b"no-cache"),
            (b"etag", asset.etag),
        ]
        if asset.etag in _if_none_match(scope):
            return await self._send(send, 304, b"", headers[1:], method)
        await self._send(send, 200, asset.body, headers, method)

    @staticmethod
    async def _send(
        send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], method: str
    ) -> None:
        if status == 304:  # RFC 9110 §15.4.5: no body, so no length of one
            headers = [*headers, *_SECURITY]
        else:
            if status >= 300:
                headers = [
                    *headers,
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                ]
            headers = [*headers, *_SECURITY, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def _if_none_match(scope: Scope) -> list[bytes]:
    for key, value in scope["headers"]:
        if key == b"if-none-match":
            return [tag.strip().removeprefix(b"W/") for tag in bytes(value).split(b",")]
    return []
