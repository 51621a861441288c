"""ReflectionCoder answers survive decoding and extraction; its evaluation protocol as released.

* Block markup → Markdown (`to_markdown`) and extraction of code-block answers — the shape
  `motcoder data reflect` stores and a model trained on it writes (prose + an unfenced code
  block), which decoding without the markers glued into one unusable line.
* Marker-aware decoding on a real tokenizer (the embedded model's, extended with the markers):
  markers kept, other special tokens dropped; tokenizers without markers unchanged.
* ``--style reflectioncoder``: the original ``src/test.py`` prompt strings, its
  ``post_process`` (quirk included) and EvalPlus's prompt + completion program.
"""

from __future__ import annotations

import pytest

from motcoder.problems.model import Problem, Test
from motcoder.prompts import reflectioncoder
from motcoder.prompts.extract import extract_code
from motcoder.prompts.reflection_markup import MARKERS, to_markdown

ANSWER = ("<|text|>Here is the fix.<|endofblock|><|code|>def add(a, b):\n    return a + b"
          "<|endofblock|><|endofmessage|>")


@pytest.mark.parametrize("text, markdown", [
    (ANSWER, "Here is the fix.\n```python\ndef add(a, b):\n    return a + b\n```"),
    ("<|text|>x<|endofblock|><|code|>def f():\n    pass", "x\n```python\ndef f():\n    pass\n```"),
    ("<|code|>a = 1<|endofblock|><|execution|>Traceback<|endofblock|><|text|>ok<|endofblock|>",
     "```python\na = 1\n```\nok"),
    ("<|text|>```python\nx = 1\n```<|endofblock|>", "```python\nx = 1\n```"),
    ("no markers here", "no markers here"),
])
def test_blocks_become_markdown(text, markdown):
    assert to_markdown(text) == markdown


def test_code_block_answers_are_extracted():
    assert extract_code(ANSWER, entry_point="add") == "def add(a, b):\n    return a + b\n"
    # what decoding with the markers skipped produced: nothing usable
    glued = "Here is the fix.def add(a, b):\n    return a + b"
    assert extract_code(glued, entry_point="add") != "def add(a, b):\n    return a + b\n"


@pytest.fixture(scope="module")
def tokenizers():
    from transformers import AutoTokenizer

    from motcoder.training.base_model import resolve_base_model
    from motcoder.training.reflection_serialize import add_marker_tokens

    base = resolve_base_model("embedded")
    plain = AutoTokenizer.from_pretrained(base)
    marked = AutoTokenizer.from_pretrained(base)
    add_marker_tokens(marked)
    return plain, marked


def test_decoding_keeps_the_markers_of_a_model_that_has_them(tokenizers):
    from motcoder.models.transformers_backend import special_token_decoder

    plain, marked = tokenizers
    ids = marked(ANSWER, add_special_tokens=False)["input_ids"] + [marked.eos_token_id]
    assert all(marked.convert_tokens_to_ids(m) in ids for m in ("<|code|>", "<|endofblock|>"))
    text = special_token_decoder(marked)(ids)
    assert text == ANSWER                       # markers kept, end of sequence dropped
    assert extract_code(text, entry_point="add").startswith("def add(a, b):")
    skipped = marked.decode(ids, skip_special_tokens=True)
    assert skipped == "Here is the fix.def add(a, b):\n    return a + b"   # the old decoding
    plain_ids = plain("def f(): pass")["input_ids"] + [plain.eos_token_id]
    assert special_token_decoder(plain)(plain_ids) == plain.decode(plain_ids,
                                                                    skip_special_tokens=True)


# ------------------------------------------------------------------ the original protocol
HUMANEVAL = Problem(
    id="HumanEval/0", source="humaneval",
    statement='def add(a, b):\n    """Add two numbers."""\n', entry_point="add",
    tests=[Test(kind="assert", visibility="private", script="assert add(1, 2) == 3")])
MBPP = Problem(
    id="Mbpp/2", source="mbpp-plus",
    statement="Write a function to add.\nYour code should pass this test:\nassert add(1, 2) == 3\n",
    entry_point="add",
    tests=[Test(kind="assert", visibility="public", script="assert add(1, 2) == 3"),
           Test(kind="assert", visibility="private", script="assert add(2, 2) == 4")])


def test_prompts_are_the_original_strings():
    assert reflectioncoder.prompt(HUMANEVAL) == (
        "<|user|><|text|>Write a complete Python function for the problem.\n\n"
        'def add(a, b):\n    """Add two numbers."""<|endofblock|><|endofmessage|>'
        "<|assistant|><|text|>```python\n")
    assert reflectioncoder.prompt(MBPP) == (
        "<|user|><|text|>Write a function to add.\nYour code should satisfy the following "
        "assertion:\n```python\nassert add(1, 2) == 3\n```<|endofblock|><|endofmessage|>"
        "<|assistant|><|text|>```python\n")
    assert reflectioncoder.STOP == ["<|endofblock|>", "<|endofmessage|>"]
    assert set(MARKERS) >= set(reflectioncoder.STOP)


@pytest.mark.parametrize("output, completion", [
    ("def add(a, b):\n    return a + b\n```", "def add(a, b):\n    return a + b"),
    ("def add(a, b):\n    return a + b\n\nassert add(1, 2) == 3\n```",
     "def add(a, b):\n    return a + b"),
    ("```python\ndef add(a, b):\n    return a + b\n```\nif x:", "def add(a, b):\n    return a + b"),
    ("def add(a, b):\n    return a + b\nprint(add(1, 2))", "return a + b"),  # the quirk
])
def test_post_process_is_the_original(output, completion):
    assert reflectioncoder.post_process(output) == completion


def test_programs_are_built_as_evalplus_builds_them():
    body = "def add(a, b):\n    return a + b"
    assert reflectioncoder.program(HUMANEVAL, body) == HUMANEVAL.statement + body + "\n"
    assert reflectioncoder.program(MBPP, body) == body + "\n"
    assert reflectioncoder.program(MBPP, "") == ""
