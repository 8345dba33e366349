"""DPoP at the token endpoint (RFC 9449 §5): check the proof a token request carries and say
which key the access token is bound to (``cnf.jkt``), or None for a Bearer token.

The realm's nonce, when it asks for one, is checked before the client authenticates (§8; a
proof without it gets ``use_dpop_nonce`` and a fresh nonce in ``DPoP-Nonce``); the rest of the
proof after: its signature, ``htm`` POST, ``htu`` the URL the request was sent to, its age. Its
``jti`` is put
on the realm's deny list (kind ``dpop``, apart from client assertions and revoked tokens) until
the proof is too old anyway, so a replayed proof is refused by every instance on the database.
A realm or a client that requires DPoP refuses a token request without a proof. The admin API
checks the proofs of DPoP-bound admin tokens here too (:meth:`DPoPChecker.check_request`).

Refresh tokens stay unbound: RFC 9449 §5 binds them only for public clients, and every client
here is confidential (its authentication already ties a refresh token to it); each access token
issued on refresh is bound to the key of that request's proof.
"""

from __future__ import annotations

from ..oauth import (
    MAX_PROOF_AGE,
    InvalidDPoPProof,
    Nonces,
    Proof,
    UseDPoPNonce,
    check_proof,
    proof_nonce,
)
from ..store import Client, Database, denylist
from ._state import RealmState

_LEEWAY = 10


class DPoPChecker:
    """Checks the DPoP proofs sent to the service, for every realm of a database."""

    def __init__(self, db: Database, nonce_secret: bytes) -> None:
        """``nonce_secret``: the key of the nonces, the same in every instance (derived from the
        master key), so that each accepts the nonces of the others."""
        self.db = db
        self.nonces = Nonces(nonce_secret)

    def __repr__(self) -> str:
        return "DPoPChecker()"

    async def binding(
        self,
        state: RealmState,
        client: Client,
        proofs: list[str],
        *,
        url: str,
        now: float,
    ) -> str | None:
        """The thumbprint of the key to bind the access token to, or None for a Bearer token.

        Raises:
            InvalidDPoPProof: the proof is refused, more than one was sent, or the realm or the
                client requires one and none was sent.
            UseDPoPNonce: the realm asks for its nonce and the proof does not carry a valid one.
        """
        realm = state.realm
        if not proofs:
            if realm.dpop_required or client.dpop_required:
                who = f"realm {realm.name}" if realm.dpop_required else f"client {client.client_id}"
                raise InvalidDPoPProof(f"{who} requires a DPoP proof (RFC 9449) with every request")
            return None
        if len(proofs) > 1:
            raise InvalidDPoPProof("more than one DPoP header was sent")
        self.ask_nonce(state, proofs, now)
        proof = check_proof(proofs[0], method="POST", url=url, now=now)
        await spend(self.db, realm.id, proof)
        return proof.jkt

    def ask_nonce(self, state: RealmState, proofs: list[str], now: float) -> None:
        """Ask for the realm's nonce before anything else of the request is looked at: a
        client whose single-use platform token would be spent by authenticating must not spend
        it on a request that will be refused for its nonce.

        Raises:
            UseDPoPNonce: the realm asks for nonces and the (first) proof has no valid one.
        """
        if proofs and state.realm.dpop_nonce and not self.nonces.valid(proof_nonce(proofs[0]), now):
            raise UseDPoPNonce(
                "send the DPoP proof again with the nonce of the DPoP-Nonce header",
                nonce=self.nonces.current(now),
            )

    async def check_request(
        self,
        realm_id: int,
        proofs: list[str],
        *,
        method: str,
        url: str,
        token: str,
        jkt: str,
        now: float,
    ) -> None:
        """Check the proof of a request to the service's own API (the admin API) made with a
        token bound to ``jkt`` (RFC 9449 §7.1), as a protected API does, its ``jti`` spent as
        at the token endpoint.

        Raises:
            InvalidDPoPProof: not exactly one proof, or it is refused or used before.
        """
        if len(proofs) != 1:
            raise InvalidDPoPProof("a DPoP-bound token needs exactly one DPoP proof header")
        proof = check_proof(proofs[0], method=method, url=url, now=now, access_token=token)
        if proof.jkt != jkt:
            raise InvalidDPoPProof("the DPoP proof was made with another key than the token's")
        await spend(self.db, realm_id, proof)

    def next_nonce(self, state: RealmState, now: float) -> str | None:
        """The nonce to hand out with an answer of the realm, when it asks for nonces."""
        return self.nonces.current(now) if state.realm.dpop_nonce else None


async def spend(db: Database, realm_id: int, proof: Proof) -> None:
    """Put the proof's ``jti`` (with its key's thumbprint) on the realm's deny list until the
    proof is too old anyway, so that every instance on the database refuses it from now on.

    Raises:
        InvalidDPoPProof: it was there already (a replay).
    """
    async with db.write() as conn:
        fresh = await denylist.use_jti(
            conn,
            realm_id,
            "dpop",
            f"{proof.jkt}:{proof.jti}",
            int(proof.iat + MAX_PROOF_AGE + _LEEWAY),
        )
    if not fresh:
        raise InvalidDPoPProof("the DPoP proof was already used (its jti); make a new one")
