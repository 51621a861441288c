"""`motcoder data codefeedback`: the paper recipe's instruction data built from CodeFeedback
rows (a local fixture file with HTML entities, tabs, CRLF and a bad row), cleaned as the
original's data script; the instruction loader cleans raw rows the same way; bad rows name
their place; the output is written atomically and reads as training data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from motcoder.cli import app
from motcoder.datagen.codefeedback import REPO, build_code_instruct
from motcoder.datagen.reflection_loaders import load_instruction_data
from motcoder.datagen.reflection_schema import SchemaError, read_samples
from motcoder.problems.errors import ProblemLoadError
from motcoder.training import reflection_serialize

ROWS = [
    {"query": "Check `a &lt; b &amp;&amp; b &gt; c`.\r\n\tKeep &quot;this&quot;  ",
     "answer": "Here:\r\n```python\ndef f(a, b, c):\n\treturn a &lt; b and b &gt; c\n```\r\n  ",
     "resource": "evol", "lang": "python"},
    {"query": "Print &#39;hi&#39; (&amp;lt; stays escaped once)",
     "answer": "\n\n  print(&#x27;hi&#x27;)  # &amp;lt;\t\r\n"},
]
# What the original keeps: the query only HTML-unescaped (CRLF, tab, trailing blanks stay);
# the answer unescaped, CRLF -> LF, tab -> 4 spaces, stripped. Unescaped once, not twice.
EXPECTED = [
    ("Check `a < b && b > c`.\r\n\tKeep \"this\"  ",
     "Here:\n```python\ndef f(a, b, c):\n    return a < b and b > c\n```"),
    ("Print 'hi' (&lt; stays escaped once)", "print('hi')  # &lt;"),
]
MISSING = {"query": "Only a question.", "lang": "python"}


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def generation(query: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": [{"type": "text", "content": query}]},
                         {"role": "assistant",
                          "content": [{"type": "text", "content": answer}]}],
            "type": "generation"}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_rows_are_cleaned_as_the_original_and_read_as_training_data(tmp_path):
    out = tmp_path / "train" / "code_instruct.jsonl"
    report = build_code_instruct(out, write_rows(tmp_path / "cf.jsonl", ROWS))
    assert (report.read, report.written, report.skipped) == (2, 2, 0)
    assert lines(out) == [generation(q, a) for q, a in EXPECTED]
    assert [s.to_dict() for s in read_samples(out)] == lines(out)
    for i, record in enumerate(lines(out)):    # what `train reflection` parses
        sample = reflection_serialize.parse_sample(record, f"{out}:{i + 1}")
        assert sample.kind == "generation" and len(sample.messages) == 2


def test_the_instruction_loader_cleans_raw_rows_the_same_way(tmp_path):
    path = write_rows(tmp_path / "cf.jsonl", ROWS)
    assert [s.to_dict() for s in load_instruction_data(path)] == \
        [generation(q, a) for q, a in EXPECTED]


def test_parquet_and_limit(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "cf.parquet"
    pq.write_table(pa.Table.from_pylist([{"query": r["query"], "answer": r["answer"]}
                                         for r in ROWS]), path)
    report = build_code_instruct(tmp_path / "one.jsonl.gz", path, limit=1)
    assert (report.read, report.written) == (1, 1)
    assert [s.to_dict() for s in read_samples(tmp_path / "one.jsonl.gz")] == \
        [generation(*EXPECTED[0])]


def test_a_bad_row_names_file_and_line_and_leaves_the_output_as_it_was(tmp_path):
    path = write_rows(tmp_path / "cf.jsonl", [*ROWS, MISSING])
    out = tmp_path / "code_instruct.jsonl"
    out.write_text("old\n")
    with pytest.raises(SchemaError, match=r"cf\.jsonl:3: answer: must be a non-empty string"):
        build_code_instruct(out, path)
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cf.jsonl", "code_instruct.jsonl"]
    blank = write_rows(tmp_path / "blank.jsonl", [{"query": "q", "answer": " &nbsp;\t"}])
    with pytest.raises(SchemaError, match=r"blank\.jsonl:1: .*final answer has no text"):
        build_code_instruct(out, blank)


def test_skip_invalid_counts_the_bad_rows(tmp_path):
    path = write_rows(tmp_path / "cf.jsonl",
                      [ROWS[0], MISSING, ROWS[1], {"query": 3, "answer": "a"}])
    report = build_code_instruct(tmp_path / "x.jsonl", path, skip_invalid=True)
    assert (report.read, report.written, report.skipped) == (4, 2, 2)
    assert [r.split(": ")[0:2] for r in report.skipped_rows] == \
        [[f"{path}:2", "answer"], [f"{path}:4", "query"]]
    assert lines(tmp_path / "x.jsonl") == [generation(q, a) for q, a in EXPECTED]
    # A line that is not a JSON object is a broken file, not a row to skip.
    path.write_text(path.read_text() + "[1, 2]\n")
    with pytest.raises(ProblemLoadError, match=r"cf\.jsonl:5: expected a JSON object"):
        build_code_instruct(tmp_path / "x.jsonl", path, skip_invalid=True)


def test_without_the_hub_the_error_says_how_to_pass_a_local_file(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ProblemLoadError) as info:
        build_code_instruct(tmp_path / "x.jsonl")
    message = str(info.value)
    assert REPO in message and "--data PATH" in message and '"query"' in message
    assert not (tmp_path / "x.jsonl").exists()


def test_command(tmp_path):
    data = write_rows(tmp_path / "cf.jsonl", [ROWS[0], MISSING, ROWS[1]])
    out = tmp_path / "code_instruct.jsonl"
    bad = cli("data", "codefeedback", "--data", data, "--out", out)
    assert bad.exit_code == 2 and f"{data}:2: answer" in bad.output.replace("\n", "")
    assert not out.exists()
    ok = cli("data", "codefeedback", "--data", data, "--out", out, "--skip-invalid")
    assert ok.exit_code == 0, ok.output
    assert lines(out) == [generation(q, a) for q, a in EXPECTED]
    assert re.search(r"│\s+3\s+│\s+2\s+│\s+1\s+│", ok.output), ok.output
    missing = cli("data", "codefeedback", "--data", tmp_path / "no.jsonl", "--out", out)
    assert missing.exit_code == 2 and "no such file" in missing.output
