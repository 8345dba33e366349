"""CEL conditions of federated credentials: compiled once, bounded, failing without claim values,
and the CEL library imported only when a realm has a condition."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tokensmith.server._cel import (
    MAX_CLAIMS_BYTES,
    MAX_LENGTH,
    ConditionError,
    ConditionFailed,
    compile_condition,
)

GITHUB = {
    "sub": "repo:acme/deploy:ref:refs/heads/main",
    "ref": "refs/heads/main",
    "repository": "acme/deploy",
    "kubernetes.io": {"namespace": "prod"},
}


def test_a_true_condition_holds() -> None:
    """The issue's example holds for a token of the main branch."""
    condition = compile_condition(
        'claims.sub.startsWith("repo:acme/deploy:") && claims.ref == "refs/heads/main"'
    )

    condition.holds(GITHUB)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ('claims.ref == "refs/heads/dev"', "it was false"),
        ("claims.environment == 'prod'", "reads a claim the token does not have"),
        ("claims.ref", "did not give a boolean"),
    ],
)
def test_a_failing_condition_says_why_without_values(source: str, reason: str) -> None:
    """False, a missing claim and a non-boolean each fail with a reason and no claim value."""
    condition = compile_condition(source)

    with pytest.raises(ConditionFailed) as failed:
        condition.holds(GITHUB)

    assert reason in str(failed.value)
    assert not any(v in str(failed.value) for v in GITHUB.values() if isinstance(v, str))


@pytest.mark.parametrize(
    "source",
    [
        "x" * (MAX_LENGTH + 1),
        "claims.l.map(x, x).size() > 0",
        "claims.l.filter(x, x == 1).size() > 0",
        "claims.l.all(x, claims.l . exists (y, y == x))",
        "request.ip == '10.0.0.1'",
        "claims.sub.(",
        "  ",
    ],
)
def test_unbounded_or_broken_conditions_do_not_compile(source: str) -> None:
    """Too long, map/filter, nested comprehensions, other variables, syntax errors, empty."""
    with pytest.raises(ConditionError):
        compile_condition(source)


def test_claims_past_the_size_limit_are_not_evaluated() -> None:
    """A token with more claims than the limit fails the condition, naming the limit."""
    condition = compile_condition("claims.sub != ''")

    with pytest.raises(ConditionFailed, match=str(MAX_CLAIMS_BYTES)):
        condition.holds({"sub": "a", "padding": "x" * MAX_CLAIMS_BYTES})


def test_the_cel_library_is_imported_only_for_a_condition() -> None:
    """Credentials with subjects only compile without importing CEL; one condition imports it."""
    script = textwrap.dedent(
        """
        import sys
        from tokensmith.server._federation import compile_credentials
        from tokensmith.store import FederatedCredential

        def record(subject, condition):
            return FederatedCredential(1, 1, "c", 1, "https://i", "n", subject, condition, 0)

        compile_credentials([record("alice", None)])
        before = "cel" in sys.modules
        compile_credentials([record(None, "claims.sub == 'alice'")])
        print(before, "cel" in sys.modules)
        """
    )

    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert done.stdout.split() == ["False", "True"]


def test_a_gitlab_subject_may_carry_the_claims_its_project_chose() -> None:
    """GitLab's default sub is project_path, ref_type and ref; a project may name other claims
    after project_path (docs.gitlab.com, ID tokens: "Can be configured for the project")."""
    from tokensmith.server._profiles import profile_of

    gitlab = profile_of("gitlab-ci")

    assert gitlab.check_subject("project_path:acme/deploy:ref_type:branch:ref:main") is None
    assert gitlab.check_subject("project_path:acme/deploy:environment:production") is None
    assert gitlab.check_subject("project_path:acme/deploy") is None
    assert gitlab.check_subject("repo:acme/deploy:ref:refs/heads/main") is not None
