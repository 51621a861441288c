"""Prompt templates: rendering for every style and problem kind, overrides, feedback turns,
and that nothing but public tests can reach a prompt."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from fixture_files import write_apps_fixture, write_codecontests_fixture, write_mbpp_fixture
from motcoder.problems.apps import load_apps
from motcoder.problems.codecontests import load_codecontests
from motcoder.problems.humaneval import load_humaneval
from motcoder.problems.mbpp import load_mbpp
from motcoder.problems.model import Problem, Test
from motcoder.prompts import (
    STYLES,
    TEMPLATE_FIELDS,
    TemplateError,
    Templates,
    default_templates,
    entry_signature,
    load_templates,
    render_feedback,
    render_prompt,
    write_default_templates,
)
from motcoder.sandbox.verdict import PASSED, RUNTIME_ERROR, WRONG_ANSWER
from motcoder.sandbox.verdict import TestOutcome as Outcome

OUTLINE = 'def parse(text):\n    """Turn the input text into numbers."""\n'
LEFTOVER = re.compile(r"\{[a-z_]+\}")


def _all_text(messages: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in messages)


def _render_all(problem: Problem, examples: bool = True) -> list[str]:
    texts = []
    for style in STYLES:
        modules = OUTLINE if style == "mot-given-modules" else None
        texts.append(_all_text(render_prompt(problem, style, modules=modules,
                                             examples=examples)))
    return texts


@pytest.fixture(scope="module")
def benchmark_problems(tmp_path_factory) -> list[Problem]:
    folder = tmp_path_factory.mktemp("bench")
    return (load_apps(write_apps_fixture(folder / "apps.jsonl"))
            + load_codecontests(write_codecontests_fixture(folder / "cc.jsonl"))
            + load_mbpp(write_mbpp_fixture(folder / "mbpp.jsonl"))
            + load_humaneval()[:5])


# ------------------------------------------------------------------------------ templates


def test_shipped_template_files_match_the_names() -> None:
    folder = resources.files("motcoder.prompts") / "templates"
    names = {p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt")}
    assert names == set(TEMPLATE_FIELDS)
    assert all(default_templates().texts[name].strip() for name in TEMPLATE_FIELDS)


def test_render_fills_placeholders_in_one_pass_and_drops_empty_lines() -> None:
    tpl = Templates({"part_examples": "A\n\n{examples}\n\nB {{literal}} {x"}, {})
    assert tpl.render("part_examples", examples="{statement} stays") == \
        "A\n\n{statement} stays\n\nB {literal} {x"
    assert tpl.render("part_examples", examples="") == "A\n\nB {literal} {x"


def test_every_style_and_kind_renders_completely(benchmark_problems) -> None:
    kinds = set()
    for problem in benchmark_problems:
        kinds.add(problem.is_call_based)
        for style in STYLES:
            modules = OUTLINE if style == "mot-given-modules" else None
            messages = render_prompt(problem, style, modules=modules, examples=True)
            assert [m["role"] for m in messages] == ["system", "user"]
            assert problem.statement.strip()[:40] in messages[1]["content"]
            template_text = messages[1]["content"].replace(problem.statement.strip("\n"), "S")
            assert not LEFTOVER.search(template_text), (problem.id, style)
            assert "\n\n\n" not in template_text
    assert kinds == {True, False}


def test_stdio_prompt_says_stdin_and_stdout(sum_stdio_problem) -> None:
    for text in _render_all(sum_stdio_problem, examples=False):
        assert "standard input" in text and "standard output" in text
        assert "Print a+b." in text


def test_call_prompt_names_entry_point_and_signature(benchmark_problems) -> None:
    humaneval = next(p for p in benchmark_problems if p.source == "humaneval")
    user = render_prompt(humaneval, "normal")[1]["content"]
    signature = "has_close_elements(numbers: List[float], threshold: float) -> bool"
    assert f"`{signature}`" in user
    assert "top-level function `has_close_elements`" in user
    assert user.count("def has_close_elements") == 1  # the stub is not shown twice
    assert "standard input" in user  # ... "must not read standard input"

    leetcode = next(p for p in benchmark_problems if p.entry_point == "maxSubArray")
    user = render_prompt(leetcode, "mot")[1]["content"]
    assert "the method `maxSubArray` of the class `Solution`" in user
    assert "`maxSubArray(self, nums: List[int]) -> int`" in user
    assert "class Solution:" in user  # the starter code

    mbpp = next(p for p in benchmark_problems if p.source == "mbpp")
    assert entry_signature(mbpp) == (f"{mbpp.entry_point}(...)", None)


def test_signature_from_multiline_starter() -> None:
    problem = Problem(id="t", source="file", statement="s", entry_point="f",
                      starter_code="def f(a,\n      b: dict[str, int] = {},\n) -> list[int]:\n")
    assert entry_signature(problem) == ("f(a, b: dict[str, int] = {}) -> list[int]", None)


def test_statement_braces_are_kept_verbatim() -> None:
    statement = "Print {n} and {{x}} and {statement} and a dict {'a': 1}."
    problem = Problem(id="b", source="file", statement=statement,
                      tests=[Test(kind="stdio", visibility="public", input="1\n", output="1\n")])
    for text in _render_all(problem):
        assert statement in text


def test_mot_styles(sum_stdio_problem, add_call_problem) -> None:
    mot = render_prompt(sum_stdio_problem, "mot")
    assert "Step 1" in mot[1]["content"] and "Step 2" in mot[1]["content"]
    assert mot[0]["content"] != render_prompt(sum_stdio_problem, "normal")[0]["content"]
    given = _all_text(render_prompt(add_call_problem, "mot-given-modules",
                                    modules=[OUTLINE, 'def check(x):\n    """Check x."""']))
    assert OUTLINE.strip() in given and 'def check(x):\n    """Check x."""' in given
    with pytest.raises(ValueError, match="needs the module outlines"):
        render_prompt(add_call_problem, "mot-given-modules")
    with pytest.raises(ValueError, match="only used by style"):
        render_prompt(add_call_problem, "mot", modules=OUTLINE)
    with pytest.raises(ValueError, match="unknown prompt style"):
        render_prompt(add_call_problem, "cot")


# ------------------------------------------------------------------------------ hidden tests

MARKERS = ("PRIV_IN_7f3a", "PRIV_OUT_7f3a", "GEN_IN_9c1d", "GEN_OUT_9c1d")


def _secret_problems() -> list[Problem]:
    stdio = Problem(
        id="secret/stdio", source="file", statement="Echo the line.",
        tests=[Test(kind="stdio", visibility="public", input="pub-in-1\n", output="pub-out-1\n"),
               Test(kind="stdio", visibility="private", input="PRIV_IN_7f3a\n",
                    output="PRIV_OUT_7f3a\n"),
               Test(kind="stdio", visibility="generated", input="GEN_IN_9c1d\n",
                    output="GEN_OUT_9c1d\n")])
    call = Problem(
        id="secret/call", source="file", statement="Return the argument.", entry_point="same",
        starter_code="def same(x):\n",
        tests=[Test(kind="call", visibility="public", args=["pub-arg"], expected="pub-arg"),
               Test(kind="call", visibility="private", args=["PRIV_IN_7f3a"],
                    expected="PRIV_OUT_7f3a"),
               Test(kind="call", visibility="generated", args=["GEN_IN_9c1d"],
                    expected="GEN_OUT_9c1d")])
    script = Problem(
        id="secret/assert", source="file", statement="Return the argument.", entry_point="same",
        tests=[Test(kind="assert", visibility="public", script="assert same(1) == 1\n"),
               Test(kind="assert", visibility="private",
                    script="assert same('PRIV_IN_7f3a') == 'PRIV_OUT_7f3a'\n")])
    return [stdio, call, script]


def test_hidden_tests_never_reach_the_first_turn(benchmark_problems) -> None:
    for problem in _secret_problems():
        for text in _render_all(problem, examples=True):
            assert not any(marker in text for marker in MARKERS)
        shown = _render_all(problem, examples=True)[0]
        assert ("pub-in-1" in shown) or ("pub-arg" in shown) or ("same(1) == 1" in shown)
    for problem in benchmark_problems:  # real loaders: hidden inputs are not in the prompts
        hidden = [t for t in problem.tests if t.visibility != "public"]
        for text in _render_all(problem, examples=True):
            for test in hidden:
                secret = (test.input if test.kind == "stdio" else test.script
                          if test.kind == "assert" else "")
                if secret.strip() and secret.strip() not in problem.statement:
                    assert secret.strip() not in text, problem.id


# ------------------------------------------------------------------------------ feedback


def test_feedback_for_failing_stdio_program() -> None:
    problem = _secret_problems()[0]
    outcomes = [Outcome(0, "public", WRONG_ANSWER,
                            message="token 1 (line 1 of expected): expected 'pub-out-1', got "
                                    "'nope'"),
                # a private outcome slipped in by mistake: ignored, message and all
                Outcome(1, "private", WRONG_ANSWER, message="expected 'PRIV_OUT_7f3a'")]
    turn = render_feedback(problem, "print('nope')", outcomes, observed={0: "nope\n"})
    assert [m["role"] for m in turn] == ["user"]
    text = turn[0]["content"]
    assert "passed 0 of 1" in text
    for piece in ("pub-in-1", "pub-out-1", "nope", "wrong answer", "standard input"):
        assert piece in text
    assert not any(marker in text for marker in MARKERS)
    assert not LEFTOVER.search(text)


def test_feedback_for_call_and_assert_problems() -> None:
    _, call, script = _secret_problems()
    text = render_feedback(call, "def same(x): return 0", [
        Outcome(0, "public", WRONG_ANSWER, message="expected 'pub-arg', got 0")])[0]["content"]
    assert "same('pub-arg')" in text and "`'pub-arg'`" in text and "got 0" in text
    assert "`same(x)`" in text  # the signature from the starter code
    text = render_feedback(script, "def same(x): 1/0", [
        Outcome(0, "public", RUNTIME_ERROR, message="ZeroDivisionError: division by zero")
    ])[0]["content"]
    assert "assert same(1) == 1" in text and "ZeroDivisionError" in text
    assert "runtime error" in text


def test_feedback_no_code_and_all_passed(sum_stdio_problem) -> None:
    text = render_feedback(sum_stdio_problem, "  \n", [])[0]["content"]
    assert "did not contain any Python code" in text
    text = render_feedback(sum_stdio_problem, "print(5)",
                           [Outcome(0, "public", PASSED)])[0]["content"]
    assert "passed all 1" in text
    with pytest.raises(ValueError, match="no outcomes of public tests"):
        render_feedback(sum_stdio_problem, "print(5)", [Outcome(1, "private", PASSED)])


def test_feedback_limits_cases_and_clips_long_text() -> None:
    tests = [Test(kind="stdio", visibility="public", input=f"in{i}\n", output="x" * 5000)
             for i in range(4)]
    problem = Problem(id="many", source="file", statement="s", tests=tests)
    outcomes = [Outcome(i, "public", WRONG_ANSWER, message="m") for i in range(4)]
    text = render_feedback(problem, "print(1)", outcomes, max_cases=2)[0]["content"]
    assert "in0" in text and "in1" in text and "in2" not in text
    assert "more characters]" in text and len(text) < 6000
    text = render_feedback(problem, "print(1)", outcomes, observed={0: ""})[0]["content"]
    assert "(nothing)" in text


# ------------------------------------------------------------------------------ overrides


def test_override_directory_replaces_only_given_files(tmp_path: Path, sum_stdio_problem) -> None:
    (tmp_path / "normal_stdio.txt").write_text("SOLVE: {statement}\n{{not a placeholder}}\n")
    (tmp_path / "system_normal.txt").write_text("\n")  # empty: no system message
    (tmp_path / "README.md").write_text("notes are ignored")
    messages = render_prompt(sum_stdio_problem, "normal", templates=tmp_path)
    assert messages == [{"role": "user", "content": "SOLVE: Print a+b.\n{not a placeholder}"}]
    mot = render_prompt(sum_stdio_problem, "mot", templates=load_templates(tmp_path))
    assert mot == render_prompt(sum_stdio_problem, "mot")


def test_override_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "normal_stdio.txt").write_text("ok\nuse {statment}\n")
    with pytest.raises(TemplateError, match=r"normal_stdio.txt:2: unknown placeholder "
                                            r"\{statment\}"):
        load_templates(tmp_path)
    (tmp_path / "normal_stdio.txt").unlink()
    (tmp_path / "mot-stdio.txt").write_text("x")
    with pytest.raises(TemplateError, match="not a prompt template name"):
        load_templates(tmp_path)
    with pytest.raises(TemplateError, match="directory not found"):
        load_templates(tmp_path / "missing")


def test_write_default_templates_round_trip(tmp_path: Path, add_call_problem) -> None:
    written = write_default_templates(tmp_path)
    assert len(written) == len(TEMPLATE_FIELDS)
    assert write_default_templates(tmp_path) == []  # never overwrites edits by default
    assert load_templates(tmp_path).texts == default_templates().texts
    assert render_prompt(add_call_problem, "mot", templates=tmp_path) == \
        render_prompt(add_call_problem, "mot")


def test_feedback_messages_hide_harness_frames() -> None:
    from motcoder.prompts.render import tidy_message

    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/x/motcoder/sandbox/child.py", line 98, in _run_stdio\n'
        '    _exec_program(req["code"], "__main__")\n'
        "    ^^^^^^^^^^^^^^\n"
        '  File "solution.py", line 4, in <module>\n'
        "    print(1 / 0)\n"
        "ZeroDivisionError: division by zero")
    assert tidy_message(traceback) == (
        "Traceback (most recent call last):\n"
        '  File "solution.py", line 4, in <module>\n'
        "    print(1 / 0)\n"
        "ZeroDivisionError: division by zero")
    assert tidy_message("['NameError: name \\'x\\' is not defined']") == \
        "NameError: name 'x' is not defined"
    assert tidy_message("expected 5, got 6") == "expected 5, got 6"
