"""Solvers on the real judge and sandbox, with a scripted model.

`ScriptedModel` is a real, complete implementation of the `LanguageModel` protocol (not a
mock of a backend): it answers from a fixed script, choosing the answer by how many
assistant turns the chat already holds, and remembers every request it was sent, so the
tests can inspect exactly what a model would have seen.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from motcoder.models.base import (
    Completion,
    GenerationRequest,
    LanguageModel,
    ModelError,
    Output,
)
from motcoder.problems.model import Problem, Test
from motcoder.problems.samples import Sample
from motcoder.runs import JsonlStore
from motcoder.solvers import (
    Attempt,
    DirectSolver,
    SelfReflectionSolver,
    Solver,
    attempt_key,
    latest_attempts,
)

MARKERS = ("PRIV_IN_51e0", "PRIV_OUT_51e0", "GEN_IN_a77b", "GEN_OUT_a77b")


def fenced(code: str) -> str:
    return f"Here is my solution.\n\n```python\n{code}```\n\nIt should work."


WRONG = fenced('def same(x):\n    return "nope"\n\nprint("nope")\n')
CRASH = fenced('def same(x):\n    raise ValueError("boom")\n\nraise ValueError("boom")\n')
NO_CODE = "I am not sure how to solve this problem. Let me think about it more."
SUM_WRONG = fenced("a, b = map(int, input().split())\nprint(a - b)\n")
SUM_RIGHT = fenced("a, b = map(int, input().split())\nprint(a + b)\n")


class ScriptedModel:
    """Answers chats from a script: answer ``k`` for a chat holding ``k`` assistant turns
    (the last answer repeats). Every request it receives is kept in ``calls``."""

    def __init__(self, answers: list[str] | Callable[[GenerationRequest], str],
                 name: str = "scripted", short_by: int = 0) -> None:
        self.name = name
        self.answers = answers
        self.short_by = short_by
        self.calls: list[list[GenerationRequest]] = []

    def _answer(self, request: GenerationRequest) -> str:
        if callable(self.answers):
            return self.answers(request)
        turn = sum(m["role"] == "assistant" for m in request.messages or [])
        return self.answers[min(turn, len(self.answers) - 1)]

    def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        self.calls.append(list(requests))
        completions = []
        for request in requests:
            text = self._answer(request)
            prompt = sum(len(m["content"].split()) for m in request.messages or [])
            outputs = [Output(text, tokens=len(text.split())) for _ in range(request.n)]
            completions.append(Completion(outputs[:max(1, request.n - self.short_by)],
                                          prompt_tokens=prompt))
        return completions

    def close(self) -> None:
        pass

    @property
    def requests(self) -> list[GenerationRequest]:
        return [r for call in self.calls for r in call]


def secret_problems() -> list[Problem]:
    """One problem of each test kind; the hidden tests carry marker strings."""
    return [
        Problem(id="leak/stdio", source="file", statement="Echo the line you are given.",
                solutions=["print(input())\n"],
                tests=[Test(kind="stdio", visibility="public", input="pub-in-1\n",
                            output="pub-in-1\n"),
                       Test(kind="stdio", visibility="private", input="PRIV_IN_51e0\n",
                            output="PRIV_OUT_51e0\n"),
                       Test(kind="stdio", visibility="generated", input="GEN_IN_a77b\n",
                            output="GEN_OUT_a77b\n")]),
        Problem(id="leak/call", source="file", statement="Return the argument unchanged.",
                entry_point="same", starter_code="def same(x):\n",
                solutions=["def same(x):\n    return x\n"],
                tests=[Test(kind="call", visibility="public", args=["pub-arg"],
                            expected="pub-arg"),
                       Test(kind="call", visibility="private", args=["PRIV_IN_51e0"],
                            expected="PRIV_OUT_51e0"),
                       Test(kind="call", visibility="generated", args=["GEN_IN_a77b"],
                            expected="GEN_OUT_a77b")]),
        Problem(id="leak/assert", source="file", statement="Return the argument unchanged.",
                entry_point="same", solutions=["def same(x):\n    return x\n"],
                tests=[Test(kind="assert", visibility="public",
                            script="assert same('pub-assert') == 'pub-assert'\n"),
                       Test(kind="assert", visibility="private",
                            script="assert same('PRIV_IN_51e0') == 'PRIV_IN_51e0'\n"
                                   "assert 'PRIV_OUT_51e0'\n")]),
    ]


# ------------------------------------------------------------------------------ self-reflection


def test_private_tests_never_leak_into_any_prompt(judge) -> None:
    problems = secret_problems()
    model = ScriptedModel([WRONG, CRASH, NO_CODE, WRONG])
    solver = SelfReflectionSolver(judge, rounds=3, batch_size=4)  # answers in rounds 0..3
    assert isinstance(solver, Solver) and isinstance(model, LanguageModel)
    attempts = list(solver.solve(problems, model, n=2, seed=7))

    # every sample went through all rounds (nothing ever passes the public test)
    assert len(attempts) == len(problems) * 2 * 4
    assert sorted({a.round for a in attempts}) == [0, 1, 2, 3]
    assert all(a.final == (a.round == 3) for a in attempts)
    assert all(a.public_passed == 0 and a.public_total == 1 for a in attempts)

    # nothing hidden in anything a model was sent, nor in the recorded feedback
    sent = [m["content"] for r in model.requests for m in r.messages or []]
    sent += [a.feedback or "" for a in attempts]
    for marker in MARKERS:
        assert not any(marker in text for text in sent), marker

    # ... while the public tests do show up in the feedback
    feedback = {a.task_id: [] for a in attempts}
    for attempt in attempts:
        feedback[attempt.task_id].append(attempt.feedback or "")
    stdio = "\n".join(feedback["leak/stdio"])
    assert "pub-in-1" in stdio and "nope" in stdio and "ValueError: boom" in stdio
    assert "did not contain any Python code" in stdio
    call = "\n".join(feedback["leak/call"])
    assert "same('pub-arg')" in call and "'nope'" in call
    assert "assert same('pub-assert') == 'pub-assert'" in "\n".join(feedback["leak/assert"])


def test_stops_at_first_public_pass_and_rounds_can_be_scored(judge, sum_stdio_problem) -> None:
    model = ScriptedModel([SUM_WRONG, SUM_RIGHT])
    attempts = list(SelfReflectionSolver(judge, rounds=5).solve([sum_stdio_problem], model))
    assert [(a.round, a.public_passed, a.final) for a in attempts] == [(0, 0, False),
                                                                      (1, 1, True)]
    first, second = attempts
    # the second chat is the first one + the answer + feedback naming input, expected, got
    assert second.messages[:len(first.messages)] == first.messages
    assert second.messages[-2] == {"role": "assistant", "content": SUM_WRONG}
    assert second.messages[-1] == {"role": "user", "content": first.feedback}
    assert "2 3" in first.feedback and "5" in first.feedback and "-1" in first.feedback

    # accuracy after each round: the latest attempt per sample, judged on the private tests
    verdicts = {}
    for upto in (0, 1, 5):
        (attempt,) = latest_attempts(attempts, upto).values()
        sample = Sample(attempt.task_id, attempt.code, attempt.sample_index)
        verdicts[upto] = judge.judge(sum_stdio_problem, sample).passed
    assert verdicts == {0: False, 1: True, 5: True}


def test_rounds_count_the_times_the_model_is_asked_again(judge, sum_stdio_problem) -> None:
    model = ScriptedModel([SUM_WRONG])
    attempts = list(SelfReflectionSolver(judge, rounds=0).solve([sum_stdio_problem], model))
    assert [(a.round, a.public_passed, a.final, a.feedback) for a in attempts] == [
        (0, 0, True, None)]
    again = list(SelfReflectionSolver(judge, rounds=1).solve([sum_stdio_problem], model))
    assert [(a.round, a.final) for a in again] == [(0, False), (1, True)]
    with pytest.raises(ValueError, match="rounds must be 0 or more"):
        SelfReflectionSolver(judge, rounds=-1)


def test_problem_without_public_tests_stops_after_first_answer(judge) -> None:
    problem = Problem(id="nopublic", source="file", statement="Print 1.",
                      tests=[Test(kind="stdio", input="", output="1\n")])
    (attempt,) = SelfReflectionSolver(judge).solve([problem], ScriptedModel([SUM_WRONG]))
    assert attempt.final and attempt.public_passed is None and attempt.feedback is None


def test_resume_continues_where_the_run_stopped(judge, tmp_path) -> None:
    problems = secret_problems()[:2]
    answers = [WRONG, CRASH, WRONG]
    full = list(SelfReflectionSolver(judge, rounds=2, batch_size=3).solve(
        problems, ScriptedModel(answers), n=2, seed=1))
    assert len(full) == 2 * 2 * 3

    # the first attempts were written to a JSONL store before a crash
    path = tmp_path / "samples.jsonl"
    with JsonlStore(path, key=attempt_key) as store:
        for attempt in full[:5]:
            store.append(attempt.to_dict())
    with JsonlStore(path, key=attempt_key) as store:
        done = list(store.records())
        model = ScriptedModel(answers)
        rest = list(SelfReflectionSolver(judge, rounds=2, batch_size=3).solve(
            problems, model, n=2, seed=1, done=done))
        for attempt in rest:
            store.append(attempt.to_dict())  # raises on a duplicate key
        assert len(store) == len(full)
    by_key = {a.key: a for a in full}
    for attempt in rest:
        original = by_key[attempt.key]
        assert attempt.messages == original.messages and attempt.code == original.code
    seeds = {(r.seed, len(r.messages or [])) for r in model.requests}
    assert len(seeds) == len(model.requests)  # one seed per sample and round


def test_self_reflection_batches_requests(judge) -> None:
    problems = secret_problems()
    model = ScriptedModel([WRONG])
    list(SelfReflectionSolver(judge, rounds=1, batch_size=2).solve(problems, model, n=2))
    assert all(len(call) <= 2 for call in model.calls)
    assert sum(len(call) for call in model.calls) == 3 * 2 * 2


# ------------------------------------------------------------------------------ direct


def test_direct_solver_batches_and_resumes(sum_stdio_problem, add_call_problem) -> None:
    problems = [sum_stdio_problem, add_call_problem] + [
        Problem(id=f"extra/{i}", source="file", statement=f"Print {i}.",
                tests=[Test(kind="stdio", visibility="public", output=f"{i}\n")])
        for i in range(3)]
    answer = fenced("def add(a, b):\n    return a + b\n")
    model = ScriptedModel([answer])
    solver = DirectSolver("mot", batch_size=2)
    attempts = list(solver.solve(problems, model, n=3, temperature=0.8, top_p=0.95,
                                 max_new_tokens=64, seed=3))
    assert [len(call) for call in model.calls] == [2, 2, 1]
    request = model.calls[0][0]
    assert (request.n, request.temperature, request.top_p, request.max_new_tokens) == \
        (3, 0.8, 0.95, 64)
    assert request.messages == solver.messages(sum_stdio_problem)
    assert len(attempts) == 15
    assert {(a.task_id, a.sample_index) for a in attempts} == {
        (p.id, i) for p in problems for i in range(3)}
    first = attempts[0]
    assert first.code == "def add(a, b):\n    return a + b\n" and first.round == 0
    assert first.style == "mot" and first.solver == "direct" and first.final
    assert first.completion_tokens > 0 and first.prompt_tokens > 0

    # resume: only what is missing is asked for
    done = [a.to_dict() for a in attempts if not (a.task_id == "extra/1" and a.sample_index)]
    model = ScriptedModel([answer])
    rest = list(solver.solve(problems, model, n=3, seed=3, done=done))
    assert [(a.task_id, a.sample_index) for a in rest] == [("extra/1", 1), ("extra/1", 2)]
    assert [r.n for r in model.requests] == [2]


def test_direct_solver_puts_back_stub_imports() -> None:
    from motcoder.problems.humaneval import load_humaneval

    problem = load_humaneval()[0]
    answer = fenced("def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
                    "    return False\n")
    (attempt,) = DirectSolver().solve([problem], ScriptedModel([answer]))
    assert attempt.code.startswith("from typing import List\n\ndef has_close_elements")
    assert attempt.metadata == {"added_context": ["from typing import List"]}


def test_given_modules_need_outlines_for_every_problem(sum_stdio_problem) -> None:
    outline = 'def parse(line):\n    """Two integers from the line."""\n'
    solver = DirectSolver("mot-given-modules", modules={sum_stdio_problem.id: outline})
    model = ScriptedModel([SUM_RIGHT])
    (attempt,) = solver.solve([sum_stdio_problem], model)
    assert outline.strip() in attempt.messages[-1]["content"]
    other = Problem(id="other", source="file", statement="s")
    with pytest.raises(ValueError, match="none for other"):
        list(solver.solve([sum_stdio_problem, other], model))
    with pytest.raises(ValueError, match="only used by style"):
        list(DirectSolver("normal", modules={"x": outline}).solve([other], model))


def test_a_backend_that_loses_outputs_fails_loudly(sum_stdio_problem) -> None:
    with pytest.raises(ModelError, match="returned 2 outputs for a request with n=3"):
        list(DirectSolver().solve([sum_stdio_problem], ScriptedModel([SUM_RIGHT], short_by=1),
                                  n=3))


def test_attempt_record_round_trip() -> None:
    attempt = Attempt("t", 2, 1, [{"role": "user", "content": "q"}], "a", "print(1)\n",
                      feedback="f", final=False, metadata={"x": 1})
    record = attempt.to_dict()
    assert Attempt.from_dict({**record, "unknown_field": 0}) == attempt
    assert attempt_key(record) == attempt_key(attempt) == ("t", 2, 1)
    assert attempt.chat[-1] == {"role": "assistant", "content": "a"}
