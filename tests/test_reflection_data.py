"""ReflectionSeq records: schema validation, loaders (published-set files, instruction data,
hub errors), the sequence builder's parsing and assembly on fixed text, and one step of a
sequence run in the real sandbox on fixed code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from motcoder.datagen.reflection_execution import (
    ALL_PASSED,
    execute_step,
    python_error_text,
    strip_asserts,
)
from motcoder.datagen.reflection_loaders import (
    instruction_sample,
    load_instruction_data,
    load_reflection_seq,
    published_repo,
)
from motcoder.datagen.reflection_prompts import load_reflection_prompts
from motcoder.datagen.reflection_schema import (
    Block,
    ReflectionSample,
    SchemaError,
    blocks_to_markdown,
    parse_sample,
    read_samples,
    split_blocks,
    write_samples,
)
from motcoder.datagen.reflection_sequences import (
    ReflectError,
    ReflectSettings,
    Step,
    assemble_sample,
    final_blocks,
    parse_step,
    step_turn,
    summarize,
    usable,
)
from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.model import Problem, Test
from motcoder.prompts.templates import TemplateError

REFLECTION = {
    "messages": [
        {"role": "user", "content": [{"type": "text", "content": "Solve: add two numbers."}]},
        {"role": "assistant", "content": [
            {"type": "text", "content": "I add them."},
            {"type": "code", "content": "def add(a, b):\n    return a - b\nassert add(1, 2) == 3"},
            {"type": "execution", "content": "AssertionError"},
            {"type": "text", "content": "I subtracted; fix it."},
            {"type": "code", "content": "def add(a, b):\n    return a + b\nassert add(1, 2) == 3"},
            {"type": "execution", "content": "All tests passed."},
        ]},
        {"role": "user", "content": [{"type": "text", "content": "Answer again."}]},
        {"role": "assistant", "content": [
            {"type": "text", "content": "Sum:"},
            {"type": "code", "content": "def add(a, b):\n    return a + b"},
        ]},
    ],
    "type": "reflection",
}
GENERATION = {"messages": [{"role": "user", "content": [{"type": "text", "content": "q"}]},
                           {"role": "assistant", "content": [{"type": "text", "content": "a"}]}],
              "type": "generation"}


def write_lines(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n"
                            for r in records))
    return path


def broken(change) -> dict:
    record = json.loads(json.dumps(REFLECTION))
    change(record)
    return record


# ----------------------------------------------------------------------------- schema


def test_valid_records_round_trip(tmp_path):
    sample = parse_sample(REFLECTION, "x")
    assert sample.type == "reflection" and len(sample.messages) == 4
    assert [b.type for b in sample.sequence] == ["text", "code", "execution"] * 2
    assert sample.final_answer[-1] == Block("code", "def add(a, b):\n    return a + b")
    assert sample.to_dict() == REFLECTION
    path = tmp_path / "out.jsonl.gz"
    assert write_samples(path, [sample, parse_sample(GENERATION)]) == 2
    assert [s.to_dict() for s in read_samples(path)] == [REFLECTION, GENERATION]


def test_extra_top_level_keys_are_allowed_and_dropped():
    sample = parse_sample({**REFLECTION, "task_id": "Mbpp/1", "final_passed": True})
    assert sample.to_dict() == REFLECTION


@pytest.mark.parametrize(("change", "field"), [
    (lambda r: r.update(type="chat"), "type"),
    (lambda r: r.pop("messages"), "messages"),
    (lambda r: r.update(messages=[]), "messages"),
    (lambda r: r["messages"][0].update(role="system"), "messages[0].role"),
    (lambda r: r["messages"][1].update(role="user"), "messages[1].role"),
    (lambda r: r["messages"][1].update(content=[]), "messages[1].content"),
    (lambda r: r["messages"][1].update(content="text"), "messages[1].content"),
    (lambda r: r["messages"][1]["content"][2].update(type="output"),
     "messages[1].content[2].type"),
    (lambda r: r["messages"][1]["content"][1].update(content=None),
     "messages[1].content[1].content"),
    (lambda r: r["messages"][1]["content"].__setitem__(0, "text"), "messages[1].content[0]"),
    (lambda r: r["messages"][0]["content"].append({"type": "execution", "content": "x"}),
     "messages[0].content[1].type"),
    (lambda r: r["messages"][3]["content"].append({"type": "execution", "content": "x"}),
     "messages[3].content[2].type"),
    (lambda r: r.update(messages=r["messages"][:2]), "messages"),
    (lambda r: r.update(messages=r["messages"][:3]), "messages[2]"),
    (lambda r: r["messages"][3].update(content=[{"type": "text", "content": " "}]),
     "messages[3].content"),
])
def test_malformed_records_name_file_line_and_field(tmp_path, change, field):
    path = write_lines(tmp_path / "data.jsonl", [REFLECTION, "", broken(change)])
    with pytest.raises(SchemaError) as info:
        list(read_samples(path))
    message = str(info.value)
    assert message.startswith(f"{path}:3: {field}: "), message


def test_not_json_and_not_an_object_name_the_line(tmp_path):
    for bad, what in (("{oops", "invalid JSON"), ("[1, 2]", "expected a JSON object")):
        path = write_lines(tmp_path / "d.jsonl", [GENERATION, bad])
        with pytest.raises(ProblemLoadError, match=rf"d\.jsonl:2: {what}"):
            list(read_samples(path))


def test_validate_checks_a_built_sample():
    sample = parse_sample(REFLECTION)
    sample.messages[3].content.append(Block("execution", "x"))
    with pytest.raises(SchemaError, match="final answer"):
        sample.validate()


# ----------------------------------------------------------------------------- markdown


def test_split_blocks_and_back():
    text = ("Plan first.\n\n```python\ndef f():\n    return 1\n```\nThen test:\n"
            "~~~\nprint(f())\n~~~\n\nDone.")
    blocks = split_blocks(text)
    assert blocks == [Block("text", "Plan first."), Block("code", "def f():\n    return 1"),
                      Block("text", "Then test:"), Block("code", "print(f())"),
                      Block("text", "Done.")]
    assert split_blocks(blocks_to_markdown(blocks)) == blocks
    # an answer cut off inside a block keeps what the block holds
    assert split_blocks("Here:\n```python\nx = 1\ny =") == [Block("text", "Here:"),
                                                           Block("code", "x = 1\ny =")]
    # a tagged fence inside a block does not close it
    assert split_blocks("```\n```python\nx\n```")[0].type == "code"


# ----------------------------------------------------------------------------- loaders


def test_local_published_set_file(tmp_path):
    path = write_lines(tmp_path / "reflection_gpt.jsonl", [REFLECTION, GENERATION, REFLECTION])
    samples = load_reflection_seq(path)
    assert [s.type for s in samples] == ["reflection", "generation", "reflection"]
    assert len(load_reflection_seq(str(path), limit=2)) == 2
    bad = write_lines(tmp_path / "bad.jsonl", [REFLECTION, {"messages": [], "type": "x"}])
    with pytest.raises(SchemaError, match=r"bad\.jsonl:2: type"):
        load_reflection_seq(bad)
    with pytest.raises(ProblemLoadError, match="no such file and not a published set"):
        load_reflection_seq(tmp_path / "missing.jsonl")


def test_published_names():
    assert published_repo("ReflectionSeq-GPT") == "SenseLLM/ReflectionSeq-GPT"
    assert published_repo("sensellm/reflectionseq-ds") == "SenseLLM/ReflectionSeq-DS"
    assert published_repo("other") is None


def test_unreachable_hub_says_how_to_pass_a_local_file(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ProblemLoadError) as info:
        load_reflection_seq("ReflectionSeq-DS")
    message = str(info.value)
    assert "SenseLLM/ReflectionSeq-DS" in message and "--data PATH" in message
    assert "ReflectionSeq JSONL file" in message


def test_instruction_data_maps_to_generation_samples(tmp_path):
    path = write_lines(tmp_path / "instruct.jsonl", [
        {"query": "Sort a list.", "answer": "Use sorted():\r\n```python\nsorted(x)\n```"},
        {"instruction": "Reverse", "input": "abc", "output": "cba"},
        {"instruction": "Hi", "input": "", "output": "Hello"},
        {"messages": [{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "2+2?"},
                      {"role": "assistant", "content": "4"}]},
        GENERATION,
    ])
    samples = load_instruction_data(path)
    assert all(s.type == "generation" for s in samples)
    first = samples[0].to_dict()["messages"]
    assert first == [
        {"role": "user", "content": [{"type": "text", "content": "Sort a list."}]},
        {"role": "assistant", "content": [
            {"type": "text", "content": "Use sorted():\n```python\nsorted(x)\n```"}]}]
    assert samples[1].messages[0].content[0].content == "Reverse\n\nabc"
    assert samples[2].messages[0].content[0].content == "Hi"
    assert [b.content for b in samples[3].messages[0].content] == ["Be brief.", "2+2?"]
    assert samples[4].to_dict() == GENERATION


@pytest.mark.parametrize(("record", "match"), [
    ({"query": "q"}, "answer: must be a non-empty string"),
    ({"instruction": "", "output": "o"}, "instruction: must be a non-empty string"),
    ({"prompt": "p", "completion": "c"}, "cannot tell the instruction format"),
    ({"messages": [{"role": "assistant", "content": "a"}]}, r"messages\[0\]\.role"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "t"}]},
     r"messages\[1\]\.role"),
    ({"messages": "hi"}, "messages: must be a list"),
])
def test_bad_instruction_records(tmp_path, record, match):
    path = write_lines(tmp_path / "i.jsonl", [{"query": "q", "answer": "a"}, record])
    with pytest.raises(SchemaError, match=rf"i\.jsonl:2: .*{match}"):
        load_instruction_data(path)
    with pytest.raises(SchemaError):
        instruction_sample(record)


# ----------------------------------------------------------------------------- prompts


def call_problem(public: bool = True) -> Problem:
    tests = [Test(kind="assert", visibility="private",
                  script="assert add(10, -1) == 9\nassert add(0, 0) == 0\n")]
    if public:
        tests.insert(0, Test(kind="assert", visibility="public", script="assert add(2, 3) == 5"))
    return Problem(id="toy/add", source="file", statement="Add two numbers.",
                   entry_point="add", solutions=["def add(a, b):\n    return a + b\n"],
                   tests=tests)


def test_prompts_fill_the_problem_and_overrides_are_checked(tmp_path):
    prompts = load_reflection_prompts()
    text = prompts.instruction(call_problem())
    assert "Add two numbers." in text and "`add" in text and "assert" in text
    assert "Add two numbers." in prompts.reanswer(call_problem())
    assert "boom" in prompts.feedback("boom") and "boom" in prompts.result("boom")
    (tmp_path / "reflect_no_code.txt").write_text("Code please, {name}.")
    with pytest.raises(TemplateError, match=r"reflect_no_code\.txt:1: unknown placeholder"):
        load_reflection_prompts(tmp_path)
    (tmp_path / "reflect_no_code.txt").write_text("Code please.")
    custom = load_reflection_prompts(tmp_path)
    assert custom.no_code() == "Code please."
    assert custom.digest() != prompts.digest()
    (tmp_path / "reflect_typo.txt").write_text("x")
    with pytest.raises(TemplateError, match="not a reflection prompt name"):
        load_reflection_prompts(tmp_path)


# ----------------------------------------------------------------------------- parsing


def test_parse_step_keeps_text_and_first_code_block_only():
    answer = ("The sum is a + b.\n\n```python\ndef add(a, b):\n    return a + b\n\n"
              "assert add(2, 3) == 5\n```\n\nOutput:\n```\nAll good\n```\n")
    step = parse_step(answer)
    assert step.text == "The sum is a + b."
    assert step.code == "def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5"
    assert step_turn(step) == {"role": "assistant", "content":
                               "The sum is a + b.\n\n```python\n" + step.code + "\n```"}
    assert parse_step("```python\nx = 1\n```").text == ""
    assert parse_step("Just words, no code.") == Step("Just words, no code.", "")
    assert parse_step("Empty:\n```python\n```\nthen\n```python\ny = 2\n```").code == "y = 2"


def test_assemble_sample_from_fixed_text():
    steps = [parse_step("Try subtraction.\n```python\ndef add(a, b):\n    return a - b\n"
                        "assert add(1, 2) == 3\n```"),
             parse_step("Words only."),
             parse_step("Fix.\n```python\ndef add(a, b):\n    return a + b\n```")]
    steps[0].execution = "AssertionError"
    steps[2].execution, steps[2].passed = ALL_PASSED, True
    sample = assemble_sample("Solve it.", steps, "Answer again.",
                             "Final:\n```python\ndef add(a, b):\n    return a + b\n```")
    assert isinstance(sample, ReflectionSample) and sample.type == "reflection"
    assert [b.type for b in sample.sequence] == [
        "text", "code", "execution", "text", "text", "code", "execution"]
    assert sample.sequence[2].content == "AssertionError"
    assert [b.type for b in sample.final_answer] == ["text", "code"]
    assert sample.messages[2].content == [Block("text", "Answer again.")]
    parse_sample(sample.to_dict())            # what is written validates when read back
    assert usable(sample)
    empty = assemble_sample("Solve it.", [Step("", "")], "Again.", "")
    assert empty.sequence == [Block("text", "")] and final_blocks("  ") == [Block("text", "")]
    assert not usable(empty)
    with pytest.raises(SchemaError, match=r"messages\[3\]\.content: the final answer has no"):
        empty.validate()


def test_settings_and_summary_counts():
    with pytest.raises(ReflectError, match="max-rounds"):
        ReflectSettings(max_rounds=0)
    records = [{"final_passed": True, "sequence_passed": True, "rounds": 1,
                "prompt_tokens": 5, "completion_tokens": 3},
               {"final_passed": False, "sequence_passed": False, "rounds": 2,
                "prompt_tokens": 7, "completion_tokens": 4, "truncated": 1},
               {"final_passed": False, "sequence_passed": True, "rounds": 2,
                "prompt_tokens": 1, "completion_tokens": 1},
               {"final_passed": False, "sequence_passed": False, "rounds": 1, "usable": False,
                "prompt_tokens": 0, "completion_tokens": 0}]
    kept = summarize(records, keep_failed=True)
    dropped = summarize(records, keep_failed=False)
    assert (kept["built"], kept["passed"], kept["failed"]) == (4, 1, 3)
    assert (kept["failed_kept"], kept["failed_dropped"], kept["exported"]) == (2, 1, 3)
    assert (dropped["failed_kept"], dropped["failed_dropped"], dropped["exported"]) == (0, 3, 1)
    assert kept["empty_final_answers"] == 1
    assert kept["rounds_histogram"] == {"1": 2, "2": 2}
    assert kept["tokens"] == {"prompt": 13, "completion": 8} and kept["truncated_answers"] == 1


# ----------------------------------------------------------------------------- execution


def test_strip_asserts_and_error_text():
    code = "def f(x):\n    assert x\n    return x\nassert f(1) == 2\nassert (\n    f(2)\n)\n"
    assert strip_asserts(code) == "def f(x):\n    assert x\n    return x\n"
    assert strip_asserts("def (:") == "def (:"
    stderr = ('Traceback (most recent call last):\n  File "/x/child.py", line 9, in run\n'
              '    exec(code)\n  File "solution.py", line 2, in <module>\nAssertionError\n')
    assert python_error_text(stderr, "x = 1\nassert x == 2") == (
        'Traceback (most recent call last):\n  File "solution.py", line 2, in <module>\n'
        "    assert x == 2\nAssertionError")


def test_execute_step_runs_fixed_code_in_the_sandbox(judge):
    problem = call_problem()
    good = execute_step(judge, problem, "def add(a, b):\n    return a + b\n\n"
                        "print(add(2, 2))\nassert add(1, 1) == 2\n")
    assert good.passed and good.script_ok and (good.public_passed, good.public_total) == (1, 1)
    assert good.text == f"4\nExample tests: 1 of 1 passed.\n{ALL_PASSED}"

    # the model's own test fails although the solution is right: not passed
    own = execute_step(judge, problem, "def add(a, b):\n    return a + b\n"
                       "assert add(1, 1) == 3, 'my test'\n")
    assert not own.passed and own.script_ok is False and own.public_passed == 1
    assert 'File "solution.py", line 3' in own.text and "AssertionError: my test" in own.text
    assert ALL_PASSED not in own.text

    # wrong solution whose own test passes: the public test catches it
    wrong = execute_step(judge, problem, "def add(a, b):\n    return a * b\n"
                         "assert add(2, 2) == 4\n")
    assert not wrong.passed and wrong.script_ok and wrong.public_passed == 0
    assert "Example tests: 0 of 1 passed." in wrong.text and "assert add(2, 3) == 5" in wrong.text

    crash = execute_step(judge, problem, "def add(a, b):\n    return a +\n")
    assert not crash.passed and "SyntaxError" in crash.text

    loop = execute_step(judge, call_problem(public=False), "while True:\n    pass\n")
    assert not loop.passed and "time limit exceeded" in loop.text

    # private tests are never run or shown
    assert "add(10, -1)" not in wrong.text + own.text


def test_execute_step_on_stdio_examples(judge, sum_stdio_problem):
    ok = execute_step(judge, sum_stdio_problem, "a, b = map(int, input().split())\n"
                      "print(a + b)\n")
    assert ok.passed and ok.text.endswith(ALL_PASSED)
    bad = execute_step(judge, sum_stdio_problem, "a, b = map(int, input().split())\n"
                       "print(a - b)\n")
    assert not bad.passed
    assert "input:\n2 3\nexpected output:\n5\nyour output:\n-1" in bad.text
    assert "40 2" not in bad.text                       # a private input
