"""Metrics over verdicts: pass@k, strict accuracy and test pass rate, per difficulty.

Three different numbers, never confused with one another:

* ``pass@k`` — the unbiased estimator of Chen et al. (2021) (`motcoder.scoring.passk`),
  averaged over problems. Reported for k in {1, 2, 5, 10, 20, 50, 100, ...} up to ``n``,
  plus ``n`` itself, where ``n`` is the smallest number of samples any problem has; each
  problem uses all of its own samples.
* ``strict_accuracy`` — the fraction of problems whose first sample (lowest
  ``sample_index``, normally 0) passes every judged test: APPS' "strict accuracy".
* ``test_pass_rate`` — the mean over problems of the mean over samples of
  ``passed tests / judged tests``: APPS' "test case average". It is *not* pass@k (several
  research harnesses have published it under that name). It cannot be computed when tests
  were skipped after a first failure (status ``not_run``); it is then ``None`` with a note.

`summarize` returns a plain JSON-ready dict — it is what ``summary.json`` holds::

    {"samples_per_problem": {"min": n, "max": m}, "ks": [1, 2, 5],
     "groups": {"introductory": {...}, "interview": {...}, "all": {...}},
     "notes": [...], "definitions": {...}}

Every group has ``problems``, ``samples``, ``passed_samples``, ``pass@k`` (``{"1": 0.33,
...}``, fractions in [0, 1]), ``strict_accuracy``, ``test_pass_rate``, ``harness_errors``,
``in_child_verdicts``, ``in_child_passed`` and ``statuses`` (samples per verdict status).
Problems without a difficulty count in ``"all"`` only.

Verdicts judged inside the untrusted process (``trust: in-child``: assertion scripts whose
calls could not be recorded) can be forged by the program, so their passes count in none of
these numbers — nor their passed tests in the test pass rate — unless ``trust_in_child``
(`counts_as_passed`); the summary's ``trust_in_child`` says which rule was applied, and
``in_child_verdicts`` / ``in_child_passed`` how many such verdicts there were and how many
of them passed in the child.

A problem none of whose verdicts lists a judged test cannot be scored: that is an error
(`MetricsError` naming it), never a success. So is a verdict that says "passed" without
having passed every judged test.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from motcoder.sandbox.verdict import HARNESS_ERROR, NO_CODE, NOT_RUN, TRUST_IN_CHILD, Verdict
from motcoder.scoring.passk import pass_at_k, standard_ks

ALL = "all"

# Known difficulty names, in the order they are reported; others follow, sorted.
DIFFICULTY_ORDER: tuple[str, ...] = (
    "introductory", "interview", "competition",  # APPS
    "easy", "medium", "hard",
)

DEFINITIONS: dict[str, str] = {
    "pass@k": "unbiased estimator of Chen et al. 2021 (1 - C(n-c,k)/C(n,k)), mean over "
              "problems; fractions in [0, 1]",
    "strict_accuracy": "fraction of problems whose first sample passes all judged tests",
    "test_pass_rate": "mean over problems of the mean over samples of passed/judged tests "
                      "(APPS 'test case average'; not pass@k)",
}


class MetricsError(ValueError):
    """Verdicts that cannot be scored; the message names the problem and what to do."""


@dataclass
class ProblemScore:
    """What the verdicts of one problem add up to."""

    task_id: str
    difficulty: str | None
    n: int                      # samples
    c: int                      # passing samples
    first_passed: bool          # the lowest-index sample passed (strict accuracy)
    judged_tests: int           # judged tests of the problem
    test_pass_rate: float       # mean over samples of passed / judged tests
    has_not_run: bool           # some test was skipped (early stop)
    harness_errors: int         # samples the engine failed on
    in_child: int               # samples judged inside the untrusted process
    in_child_passed: int        # of them, those that passed there (counted or not)
    statuses: Counter[str] = field(default_factory=Counter)


def _as_verdict(item: Verdict | Mapping[str, Any]) -> Verdict:
    if isinstance(item, Verdict):
        return item
    if isinstance(item, Mapping):
        return Verdict.from_dict(dict(item))
    raise TypeError(f"expected a Verdict or a verdict record, got {type(item).__name__}")


def _trusted(v: Verdict, trust_in_child: bool) -> bool:
    """Whether the passes of ``v`` count: judged in the harness, or in the child with
    ``trust_in_child`` (such a verdict is only as honest as the program it judged)."""
    return trust_in_child or v.trust != TRUST_IN_CHILD


def counts_as_passed(verdict: Verdict | Mapping[str, Any], trust_in_child: bool = False
                     ) -> bool:
    """Whether a verdict counts as a pass in pass@k and every table: it passed, and was
    judged in the harness — or inside the untrusted process, with ``trust_in_child``."""
    v = _as_verdict(verdict)
    return v.passed and _trusted(v, trust_in_child)


def _counted_tests(v: Verdict, trust_in_child: bool) -> int:
    """The passed tests a verdict counts with in the test pass rate (as `counts_as_passed`)."""
    return v.passed_tests if _trusted(v, trust_in_child) else 0


def _is_harness_error(v: Verdict) -> bool:
    return v.status == HARNESS_ERROR or any(t.status == HARNESS_ERROR for t in v.tests)


def _score_problem(task_id: str, difficulty: str | None, verdicts: list[Verdict],
                   trust_in_child: bool = False) -> ProblemScore:
    verdicts = sorted(verdicts, key=lambda v: v.sample_index)
    for a, b in zip(verdicts, verdicts[1:], strict=False):
        if a.sample_index == b.sample_index:
            raise MetricsError(
                f"problem {task_id!r} has two verdicts for sample_index {a.sample_index} — "
                "the results file holds a duplicate; remove one and score again"
            )
    counts = {v.total_tests for v in verdicts if v.total_tests > 0}
    if not counts:
        if all(v.status in (NO_CODE, HARNESS_ERROR) for v in verdicts):
            judged = 0  # nothing ran; every sample is a failure (see ProblemScore below)
        else:
            raise MetricsError(
                f"problem {task_id!r} has no judged tests: none of its {len(verdicts)} "
                "verdict(s) lists a test, and a program judged on nothing cannot be scored — "
                "give the problem tests (check its judge visibilities) or leave it out"
            )
    elif len(counts) > 1:
        raise MetricsError(
            f"the verdicts of problem {task_id!r} list different numbers of judged tests "
            f"({', '.join(map(str, sorted(counts)))}) — they were judged on different test "
            "sets; evaluate all samples again with one configuration"
        )
    else:
        judged = counts.pop()
    for v in verdicts:
        if v.passed and (v.total_tests == 0 or v.passed_tests != v.total_tests):
            raise MetricsError(
                f"problem {task_id!r} sample {v.sample_index}: the verdict says passed but "
                f"{v.passed_tests} of {v.total_tests} tests passed — the results file is "
                "inconsistent; evaluate again"
            )
    return ProblemScore(
        task_id=task_id,
        difficulty=difficulty,
        n=len(verdicts),
        c=sum(counts_as_passed(v, trust_in_child) for v in verdicts),
        first_passed=counts_as_passed(verdicts[0], trust_in_child),
        judged_tests=judged,
        test_pass_rate=(
            sum(_counted_tests(v, trust_in_child) / judged for v in verdicts) / len(verdicts)
            if judged else 0.0
        ),
        has_not_run=any(t.status == NOT_RUN for v in verdicts for t in v.tests),
        harness_errors=sum(_is_harness_error(v) for v in verdicts),
        in_child=sum(v.trust == TRUST_IN_CHILD for v in verdicts),
        in_child_passed=sum(v.trust == TRUST_IN_CHILD and v.passed for v in verdicts),
        statuses=Counter(v.status for v in verdicts),
    )


def score_problems(
    verdicts: Iterable[Verdict | Mapping[str, Any]],
    difficulties: Mapping[str, str | None] | None = None,
    trust_in_child: bool = False,
) -> list[ProblemScore]:
    """Group verdicts by problem and score each problem (in order of first appearance);
    passes count as `counts_as_passed` says.

    ``difficulties`` maps every problem to be scored to its difficulty; when given, a verdict
    of a problem not in it, or a problem in it without verdicts, is an error (an unfinished
    run must not be scored as if complete). Without it, each verdict's own ``difficulty`` is
    used.
    """
    by_task: dict[str, list[Verdict]] = defaultdict(list)
    for item in verdicts:
        v = _as_verdict(item)
        by_task[v.task_id].append(v)
    if not by_task:
        raise MetricsError("there are no verdicts to score — evaluate some samples first")
    if difficulties is not None:
        unknown = [t for t in by_task if t not in difficulties]
        if unknown:
            raise MetricsError(
                f"{len(unknown)} problem(s) with verdicts are not among the problems to score "
                f"(e.g. {unknown[0]!r}) — score against the benchmark the samples were made for"
            )
        missing = [t for t in difficulties if t not in by_task]
        if missing:
            raise MetricsError(
                f"{len(missing)} problem(s) have no verdicts (e.g. {missing[0]!r}) — finish "
                "the run (--resume), or score only the problems that were sampled"
            )
    scores = []
    for task_id, vs in by_task.items():
        if difficulties is not None:
            difficulty = difficulties[task_id]
        else:
            found = {v.difficulty for v in vs}
            if len(found) > 1:
                raise MetricsError(
                    f"the verdicts of problem {task_id!r} disagree on its difficulty "
                    f"({sorted(map(str, found))}) — pass the problems' difficulties explicitly"
                )
            difficulty = found.pop()
        if difficulty == ALL:
            raise MetricsError(
                f"problem {task_id!r} has the difficulty {ALL!r}, which is reserved for the "
                "total — rename that difficulty"
            )
        scores.append(_score_problem(task_id, difficulty, vs, trust_in_child))
    return scores


def _natural_key(text: str) -> list[Any]:
    return [(0, int(part)) if part.isdigit() else (1, part)
            for part in re.split(r"(\d+)", text) if part]


def order_difficulties(names: Iterable[str]) -> list[str]:
    """Known difficulties in their usual order, then others in natural order (``800`` before
    ``1200``)."""
    names = set(names)
    known = [d for d in DIFFICULTY_ORDER if d in names]
    return known + sorted(names - set(known), key=_natural_key)


def _group_summary(
    scores: Sequence[ProblemScore], ks: Sequence[int], rate_ok: bool
) -> dict[str, Any]:
    count = len(scores)
    statuses: Counter[str] = Counter()
    for s in scores:
        statuses.update(s.statuses)
    return {
        "problems": count,
        "samples": sum(s.n for s in scores),
        "passed_samples": sum(s.c for s in scores),
        "pass@k": {str(k): sum(pass_at_k(s.n, s.c, k) for s in scores) / count for k in ks},
        "strict_accuracy": sum(s.first_passed for s in scores) / count,
        "test_pass_rate": sum(s.test_pass_rate for s in scores) / count if rate_ok else None,
        "harness_errors": sum(s.harness_errors for s in scores),
        "in_child_verdicts": sum(s.in_child for s in scores),
        "in_child_passed": sum(s.in_child_passed for s in scores),
        "statuses": dict(sorted(statuses.items())),
    }


def _in_child_note(in_child: int, passed: int, trust_in_child: bool) -> str:
    """What the summary says of the verdicts judged inside the untrusted process."""
    said = (f"{in_child} verdict(s) had to be judged inside the untrusted process, where a "
            f"program can forge its verdict; {passed} passed there")
    if trust_in_child:
        return f"{said} and count as passes (--trust-in-child)"
    return f"{said} but count as failures — pass --trust-in-child to count them"


def summarize(
    verdicts: Iterable[Verdict | Mapping[str, Any]],
    difficulties: Mapping[str, str | None] | None = None,
    ks: Sequence[int] | None = None,
    trust_in_child: bool = False,
) -> dict[str, Any]:
    """The summary of a run (see the module docstring for its shape).

    ``verdicts`` are `Verdict` objects or their ``to_dict`` records, several per problem.
    ``difficulties`` is as in `score_problems`. ``ks`` overrides the reported k; each must be
    at most the smallest number of samples of a problem. ``trust_in_child``: count the passes
    of verdicts judged inside the untrusted process (`counts_as_passed`).
    """
    scores = score_problems(verdicts, difficulties, trust_in_child)
    n_min = min(s.n for s in scores)
    n_max = max(s.n for s in scores)
    if ks is None:
        ks = standard_ks(n_min)
    else:
        ks = sorted(set(ks))
        too_big = [k for k in ks if k > n_min]
        if too_big:
            raise MetricsError(
                f"pass@{too_big[0]} was asked for, but some problem has only {n_min} "
                f"sample(s) — generate at least {too_big[-1]} samples per problem or ask for "
                f"k <= {n_min}"
            )
        if any(k < 1 for k in ks):
            raise MetricsError(f"k must be at least 1, got {ks}")
    rate_ok = not any(s.has_not_run for s in scores)

    groups: dict[str, dict[str, Any]] = {}
    by_difficulty: dict[str, list[ProblemScore]] = defaultdict(list)
    for s in scores:
        if s.difficulty is not None:
            by_difficulty[s.difficulty].append(s)
    for name in order_difficulties(by_difficulty):
        groups[name] = _group_summary(by_difficulty[name], ks, rate_ok)
    groups[ALL] = _group_summary(scores, ks, rate_ok)

    notes: list[str] = []
    if n_min != n_max:
        notes.append(
            f"problems have between {n_min} and {n_max} samples; pass@k is reported up to "
            f"k = {n_min} and each problem's estimate uses all of its samples"
        )
    if not rate_ok:
        notes.append(
            "test_pass_rate is not reported: some verdicts stopped at the first failing test "
            "(status not_run), so later tests were never judged — evaluate with all tests "
            "(no early stop) to get it"
        )
    harness = groups[ALL]["harness_errors"]
    if harness:
        notes.append(
            f"{harness} sample(s) hit an execution-engine error and are counted as failures — "
            "check the engine and evaluate them again"
        )
    in_child = groups[ALL]["in_child_verdicts"]
    if in_child:
        notes.append(_in_child_note(in_child, groups[ALL]["in_child_passed"], trust_in_child))
    no_tests = [s.task_id for s in scores if s.judged_tests == 0]
    if no_tests:
        notes.append(
            f"{len(no_tests)} problem(s) were never run (every sample lacked code or hit an "
            f"engine error, e.g. {no_tests[0]!r}); they count as failures"
        )
    return {
        "samples_per_problem": {"min": n_min, "max": n_max},
        "ks": list(ks),
        "trust_in_child": trust_in_child,
        "groups": groups,
        "notes": notes,
        "definitions": dict(DEFINITIONS),
    }
