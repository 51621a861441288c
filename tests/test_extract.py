"""Code extraction on answers shaped like what small and mid-size instruct models produce."""

from __future__ import annotations

import ast

import pytest

from motcoder.prompts.extract import add_missing_context, code_blocks, extract_code, is_outline

FENCE = "```"

# (id, model answer, entry point, expected program)
CASES: list[tuple[str, str, str | None, str]] = [
    (
        "qwen-explain-then-code-then-explain",
        "To solve this, we count the even numbers.\n\n"
        "```python\nn = int(input())\na = list(map(int, input().split()))\n"
        "print(sum(1 for x in a if x % 2 == 0))\n```\n\n"
        "### Explanation\n1. Read n.\n2. Count.\n",
        None,
        "n = int(input())\na = list(map(int, input().split()))\n"
        "print(sum(1 for x in a if x % 2 == 0))\n",
    ),
    (
        "smollm-babble-and-half-block",
        "Sure! Here is a Python program that adds two numbers. Python is a great language "
        "for adding numbers because it is easy.\n\n```python\ndef add(a, b):\n"
        "    return a + b\n\nnum1 = int(input(\"Enter the first number: \"))\nnum2 = int(inp",
        None,
        "def add(a, b):\n    return a + b\n\nnum1 = int(input(\"Enter the first number: \"))\n",
    ),
    (
        "smollm-prose-only",
        "I'm sorry, but I cannot solve this problem. The problem asks us to add the numbers "
        "and print the result.\nNote: the answer is 5.\n",
        None,
        "",
    ),
    (
        "no-fence-whole-text-is-code",
        "import sys\n\ndef main():\n    data = sys.stdin.read().split()\n"
        "    print(int(data[0]) + int(data[1]))\n\nmain()\n",
        None,
        "import sys\n\ndef main():\n    data = sys.stdin.read().split()\n"
        "    print(int(data[0]) + int(data[1]))\n\nmain()\n",
    ),
    (
        "no-fence-code-between-prose",
        "Here is the solution:\n\nn = int(input())\nprint(n * 2)\n\n"
        "This program reads n and prints twice n.\nIt runs in constant time.\n",
        None,
        "n = int(input())\nprint(n * 2)\n",
    ),
    (
        "mot-outline-then-final",
        "Step 1: sub-modules.\n```python\ndef parse(text):\n    \"\"\"Split the input.\"\"\"\n\n"
        "def solve(nums):\n    \"\"\"Return the answer.\"\"\"\n```\n"
        "Step 2: the final program.\n```python\nimport sys\n\ndef parse(text):\n"
        "    return list(map(int, text.split()))\n\ndef solve(nums):\n    return max(nums)\n\n"
        "print(solve(parse(sys.stdin.read())))\n```\n",
        None,
        "import sys\n\ndef parse(text):\n    return list(map(int, text.split()))\n\n"
        "def solve(nums):\n    return max(nums)\n\nprint(solve(parse(sys.stdin.read())))\n",
    ),
    (
        "mot-modules-in-separate-blocks-final-uses-them",
        "### Step 1\n```python\ndef read_numbers():\n    \"\"\"Read the list.\"\"\"\n\n"
        "def total(xs):\n    \"\"\"Sum.\"\"\"\n```\n### Step 2\n```python\nimport sys\n\n"
        "def read_numbers():\n    return list(map(int, sys.stdin.read().split()))[1:]\n```\n"
        "```python\ndef total(xs):\n    return sum(xs)\n```\nFinal program:\n"
        "```python\nprint(total(read_numbers()))\n```\n",
        None,
        "import sys\n\ndef read_numbers():\n    return list(map(int, sys.stdin.read().split()))"
        "[1:]\n\ndef total(xs):\n    return sum(xs)\n\n\nprint(total(read_numbers()))\n",
    ),
    (
        "mot-final-block-truncated",
        "```python\ndef count_even(xs):\n    \"\"\"How many even numbers.\"\"\"\n```\n\n"
        "```python\ndef count_even(xs):\n    return sum(x % 2 == 0 for x in xs)\n\n"
        "n = int(input())\nprint(count_even(map(int, input().split())))\n\n# Example run:\n"
        "# input: 3\n#        1 2 4\n# out",
        None,
        "def count_even(xs):\n    return sum(x % 2 == 0 for x in xs)\n\nn = int(input())\n"
        "print(count_even(map(int, input().split())))\n\n# Example run:\n# input: 3\n"
        "#        1 2 4\n# out\n",
    ),
    (
        "function-then-example-usage-block",
        "```python\ndef is_palindrome(s: str) -> bool:\n    return s == s[::-1]\n```\n\n"
        "Example usage:\n```python\nprint(is_palindrome(\"racecar\"))  # True\n```\n",
        "is_palindrome",
        "def is_palindrome(s: str) -> bool:\n    return s == s[::-1]\n",
    ),
    (
        "stdin-program-then-test-harness-block",
        "```python\ndef main():\n    n = int(input())\n    print(n + 1)\n\n"
        "if __name__ == \"__main__\":\n    main()\n```\nTo test it:\n```python\nimport io, sys\n"
        "sys.stdin = io.StringIO(\"41\")\nmain()\n```\n",
        None,
        "def main():\n    n = int(input())\n    print(n + 1)\n\nif __name__ == \"__main__\":\n"
        "    main()\n",
    ),
    (
        "asserts-block-after-solution",
        "```python\ndef double(x):\n    return 2 * x\n```\nTests:\n```python\n"
        "assert double(2) == 4\nassert double(0) == 0\n```\n",
        None,
        "def double(x):\n    return 2 * x\n",
    ),
    (
        "tilde-fence",
        "Solution:\n~~~python\nprint(sum(map(int, input().split())))\n~~~\n",
        None,
        "print(sum(map(int, input().split())))\n",
    ),
    (
        "py-tag",
        "```py\nx = int(input())\nprint(x * x)\n```",
        None,
        "x = int(input())\nprint(x * x)\n",
    ),
    (
        "untagged-code-and-untagged-sample-data",
        "Input:\n```\n3\n1 2 3\n```\nOutput:\n```\n6\n```\nCode:\n```\n"
        "input()\nprint(sum(map(int, input().split())))\n```\n",
        None,
        "input()\nprint(sum(map(int, input().split())))\n",
    ),
    (
        "python-tagged-output-block-is-not-code",
        "```python\nprint(int(input()) * 3)\n```\nFor input 2 it prints:\n```python\n6\n```\n",
        None,
        "print(int(input()) * 3)\n",
    ),
    (
        "label-only-block",
        "```\nOutput: YES\n```\n",
        None,
        "",
    ),
    (
        "doctest-prompts",
        "```python\n>>> def inc(x):\n...     return x + 1\n...\n>>> inc(2)\n3\n```",
        "inc",
        "def inc(x):\n    return x + 1\n\ninc(2)\n",
    ),
    (
        "docstring-doctests-stay",
        "```python\ndef inc(x):\n    \"\"\"Add one.\n\n    >>> inc(1)\n    2\n    \"\"\"\n"
        "    return x + 1\n```",
        "inc",
        "def inc(x):\n    \"\"\"Add one.\n\n    >>> inc(1)\n    2\n    \"\"\"\n    return x + 1\n",
    ),
    (
        "indented-block-in-list",
        "1. Read the input.\n2. Print it back:\n\n    ```python\n    s = input()\n"
        "    if s:\n        print(s)\n    ```\n",
        None,
        "s = input()\nif s:\n    print(s)\n",
    ),
    (
        "leading-indentation-no-fence",
        "    def square(x):\n        return x * x\n",
        "square",
        "def square(x):\n    return x * x\n",
    ),
    (
        "cpp-and-python-blocks",
        "In C++:\n```cpp\n#include <cstdio>\nint main(){int a,b;scanf(\"%d%d\",&a,&b);"
        "printf(\"%d\",a+b);}\n```\nIn Python:\n```python\na, b = map(int, input().split())\n"
        "print(a + b)\n```\n",
        None,
        "a, b = map(int, input().split())\nprint(a + b)\n",
    ),
    (
        "leetcode-class-method",
        "```python\nfrom typing import List\n\nclass Solution:\n"
        "    def maxProfit(self, prices: List[int]) -> int:\n        best, low = 0, float('inf')\n"
        "        for p in prices:\n            low = min(low, p)\n"
        "            best = max(best, p - low)\n        return best\n```\n"
        "This runs in O(n).\n```python\nprint(Solution().maxProfit([7, 1, 5]))\n```",
        "maxProfit",
        "from typing import List\n\nclass Solution:\n"
        "    def maxProfit(self, prices: List[int]) -> int:\n        best, low = 0, float('inf')\n"
        "        for p in prices:\n            low = min(low, p)\n"
        "            best = max(best, p - low)\n        return best\n",
    ),
    (
        "two-versions-last-wins",
        "Brute force:\n```python\ndef f(n):\n    return sum(range(n + 1))\n```\nFaster:\n"
        "```python\ndef f(n):\n    return n * (n + 1) // 2\n```\n",
        "f",
        "def f(n):\n    return n * (n + 1) // 2\n",
    ),
    (
        "entry-point-block-not-last",
        "```python\ndef solve(a):\n    return a[::-1]\n```\n```python\n"
        "for case in ([1, 2], [3]):\n    print(solve(case))\n```\n",
        "solve",
        "def solve(a):\n    return a[::-1]\n",
    ),
    (
        "helpers-in-earlier-block-entry-in-final",
        "```python\nimport math\n\ndef is_prime(n):\n    if n < 2:\n        return False\n"
        "    return all(n % d for d in range(2, math.isqrt(n) + 1))\n```\n"
        "```python\ndef count_primes(xs):\n    return sum(map(is_prime, xs))\n```\n",
        "count_primes",
        "import math\n\ndef is_prime(n):\n    if n < 2:\n        return False\n"
        "    return all(n % d for d in range(2, math.isqrt(n) + 1))\n\n\n"
        "def count_primes(xs):\n    return sum(map(is_prime, xs))\n",
    ),
    (
        "glued-closing-fence",
        "```python\nprint(int(input()) * 2)```\nThat's it!",
        None,
        "print(int(input()) * 2)\n",
    ),
    (
        "fence-opened-at-end-of-prose-line",
        "Here you go: ```python\nprint('hi')\n```",
        None,
        "print('hi')\n",
    ),
    (
        "unclosed-block-then-new-tagged-fence",
        "```python\ndef g():\n    return 1\n\n```python\nprint(g())\n```\n",
        None,
        "def g():\n    return 1\n\n\nprint(g())\n",
    ),
    (
        "syntax-error-kept",
        "```python\ndef f(x)\n    return x\n```",
        "f",
        "def f(x)\n    return x\n",
    ),
    (
        "think-draft-then-final",
        "<think>\nMaybe:\n```python\nprint(0)\n```\nNo, that ignores the input.\n</think>\n"
        "Final answer:\n```python\nprint(int(input()) + 1)\n```",
        None,
        "print(int(input()) + 1)\n",
    ),
    (
        "python-word-line-artefact",
        "```\npython\nprint(input()[::-1])\n```",
        None,
        "print(input()[::-1])\n",
    ),
    (
        "windows-line-endings-and-main-guard",
        "```python\r\ndef main():\r\n    print(input().upper())\r\n\r\n"
        "if __name__ == \"__main__\":\r\n    main()\r\n```\r\n",
        None,
        "def main():\n    print(input().upper())\n\nif __name__ == \"__main__\":\n    main()\n",
    ),
    (
        "entry-point-renamed-falls-back-to-last-program",
        "```python\ndef helper(x):\n    return x\n```\n```python\ndef answer(x):\n"
        "    return helper(x) * 2\n```",
        "solution",
        "def helper(x):\n    return x\n\n\ndef answer(x):\n    return helper(x) * 2\n",
    ),
    ("empty", "", None, ""),
    ("whitespace", "  \n\n  ", None, ""),
]


@pytest.mark.parametrize(("text", "entry_point", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_extract_cases(text: str, entry_point: str | None, expected: str) -> None:
    assert extract_code(text, entry_point=entry_point) == expected


@pytest.mark.parametrize(("text", "entry_point", "expected"),
                         [c[1:] for c in CASES if c[0] != "syntax-error-kept" and c[3]],
                         ids=[c[0] for c in CASES if c[0] != "syntax-error-kept" and c[3]])
def test_extracted_programs_parse(text: str, entry_point: str | None, expected: str) -> None:
    ast.parse(extract_code(text, entry_point=entry_point))


def test_code_blocks_reports_languages_and_unclosed() -> None:
    text = f"a\n{FENCE}python\nx = 1\n{FENCE}\n~~~~text\nhi\n~~~~\n{FENCE}\ny = 2"
    blocks = code_blocks(text)
    assert [(b.language, b.code, b.closed) for b in blocks] == [
        ("python", "x = 1", True), ("text", "hi", True), ("", "y = 2", False)]
    assert blocks[0].line == 2 and blocks[0].is_python and not blocks[1].is_python


def test_longer_fence_holds_shorter_one() -> None:
    text = "````python\ns = '''\n```\n'''\nprint(s)\n````"
    assert extract_code(text) == "s = '''\n```\n'''\nprint(s)\n"


def test_is_outline() -> None:
    assert is_outline(ast.parse("def f(x):\n    \"\"\"Doc.\"\"\"\n\ndef g():\n    ...\n"))
    assert not is_outline(ast.parse("def f(x):\n    return x\n"))
    assert not is_outline(ast.parse("def f(x):\n    \"\"\"Doc.\"\"\"\nprint(1)\n"))


def test_huge_prose_is_fast() -> None:

    text = "This is a sentence about the problem that goes on.\n" * 3000 + "x = (\n" * 200
    assert extract_code(text) == ""  # terminates (pytest-timeout guards); speed: benchmarks


def test_missing_stub_imports_are_put_back() -> None:
    starter = ("from typing import List, Tuple\nimport math\n\n\n"
               "def f(xs: List[int]) -> int:\n    \"\"\"Doc.\"\"\"\n")
    code = "def f(xs: List[int]) -> int:\n    return len(xs)\n"
    fixed, added = add_missing_context(code, starter)
    assert added == ["from typing import List, Tuple"]
    assert fixed == "from typing import List, Tuple\n\n" + code
    ast.parse(fixed)
    already = "from typing import List\n\n" + code
    assert add_missing_context(already, starter) == (already, [])
    assert add_missing_context("", starter) == ("", [])
    assert add_missing_context("def f(:\n", starter) == ("def f(:\n", [])


def test_starter_helpers_are_put_back_with_what_they_use() -> None:
    """HumanEval/32-style: the prompt defines a helper the answer calls."""
    starter = ("import math\n\n\ndef poly(xs: list, x: float):\n"
               "    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\n\n\n"
               "def find_zero(xs: list):\n    \"\"\"Doc.\"\"\"\n")
    code = "def find_zero(xs):\n    return 0.0 if poly(xs, 0.0) == 0 else 1.0\n"
    fixed, added = add_missing_context(code, starter)
    assert added[0] == "import math" and added[1].startswith("def poly(")
    assert "def find_zero(xs: list)" not in fixed  # the stub itself is not added
    env: dict = {}
    exec(compile(fixed, "<test>", "exec"), env)  # trusted test code, not a model answer
    assert env["find_zero"]([0.0, 1.0]) == 0.0
    apps = "class Solution:\n    def f(self, nums: List[int]) -> int:\n"
    assert add_missing_context("class Solution:\n    def f(self, n):\n        return n\n",
                               apps)[1] == []


def test_answers_cut_anywhere_never_break_extraction() -> None:
    """A model can run out of tokens at any character."""
    for _, text, entry_point, _ in CASES:
        for end in range(0, len(text), 5):
            code = extract_code(text[:end], entry_point=entry_point)
            assert code == "" or code.endswith("\n")
