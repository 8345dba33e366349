"""Issuer profiles: the quirks of the platforms whose tokens authenticate workloads (workload
identity federation), as data. ``tokensmith issuer add --profile NAME`` applies one; the
service reads the profile of each trusted issuer when it checks a federated client assertion.

Written from the platforms' published documentation:

- ``kubernetes``: projected service-account tokens (kubernetes.io, "Managing Service Accounts").
  The issuer is the cluster's ``--service-account-issuer``; keys at ``/openid/v1/jwks``, often
  served with the cluster's own CA; no ``typ`` header; ``sub`` is
  ``system:serviceaccount:NAMESPACE:NAME`` and a ``kubernetes.io`` claim holds the namespace,
  pod and service account. The kubelet writes one token to the pod's volume and replaces it only
  at 80 % of its lifetime (or after 24 h), so the same token, ``jti`` included, is presented
  again and again: it is not single-use.
- ``github-actions``: ``https://token.actions.githubusercontent.com`` (discovery gives the keys),
  RS256, one fresh token per request to ``ACTIONS_ID_TOKEN_REQUEST_URL`` with a unique ``jti``;
  ``sub`` like ``repo:ORG/REPO:ref:refs/heads/main`` or ``repo:ORG/REPO:environment:prod``;
  claims ``repository``, ``repository_owner``, ``ref``, ``ref_type``, ``environment``,
  ``workflow_ref``, ``job_workflow_ref``, ``event_name``, ``sha``, ``run_id``… (docs.github.com,
  "OpenID Connect reference").
- ``gitlab-ci``: ``https://gitlab.com`` or a self-managed instance's URL, RS256; a job's
  ``id_tokens`` are made once when the job starts and read from a variable for the whole job, so
  a job presents the same token again; ``sub`` like
  ``project_path:GROUP/PROJECT:ref_type:branch:ref:main`` by default (a project may choose
  which claims follow ``project_path``); claims ``project_path``,
  ``namespace_path``, ``ref``, ``ref_type``, ``ref_protected``, ``environment``,
  ``pipeline_source``, ``ci_config_ref_uri``… (docs.gitlab.com, "OpenID Connect (OIDC)
  Authentication Using ID Tokens").
- ``spiffe``: JWT-SVIDs (spiffe.io, JWT-SVID standard): the issuer is the trust domain
  (``spiffe://example.org``), keys are its trust bundle (a JWKS, inline or at a bundle
  endpoint), ``sub`` is the SPIFFE ID in that domain, ``iss`` and ``jti`` are optional and
  SPIFFE implementations cache and reuse a JWT-SVID, so it is not single-use.
- ``oidc``: any other OpenID Connect issuer, keys by discovery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..oauth import DEFAULT_EXTERNAL_ALGORITHMS

PROFILE_NAMES = ("oidc", "kubernetes", "github-actions", "gitlab-ci", "spiffe")


@dataclass(frozen=True)
class IssuerProfile:
    """What a platform's tokens are like."""

    name: str
    issuer: str | None
    """The issuer URL when the platform has one for everybody (GitHub, gitlab.com)."""
    jwks_path: str | None
    """Where the keys are below the issuer URL when not by discovery."""
    algorithms: tuple[str, ...]
    reuses_tokens: bool
    """The platform presents one token many times: a ``jti`` is not single-use."""
    max_age: int
    """How old (by ``iat``) a token may be, by default."""
    subject: re.Pattern[str] | None
    """What a ``sub`` of the platform looks like; a federated credential's subject must."""
    subject_example: str
    claims: tuple[str, ...]
    """The platform's own claims, for conditions (documentation and help)."""
    owner_claims: tuple[str, ...] = ()
    """On a platform where anybody can get a token (github.com, gitlab.com): the claims that
    say whose it is. A condition must read one of them, and the issuer's tokens serve the
    grants (id_auth, token exchange, jwt-bearer) only with ``--audience`` set."""

    def check_condition(self, condition: str) -> str | None:
        """Why ``condition`` would let anybody on the platform in, or None."""
        if not self.owner_claims:
            return None
        if any(_reads(condition, claim) for claim in self.owner_claims):
            return None
        names = ", ".join(f"claims.{c}" for c in self.owner_claims)
        return (
            f"anybody can get a {self.name} token: the condition must pin the owner with one "
            f"of {names}"
        )

    def check_subject(self, subject: str) -> str | None:
        """Why ``subject`` cannot be a ``sub`` of this platform, or None."""
        if self.subject is None or self.subject.fullmatch(subject):
            return None
        return f"a {self.name} subject looks like {self.subject_example!r}"


PROFILES: dict[str, IssuerProfile] = {
    p.name: p
    for p in (
        IssuerProfile(
            name="oidc",
            issuer=None,
            jwks_path=None,
            algorithms=DEFAULT_EXTERNAL_ALGORITHMS,
            reuses_tokens=False,
            max_age=3600,
            subject=None,
            subject_example="",
            claims=(),
        ),
        IssuerProfile(
            name="kubernetes",
            issuer=None,
            jwks_path="/openid/v1/jwks",
            algorithms=("RS256", "ES256"),
            reuses_tokens=True,
            # The kubelet replaces a token at 80 % of its lifetime or after 24 hours.
            max_age=86400,
            subject=re.compile(r"system:serviceaccount:[a-z0-9.-]{1,253}:[a-z0-9.-]{1,253}"),
            subject_example="system:serviceaccount:NAMESPACE:NAME",
            claims=("kubernetes.io",),
        ),
        IssuerProfile(
            name="github-actions",
            issuer="https://token.actions.githubusercontent.com",
            jwks_path=None,
            algorithms=("RS256",),
            reuses_tokens=False,
            max_age=3600,
            subject=re.compile(r"repo:[^:\s]+/[^:\s]+:\S+"),
            subject_example="repo:ORG/REPO:ref:refs/heads/main",
            claims=(
                "repository",
                "repository_owner",
                "repository_id",
                "ref",
                "ref_type",
                "environment",
                "workflow_ref",
                "job_workflow_ref",
                "event_name",
                "sha",
                "actor",
                "run_id",
                "runner_environment",
            ),
            owner_claims=(
                "sub",
                "repository",
                "repository_id",
                "repository_owner",
                "repository_owner_id",
                "job_workflow_ref",
                "workflow_ref",
            ),
        ),
        IssuerProfile(
            name="gitlab-ci",
            issuer="https://gitlab.com",
            jwks_path=None,
            algorithms=("RS256",),
            reuses_tokens=True,
            max_age=3600 * 24,
            # The default is project_path, ref_type, ref; a project may choose other claims after
            # project_path (its ci_id_token_sub_claim_components), so only the start is fixed.
            subject=re.compile(r"project_path:[^:\s]+(:[a-z_]+:\S*)*"),
            subject_example="project_path:GROUP/PROJECT:ref_type:branch:ref:main",
            claims=(
                "project_path",
                "project_id",
                "namespace_path",
                "ref",
                "ref_type",
                "ref_protected",
                "environment",
                "environment_protected",
                "pipeline_source",
                "ci_config_ref_uri",
                "user_login",
                "runner_environment",
            ),
            owner_claims=(
                "sub",
                "project_path",
                "project_id",
                "namespace_path",
                "namespace_id",
                "ci_config_ref_uri",
            ),
        ),
        IssuerProfile(
            name="spiffe",
            issuer=None,
            jwks_path=None,
            algorithms=("RS256", "ES256", "ES384", "PS256"),
            reuses_tokens=True,
            max_age=86400,
            subject=re.compile(r"spiffe://[a-z0-9._-]+(/\S*)?"),
            subject_example="spiffe://TRUST-DOMAIN/PATH",
            claims=(),
        ),
    )
}


def _reads(condition: str, claim: str) -> bool:
    """Whether ``condition`` reads ``claims.CLAIM`` (or ``claims["CLAIM"]``)."""
    name = re.escape(claim)
    return re.search(rf"claims\s*(\.\s*{name}\b|\[\s*[\"']{name}[\"']\s*\])", condition) is not None


def profile_of(name: str) -> IssuerProfile:
    """The profile called ``name``; an unknown name (a newer version's) reads as ``oidc``."""
    return PROFILES.get(name, PROFILES["oidc"])


def spiffe_trust_domain(spiffe_id: str) -> str | None:
    """``spiffe://example.org`` for ``spiffe://example.org/ns/x``; None when not a SPIFFE ID."""
    match = re.fullmatch(r"(spiffe://[a-z0-9._-]+)(/\S*)?", spiffe_id)
    return match.group(1) if match else None
