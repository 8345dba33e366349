"""Conditions over a token's claims in CEL (Common Expression Language), the one module that
knows the CEL library (``common-expression-language``, the ``federation`` extra), imported only
when a realm has a condition.

A condition reads one variable, ``claims`` (the token's payload), and must give a boolean, e.g.
``claims.sub.startsWith("repo:acme/deploy:") && claims.ref == "refs/heads/main"``. It is
compiled once, when its realm is loaded, and each evaluation is bounded:

- the expression: at most :data:`MAX_LENGTH` characters and :data:`MAX_COMPREHENSIONS`
  comprehension (``all``, ``exists``, ``exists_one``; ``map`` and ``filter``, which build lists,
  are refused), so one evaluation costs at most linear time in the claims' size;
- the claims: at most :data:`MAX_CLAIMS_BYTES` of JSON;
- the time: an evaluation that took longer than :data:`TIME_LIMIT` seconds counts as false.
  The library evaluates in native code holding the interpreter lock, so it cannot be stopped
  midway; the two bounds above are what keep it short, the time limit refuses the outlier.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_LENGTH = 1024
"""Characters a condition may have at most."""
MAX_COMPREHENSIONS = 1
"""Comprehensions (``all``, ``exists``, ``exists_one``) a condition may use at most."""
MAX_CLAIMS_BYTES = 8192
"""Bytes of JSON a token's claims may take for a condition to be evaluated over them."""
TIME_LIMIT = 0.05
"""Seconds one evaluation may take; past that it counts as false."""

_COMPREHENSION = re.compile(r"\.\s*(all|exists_one|exists|map|filter)\s*\(")


class ConditionError(ValueError):
    """A condition that cannot be compiled, or is longer or costlier than allowed; the message
    names the problem (never claim values: there are none at compile time)."""


class ConditionFailed(Exception):
    """An evaluation that gave no ``True``: the message says why without any claim value."""


@dataclass(frozen=True)
class Condition:
    """A compiled condition; :meth:`holds` evaluates it over a token's claims."""

    source: str
    _program: Any = field(repr=False, compare=False)
    _clock: Callable[[], float] = field(default=time.perf_counter, repr=False, compare=False)

    def holds(self, claims: Mapping[str, Any]) -> None:
        """Return when the condition is true for ``claims``.

        Raises:
            ConditionFailed: it is false, does not give a boolean, reads a claim the token does
                not have (or of another type), the claims are too large, or it took too long.
        """
        size = len(json.dumps(claims, separators=(",", ":"), default=str))
        if size > MAX_CLAIMS_BYTES:
            raise ConditionFailed(
                f"the token's claims ({size} bytes) are larger than the {MAX_CLAIMS_BYTES} "
                "bytes a condition is evaluated over"
            )
        started = self._clock()
        try:
            result = self._program.execute({"claims": dict(claims)})
        except Exception as exc:  # the library raises KeyError, TypeError, RuntimeError…
            raise ConditionFailed(
                f"it reads a claim the token does not have, or has of another type "
                f"({type(exc).__name__})"
            ) from None
        if self._clock() - started > TIME_LIMIT:
            raise ConditionFailed(f"it took longer than {TIME_LIMIT * 1000:.0f} ms")
        if result is not True:
            raise ConditionFailed(
                "it was false" if result is False else "it did not give a boolean"
            )


def compile_condition(source: str) -> Condition:
    """Compile ``source`` once, checking its bounds.

    Raises:
        ConditionError: too long, too many comprehensions, ``map``/``filter``, a syntax error,
            or a variable other than ``claims``; or the CEL library is not installed.
    """
    if not source.strip():
        raise ConditionError("the condition is empty")
    if len(source) > MAX_LENGTH:
        raise ConditionError(f"the condition is longer than {MAX_LENGTH} characters")
    macros = _COMPREHENSION.findall(source)
    if {"map", "filter"} & set(macros):
        raise ConditionError(
            "map() and filter() are not allowed in a condition; use all(), exists() or exists_one()"
        )
    if len(macros) > MAX_COMPREHENSIONS:
        raise ConditionError(
            f"a condition may use at most {MAX_COMPREHENSIONS} comprehension "
            "(all, exists, exists_one)"
        )
    try:
        import cel
    except ImportError:  # pragma: no cover - the federation extra is missing
        raise ConditionError(
            "conditions need the CEL library: pip install 'tokensmith[federation]'"
        ) from None
    try:
        program = cel.compile(source)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConditionError(f"the condition does not compile: {first}") from None
    # Comprehension variables are names too; anything else would be unknown at evaluation.
    names = set(program.variables()) - {"claims"}
    bound = set(re.findall(r"\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,", source))
    unknown = sorted(names - bound)
    if unknown:
        raise ConditionError(
            f"the condition reads {', '.join(unknown)}; a condition reads only 'claims'"
        )
    return Condition(source, program)
