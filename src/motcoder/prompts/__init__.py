"""Prompts: the chat messages sent to a model, built from template files, and code extraction.

Entry points:

* `render_prompt(problem, style, *, modules=None, templates=None, examples=False)` — the
  first turn (``[system, user]``) for style ``normal``, ``mot`` or ``mot-given-modules``;
* `render_feedback(problem, attempt_code, outcomes, *, templates=None, observed=None)` —
  the next user turn after an attempt, from its outcomes on the *public* tests;
* `extract_code(text, *, entry_point=None)` — the program in an answer (rule: see
  `motcoder.prompts.extract`); `add_missing_context(code, starter_code)` puts back the
  stub's import lines the program needs (solvers apply both);
* `load_templates(directory)` — our templates with a user's directory over them
  (``--prompts DIR``); `write_default_templates(directory)` copies ours out to edit.

Nothing here reads a private or generated test: the first turn may show only
``problem.public_tests`` (with ``examples=True``), and feedback ignores any outcome whose
visibility is not ``public``.

Template files (``motcoder/prompts/templates/<name>.txt``; placeholders in braces, ``{{``
and ``}}`` for literal braces; a line holding only an empty placeholder disappears with the
blank line after it):

System prompts, one per style — placeholders: the problem placeholders below.
  ``system_normal``            plain problem solving, one code block.
  ``system_mot``               module-of-thought: outline sub-modules, then implement them.
  ``system_mot_given_modules`` implement and use the sub-modules the prompt outlines.
  (A system template that renders empty sends no system message.)

First user turn, ``<style>_<kind>`` with kind ``stdio`` (read stdin, print to stdout: APPS,
CodeContests) or ``call`` (function completion: HumanEval, MBPP, APPS call-based):
  ``normal_stdio``, ``normal_call``, ``mot_stdio``, ``mot_call``,
  ``mot_given_modules_stdio``, ``mot_given_modules_call``.
  Problem placeholders:
    ``{statement}``        the problem statement (shown as a code block when it *is* the
                           starter code, as in HumanEval, and then not repeated);
    ``{starter_section}``  ``part_starter`` filled with the starter code, or empty;
    ``{examples_section}`` ``part_examples`` with the public tests, or empty (default);
    ``{entry_point}``      the function the tests call (empty for stdio problems);
    ``{signature}``        ``name(params) -> ret`` from the starter code, else ``name(...)``;
    ``{target}``           ``part_target_function`` or, for a method of a class (LeetCode's
                           ``class Solution``), ``part_target_method``;
    ``{modules}``          the sub-module outlines given by the caller (given-modules only).

Parts of the first turn:
  ``part_starter``         ``{starter_code}``.
  ``part_examples``        ``{examples}``: the examples below, joined by blank lines.
  ``part_example_stdio``   ``{number}``, ``{input}``, ``{output}``.
  ``part_example_call``    ``{number}``, ``{call}`` (``f(1, [2])``), ``{expected}`` (repr).
  ``part_example_assert``  ``{number}``, ``{script}`` (the public assertion).
  ``part_target_function`` ``{entry_point}``.
  ``part_target_method``   ``{entry_point}``, ``{class_name}``.

Feedback turns (self-reflection / multi-turn):
  ``feedback_stdio``, ``feedback_call``  after failing public tests: ``{passed}``,
      ``{total}`` (public tests run), ``{failures}`` (the failing cases below, joined by
      blank lines), ``{entry_point}``, ``{signature}``, ``{target}``.
  ``feedback_case_stdio``  ``{number}``, ``{status}``, ``{input}``, ``{expected}``,
      ``{got_section}`` (``part_got`` or empty), ``{message_section}``.
  ``feedback_case_call``   ``{number}``, ``{status}``, ``{call}``, ``{expected}``,
      ``{message_section}``.
  ``feedback_case_assert`` ``{number}``, ``{status}``, ``{script}``, ``{message_section}``.
  ``part_got``             ``{got}``: what the program printed on that input.
  ``part_message``         ``{message}``: the error text (traceback tail, comparison).
  ``feedback_no_code``     the answer held no code: ``{entry_point}``, ``{signature}``,
      ``{target}``.
  ``feedback_passed``      every public test passed: ``{passed}``, ``{total}``, and the
      target placeholders.
"""

from motcoder.prompts.extract import (
    CodeBlock,
    add_missing_context,
    code_blocks,
    extract_code,
    is_outline,
)
from motcoder.prompts.render import (
    STYLES,
    assistant_turn,
    entry_signature,
    problem_kind,
    render_feedback,
    render_prompt,
)
from motcoder.prompts.templates import (
    TEMPLATE_FIELDS,
    TemplateError,
    Templates,
    default_templates,
    load_templates,
    write_default_templates,
)

__all__ = [
    "STYLES",
    "TEMPLATE_FIELDS",
    "CodeBlock",
    "TemplateError",
    "Templates",
    "add_missing_context",
    "assistant_turn",
    "code_blocks",
    "default_templates",
    "entry_signature",
    "extract_code",
    "is_outline",
    "load_templates",
    "problem_kind",
    "render_feedback",
    "render_prompt",
    "write_default_templates",
]
