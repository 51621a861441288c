"""The chat a teacher model gets to rewrite one reference solution (MoT or clean style).

A request is a one-shot chat::

    system     teacher_system_<style>
    user       teacher_user_<style>, filled with the example problem and its reference
    assistant  the example's rewrite (example_mot_answer / example_clean_answer)
    user       teacher_user_<style>, filled with the problem and one of its references

The texts are files under ``motcoder/datagen/templates/`` (package data). Templates use the
placeholder syntax of `motcoder.prompts.templates` (``{name}``, ``{{``/``}}`` for braces);
the example files (``example_*``) are plain text, used as written. A directory passed as
``directory`` replaces any file of ours with its file of the same name.

Template files and their placeholders:

* ``teacher_system_mot``, ``teacher_system_clean`` — none;
* ``teacher_user_mot``, ``teacher_user_clean`` — ``{statement}``, ``{starter_section}``
  (``teacher_part_starter`` or empty), ``{reference}``, ``{target_note}`` (one of the three
  ``teacher_target_*``);
* ``teacher_part_starter`` — ``{starter_code}``;
* ``teacher_target_stdio`` — none; ``teacher_target_function`` — ``{entry_point}``,
  ``{signature}``; ``teacher_target_method`` — the same and ``{class_name}``.

Example files: ``example_problem.txt`` (a stdin/stdout problem), ``example_reference.txt``
(a terse correct solution), ``example_mot_answer.txt`` and ``example_clean_answer.txt`` (its
rewrites), ``example_tests.json`` (stdin/stdout pairs the rewrites must pass; the tests of
this package run them in the sandbox).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from motcoder.problems.model import Problem, Test
from motcoder.prompts.render import entry_signature
from motcoder.prompts.templates import TemplateError, Templates, check_placeholders

STYLES: tuple[str, ...] = ("mot", "clean")

_USER_FIELDS = frozenset({"statement", "starter_section", "reference", "target_note"})
TEMPLATE_FIELDS: dict[str, frozenset[str]] = {
    "teacher_system_mot": frozenset(),
    "teacher_system_clean": frozenset(),
    "teacher_user_mot": _USER_FIELDS,
    "teacher_user_clean": _USER_FIELDS,
    "teacher_part_starter": frozenset({"starter_code"}),
    "teacher_target_stdio": frozenset(),
    "teacher_target_function": frozenset({"entry_point", "signature"}),
    "teacher_target_method": frozenset({"entry_point", "signature", "class_name"}),
}
EXAMPLE_FILES: tuple[str, ...] = (
    "example_problem.txt", "example_reference.txt", "example_mot_answer.txt",
    "example_clean_answer.txt", "example_tests.json",
)
EXAMPLE_ID = "motcoder/one-shot-library-loans"


Message = dict[str, str]


@dataclass(frozen=True)
class TeacherPrompts:
    """The teacher's templates and its one-shot example, with where each file came from."""

    templates: Templates
    examples: dict[str, str]   # example file name -> its text

    def digest(self) -> str:
        """A hash of every text (stored in a run's config: a resumed run must ask the same)."""
        h = hashlib.sha256()
        for name in sorted(self.templates.texts):
            h.update(f"{name}\0{self.templates.texts[name]}\0".encode())
        for name in sorted(self.examples):
            h.update(f"{name}\0{self.examples[name]}\0".encode())
        return h.hexdigest()


def _check(name: str, text: str, source: str) -> None:
    check_placeholders(text, TEMPLATE_FIELDS[name], source, f"teacher template {name!r}")


def _read(path: Any, source: str) -> str:
    """The text of a file (a `Path` or a package resource)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{source}: cannot read the teacher prompt file: {exc}") from exc


def load_teacher_prompts(directory: str | Path | None = None) -> TeacherPrompts:
    """Our teacher prompts, with the files of ``directory`` (same names) replacing ours."""
    folder = resources.files("motcoder.datagen") / "templates"
    names = [n + ".txt" for n in TEMPLATE_FIELDS] + list(EXAMPLE_FILES)
    texts: dict[str, str] = {}
    sources: dict[str, str] = {}
    for file_name in names:
        texts[file_name] = _read(folder / file_name, f"motcoder/datagen/templates/{file_name}")
        sources[file_name] = f"motcoder/datagen/templates/{file_name}"
    if directory is not None:
        override = Path(directory)
        if not override.is_dir():
            raise TemplateError(f"{override}: teacher prompt directory not found; pass a "
                                f"directory holding files named like ours: {', '.join(names)}")
        for path in sorted(override.iterdir()):
            if path.name in texts:
                texts[path.name] = _read(path, str(path))
                sources[path.name] = str(path)
    for name in TEMPLATE_FIELDS:
        _check(name, texts[name + ".txt"], sources[name + ".txt"])
    try:
        tests = json.loads(texts["example_tests.json"])
    except json.JSONDecodeError as exc:
        raise TemplateError(f"{sources['example_tests.json']}: not valid JSON ({exc})") from exc
    if not isinstance(tests, list) or not all(
            isinstance(t, dict) and isinstance(t.get("input"), str)
            and isinstance(t.get("output"), str) for t in tests):
        raise TemplateError(f"{sources['example_tests.json']}: expected a JSON list of "
                            '{"input": ..., "output": ...} objects')
    templates = Templates({n: texts[n + ".txt"] for n in TEMPLATE_FIELDS},
                          {n: sources[n + ".txt"] for n in TEMPLATE_FIELDS})
    return TeacherPrompts(templates, {n: texts[n] for n in EXAMPLE_FILES})


def example_problem(prompts: TeacherPrompts | None = None) -> Problem:
    """The one-shot example as a `Problem` (its tests from ``example_tests.json``)."""
    prompts = prompts or load_teacher_prompts()
    pairs = json.loads(prompts.examples["example_tests.json"])
    tests = [Test(kind="stdio", visibility="public" if i < 2 else "private",
                  input=t["input"], output=t["output"]) for i, t in enumerate(pairs)]
    return Problem(id=EXAMPLE_ID, source="motcoder", statement=prompts.examples[
        "example_problem.txt"].strip(), tests=tests,
        solutions=[prompts.examples["example_reference.txt"]])


def example_answer(style: str, prompts: TeacherPrompts | None = None) -> str:
    """The one-shot example's rewrite in ``style``."""
    _style(style)
    prompts = prompts or load_teacher_prompts()
    return prompts.examples[f"example_{style}_answer.txt"].strip()


def _style(style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"unknown rewrite style {style!r}; choose one of {', '.join(STYLES)}")
    return style


def _target_note(problem: Problem, templates: Templates) -> str:
    if not problem.is_call_based:
        return templates.render("teacher_target_stdio")
    signature, class_name = entry_signature(problem)
    entry_point = problem.entry_point or ""
    if class_name:
        return templates.render("teacher_target_method", entry_point=entry_point,
                                signature=signature, class_name=class_name)
    return templates.render("teacher_target_function", entry_point=entry_point,
                            signature=signature)


def user_turn(problem: Problem, reference: str, style: str, prompts: TeacherPrompts) -> str:
    """The user message asking to rewrite ``reference`` (a solution of ``problem``)."""
    tpl = prompts.templates
    starter = problem.starter_code.strip("\n")
    starter_section = tpl.render("teacher_part_starter", starter_code=starter) \
        if starter.strip() else ""
    return tpl.render(f"teacher_user_{_style(style)}", statement=problem.statement.strip(),
                      starter_section=starter_section, reference=reference.strip("\n"),
                      target_note=_target_note(problem, tpl))


def teacher_messages(problem: Problem, reference: str, style: str,
                     prompts: TeacherPrompts | None = None) -> list[Message]:
    """The one-shot chat asking the teacher to rewrite ``reference`` in ``style``."""
    prompts = prompts or load_teacher_prompts()
    example = example_problem(prompts)
    system = prompts.templates.render(f"teacher_system_{_style(style)}")
    messages = [{"role": "system", "content": system}] if system else []
    messages += [
        {"role": "user", "content": user_turn(example, example.solutions[0], style, prompts)},
        {"role": "assistant", "content": example_answer(style, prompts)},
        {"role": "user", "content": user_turn(problem, reference, style, prompts)},
    ]
    return messages
