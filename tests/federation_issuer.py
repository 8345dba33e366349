"""A local stand-in for a platform's token issuer (Kubernetes API server, GitHub Actions,
SPIFFE bundle endpoint): a JWKS over loopback HTTP, and tokens minted from the documented claim
sets in ``fixtures/federation/``, with key rotation and an outage."""

from __future__ import annotations

import copy
import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from joserfc import jws

from tokensmith.oauth import PrivateKey, generate_key, key_id, public_jwk

FIXTURES = Path(__file__).with_name("fixtures") / "federation"


def shape(platform: str) -> dict[str, Any]:
    """The documented header and claims of a platform's token (placeholders in capitals)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{platform}.json").read_text())
    return data


class StandInIssuer:
    """Publishes its keys at ``/openid/v1/jwks`` (Kubernetes), ``/.well-known/jwks`` behind
    discovery (GitHub, GitLab) and ``/bundle`` (SPIFFE); while :attr:`down`, every request gets
    503. The issuer URL is :attr:`url`."""

    def __init__(self, alg: str = "RS256", *, ca_dir: Path | None = None) -> None:
        self.alg = alg
        self.keys: list[tuple[str, PrivateKey]] = []
        self.down = False
        self.fetches = 0
        self.rotate()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                if issuer.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/.well-known/jwks"}
                elif self.path in ("/openid/v1/jwks", "/.well-known/jwks", "/bundle"):
                    body = issuer.jwks()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        self.ca_file: Path | None = None
        if ca_dir is not None:  # HTTPS with a certificate of a private CA, as a cluster's
            self.ca_file, context = _private_tls(ca_dir)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def rotate(self) -> None:
        """Replace the signing key: the old one leaves the JWKS at once."""
        key = generate_key(self.alg)  # type: ignore[arg-type]
        self.keys = [(key_id(key), key)]

    def jwks(self) -> dict[str, Any]:
        """The published keys."""
        return {"keys": [public_jwk(k, kid=kid, alg=self.alg) for kid, k in self.keys]}  # type: ignore[arg-type]

    def mint(
        self,
        platform: str,
        *,
        audience: str,
        now: float,
        ttl: int = 600,
        claims: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
    ) -> str:
        """A token shaped like ``platform``'s (its fixture), for ``audience``, issued at
        ``now``, with ``claims`` changed and ``drop`` left out."""
        fixture = copy.deepcopy(shape(platform))
        kid, key = self.keys[0]
        header = {**fixture["header"], "kid": kid, "alg": self.alg}
        values = {
            "ISSUER": self.url,
            "AUDIENCE": audience,
            "IAT": int(now),
            "EXP": int(now) + ttl,
            "JTI": str(uuid.uuid4()),
        }

        def fill(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            return values.get(value, value) if isinstance(value, str) else value

        body = fill(fixture["claims"])
        body.update(claims or {})
        for name in drop:
            body.pop(name, None)
        return jws.serialize_compact(header, json.dumps(body).encode(), key)

    @contextmanager
    def serving(self) -> Iterator[StandInIssuer]:
        """Serve on loopback for the ``with`` block."""
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join()


def _private_tls(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA (its certificate written to ``directory/ca.crt``) and a server context whose
    certificate, for 127.0.0.1, that CA signed."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stand-in cluster CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.crt"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file, key_file = directory / "server.crt", directory / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return ca_file, context
