"""Turn a `Problem` (and, later, execution feedback) into chat messages from the templates.

Only what a model may see goes in: the statement, the starter code, the entry point and its
signature, the caller's module outlines, and — when asked — the problem's *public* tests.
Private and generated tests are never read here; feedback is built only from outcomes of
public tests (any other outcome is ignored, message included).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from motcoder.problems.model import Problem, Test
from motcoder.prompts.templates import Templates, resolve_templates
from motcoder.sandbox.verdict import NOT_RUN, TestOutcome

STYLES: tuple[str, ...] = ("normal", "mot", "mot-given-modules")
FEEDBACK_CHARS = 1500   # longest input / output / message shown in one feedback case

Message = dict[str, str]
TemplatesArg = Templates | str | Path | None

STATUS_WORDS: dict[str, str] = {
    "wrong_answer": "wrong answer",
    "runtime_error": "runtime error",
    "timeout": "time limit exceeded",
    "memory_limit": "memory limit exceeded",
    "output_limit": "output limit exceeded",
    "harness_error": "the test could not be run",
    "no_code": "no code",
    "not_run": "not run",
}


def problem_kind(problem: Problem) -> str:
    """``"call"`` for function-completion problems (an entry point), else ``"stdio"``."""
    return "call" if problem.is_call_based else "stdio"


def _style_key(style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"unknown prompt style {style!r}; choose one of {', '.join(STYLES)}")
    return style.replace("-", "_")


def _clip(text: str, limit: int = FEEDBACK_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [{len(text) - limit} more characters]"


def _fenced(code: str, lang: str = "python") -> str:
    return f"```{lang}\n{code.strip(chr(10))}\n```"


# --------------------------------------------------------------------------- the entry point

_DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async[ \t]+)?def[ \t]+(?P<name>\w+)[ \t]*\(",
                  re.MULTILINE)
_CLASS = re.compile(r"^class[ \t]+(?P<name>\w+)", re.MULTILINE)


def _balanced_params(text: str, start: int) -> tuple[str, int] | None:
    """The text between the parenthesis opened just before ``start`` and its match."""
    depth = 1
    for i in range(start, len(text)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                return text[start:i], i + 1
    return None


def entry_signature(problem: Problem) -> tuple[str, str | None]:
    """``(signature, class_name)`` of the entry point as the starter code declares it.

    The signature is ``name(params) -> ret`` (whitespace collapsed); ``class_name`` is the
    class the entry point is a method of, or None. Without starter code, or when the starter
    code does not declare it, the signature is ``name(...)``.
    """
    name = problem.entry_point or ""
    starter = problem.starter_code or ""
    for match in _DEF.finditer(starter):
        if match.group("name") != name:
            continue
        found = _balanced_params(starter, match.end())
        if found is None:
            break
        params, end = found
        params = " ".join(params.split()).rstrip(",").strip()
        ret = re.match(r"[ \t]*->[ \t]*([^:\n]+?)[ \t]*:", starter[end:])
        signature = f"{name}({params})" + (f" -> {ret.group(1).strip()}" if ret else "")
        class_name = None
        if match.group("indent"):
            classes = [c for c in _CLASS.finditer(starter) if c.start() < match.start()]
            class_name = classes[-1].group("name") if classes else None
        return signature, class_name
    return f"{name}(...)", None


def _target_values(problem: Problem, templates: Templates) -> dict[str, str]:
    if not problem.is_call_based:
        return {"entry_point": "", "signature": "", "target": ""}
    signature, class_name = entry_signature(problem)
    entry_point = problem.entry_point or ""
    if class_name:
        target = templates.render("part_target_method", entry_point=entry_point,
                                  class_name=class_name)
    else:
        target = templates.render("part_target_function", entry_point=entry_point)
    return {"entry_point": entry_point, "signature": signature, "target": target}


# --------------------------------------------------------------------------- first turn


def _call_text(problem: Problem, args: Sequence[object]) -> str:
    return f"{problem.entry_point}({', '.join(repr(a) for a in args)})"


def _example(problem: Problem, test: Test, number: int, templates: Templates) -> str:
    if test.kind == "stdio":
        return templates.render("part_example_stdio", number=str(number),
                                input=test.input.rstrip("\n"), output=test.output.rstrip("\n"))
    if test.kind == "call":
        return templates.render("part_example_call", number=str(number),
                                call=_call_text(problem, test.args),
                                expected=repr(test.expected))
    return templates.render("part_example_assert", number=str(number),
                            script=test.script.strip("\n"))


def _modules_text(modules: str | Sequence[str] | None) -> str:
    if modules is None:
        return ""
    if isinstance(modules, str):
        return modules.strip("\n")
    return "\n\n\n".join(m.strip("\n") for m in modules if m.strip())


def problem_values(
    problem: Problem,
    templates: Templates,
    *,
    modules: str | Sequence[str] | None = None,
    examples: bool = False,
) -> dict[str, str]:
    """The placeholder values of the first-turn templates for ``problem``."""
    statement = problem.statement.strip("\n")
    starter = (problem.starter_code or "").rstrip().lstrip("\n")
    if starter and statement.strip() == starter.strip():
        # The statement *is* the stub (HumanEval): show it once, as code.
        statement, starter = _fenced(starter), ""
    values = {
        "statement": statement,
        "starter_section": templates.render("part_starter", starter_code=starter)
        if starter.strip() else "",
        "examples_section": "",
        "modules": _modules_text(modules),
        **_target_values(problem, templates),
    }
    if examples and problem.public_tests:
        shown = [_example(problem, t, i, templates)
                 for i, t in enumerate(problem.public_tests, 1)]
        values["examples_section"] = templates.render("part_examples",
                                                      examples="\n\n".join(shown))
    return values


def render_prompt(
    problem: Problem,
    style: str = "normal",
    *,
    modules: str | Sequence[str] | None = None,
    templates: TemplatesArg = None,
    examples: bool = False,
) -> list[Message]:
    """The chat that asks for a solution of ``problem`` in ``style``.

    ``style`` is ``normal``, ``mot`` or ``mot-given-modules``; the last needs ``modules``:
    the sub-module outlines (function headers + docstrings) as one text or a list of texts.
    ``examples`` adds the problem's public tests as examples (the statements of APPS,
    CodeContests, MBPP and HumanEval already show them, hence off by default). ``templates``
    is a `Templates` or a directory overriding ours. Returns ``[system?, user]``; the system
    message is left out when its template renders empty.
    """
    key = _style_key(style)
    if style == "mot-given-modules":
        if not _modules_text(modules).strip():
            raise ValueError(f"style 'mot-given-modules' needs the module outlines of problem "
                             f"{problem.id!r} (modules=...)")
    elif modules is not None:
        raise ValueError(f"modules are only used by style 'mot-given-modules', not {style!r}")
    tpl = resolve_templates(templates)
    values = problem_values(problem, tpl, modules=modules, examples=examples)
    system = tpl.render(f"system_{key}", **values)
    user = tpl.render(f"{key}_{problem_kind(problem)}", **values)
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": user})
    return messages


# --------------------------------------------------------------------------- feedback turns


_FRAME = re.compile(r'^  File "(?P<file>[^"]*)", line \d+')


def tidy_message(message: str) -> str:
    """An outcome message as a model should read it: traceback frames of the harness (any
    file but the program's own ``solution.py``) left out, a ``['text']`` wrapper removed."""
    message = message.strip()
    wrapped = re.fullmatch(r"\[(['\"])(.*)\1\]", message, re.DOTALL)
    if wrapped:
        try:
            value = ast.literal_eval(message)
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
            message = value[0].strip()
    kept: list[str] = []
    skipping = False
    for line in message.split("\n"):
        frame = _FRAME.match(line)
        if frame:
            skipping = frame["file"] not in ("solution.py", "<string>", "<solution>")
        elif skipping and not line.startswith("    "):
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def _case(problem: Problem, test: Test, outcome: TestOutcome, number: int,
          observed: Mapping[int, str], templates: Templates) -> str:
    status = STATUS_WORDS.get(outcome.status, outcome.status.replace("_", " "))
    message = tidy_message(outcome.message)
    message_section = templates.render("part_message", message=_clip(message)) \
        if message else ""
    if test.kind == "stdio":
        got_section = ""
        if outcome.index in observed:
            got = observed[outcome.index].rstrip("\n")
            got_section = templates.render("part_got", got=_clip(got) if got else "(nothing)")
        return templates.render(
            "feedback_case_stdio", number=str(number), status=status,
            input=_clip(test.input.rstrip("\n")), expected=_clip(test.output.rstrip("\n")),
            got_section=got_section, message_section=message_section)
    if test.kind == "call":
        return templates.render(
            "feedback_case_call", number=str(number), status=status,
            call=_clip(_call_text(problem, test.args)), expected=_clip(repr(test.expected)),
            message_section=message_section)
    return templates.render("feedback_case_assert", number=str(number), status=status,
                            script=_clip(test.script.strip("\n")),
                            message_section=message_section)


def render_feedback(
    problem: Problem,
    attempt_code: str,
    outcomes: Sequence[TestOutcome],
    *,
    templates: TemplatesArg = None,
    observed: Mapping[int, str] | None = None,
    max_cases: int = 2,
) -> list[Message]:
    """The next user turn after an attempt: how its code did on the public tests.

    ``outcomes`` must come from ``judge.run_tests(problem, code, problem.public_tests)``: an
    outcome's ``index`` is a position in ``problem.public_tests``. Outcomes of any other
    visibility are ignored entirely, so no private test (nor a message about one) can reach
    the prompt. ``observed`` maps an outcome index to what the program printed on that test
    (shown as "got"). At most ``max_cases`` failing tests are detailed. Without code the
    turn says so; when every public test passed it says that (multi-turn protocols that go
    on after a pass use it).
    """
    tpl = resolve_templates(templates)
    target = _target_values(problem, tpl)
    if not attempt_code.strip():
        return [{"role": "user", "content": tpl.render("feedback_no_code", **target)}]
    public = problem.public_tests
    shown = [o for o in outcomes if o.visibility == "public" and 0 <= o.index < len(public)]
    if not shown:
        raise ValueError(f"no outcomes of public tests to give feedback on for problem "
                         f"{problem.id!r}")
    passed = sum(o.passed for o in shown)
    counts = {"passed": str(passed), "total": str(len(shown))}
    if passed == len(shown):
        return [{"role": "user", "content": tpl.render("feedback_passed", **counts, **target)}]
    failing = [o for o in shown if not o.passed and o.status != NOT_RUN][:max(1, max_cases)]
    cases = [_case(problem, public[o.index], o, o.index + 1, observed or {}, tpl)
             for o in failing]
    content = tpl.render(f"feedback_{problem_kind(problem)}", failures="\n\n".join(cases),
                         **counts, **target)
    return [{"role": "user", "content": content}]


def assistant_turn(text: str) -> Message:
    """The assistant message holding a model's answer, to continue a chat."""
    return {"role": "assistant", "content": text}

