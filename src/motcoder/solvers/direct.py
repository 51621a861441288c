"""The direct solver: one turn, ``n`` samples per problem, requests batched across problems.

Each problem becomes one `GenerationRequest` asking for the samples it still needs (all ``n``,
or those missing from ``done`` on resume), with a seed derived from the run seed, the task id
and the first missing sample index. Requests go to ``model.generate`` ``batch_size`` at a time;
the attempts of a batch are yielded as soon as it returns, in problem order.

Style ``reflectioncoder`` is the evaluation protocol of ReflectionCoder's own ``src/test.py``
(`motcoder.prompts.reflectioncoder`): a raw prompt in its block markup with a forced answer
prefix, its stop strings, its post-processing and EvalPlus's prompt + completion program.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from motcoder.models.base import GenerationRequest, LanguageModel
from motcoder.problems.model import Problem
from motcoder.prompts import reflectioncoder
from motcoder.prompts.render import render_prompt
from motcoder.prompts.templates import Templates, resolve_templates
from motcoder.solvers.base import (
    Attempt,
    as_attempts,
    derive_seed,
    generate_checked,
    program_from,
)

ModulesArg = Mapping[str, str | Sequence[str]] | None


def check_modules(problems: list[Problem], style: str, modules: ModulesArg) -> None:
    """``mot-given-modules`` needs outlines for every problem; other styles take none."""
    if style != "mot-given-modules":
        if modules:
            raise ValueError(f"module outlines are only used by style 'mot-given-modules', "
                             f"not {style!r}")
        return
    missing = [p.id for p in problems if not (modules or {}).get(p.id)]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                          else "")
        raise ValueError(f"style 'mot-given-modules' needs module outlines for every problem; "
                         f"none for {shown}")


class DirectSolver:
    """Sample ``n`` answers per problem from one prompt."""

    name = "direct"

    def __init__(
        self,
        style: str = "normal",
        *,
        templates: Templates | str | Path | None = None,
        modules: ModulesArg = None,
        examples: bool = False,
        batch_size: int = 32,
        stop: list[str] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.style = style
        self.templates = resolve_templates(templates)
        self.modules = modules
        self.examples = examples
        self.batch_size = batch_size
        self.stop = list(stop or [])

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        """What the model is given: the chat of the style, or for ``reflectioncoder`` the raw
        prompt (recorded as one user message)."""
        if self.style == reflectioncoder.STYLE:
            return [{"role": "user", "content": reflectioncoder.prompt(problem)}]
        modules = self.modules.get(problem.id) if self.modules else None
        return render_prompt(problem, self.style, modules=modules, templates=self.templates,
                             examples=self.examples)

    def _request(self, messages: list[dict[str, str]], **kwargs: Any) -> GenerationRequest:
        if self.style == reflectioncoder.STYLE:
            return GenerationRequest(prompt=messages[0]["content"],
                                     stop=[*reflectioncoder.STOP, *self.stop], **kwargs)
        return GenerationRequest(messages=messages, stop=self.stop, **kwargs)

    def _program(self, problem: Problem, text: str) -> tuple[str, dict[str, Any]]:
        if self.style == reflectioncoder.STYLE:
            completion = reflectioncoder.post_process(text)
            return reflectioncoder.program(problem, completion), {"completion": completion}
        return program_from(problem, text)

    def solve(
        self,
        problems: list[Problem],
        model: LanguageModel,
        *,
        n: int = 1,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 512,
        seed: int | None = None,
        done: Iterable[Attempt | Mapping[str, Any]] = (),
    ) -> Iterator[Attempt]:
        check_modules(problems, self.style, self.modules)
        have = {(a.task_id, a.sample_index) for a in as_attempts(done)}
        work: list[tuple[Problem, list[int], list[dict[str, str]]]] = []
        for problem in problems:
            missing = [i for i in range(n) if (problem.id, i) not in have]
            if missing:
                work.append((problem, missing, self.messages(problem)))
        for start in range(0, len(work), self.batch_size):
            chunk = work[start:start + self.batch_size]
            requests = [
                self._request(messages, n=len(missing), temperature=temperature, top_p=top_p,
                              max_new_tokens=max_new_tokens,
                              seed=derive_seed(seed, problem.id, missing[0]))
                for problem, missing, messages in chunk
            ]
            completions = generate_checked(model, requests)
            for (problem, missing, messages), completion in zip(chunk, completions,
                                                                strict=True):
                for index, output in zip(missing, completion.outputs, strict=True):
                    code, metadata = self._program(problem, output.text)
                    yield Attempt(
                        task_id=problem.id, sample_index=index, round=0,
                        messages=messages, completion=output.text, code=code,
                        style=self.style, solver=self.name,
                        prompt_tokens=completion.prompt_tokens,
                        completion_tokens=output.tokens, finish_reason=output.finish_reason,
                        metadata=metadata,
                    )
