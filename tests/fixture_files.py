"""Writers of small benchmark files in the exact upstream schemas, so no test needs the hub.

* `write_apps_fixture`: 5 APPS problems — 3 stdin/stdout (introductory, interview,
  competition; the examples appear in the question text) and 2 call-based (a LeetCode-style
  ``class Solution`` and a plain function);
* `write_codecontests_fixture`: 2 CodeContests problems with public, private and generated
  tests, Python 3, Python 2 and C++ solutions, an incorrect solution, time/memory limits and
  class-label difficulties (JSONL or parquet);
* `write_mbpp_fixture`: 5 MBPP problems in the original ``mbpp.jsonl`` schema (one per split
  range of task ids) or the sanitized JSON schema.

Every reference solution is correct on every test of its problem: other engineers run them
end to end through the sandbox. (The tests of the loaders never execute them.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# --- APPS ---------------------------------------------------------------------------------

_EVEN_COUNT_QUESTION = """\
Petya wrote down n positive integers. Count how many of them are even.

-----Input-----

The first line contains one integer n (1 <= n <= 100). The second line contains n integers \
a_1, a_2, ..., a_n (1 <= a_i <= 10^9).

-----Output-----

Print one integer: the number of even a_i.

-----Examples-----
Input
5
1 2 3 4 6

Output
3

Input
3
1 3 5

Output
0
"""

_EVEN_COUNT_SOLUTIONS = [
    "n = int(input())\na = list(map(int, input().split()))\n"
    "print(sum(1 for x in a if x % 2 == 0))\n",
    "import sys\n\ndata = sys.stdin.read().split()\nn = int(data[0])\n"
    "print(len([x for x in data[1:1 + n] if int(x) % 2 == 0]))\n",
]

_LONGEST_RUN_QUESTION = """\
A run is a maximal block of equal consecutive letters. For each of t strings, print the \
length of its longest run.

-----Input-----

The first line contains t (1 <= t <= 1000). Each of the next t lines contains a non-empty \
string s of lowercase Latin letters (|s| <= 10^5).

-----Output-----

For each string print the length of its longest run on a separate line.

-----Example-----
Input
3
aaabb
abc
zzzz

Output
3
1
4
"""

_LONGEST_RUN_SOLUTION = """\
import sys


def longest_run(s):
    best = current = 1
    for i in range(1, len(s)):
        current = current + 1 if s[i] == s[i - 1] else 1
        best = max(best, current)
    return best


def main():
    data = sys.stdin.read().split()
    t = int(data[0])
    print("\\n".join(str(longest_run(s)) for s in data[1:1 + t]))


main()
"""

_PAIRS_QUESTION = """\
You are given n integers a_1, ..., a_n and an integer k. Count the pairs of indices i < j \
such that a_i + a_j is divisible by k.

-----Input-----

The first line contains n and k (1 <= n <= 2 * 10^5, 1 <= k <= 10^9). The second line \
contains a_1, ..., a_n (1 <= a_i <= 10^9).

-----Output-----

Print the number of pairs.

-----Examples-----
Input
5 3
1 2 3 4 5

Output
4

Input
4 2
2 4 6 8

Output
6
"""

_PAIRS_SOLUTION = """\
from collections import Counter


def main():
    n, k = map(int, input().split())
    a = list(map(int, input().split()))
    seen = Counter()
    pairs = 0
    for x in a[:n]:
        r = x % k
        pairs += seen[(k - r) % k]
        seen[r] += 1
    print(pairs)


main()
"""

_MAX_SUBARRAY_QUESTION = """\
Given an integer array nums, find the contiguous subarray (containing at least one number) \
which has the largest sum and return its sum.

Example 1:

Input: nums = [-2,1,-3,4,-1,2,1,-5,4]
Output: 6
Explanation: [4,-1,2,1] has the largest sum = 6.

Example 2:

Input: nums = [1]
Output: 1

Constraints:

1 <= nums.length <= 10^5
-10^4 <= nums[i] <= 10^4
"""

_MAX_SUBARRAY_STARTER = (
    "class Solution:\n    def maxSubArray(self, nums: List[int]) -> int:\n        "
)

_MAX_SUBARRAY_SOLUTION = """\
from typing import List


class Solution:
    def maxSubArray(self, nums: List[int]) -> int:
        best = current = nums[0]
        for x in nums[1:]:
            current = max(x, current + x)
            best = max(best, current)
        return best
"""

_DIGITAL_ROOT_QUESTION = """\
Digital root is the recursive sum of all the digits in a number.

Given n, take the sum of the digits of n. If that value has more than one digit, continue \
reducing in this way until a single-digit number is produced. The input will be a \
non-negative integer.

## Examples
```
    16  -->  1 + 6 = 7
   942  -->  9 + 4 + 2 = 15  -->  1 + 5 = 6
```
"""

_DIGITAL_ROOT_SOLUTIONS = [
    "def digital_root(n):\n    while n >= 10:\n        n = sum(int(d) for d in str(n))\n"
    "    return n\n",
    "def digital_root(n):\n    return 0 if n == 0 else 1 + (n - 1) % 9\n",
]


def _apps_row(problem_id: int, question: str, solutions: list[str], io: dict[str, Any],
              difficulty: str, url: str = "", starter_code: str = "") -> dict[str, Any]:
    return {
        "problem_id": problem_id,
        "question": question,
        "solutions": json.dumps(solutions),
        "input_output": json.dumps(io),
        "difficulty": difficulty,
        "url": url,
        "starter_code": starter_code,
    }


def apps_rows() -> list[dict[str, Any]]:
    """The APPS fixture records (``codeparrot/apps`` schema)."""
    return [
        _apps_row(
            4101, _EVEN_COUNT_QUESTION, _EVEN_COUNT_SOLUTIONS,
            {"inputs": ["5\n1 2 3 4 6\n", "3\n1 3 5\n", "1\n1000000000\n", "4\n7 8 10 13\n"],
             "outputs": ["3\n", "0\n", "1\n", "2\n"]},
            "introductory",
        ),
        _apps_row(
            1202, _LONGEST_RUN_QUESTION, [_LONGEST_RUN_SOLUTION],
            {"inputs": ["3\naaabb\nabc\nzzzz\n", "2\nabba\nq\n", ["1", "aabbbbcc"]],
             "outputs": ["3\n1\n4\n", "2\n1\n", ["4"]]},
            "interview",
        ),
        _apps_row(
            3303, _PAIRS_QUESTION, [_PAIRS_SOLUTION],
            {"inputs": ["5 3\n1 2 3 4 5\n", "4 2\n2 4 6 8\n", "1 7\n7\n",
                        "6 4\n1 3 5 7 2 6\n"],
             "outputs": ["4\n", "6\n", "0\n", "5\n"]},
            "competition",
        ),
        _apps_row(
            2404, _MAX_SUBARRAY_QUESTION, [_MAX_SUBARRAY_SOLUTION],
            {"fn_name": "maxSubArray",
             "inputs": [[[-2, 1, -3, 4, -1, 2, 1, -5, 4]], [[1]], [[5, 4, -1, 7, 8]],
                        [[-3, -1, -2]]],
             "outputs": [[6], [1], [23], [-1]]},
            "interview", "https://leetcode.com/problems/maximum-subarray/",
            _MAX_SUBARRAY_STARTER,
        ),
        _apps_row(
            4505, _DIGITAL_ROOT_QUESTION, _DIGITAL_ROOT_SOLUTIONS,
            {"fn_name": "digital_root",
             "inputs": [[16], [942], [132189], [493193], [0]],
             "outputs": [[7], [6], [6], [2], [0]]},
            "introductory", "", "def digital_root(n):\n\t",
        ),
    ]


def write_apps_fixture(path: str | Path) -> Path:
    """Write the APPS fixture as JSONL (``codeparrot/apps`` schema); return the path."""
    return _write_jsonl(path, apps_rows())


# --- CodeContests -------------------------------------------------------------------------

_PARITY_DESCRIPTION = """\
You are given t integers. For each integer n, decide whether the sum of its decimal digits \
is even.

Input

The first line contains one integer t (1 ≤ t ≤ 10^4) — the number of test cases. Each of \
the next t lines contains one integer n (1 ≤ n ≤ 10^{18}).

Output

For each test case print YES if the sum of the digits of n is even and NO otherwise.

Example

Input

3
11
123
7


Output

YES
YES
NO
"""

_PARITY_PY3 = [
    "t = int(input())\nfor _ in range(t):\n    n = input().strip()\n"
    "    print(\"YES\" if sum(map(int, n)) % 2 == 0 else \"NO\")\n",
    "import sys\n\ndata = sys.stdin.read().split()\nout = []\n"
    "for n in data[1:1 + int(data[0])]:\n"
    "    out.append(\"NO\" if sum(int(c) for c in n) & 1 else \"YES\")\n"
    "print(\"\\n\".join(out))\n",
]

_PARITY_PY2 = (
    "t = int(raw_input())\nfor _ in range(t):\n    n = raw_input().strip()\n"
    "    print \"YES\" if sum(map(int, n)) % 2 == 0 else \"NO\"\n"
)

_PARITY_CPP = """\
#include <iostream>
#include <string>
using namespace std;

int main() {
    int t;
    cin >> t;
    while (t--) {
        string n;
        cin >> n;
        int s = 0;
        for (char c : n) s += c - '0';
        cout << (s % 2 == 0 ? "YES" : "NO") << "\\n";
    }
    return 0;
}
"""

_PARITY_WRONG = (  # looks at the parity of n, not of its digit sum
    "t = int(input())\nfor _ in range(t):\n"
    "    print(\"YES\" if int(input()) % 2 == 0 else \"NO\")\n"
)

_ORDINARY_DESCRIPTION = """\
A positive integer is called ordinary if all the digits in its decimal notation are the \
same. For example, 1, 2 and 99 are ordinary, while 719 and 2021 are not.

For a given number n, find the number of ordinary numbers among the numbers from 1 to n.

Input

The first line contains one integer t (1 ≤ t ≤ 10^4). Then t test cases follow. Each test \
case is one line containing one integer n (1 ≤ n ≤ 10^9).

Output

For each test case output the number of ordinary numbers among numbers from 1 to n.

Example

Input

6
1
2
3
4
5
100


Output

1
2
3
4
5
18
"""

_ORDINARY_PY3 = [
    "def ordinary_count(n):\n    count = 0\n    for length in range(1, len(str(n)) + 1):\n"
    "        for digit in range(1, 10):\n            if int(str(digit) * length) <= n:\n"
    "                count += 1\n    return count\n\n\nt = int(input())\n"
    "for _ in range(t):\n    print(ordinary_count(int(input())))\n",
]

_ORDINARY_CPP = """\
#include <iostream>
using namespace std;

int main() {
    int t;
    cin >> t;
    while (t--) {
        long long n;
        cin >> n;
        int count = 0;
        for (int d = 1; d <= 9; ++d) {
            for (long long x = d; x <= n; x = x * 10 + d) ++count;
        }
        cout << count << "\\n";
    }
    return 0;
}
"""

PYTHON2, CPP, PYTHON3 = 1, 2, 3  # CodeContests solution languages
CODEFORCES = 2  # CodeContests source


def _cc_row(name: str, description: str, tests: dict[str, list[tuple[str, str]]],
            solutions: list[tuple[int, str]], incorrect: list[tuple[int, str]],
            difficulty: int, time_limit: dict[str, int] | None, memory: int,
            rating: int, tags: list[str]) -> dict[str, Any]:
    contest, index = name.split(".")[0].split("_")

    def group(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
        return {"input": [i for i, _ in pairs], "output": [o for _, o in pairs]}

    return {
        "name": name,
        "description": description,
        "public_tests": group(tests["public"]),
        "private_tests": group(tests["private"]),
        "generated_tests": group(tests["generated"]),
        "source": CODEFORCES,
        "difficulty": difficulty,
        "solutions": {"language": [lang for lang, _ in solutions],
                      "solution": [code for _, code in solutions]},
        "incorrect_solutions": {"language": [lang for lang, _ in incorrect],
                                "solution": [code for _, code in incorrect]},
        "cf_contest_id": int(contest),
        "cf_index": index,
        "cf_points": 500.0,
        "cf_rating": rating,
        "cf_tags": tags,
        "is_description_translated": False,
        "untranslated_description": "",
        "time_limit": time_limit,
        "memory_limit_bytes": memory,
        "input_file": "",
        "output_file": "",
    }


def codecontests_rows() -> list[dict[str, Any]]:
    """The CodeContests fixture records (``deepmind/code_contests`` schema)."""
    return [
        _cc_row(
            "9001_A. Digit Sum Parity", _PARITY_DESCRIPTION,
            {"public": [("3\n11\n123\n7\n", "YES\nYES\nNO\n")],
             "private": [("2\n1000000000000000000\n99\n", "NO\nYES\n"), ("1\n2\n", "YES\n")],
             "generated": [("4\n10\n20\n55\n908\n", "NO\nYES\nYES\nNO\n"),
                           ("1\n999999999999999999\n", "YES\n"),
                           ("2\n1\n19\n", "NO\nYES\n")]},
            [(PYTHON3, _PARITY_PY3[0]), (CPP, _PARITY_CPP), (PYTHON2, _PARITY_PY2),
             (PYTHON3, _PARITY_PY3[1])],
            [(PYTHON3, _PARITY_WRONG)],
            7, {"seconds": 1, "nanos": 0}, 256000000, 800, ["implementation", "math"],
        ),
        _cc_row(
            "9001_B. Ordinary Numbers", _ORDINARY_DESCRIPTION,
            {"public": [("6\n1\n2\n3\n4\n5\n100\n", "1\n2\n3\n4\n5\n18\n")],
             "private": [("3\n9\n10\n11\n", "9\n9\n10\n"),
                         ("2\n1000000000\n999999999\n", "81\n81\n")],
             "generated": [("2\n22\n21\n", "11\n10\n"), ("1\n555\n", "23\n")]},
            [(CPP, _ORDINARY_CPP), (PYTHON3, _ORDINARY_PY3[0])],
            [],
            8, {"seconds": 2, "nanos": 500000000}, 268435456, 800, ["brute force", "math"],
        ),
    ]


def write_codecontests_fixture(path: str | Path, fmt: str = "jsonl") -> Path:
    """Write the CodeContests fixture as ``jsonl`` or ``parquet``; return the path."""
    rows = codecontests_rows()
    if fmt == "jsonl":
        return _write_jsonl(path, rows)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), path)
        return path
    raise ValueError(f"fmt must be 'jsonl' or 'parquet', got {fmt!r}")


# --- MBPP ---------------------------------------------------------------------------------


def _mbpp_row(task_id: int, text: str, code: str, tests: list[str], setup: str = "",
              challenge: list[str] | None = None) -> dict[str, Any]:
    return {
        "text": text,
        "code": code,
        "task_id": task_id,
        "test_setup_code": setup,
        "test_list": tests,
        "challenge_test_list": challenge or [],
    }


def mbpp_rows() -> list[dict[str, Any]]:
    """The MBPP fixture records (original ``mbpp.jsonl`` schema), one per split range."""
    return [
        _mbpp_row(  # prompt split; CRLF line ends as in the original file
            3, "Write a function to find the elements shared by two tuples.",
            "def shared_elements(a, b):\r\n    return tuple(sorted(set(a) & set(b)))",
            ["assert set(shared_elements((3, 4, 5, 6), (5, 7, 4, 10))) == set((4, 5))",
             "assert set(shared_elements((1, 2, 3, 4), (5, 4, 3, 7))) == set((3, 4))",
             "assert set(shared_elements((11, 12, 14, 13), (17, 15, 14, 13))) == set((13, 14))"],
        ),
        _mbpp_row(  # test split; the tests need an import
            17, "Write a function to compute the area of a circle of radius r.",
            "import math\ndef circle_area(r):\n    return math.pi * r * r",
            ["assert math.isclose(circle_area(1), 3.141592653589793)",
             "assert math.isclose(circle_area(2), 12.566370614359172)",
             "assert math.isclose(circle_area(0.5), 0.7853981633974483)"],
            setup="import math",
        ),
        _mbpp_row(  # test split, with challenge tests
            120, "Write a function to reverse the order of the words in a sentence.",
            "def reverse_words(s):\n    return ' '.join(reversed(s.split()))",
            ["assert reverse_words(\"hello world\") == \"world hello\"",
             "assert reverse_words(\"one\") == \"one\"",
             "assert reverse_words(\"a b c\") == \"c b a\""],
            challenge=["assert reverse_words(\"  spaced   out  \") == \"out spaced\""],
        ),
        _mbpp_row(  # validation split
            530, "Write a python function to count the vowels in a string.",
            "def count_vowels(s):\n    return sum(1 for c in s.lower() if c in 'aeiou')",
            ["assert count_vowels(\"python\") == 1",
             "assert count_vowels(\"AEIOU\") == 5",
             "assert count_vowels(\"rhythm\") == 0"],
        ),
        _mbpp_row(  # train split
            700, "Write a function to find the n-th triangular number.",
            "def triangular(n):\n    return n * (n + 1) // 2",
            ["assert triangular(1) == 1", "assert triangular(4) == 10",
             "assert triangular(10) == 55"],
        ),
    ]


def _sanitized(row: dict[str, Any]) -> dict[str, Any]:
    setup = row["test_setup_code"]
    return {
        "source_file": "Benchmark Questions Verification V2.ipynb",
        "task_id": row["task_id"],
        "prompt": row["text"],
        "code": row["code"].replace("\r\n", "\n"),
        "test_imports": setup.splitlines() if setup else [],
        "test_list": row["test_list"],
    }


def write_mbpp_fixture(path: str | Path, sanitized: bool = False) -> Path:
    """Write the MBPP fixture: ``mbpp.jsonl`` schema, or (``sanitized``) the JSON array of
    ``sanitized-mbpp.json``; return the path."""
    rows = mbpp_rows()
    if not sanitized:
        return _write_jsonl(path, rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([_sanitized(r) for r in rows], indent=1), encoding="utf-8")
    return path


def _write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path
