"""The texts of a reflection-sequence dialogue, from template files.

Files under ``motcoder/datagen/templates/`` (package data); a directory passed as
``directory`` replaces any of them with its file of the same name. Placeholder syntax is
that of `motcoder.prompts.templates` (``{name}``; ``{{``/``}}`` for braces).

Files (stored: the text is part of the training sample):

* ``reflect_instruction_call`` / ``_stdio`` — the reflection instruction (stored);
* ``reflect_reanswer_call`` / ``_stdio`` — the re-answer instruction (stored);
* ``reflect_feedback`` — after a failed execution: reflect and fix;
* ``reflect_no_code`` — after an answer without a code block;
* ``reflect_result`` — the last output, shown before the re-answer turn.

The instruction and re-answer templates take the placeholders of the inference prompts
(``{statement}``, ``{starter_section}``, ``{examples_section}``, ``{entry_point}``,
``{signature}``, ``{target}``, ``{modules}``: `motcoder.prompts.render.problem_values`);
``reflect_feedback`` and ``reflect_result`` take ``{execution}`` (what the interpreter
printed); ``reflect_no_code`` none. The unstored turns only steer the model while the
sequence is built: in the stored sample the execution block itself follows the code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from motcoder.problems.model import Problem
from motcoder.prompts.render import problem_kind, problem_values
from motcoder.prompts.templates import (
    PROBLEM_FIELDS,
    TemplateError,
    Templates,
    check_placeholders,
    default_templates,
)

PROMPT_FIELDS: dict[str, frozenset[str]] = {
    "reflect_instruction_call": PROBLEM_FIELDS,
    "reflect_instruction_stdio": PROBLEM_FIELDS,
    "reflect_reanswer_call": PROBLEM_FIELDS,
    "reflect_reanswer_stdio": PROBLEM_FIELDS,
    "reflect_feedback": frozenset({"execution"}),
    "reflect_no_code": frozenset(),
    "reflect_result": frozenset({"execution"}),
}
SUFFIX = ".txt"


@dataclass(frozen=True)
class ReflectionPrompts:
    """The dialogue's templates (and, to fill the problem placeholders, the inference ones)."""

    templates: Templates

    def digest(self) -> str:
        """A hash of the texts (kept in a run's config: a resumed run must ask the same)."""
        h = hashlib.sha256()
        for name in sorted(self.templates.texts):
            h.update(f"{name}\0{self.templates.texts[name]}\0".encode())
        return h.hexdigest()

    def instruction(self, problem: Problem) -> str:
        """The reflection instruction for ``problem`` (the first user message)."""
        return self.templates.render(f"reflect_instruction_{problem_kind(problem)}",
                                     **_values(problem))

    def reanswer(self, problem: Problem) -> str:
        """The re-answer instruction restating ``problem`` (the second user message)."""
        return self.templates.render(f"reflect_reanswer_{problem_kind(problem)}",
                                     **_values(problem))

    def feedback(self, execution: str) -> str:
        """The turn after a failed execution, asking to reflect and fix."""
        return self.templates.render("reflect_feedback", execution=execution)

    def no_code(self) -> str:
        """The turn after an answer without a code block."""
        return self.templates.render("reflect_no_code")

    def result(self, execution: str) -> str:
        """The last step's output, put before the re-answer turn while building (the
        stored re-answer instruction is `reanswer` alone)."""
        return self.templates.render("reflect_result", execution=execution)


def _values(problem: Problem) -> dict[str, str]:
    return problem_values(problem, default_templates())


def _read(path: Path | resources.abc.Traversable, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{source}: cannot read the prompt file: {exc}") from exc


def load_reflection_prompts(directory: str | Path | None = None) -> ReflectionPrompts:
    """Our dialogue templates, with the ``reflect_*.txt`` files of ``directory`` over ours."""
    folder = resources.files("motcoder.datagen") / "templates"
    texts: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name in PROMPT_FIELDS:
        sources[name] = f"motcoder/datagen/templates/{name}{SUFFIX}"
        texts[name] = _read(folder / (name + SUFFIX), sources[name])
    if directory is not None:
        override = Path(directory)
        if not override.is_dir():
            raise TemplateError(f"{override}: prompt directory not found; pass a directory "
                                f"holding files named like ours: "
                                f"{', '.join(n + SUFFIX for n in PROMPT_FIELDS)}")
        for path in sorted(override.glob("reflect_*" + SUFFIX)):
            name = path.name[: -len(SUFFIX)]
            if name not in PROMPT_FIELDS:
                raise TemplateError(f"{path}: not a reflection prompt name; known names: "
                                    f"{', '.join(sorted(PROMPT_FIELDS))}")
            texts[name], sources[name] = _read(path, str(path)), str(path)
    for name, text in texts.items():
        _check_fields(name, text, sources[name])
    return ReflectionPrompts(Templates(texts, sources))


def _check_fields(name: str, text: str, source: str) -> None:
    """Unknown placeholders are errors naming the file and line (as for the prompt files)."""
    check_placeholders(text, PROMPT_FIELDS[name], source, repr(name))
