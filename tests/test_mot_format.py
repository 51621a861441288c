"""The MoT answer structure check: each rule accepts a good answer and rejects a bad one."""

from __future__ import annotations

import ast

import pytest

from motcoder.prompts.mot_format import REASONS, check_mot, follows_mot, split_steps

OUTLINE = '''```python
def parse(text: str) -> list[int]:
    """Turn the input text into the list of numbers it holds."""


def total(numbers: list[int]) -> int:
    """Return the sum of the numbers."""
```'''

FINAL = '''```python
import sys


def parse(text: str) -> list[int]:
    """Turn the input text into the list of numbers it holds."""
    return [int(x) for x in text.split()]


def total(numbers: list[int]) -> int:
    """Return the sum of the numbers."""
    return sum(numbers)


print(total(parse(sys.stdin.read())))
```'''

GOOD = f"### Step 1: design\n{OUTLINE}\n\n**Step 2** — build\n{FINAL}\n"


def test_good_answer_has_outline_and_final_program():
    check = check_mot(GOOD)
    assert check.ok, check
    assert "def parse" in check.outline and "return" not in check.outline
    assert "print(total(parse(" in check.final
    ast.parse(check.final)
    assert follows_mot(GOOD)


@pytest.mark.parametrize("heading1, heading2", [
    ("Step 1", "Step 2"), ("STEP ONE:", "step two:"), ("## Step 1. Outline", "> Step 2"),
])
def test_heading_variants(heading1, heading2):
    assert check_mot(f"{heading1}\n{OUTLINE}\n{heading2}\n{FINAL}").ok


@pytest.mark.parametrize("text", [
    f"{OUTLINE}\n{FINAL}",                                  # no headings
    f"Step 2\n{FINAL}\nStep 1\n{OUTLINE}",                   # wrong order
    f"Step 1\n{OUTLINE}\n",                                  # no step 2
    "",
])
def test_protocol_broken(text):
    assert check_mot(text).reason == "protocol"


def test_step_one_without_submodule():
    text = "Step 1\nI will just write the code.\nStep 2\n" + FINAL
    assert check_mot(text).reason == "no_submodule"
    undocumented = "Step 1\n```python\ndef f(x):\n    pass\n```\nStep 2\n" + FINAL
    assert check_mot(undocumented).reason == "no_submodule"


def test_step_one_with_code_outside_outlines():
    body = OUTLINE.replace('    """Return the sum of the numbers."""',
                           '    """Return the sum of the numbers."""\n    return sum(numbers)')
    assert check_mot(f"Step 1\n{body}\nStep 2\n{FINAL}").reason == "code_outside_outlines"
    loose = OUTLINE.replace("```python\n", "```python\nN = int(input())\n")
    assert check_mot(f"Step 1\n{loose}\nStep 2\n{FINAL}").reason == "code_outside_outlines"


def test_step_two_program_count():
    assert check_mot(f"Step 1\n{OUTLINE}\nStep 2\nJust combine them.").reason == \
        "no_final_program"
    assert check_mot(f"Step 1\n{OUTLINE}\nStep 2\n{FINAL}\n{FINAL}").reason == \
        "several_final_programs"


def test_final_program_must_parse():
    broken = FINAL.replace("return sum(numbers)", "return sum(numbers")
    check = check_mot(f"Step 1\n{OUTLINE}\nStep 2\n{broken}")
    assert check.reason == "syntax" and check.message == REASONS["syntax"]


def test_split_steps_keeps_sections_apart():
    design, build = split_steps(GOOD)
    assert "def total" in design and "print(" not in design
    assert "print(" in build
