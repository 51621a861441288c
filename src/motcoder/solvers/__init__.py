"""Solvers: problems + a model -> `Attempt` records, yielded as they are produced.

* `DirectSolver` — one turn, ``n`` samples per problem, requests batched across problems;
* `SelfReflectionSolver` — multi-turn with execution feedback from the public tests only
  (MoTCoder's self-reflection), every round recorded.

Both take a prompt ``style`` (``normal``, ``mot``, ``mot-given-modules``) and optional
template overrides, and resume from the attempts already written (``done=``).
"""

from motcoder.solvers.base import (
    Attempt,
    Solver,
    as_attempts,
    attempt_key,
    derive_seed,
    latest_attempts,
)
from motcoder.solvers.direct import DirectSolver
from motcoder.solvers.self_reflection import SelfReflectionSolver

__all__ = [
    "Attempt",
    "DirectSolver",
    "SelfReflectionSolver",
    "Solver",
    "as_attempts",
    "attempt_key",
    "derive_seed",
    "latest_attempts",
]
