"""The evaluation protocol of ReflectionCoder's own ``src/test.py`` (``--style reflectioncoder``).

With it, ``motcoder run --model hf:SenseLLM/ReflectionCoder-DS-6.7B --benchmark humaneval
--style reflectioncoder`` evaluates a published checkpoint the way its authors did:

* a raw prompt in the block markup (no chat template, no system message; the tokenizer adds
  its BOS as vLLM does): the user turn is one text block — for HumanEval ``Write a complete
  Python function for the problem.``, a blank line and the prompt; for MBPP the
  description, ``Your code should satisfy the following assertion:`` and the first test in a
  fenced block — and the assistant turn is *forced* to open a text block with a fenced
  Python block, so the model continues inside it;
* greedy decoding, markers kept, stopped at ``<|endofblock|>`` or ``<|endofmessage|>``
  (the original: ``temperature=0, max_tokens=1024`` — pass ``--max-new-tokens 1024``);
* the original's ``post_process`` (`post_process`), and the program as EvalPlus builds it
  from a completion: the prompt followed by the completion for HumanEval (whose prompt is
  code), the completion alone for MBPP (`program`).

Other benchmarks had no protocol in the original; their statement takes HumanEval's place.
"""

from __future__ import annotations

import ast

from motcoder.problems.model import Problem
from motcoder.prompts.reflection_markup import (
    ASSISTANT,
    CODE,
    END_BLOCK,
    END_MESSAGE,
    TEXT,
    USER,
)

STYLE = "reflectioncoder"
INSTRUCTION = "Write a complete Python function for the problem."
ASSERTION_HEADER = "Your code should satisfy the following assertion:"
STOP = [END_BLOCK, END_MESSAGE]
FORCED_ANSWER = f"{TEXT}```python\n"
# Where the original cuts an answer, in this order (post_process).
CUT_AT = ("\n# Test", "\nif", "\nassert", "\nprint", "\n```")


def _mbpp_parts(problem: Problem) -> tuple[str, str] | None:
    """An MBPP problem's description and first assertion (EvalPlus's prompt lines)."""
    if not problem.source.startswith("mbpp") or not problem.public_tests:
        return None
    from motcoder.problems.mbpp import EXAMPLE_HEADER

    description = problem.statement.split(f"\n{EXAMPLE_HEADER}", 1)[0].strip()
    return description, problem.public_tests[0].script.strip()


def prompt(problem: Problem) -> str:
    """The raw prompt of the original's ``src/test.py`` for ``problem``."""
    mbpp = _mbpp_parts(problem)
    if mbpp is not None:
        question = f"{mbpp[0]}\n{ASSERTION_HEADER}\n```python\n{mbpp[1]}\n```"
    else:
        question = f"{INSTRUCTION}\n\n{problem.statement.strip()}"
    return f"{USER}{TEXT}{question}{END_BLOCK}{END_MESSAGE}{ASSISTANT}{FORCED_ANSWER}"


def post_process(text: str) -> str:
    """The original's ``post_process``: markers removed; with an odd number of fences the
    text before the last one, else the text after the first fence's line; then cut at the
    first test, ``if``, assertion, print or fence line; stripped. Kept as it is, quirk
    included: an answer with no fence at all loses its first two characters and the rest
    of its first line (``find`` returns -1)."""
    for marker in (TEXT, CODE, END_BLOCK, END_MESSAGE):
        text = text.replace(marker, "")
    if text.count("```") % 2 == 1:
        text = text[:text.rfind("```")]
    else:
        text = text[text.find("```") + 3:]
        text = text[text.find("\n") + 1:]
    for cut in CUT_AT:
        text = text.split(cut)[0]
    return text.strip()


def _is_code(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def program(problem: Problem, completion: str) -> str:
    """The program EvalPlus judges for a completion: the prompt and the completion when the
    prompt is code (HumanEval), the completion alone otherwise (MBPP's prompt is prose)."""
    if problem.is_call_based and _mbpp_parts(problem) is None and _is_code(problem.statement):
        return problem.statement + completion + "\n"
    return completion + "\n" if completion else ""
