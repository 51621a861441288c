"""Export training data: accepted rewrites (or the problems' own reference solutions) as
chat or Alpaca JSONL.

Record shapes (one JSON object per line; the training code reads exactly these):

* ``chat``:   ``{"messages": [{"role": "system", ...} (when the prompt has one),
  {"role": "user", "content": <inference prompt>}, {"role": "assistant", "content":
  <answer>}], "task_id", "source", "style"}`` — loadable with
  ``datasets.load_dataset("json", data_files=...)``;
* ``alpaca``: ``{"instruction": <inference prompt>, "input": "", "output": <answer>}``.

The inference prompt is what a model is asked at evaluation time:
``motcoder.prompts.render_prompt(problem, "mot")`` for MoT rewrites, style ``normal`` for
clean rewrites and reference solutions. The answer is the teacher's whole MoT answer (both
steps), or the program in one ```python block (clean rewrites, references: ``style``
``normal``).

The problems of a run are loaded again from the benchmark and data file its ``config.json``
names (``config["problems"]``), so that file must still be there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from motcoder.datagen.records import Rewrite, open_run, read_rewrites
from motcoder.datagen.transform import DatagenError
from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.model import Problem
from motcoder.problems.registry import load_problems
from motcoder.prompts.render import render_prompt
from motcoder.prompts.templates import Templates, resolve_templates
from motcoder.runs import atomic_writer, json_dumps

FORMATS: tuple[str, ...] = ("chat", "alpaca")
PROMPT_STYLE: dict[str, str] = {"mot": "mot", "clean": "normal", "normal": "normal"}

TemplatesArg = Templates | str | Path | None


def fenced(code: str) -> str:
    """``code`` as one ```python block."""
    return f"```python\n{code.strip(chr(10))}\n```"


def answer_text(rewrite: Rewrite) -> str:
    """The assistant turn a rewrite becomes."""
    if rewrite.style == "mot":
        return rewrite.answer.strip()
    return fenced(rewrite.program)


def chat_record(problem: Problem, style: str, answer: str,
                templates: TemplatesArg = None) -> dict[str, Any]:
    """One chat training record (see the module docstring)."""
    if style not in PROMPT_STYLE:
        raise ValueError(f"unknown data style {style!r}; one of {', '.join(PROMPT_STYLE)}")
    messages = render_prompt(problem, PROMPT_STYLE[style], templates=templates)
    return {"messages": [*messages, {"role": "assistant", "content": answer}],
            "task_id": problem.id, "source": problem.source, "style": style}


def alpaca_record(chat: Mapping[str, Any]) -> dict[str, str]:
    """The Alpaca form of a chat record: the user prompt as instruction, the answer as
    output (the system prompt is not part of the Alpaca shape)."""
    messages = chat["messages"]
    user = next(m["content"] for m in messages if m["role"] == "user")
    return {"instruction": user, "input": "", "output": messages[-1]["content"]}


def write_records(records: Iterable[Mapping[str, Any]], out: str | Path, fmt: str) -> int:
    """Write ``records`` (chat records) as ``fmt`` JSONL to ``out`` atomically; return the
    count. The file appears only once complete."""
    if fmt not in FORMATS:
        raise DatagenError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    count = 0
    with atomic_writer(out) as fh:
        for record in records:
            row = record if fmt == "chat" else alpaca_record(record)
            fh.write(json_dumps(row) + "\n")
            count += 1
    return count


def run_problems(run_dir: str | Path, ids: Iterable[str]) -> dict[str, Problem]:
    """The problems ``ids`` of a transformation run, loaded as its config says."""
    run = open_run(run_dir)
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    config = run.read_config() if run.config_path.exists() else {}
    source = config.get("problems")
    if not isinstance(source, dict) or not source.get("benchmark"):
        raise DatagenError(f"{run.config_path}: does not say which problems the run used "
                           "(key 'problems'); was it made by `motcoder data transform`?")
    try:
        problems = load_problems(source["benchmark"], path=source.get("data"),
                                 split=source.get("split"), ids=wanted)
    except ProblemLoadError as exc:
        raise DatagenError(f"cannot load the problems of run {run.path} (from "
                           f"{source.get('data') or source['benchmark']}): {exc}") from None
    return {p.id: p for p in problems}


def rewrite_records(run_dirs: Sequence[str | Path], templates: TemplatesArg = None,
                    counts: Counter[str] | None = None) -> Iterator[dict[str, Any]]:
    """Chat records of the accepted rewrites of ``run_dirs`` (``counts`` is filled with the
    number per style)."""
    tpl = resolve_templates(templates)
    for run_dir in dict.fromkeys(str(p) for p in run_dirs):
        accepted = [r for r in read_rewrites(run_dir) if r.accepted]
        problems = run_problems(run_dir, (r.task_id for r in accepted))
        for rewrite in accepted:
            record = chat_record(problems[rewrite.task_id], rewrite.style,
                                 answer_text(rewrite), tpl)
            if counts is not None:
                counts[rewrite.style] += 1
            yield record


def reference_records(problems: Sequence[Problem], max_solutions: int = 100,
                      templates: TemplatesArg = None) -> Iterator[dict[str, Any]]:
    """Chat records of the problems' own reference solutions (style ``normal``): the data
    of the normal fine-tuning baseline."""
    if max_solutions < 1:
        raise DatagenError(f"--max-solutions must be at least 1, got {max_solutions}")
    tpl = resolve_templates(templates)
    for problem in problems:
        references = [s for s in problem.solutions if s.strip()][:max_solutions]
        for solution in references:
            yield chat_record(problem, "normal", fenced(solution), tpl)


def export_rewrites(run_dirs: Sequence[str | Path], out: str | Path, fmt: str = "chat",
                    templates: TemplatesArg = None) -> dict[str, int]:
    """Write the accepted rewrites of ``run_dirs`` to ``out``; return counts per style."""
    counts: Counter[str] = Counter()
    for run_dir in run_dirs:
        open_run(run_dir)  # fail on a bad directory before writing anything
    write_records(rewrite_records(run_dirs, templates, counts), out, fmt)
    return dict(counts)


def export_references(problems: Sequence[Problem], out: str | Path, fmt: str = "chat",
                      max_solutions: int = 100, templates: TemplatesArg = None) -> int:
    """Write the problems' reference solutions to ``out``; return how many."""
    if not any(p.solutions for p in problems):
        raise DatagenError(f"none of the {len(problems)} selected problem(s) has a reference "
                           "solution (field 'solutions') to export")
    return write_records(reference_records(problems, max_solutions, templates), out, fmt)
