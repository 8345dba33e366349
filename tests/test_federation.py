"""Workload identity federation end to end over loopback: workloads authenticate with the token
their platform gives them (stand-ins for a Kubernetes API server, GitHub Actions and a SPIFFE
bundle endpoint mint tokens of the documented shapes), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokensmith.oauth import jwt_claims
from tokensmith.server import AdminError, Federation, Trust

from .conftest import Service, eventually
from .federation_issuer import StandInIssuer, shape

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_SPIFFE = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe"
POD = "system:serviceaccount:prod:deployer"
MAIN_ONLY = 'claims.sub.startsWith("repo:acme/deploy:") && claims.ref == "refs/heads/main"'


@pytest.fixture
def kubernetes() -> Iterator[StandInIssuer]:
    """A stand-in Kubernetes API server publishing its service-account keys."""
    with StandInIssuer("RS256").serving() as issuer:
        yield issuer


@pytest.fixture
def github() -> Iterator[StandInIssuer]:
    """A stand-in https://token.actions.githubusercontent.com (keys by discovery)."""
    with StandInIssuer("RS256").serving() as issuer:
        yield issuer


def present(
    service: Service,
    token: str,
    *,
    client_id: str | None = None,
    kind: str = JWT_BEARER,
    grant: dict[str, str] | None = None,
) -> httpx.Response:
    """A token request authenticated by ``token`` as the client assertion."""
    form = {"client_assertion_type": kind, "client_assertion": token}
    form.update(grant or {"grant_type": "client_credentials"})
    if client_id is not None:
        form["client_id"] = client_id
    return service.http.post(service.token_url("r1"), data=form)


def federate(
    service: Service,
    issuer: str,
    profile: str,
    *,
    subject: str | None = None,
    condition: str | None = None,
    name: str | None = None,
    client: str = "deployer",
    **trust: Any,
) -> None:
    """Realm r1 trusting ``issuer`` with ``profile``, and a secretless client federated to it."""

    async def setup(admin: Any) -> None:
        await admin.create_realm("r1")
        await Trust(admin).add("r1", issuer, profile=profile, **trust)
        await admin.create_client("r1", client, federated_only=True, refresh_tokens=True)
        await Federation(admin).add(
            "r1", client, issuer, subject=subject, condition=condition, name=name
        )

    service.admin(setup)


def once_loaded(service: Service, token: str) -> httpx.Response:
    """The answer to ``token`` once the service has noticed an admin change of the realm (it
    polls): the first that is not 401 "not trusted" or "no federated credential"."""
    answers: list[httpx.Response] = []

    def settled() -> bool:
        answers.append(present(service, token))
        return answers[-1].status_code != 401

    eventually(settled)
    return answers[-1]


def refused(response: httpx.Response) -> str:
    """The description of an invalid_client answer."""
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    description: str = response.json()["error_description"]
    return description


def test_a_pod_gets_a_token_with_no_secret_configured_anywhere(
    service: Service, kubernetes: StandInIssuer
) -> None:
    """A client with no secret and no keys gets a token for the pod's projected
    service-account token, found by its federated credential (no client_id sent)."""
    federate(service, kubernetes.url, "kubernetes", subject=POD)
    token = kubernetes.mint("kubernetes", audience=service.token_url("r1"), now=service.clock())

    response = present(service, token)

    assert response.status_code == 200, response.text
    claims = jwt_claims(response.json()["access_token"])
    assert claims is not None
    assert claims["client_id"] == "deployer"


def test_a_reused_kubernetes_token_is_accepted(service: Service, kubernetes: StandInIssuer) -> None:
    """The kubelet hands a pod the same token (jti included) for most of its lifetime: the
    kubernetes profile does not make it single-use."""
    federate(service, kubernetes.url, "kubernetes", subject=POD)
    token = kubernetes.mint("kubernetes", audience=service.token_url("r1"), now=service.clock())

    answers = [present(service, token, client_id="deployer") for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]


def test_a_replayed_github_token_is_refused(service: Service, github: StandInIssuer) -> None:
    """A GitHub Actions token (fresh jti per request to the Actions token URL) is single-use."""
    federate(service, github.url, "github-actions", condition=MAIN_ONLY, name="main-only")
    token = github.mint("github-actions", audience=service.token_url("r1"), now=service.clock())

    first = present(service, token)
    again = present(service, token)

    assert first.status_code == 200, first.text
    assert "already used" in refused(again)


def test_a_condition_that_does_not_match_names_the_check_and_no_claim_value(
    service: Service, github: StandInIssuer
) -> None:
    """A job on another branch is refused with the credential and the failed check named, and
    none of the token's claim values in the answer."""
    federate(service, github.url, "github-actions", condition=MAIN_ONLY, name="main-only")
    branch = {"ref": "refs/heads/feature-x", "sub": "repo:acme/deploy:ref:refs/heads/feature-x"}
    token = github.mint(
        "github-actions", audience=service.token_url("r1"), now=service.clock(), claims=branch
    )

    description = refused(present(service, token))

    assert "federated credential 'main-only'" in description
    assert "false" in description
    values = {**shape("github-actions")["claims"], **branch}
    for name, value in values.items():
        if name not in ("iss", "aud") and isinstance(value, str) and len(value) > 3:
            assert value not in description, name


def test_a_subject_that_does_not_match_names_the_credential(
    service: Service, kubernetes: StandInIssuer
) -> None:
    """Another service account's token is refused naming the credential whose sub differs."""
    federate(service, kubernetes.url, "kubernetes", subject=POD, name="prod-deployer")
    other = {"sub": "system:serviceaccount:dev:intruder"}
    token = kubernetes.mint(
        "kubernetes", audience=service.token_url("r1"), now=service.clock(), claims=other
    )

    description = refused(present(service, token))

    assert description == "the token's sub does not match federated credential 'prod-deployer'"


def test_a_token_for_another_audience_is_refused(
    service: Service, kubernetes: StandInIssuer
) -> None:
    """A token the platform minted for another service is not accepted here."""
    federate(service, kubernetes.url, "kubernetes", subject=POD)
    token = kubernetes.mint("kubernetes", audience="https://vault.example.com", now=service.clock())

    description = refused(present(service, token))

    assert "aud must be this service's token endpoint or issuer URL" in description
    assert "vault.example.com" not in description


def test_a_fixed_client_audience_is_what_tokens_must_name(
    service: Service, github: StandInIssuer
) -> None:
    """With a client audience on the issuer (Azure's api://AzureADTokenExchange style), a
    token for that audience is accepted and one for the token endpoint is not."""
    fixed = "api://AzureADTokenExchange"
    federate(service, github.url, "github-actions", condition=MAIN_ONLY, client_audience=fixed)

    good = present(service, github.mint("github-actions", audience=fixed, now=service.clock()))
    endpoint = service.token_url("r1")
    other = present(service, github.mint("github-actions", audience=endpoint, now=service.clock()))

    assert good.status_code == 200, good.text
    assert refused(other) == f"the client assertion's aud must be {fixed!r}"


def test_a_rotated_issuer_key_is_picked_up(service: Service, kubernetes: StandInIssuer) -> None:
    """After the cluster rotates its signing key, a token signed with the new key is accepted
    (an unknown kid refetches the JWKS)."""
    federate(service, kubernetes.url, "kubernetes", subject=POD)
    audience = service.token_url("r1")
    before = present(service, kubernetes.mint("kubernetes", audience=audience, now=service.clock()))

    kubernetes.rotate()
    service.clock.advance(10)  # past the verifier's least time between two fetches
    after = present(service, kubernetes.mint("kubernetes", audience=audience, now=service.clock()))

    assert (before.status_code, after.status_code) == (200, 200), after.text


def test_an_issuer_outage_is_ridden_out_with_the_keys_fetched_before(
    service: Service, kubernetes: StandInIssuer
) -> None:
    """While the issuer is down, its keys fetched before keep verifying its tokens, even past
    their refresh time; an issuer never reached gets 503 temporarily_unavailable."""
    federate(service, kubernetes.url, "kubernetes", subject=POD)
    audience = service.token_url("r1")
    present(service, kubernetes.mint("kubernetes", audience=audience, now=service.clock()))
    kubernetes.down = True
    service.clock.advance(400)  # past the JWKS's maximum age

    during = present(service, kubernetes.mint("kubernetes", audience=audience, now=service.clock()))
    with StandInIssuer("RS256").serving() as unreachable:
        unreachable.down = True
        service.admin(lambda a: Trust(a).add("r1", unreachable.url, profile="kubernetes"))
        service.admin(lambda a: Federation(a).add("r1", "deployer", unreachable.url, subject=POD))
        token = unreachable.mint("kubernetes", audience=audience, now=service.clock())
        never = once_loaded(service, token)

    assert during.status_code == 200, during.text
    assert never.status_code == 503, never.text
    assert never.json()["error"] == "temporarily_unavailable"


@pytest.fixture
def bundle() -> Iterator[StandInIssuer]:
    """The keys of SPIFFE trust domain example.org (its bundle, given inline)."""
    with StandInIssuer("ES256").serving() as issuer:
        yield issuer


def test_a_clusters_keys_are_fetched_with_its_ca_file(service: Service, tmp_path: Path) -> None:
    """An API server whose certificate a private CA signed: with --ca-file its keys are fetched
    and the pod's token accepted; without it, its keys cannot be had (503)."""
    with StandInIssuer("RS256", ca_dir=tmp_path).serving() as cluster:
        assert cluster.ca_file is not None
        federate(service, cluster.url, "kubernetes", subject=POD, ca_file=str(cluster.ca_file))
        service.admin(lambda a: Trust(a).add("r1", f"{cluster.url}/", profile="kubernetes"))
        service.admin(lambda a: Federation(a).add("r1", "deployer", f"{cluster.url}/", subject=POD))
        audience = service.token_url("r1")
        good = present(service, cluster.mint("kubernetes", audience=audience, now=service.clock()))
        unverified = cluster.mint(
            "kubernetes", audience=audience, now=service.clock(), claims={"iss": f"{cluster.url}/"}
        )
        without_ca = once_loaded(service, unverified)

    assert good.status_code == 200, good.text
    assert without_ca.status_code == 503, without_ca.text


def test_a_spiffe_svid_authenticates_with_the_jwt_spiffe_type(
    service: Service, bundle: StandInIssuer
) -> None:
    """A JWT-SVID without iss or jti, checked against the trust domain's bundle, authenticates
    the client named by client_id; SPIFFE workloads reuse their SVID, so a reuse passes."""
    spiffe_id = shape("spiffe")["claims"]["sub"]
    federate(service, "spiffe://example.org", "spiffe", subject=spiffe_id, jwks=bundle.jwks())
    token = bundle.mint("spiffe", audience=service.token_url("r1"), now=service.clock())

    answers = [present(service, token, client_id="deployer", kind=JWT_SPIFFE) for _ in range(2)]
    stranger = bundle.mint(
        "spiffe",
        audience=service.token_url("r1"),
        now=service.clock(),
        claims={"sub": "spiffe://elsewhere.org/ns/prod/sa/deployer"},
    )

    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    assert "not trusted" in refused(present(service, stranger, kind=JWT_SPIFFE))


def test_every_grant_of_the_client_works_with_its_platform_token(
    service: Service, kubernetes: StandInIssuer
) -> None:
    """The refresh_token grant authenticates the client by its platform token too."""
    federate(service, kubernetes.url, "kubernetes", subject=POD)
    token = kubernetes.mint("kubernetes", audience=service.token_url("r1"), now=service.clock())
    first = present(service, token)

    refresh = first.json()["refresh_token"]
    renewed = present(
        service, token, grant={"grant_type": "refresh_token", "refresh_token": refresh}
    )

    assert renewed.status_code == 200, renewed.text


def test_a_condition_that_does_not_compile_is_refused_when_added(
    service: Service, github: StandInIssuer
) -> None:
    """A CEL syntax error, a variable other than claims, and map() are refused at once."""
    federate(service, github.url, "github-actions", condition=MAIN_ONLY)
    bad = ('claims.sub.startsWith("repo:', "request.ip == '1'", "claims.l.map(x, x).size() > 0")

    for condition in bad:
        with pytest.raises(AdminError):
            service.admin(
                lambda a, c=condition: Federation(a).add("r1", "deployer", github.url, condition=c)
            )


def test_a_subject_the_platform_cannot_issue_is_refused_when_added(
    service: Service, kubernetes: StandInIssuer
) -> None:
    """A kubernetes credential's subject must look like system:serviceaccount:NS:NAME."""
    federate(service, kubernetes.url, "kubernetes", subject=POD)

    with pytest.raises(AdminError, match="system:serviceaccount:NAMESPACE:NAME"):
        service.admin(
            lambda a: Federation(a).add("r1", "deployer", kubernetes.url, subject="deployer")
        )


def test_a_condition_that_anybody_on_github_could_meet_is_refused(
    service: Service, github: StandInIssuer
) -> None:
    """On github.com anybody can get a token: a condition that does not pin the repository or
    owner (here: any repository's main branch) is refused when added."""
    federate(service, github.url, "github-actions", condition=MAIN_ONLY)

    with pytest.raises(AdminError, match="must pin the owner"):
        service.admin(
            lambda a: Federation(a).add(
                "r1", "deployer", github.url, condition='claims.ref == "refs/heads/main"'
            )
        )


def test_a_github_issuer_without_an_audience_serves_no_grant(
    service: Service, github: StandInIssuer
) -> None:
    """A GitHub issuer trusted for federated authentication does not make its tokens, which
    anybody can get, good for id_auth; with an audience it would."""
    federate(service, github.url, "github-actions", condition=MAIN_ONLY)
    secret = service.admin(lambda a: a.create_client("r1", "sso", grant_types=["id_auth"])).secret
    token = github.mint("github-actions", audience="sso", now=service.clock())

    answer = service.http.post(
        service.token_url("r1"),
        data={"grant_type": "id_auth", "id_token": token},
        auth=("sso", secret or ""),
    )

    assert answer.status_code == 400, answer.text
    assert "federated client authentication only" in answer.json()["error_description"]


def test_a_gitlab_job_reuses_its_id_token(service: Service, github: StandInIssuer) -> None:
    """A GitLab CI job reads one id_token for its whole run: the gitlab-ci profile accepts it
    again, and a condition reads GitLab's own claims."""
    gitlab = github  # any stand-in issuer will do
    condition = 'claims.project_path == "acme/deploy" && claims.ref_protected == "true"'
    federate(service, gitlab.url, "gitlab-ci", condition=condition)
    token = gitlab.mint("gitlab-ci", audience=service.token_url("r1"), now=service.clock())

    answers = [present(service, token) for _ in range(2)]

    assert [a.status_code for a in answers] == [200, 200], answers[-1].text


def test_a_generic_oidc_issuers_token_with_a_jti_is_single_use(
    service: Service, github: StandInIssuer
) -> None:
    """The oidc profile makes a token with a jti single-use, as RFC 7523 §3 says."""
    federate(service, github.url, "oidc", subject="repo:acme/deploy:ref:refs/heads/main")
    token = github.mint("github-actions", audience=service.token_url("r1"), now=service.clock())

    first, again = present(service, token), present(service, token)

    assert first.status_code == 200, first.text
    assert "already used" in refused(again)


def test_an_unreadable_ca_file_fails_closed(service: Service, tmp_path: Path) -> None:
    """A CA file that is not there trusts nothing: the cluster's keys cannot be fetched (503),
    never a 500 and never with the system's CAs instead."""
    with StandInIssuer("RS256", ca_dir=tmp_path).serving() as cluster:
        federate(service, cluster.url, "kubernetes", subject=POD, ca_file="/nonexistent/ca.crt")
        token = cluster.mint("kubernetes", audience=service.token_url("r1"), now=service.clock())

        answer = present(service, token)

    assert answer.status_code == 503, answer.text
