"""Prompt template files: loading them (ours, or a user's directory over ours) and filling them.

Every prompt text lives in a plain-text file under ``motcoder/prompts/templates/`` (shipped as
package data). A user changes the wording by pointing ``--prompts DIR`` at a directory of
files with the same names: each file found there replaces ours, the others stay the default.
`write_default_templates` copies ours out as a starting point. What each file is for and
which placeholders it may use is documented in `motcoder.prompts` and checked here:
`TEMPLATE_FIELDS` maps every file name (without ``.txt``) to its allowed placeholders.

Syntax:

* ``{name}`` (lower-case letters, digits, ``_``) is a placeholder, replaced by its value in a
  single pass, so text inserted for one placeholder (a problem statement full of braces, for
  instance) is never scanned again;
* ``{{`` and ``}}`` are a literal ``{`` and ``}``; any other brace is kept as it is;
* a line that holds nothing but one placeholder whose value is empty is removed together
  with the blank line that follows it, so optional sections leave no gaps.

A placeholder not allowed for its file, or a file name we do not know, is an error that names
the file and line (a typo in an override would otherwise silently change the prompt).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SUFFIX = ".txt"

# Placeholders shared by the prompt templates of one problem.
PROBLEM_FIELDS = frozenset({
    "statement", "starter_section", "examples_section", "entry_point", "signature", "target",
    "modules",
})
_TARGET_FIELDS = frozenset({"entry_point", "signature", "target"})

TEMPLATE_FIELDS: dict[str, frozenset[str]] = {
    # system prompts, one per style
    "system_normal": PROBLEM_FIELDS,
    "system_mot": PROBLEM_FIELDS,
    "system_mot_given_modules": PROBLEM_FIELDS,
    # first user turn: style x problem kind
    "normal_stdio": PROBLEM_FIELDS,
    "normal_call": PROBLEM_FIELDS,
    "mot_stdio": PROBLEM_FIELDS,
    "mot_call": PROBLEM_FIELDS,
    "mot_given_modules_stdio": PROBLEM_FIELDS,
    "mot_given_modules_call": PROBLEM_FIELDS,
    # parts of the first user turn
    "part_starter": frozenset({"starter_code"}),
    "part_examples": frozenset({"examples"}),
    "part_example_stdio": frozenset({"number", "input", "output"}),
    "part_example_call": frozenset({"number", "call", "expected"}),
    "part_example_assert": frozenset({"number", "script"}),
    "part_target_function": frozenset({"entry_point"}),
    "part_target_method": frozenset({"entry_point", "class_name"}),
    # feedback turns (self-reflection, multi-turn)
    "feedback_stdio": frozenset({"passed", "total", "failures"}) | _TARGET_FIELDS,
    "feedback_call": frozenset({"passed", "total", "failures"}) | _TARGET_FIELDS,
    "feedback_case_stdio": frozenset({"number", "status", "input", "expected", "got_section",
                                      "message_section"}),
    "feedback_case_call": frozenset({"number", "status", "call", "expected",
                                     "message_section"}),
    "feedback_case_assert": frozenset({"number", "status", "script", "message_section"}),
    "part_got": frozenset({"got"}),
    "part_message": frozenset({"message"}),
    "feedback_no_code": _TARGET_FIELDS,
    "feedback_passed": frozenset({"passed", "total"}) | _TARGET_FIELDS,
}

_TOKEN = re.compile(r"\{\{|\}\}|\{([a-z][a-z0-9_]*)\}")
_ALONE = re.compile(r"^[ \t]*\{([a-z][a-z0-9_]*)\}[ \t]*$")


class TemplateError(ValueError):
    """A template file that cannot be used; the message names the file and what to do."""


def check_placeholders(text: str, allowed: frozenset[str], source: str, what: str) -> None:
    """Raise `TemplateError` naming ``source`` and the line of the first placeholder of
    ``text`` not in ``allowed``; ``what`` names the file in the message (e.g. ``template
    'normal_stdio'``). Every family of template files checks its overrides with this."""
    for line_no, line in enumerate(text.splitlines(), 1):
        for match in _TOKEN.finditer(line):
            field = match.group(1)
            if field is not None and field not in allowed:
                shown = ", ".join("{" + f + "}" for f in sorted(allowed)) or "none"
                raise TemplateError(
                    f"{source}:{line_no}: unknown placeholder {{{field}}} in {what}; allowed: "
                    f"{shown} (write {{{{ and }}}} for literal braces)")


def _check(name: str, text: str, source: str) -> None:
    check_placeholders(text, TEMPLATE_FIELDS[name], source, f"template {name!r}")


@dataclass(frozen=True)
class Templates:
    """A full set of template texts, and where each one came from (for error messages)."""

    texts: Mapping[str, str]
    sources: Mapping[str, str]

    def render(self, name: str, **values: str) -> str:
        """Fill template ``name`` with ``values`` (every placeholder it uses must be given)."""
        if name not in self.texts:
            raise TemplateError(f"no template named {name!r}")
        text = self.texts[name]
        source = self.sources.get(name, name)
        kept: list[str] = []
        skip_blank = False
        for line in text.split("\n"):
            alone = _ALONE.match(line)
            if alone and alone.group(1) in values and not values[alone.group(1)]:
                skip_blank = True
                continue
            if skip_blank and not line.strip():
                skip_blank = False
                continue
            skip_blank = False
            kept.append(line)

        def fill(match: re.Match[str]) -> str:
            token = match.group(0)
            if token == "{{":
                return "{"
            if token == "}}":
                return "}"
            field = match.group(1)
            if field not in values:
                raise TemplateError(f"{source}: placeholder {{{field}}} has no value here")
            return values[field]

        return _TOKEN.sub(fill, "\n".join(kept)).strip()

    def names(self) -> list[str]:
        return sorted(self.texts)


@functools.lru_cache(maxsize=1)
def default_templates() -> Templates:
    """The templates shipped with motcoder."""
    texts: dict[str, str] = {}
    sources: dict[str, str] = {}
    folder = resources.files("motcoder.prompts") / "templates"
    for name in TEMPLATE_FIELDS:
        entry = folder / (name + SUFFIX)
        text = entry.read_text(encoding="utf-8")
        _check(name, text, f"motcoder/prompts/templates/{name}{SUFFIX}")
        texts[name] = text
        sources[name] = f"motcoder/prompts/templates/{name}{SUFFIX}"
    return Templates(texts, sources)


def load_templates(directory: str | Path | None = None) -> Templates:
    """Our templates, with every ``<name>.txt`` of ``directory`` replacing ours.

    Only ``*.txt`` files in ``directory`` are considered (a README.md may sit beside them).
    A ``.txt`` file whose name is not a template, or that uses a placeholder its template
    does not have, raises `TemplateError` naming the file.
    """
    base = default_templates()
    if directory is None:
        return base
    folder = Path(directory)
    if not folder.is_dir():
        raise TemplateError(
            f"{folder}: prompt template directory not found; pass a directory holding "
            f"<name>{SUFFIX} files (see `write_default_templates` for the names)"
        )
    texts = dict(base.texts)
    sources = dict(base.sources)
    for path in sorted(folder.glob("*" + SUFFIX)):
        name = path.name[: -len(SUFFIX)]
        if name not in TEMPLATE_FIELDS:
            raise TemplateError(
                f"{path}: not a prompt template name; known names: "
                f"{', '.join(sorted(TEMPLATE_FIELDS))}"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{path}: cannot read the template: {exc}") from exc
        _check(name, text, str(path))
        texts[name] = text
        sources[name] = str(path)
    return Templates(texts, sources)


def resolve_templates(templates: Templates | str | Path | None) -> Templates:
    """Accept a `Templates`, an override directory, or None (our defaults)."""
    if isinstance(templates, Templates):
        return templates
    return load_templates(templates)


def write_default_templates(directory: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Copy our templates into ``directory`` (to edit them and pass ``--prompts DIR``)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in default_templates().texts.items():
        path = folder / (name + SUFFIX)
        if path.exists() and not overwrite:
            continue
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
