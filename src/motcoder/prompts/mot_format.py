"""The shape of a Module-of-Thought answer, and a check that an answer has it.

A MoT answer works in two steps, each under its own heading:

* ``Step 1`` — the design: one or more ```python blocks holding only sub-module outlines
  (function headers with docstrings saying purpose, inputs and outputs; no bodies, no code
  outside the functions);
* ``Step 2`` — the build: exactly one ```python block with the final program, which
  implements the sub-modules and combines them.

A heading is any line that starts (after markdown decoration such as ``#``, ``*`` or ``>``)
with ``Step 1`` / ``Step 2`` (or ``Step one`` / ``Step two``), in any case.

`check_mot(text)` returns a `MotCheck`: the outline and final program when the answer has
the shape, else the first rule it breaks as one of `REASONS` (a stable code plus a sentence).
The MoT data assessment (`motcoder.datagen`) adds its last rule — the final program must
pass the problem's tests — on top of this; the training code uses the same check to measure
how often a model's answers follow the structure.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from motcoder.prompts.extract import code_blocks, is_outline

REASONS: dict[str, str] = {
    "protocol": "does not follow the two-step protocol (a 'Step 1' section with outlines, "
                "then a 'Step 2' section with the final program)",
    "no_submodule": "step 1 outlines no sub-module (a function header with a docstring)",
    "code_outside_outlines": "step 1 holds code outside function outlines",
    "no_final_program": "step 2 has no final program (no ```python block)",
    "several_final_programs": "step 2 has more than one final program (several ```python "
                              "blocks)",
    "syntax": "the final program does not parse",
}

_HEADING = r"^[ \t]*(?:[#>*_|-][ \t#>*_|-]*)?step[ \t]*(?:{n})\b"
_STEP1 = re.compile(_HEADING.format(n="1|one"), re.IGNORECASE | re.MULTILINE)
_STEP2 = re.compile(_HEADING.format(n="2|two"), re.IGNORECASE | re.MULTILINE)


@dataclass
class MotCheck:
    """The verdict on one answer's structure."""

    ok: bool
    reason: str = ""   # a key of REASONS when not ok
    outline: str = ""  # step 1's code (all its python blocks, joined)
    final: str = ""    # step 2's program

    @property
    def message(self) -> str:
        return REASONS.get(self.reason, "")


def step2_start(text: str) -> int | None:
    """Where the line of the ``Step 2`` heading (after a ``Step 1`` heading) starts in
    ``text``, or None when the headings are missing or out of order."""
    first = _STEP1.search(text)
    second = _STEP2.search(text, first.end()) if first else None
    if second is None:
        return None
    return text.rfind("\n", 0, second.start()) + 1


def split_steps(text: str) -> tuple[str, str] | None:
    """The text of step 1 and of step 2, or None when the headings are missing or out of
    order."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first = _STEP1.search(text)
    if first is None:
        return None
    second = _STEP2.search(text, first.end())
    if second is None:
        return None
    return text[first.end():second.start()], text[second.end():]


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _python_blocks(section: str) -> list[str]:
    return [b.code for b in code_blocks(section)
            if b.closed and (b.is_python or not b.language)]


def _has_submodule(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
               and ast.get_docstring(node) for node in ast.walk(tree))


def check_mot(text: str) -> MotCheck:
    """Whether ``text`` is a well-formed MoT answer (see the module docstring)."""
    steps = split_steps(text or "")
    if steps is None:
        return MotCheck(False, "protocol")
    design, build = steps
    outlines = _python_blocks(design)
    outline = "\n\n".join(block.strip("\n") for block in outlines)
    tree = _parse(outline) if outlines else None
    if tree is None or not _has_submodule(tree):
        return MotCheck(False, "no_submodule" if tree is not None or not outlines
                        else "code_outside_outlines", outline=outline)
    if not is_outline(tree):
        return MotCheck(False, "code_outside_outlines", outline=outline)
    finals = _python_blocks(build)
    if not finals:
        return MotCheck(False, "no_final_program", outline=outline)
    if len(finals) > 1:
        return MotCheck(False, "several_final_programs", outline=outline)
    final = finals[0].strip("\n") + "\n"
    if _parse(final) is None:
        return MotCheck(False, "syntax", outline=outline, final=final)
    return MotCheck(True, outline=outline, final=final)


def follows_mot(text: str) -> bool:
    """Shorthand: the answer has the MoT structure."""
    return check_mot(text).ok
