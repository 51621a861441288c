"""A toy MoT data set that runs anywhere: small stdin/stdout problems with hand-written
answers, for trying the training pipeline on a CPU (``motcoder data toy``) and for the tests.

Each problem has a Module-of-Thought answer in the exact `check_mot` shape (``Step 1`` with
outlines — headers + docstrings — then ``Step 2`` with one final program) and a plain
one-block answer ("normal" data). User prompts are rendered with `render_prompt`, as
inference renders them. `TRAIN` is for training, `HELD_OUT` for evaluation (each with a
difficulty, so tables show the per-difficulty shape). The test suite checks that every answer
has its structure and passes its problem's tests in the sandbox.

`write_toy_set(directory)` writes ``train_problems.jsonl`` and ``eval_problems.jsonl`` (our
problem format), ``mot.jsonl`` and ``normal.jsonl`` (chat training records, as
``motcoder data export`` writes them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from motcoder.problems.model import Problem, Test
from motcoder.prompts import render_prompt


@dataclass(frozen=True)
class Toy:
    """One problem: two helpers (read the input, compute the answer) and the main line."""

    id: str
    statement: str
    read_doc: str
    read_body: str
    solve_name: str
    solve_doc: str
    solve_body: str
    tests: tuple[tuple[str, str], ...]   # (stdin, expected stdout)
    difficulty: str = "introductory"


TRAIN: tuple[Toy, ...] = (
    Toy("sum", "Read integers separated by spaces and print their sum.",
        "Return the integers in the input text.", "return [int(x) for x in text.split()]",
        "total", "Return the sum of the numbers.", "return sum(numbers)",
        (("1 2 3\n", "6\n"), ("10 -4\n", "6\n"))),
    Toy("max", "Read integers separated by spaces and print the largest one.",
        "Return the integers in the input text.", "return [int(x) for x in text.split()]",
        "largest", "Return the largest of the numbers.", "return max(numbers)",
        (("4 9 2\n", "9\n"), ("-5 -3\n", "-3\n"))),
    Toy("min", "Read integers separated by spaces and print the smallest one.",
        "Return the integers in the input text.", "return [int(x) for x in text.split()]",
        "smallest", "Return the smallest of the numbers.", "return min(numbers)",
        (("4 9 2\n", "2\n"), ("-5 -3\n", "-5\n"))),
    Toy("reverse", "Read one line of text and print it reversed.",
        "Return the line of the input text.", "return text.strip()",
        "reverse", "Return the line read backwards.", "return line[::-1]",
        (("abc\n", "cba\n"), ("hello\n", "olleh\n"))),
    Toy("upper", "Read one line of text and print it in upper case.",
        "Return the line of the input text.", "return text.strip()",
        "shout", "Return the line in upper case.", "return line.upper()",
        (("abc\n", "ABC\n"), ("Hi there\n", "HI THERE\n"))),
    Toy("vowels", "Read one line of text and print how many vowels (aeiou) it has.",
        "Return the line of the input text.", "return text.strip()",
        "count_vowels", "Return how many letters of the line are vowels.",
        "return sum(ch in 'aeiou' for ch in line)",
        (("banana\n", "3\n"), ("xyz\n", "0\n"))),
    Toy("product", "Read two integers and print their product.",
        "Return the integers in the input text.", "return [int(x) for x in text.split()]",
        "product", "Return the product of the two numbers.", "return numbers[0] * numbers[1]",
        (("3 4\n", "12\n"), ("-2 5\n", "-10\n"))),
    Toy("diff", "Read two integers and print the absolute value of their difference.",
        "Return the integers in the input text.", "return [int(x) for x in text.split()]",
        "distance", "Return how far apart the two numbers are.",
        "return abs(numbers[0] - numbers[1])",
        (("3 10\n", "7\n"), ("5 -2\n", "7\n"))),
    Toy("words", "Read one line of text and print how many words it has.",
        "Return the line of the input text.", "return text.strip()",
        "count_words", "Return the number of words in the line.", "return len(line.split())",
        (("a b c\n", "3\n"), ("hello\n", "1\n"))),
    Toy("length", "Read one line of text and print its length.",
        "Return the line of the input text.", "return text.strip()",
        "length", "Return the number of characters in the line.", "return len(line)",
        (("abc\n", "3\n"), ("hello world\n", "11\n"))),
    Toy("evens", "Read integers separated by spaces and print how many of them are even.",
        "Return the integers in the input text.", "return [int(x) for x in text.split()]",
        "count_even", "Return how many of the numbers are even.",
        "return sum(n % 2 == 0 for n in numbers)",
        (("1 2 4\n", "2\n"), ("3 5\n", "0\n"))),
    Toy("square", "Read one integer n and print n squared.",
        "Return the integers in the input text.", "return [int(x) for x in text.split()]",
        "square", "Return the first number times itself.", "return numbers[0] ** 2",
        (("5\n", "25\n"), ("-3\n", "9\n"))),
    Toy("digits", "Read one non-negative integer and print the sum of its digits.",
        "Return the line of the input text.", "return text.strip()",
        "digit_sum", "Return the sum of the digits in the line.",
        "return sum(int(ch) for ch in line)",
        (("123\n", "6\n"), ("9090\n", "18\n"))),
    Toy("palindrome", "Read one word and print YES if it reads the same backwards, else NO.",
        "Return the line of the input text.", "return text.strip()",
        "verdict", "Return YES when the line is a palindrome, else NO.",
        "return 'YES' if line == line[::-1] else 'NO'",
        (("level\n", "YES\n"), ("abc\n", "NO\n"))),
)

HELD_OUT: tuple[Toy, ...] = (
    Toy("squares", "Read integers separated by spaces and print the sum of their squares.",
        "Return the integers in the input text.", "return [int(x) for x in text.split()]",
        "sum_squares", "Return the sum of the squares of the numbers.",
        "return sum(n * n for n in numbers)", (("1 2 3\n", "14\n"),), "interview"),
    Toy("count-a", "Read one line of text and print how many times the letter a occurs.",
        "Return the line of the input text.", "return text.strip()",
        "count_a", "Return how many letters of the line are 'a'.", "return line.count('a')",
        (("banana\n", "3\n"),)),
    Toy("spread", "Read integers separated by spaces and print the largest minus the "
        "smallest.",
        "Return the integers in the input text.", "return [int(x) for x in text.split()]",
        "spread", "Return the largest number minus the smallest.",
        "return max(numbers) - min(numbers)", (("4 9 2\n", "7\n"),), "interview"),
    Toy("lower", "Read one line of text and print it in lower case.",
        "Return the line of the input text.", "return text.strip()",
        "whisper", "Return the line in lower case.", "return line.lower()",
        (("ABC\n", "abc\n"),)),
    Toy("double", "Read one integer n and print 2 times n.",
        "Return the integers in the input text.", "return [int(x) for x in text.split()]",
        "double", "Return twice the first number.", "return 2 * numbers[0]",
        (("21\n", "42\n"),)),
    Toy("odds", "Read integers separated by spaces and print how many of them are odd.",
        "Return the integers in the input text.", "return [int(x) for x in text.split()]",
        "count_odd", "Return how many of the numbers are odd.",
        "return sum(n % 2 == 1 for n in numbers)", (("1 2 3\n", "2\n"),), "interview"),
)

READ_ARG = {"Return the integers in the input text.": "numbers",
            "Return the line of the input text.": "line"}


def problem(toy: Toy) -> Problem:
    """The toy as a `Problem`: its first test public, the others private."""
    tests = [Test(kind="stdio", visibility="public" if i == 0 else "private", input=i_, output=o)
             for i, (i_, o) in enumerate(toy.tests)]
    return Problem(id=f"toy/{toy.id}", source="toy", statement=toy.statement, tests=tests,
                   difficulty=toy.difficulty, solutions=[program(toy)])


def program(toy: Toy) -> str:
    """The toy's reference program (the final program of its MoT answer)."""
    arg = READ_ARG[toy.read_doc]
    return (f'import sys\n\n\ndef read_input(text):\n    """{toy.read_doc}"""\n'
            f'    {toy.read_body}\n\n\n'
            f'def {toy.solve_name}({arg}):\n    """{toy.solve_doc}"""\n'
            f'    {toy.solve_body}\n\n\n'
            f'print({toy.solve_name}(read_input(sys.stdin.read())))\n')


def mot_answer(toy: Toy) -> str:
    """The hand-written MoT answer of a toy problem."""
    arg = READ_ARG[toy.read_doc]
    outline = (f'def read_input(text):\n    """{toy.read_doc}"""\n\n\n'
               f'def {toy.solve_name}({arg}):\n    """{toy.solve_doc}"""\n')
    return (f"Step 1: outline the sub-modules.\n\n```python\n{outline}```\n\n"
            f"Step 2: implement them and combine them into the program.\n\n"
            f"```python\n{program(toy)}```")


def normal_answer(toy: Toy) -> str:
    """A one-block answer to the same problem (a "normal" sample)."""
    arg = READ_ARG[toy.read_doc]
    body = toy.read_body.replace("return ", f"{arg} = ", 1).replace("text", "sys.stdin.read()")
    value = toy.solve_body.replace("return ", "", 1)
    return f"```python\nimport sys\n\n{body}\nprint({value})\n```"


def chat_record(toy: Toy, style: str = "mot") -> dict:
    messages = render_prompt(problem(toy), "mot" if style == "mot" else "normal")
    answer = mot_answer(toy) if style == "mot" else normal_answer(toy)
    return {"messages": [*messages, {"role": "assistant", "content": answer}],
            "task_id": f"toy/{toy.id}", "source": "toy", "style": style}


def write_chat(path: Path, toys: tuple[Toy, ...] = TRAIN, style: str = "mot") -> Path:
    path.write_text("".join(json.dumps(chat_record(t, style)) + "\n" for t in toys))
    return path


def write_alpaca(path: Path, toys: tuple[Toy, ...] = TRAIN) -> Path:
    rows = [{"instruction": render_prompt(problem(t), "mot")[-1]["content"], "input": "",
             "output": mot_answer(t)} for t in toys]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_toy_set(directory: str | Path) -> dict[str, Path]:
    """Write the toy set's files into ``directory``; return them by name."""
    from motcoder.problems.registry import write_problems

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / f"{name}.jsonl"
             for name in ("train_problems", "eval_problems", "mot", "normal")}
    write_problems([problem(t) for t in TRAIN], paths["train_problems"])
    write_problems([problem(t) for t in HELD_OUT], paths["eval_problems"])
    write_chat(paths["mot"], TRAIN, "mot")
    write_chat(paths["normal"], TRAIN, "normal")
    return paths
