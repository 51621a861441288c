"""`motcoder data stats` and `motcoder data export` on small run directories written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixture_files import write_apps_fixture
from motcoder.cli import app
from motcoder.datagen.records import REWRITES, Rewrite
from motcoder.datagen.stats import run_stats
from motcoder.problems.registry import load_problems
from motcoder.prompts.render import render_prompt

MOT_ANSWER = "Step 1\n```python\ndef f(x):\n    \"\"\"Doc.\"\"\"\n```\nStep 2\n```python\n" \
             "print(1)\n```"


def cli(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def rewrite(task: str, sol: int, rnd: int, status: str, reason: str = "", style: str = "mot",
            **extra) -> Rewrite:
    return Rewrite(task_id=task, solution_index=sol, round=rnd, source="apps", style=style,
                   status=status, reason=reason, message=f"why: {reason}" if reason else "",
                   answer=extra.pop("answer", MOT_ANSWER), program=extra.pop("program",
                                                                             "print(1)\n"),
                   prompt_tokens=100, completion_tokens=10, **extra)


def write_run(path: Path, data: Path, rewrites: list[Rewrite]) -> Path:
    path.mkdir(parents=True)
    config = {"command": "data transform",
              "problems": {"benchmark": "apps", "data": str(data), "split": None}}
    (path / "config.json").write_text(json.dumps(config))
    (path / REWRITES).write_text("".join(json.dumps(r.to_dict()) + "\n" for r in rewrites))
    return path


@pytest.fixture
def data_file(tmp_path) -> Path:
    return write_apps_fixture(tmp_path / "apps_fixture.jsonl")


@pytest.fixture
def mot_run(tmp_path, data_file) -> Path:
    return write_run(tmp_path / "mot", data_file, [
        rewrite("APPS/test/4101", 0, 0, "rejected", "protocol"),
        rewrite("APPS/test/4101", 0, 1, "accepted", answer="MOT ONE"),
        rewrite("APPS/test/4101", 1, 0, "accepted", answer="MOT TWO"),
        rewrite("APPS/test/4505", 0, 0, "rejected", "tests_failed",
                failed_test={"index": 1, "visibility": "private", "status": "wrong_answer",
                             "message": ""}),
        rewrite("APPS/test/4505", 0, 1, "rejected", "syntax"),
        rewrite("APPS/test/4505", 1, 0, "rejected", "protocol"),
        rewrite("APPS/test/4505", 1, 1, "rejected", "protocol"),
    ])


@pytest.fixture
def clean_run(tmp_path, data_file) -> Path:
    return write_run(tmp_path / "clean", data_file, [
        rewrite("APPS/test/4505", 0, 0, "accepted", style="clean", answer="```python\nx\n```",
                program="def digital_root(n):\n    # keep summing\n    return n\n"),
        rewrite("APPS/test/1202", 0, 0, "rejected", "several_programs", style="clean"),
    ])


# ----------------------------------------------------------------------------- stats


def test_stats_count_every_answer_and_add_up(mot_run, clean_run):
    stats = run_stats([mot_run, clean_run, mot_run])   # a repeated directory counts once
    groups = {(g["source"], g["style"]): g for g in stats["groups"]}
    mot = groups[("apps", "mot")]
    assert (mot["pre_filter"], mot["post_filter"]) == (7, 2)
    assert mot["passing_rate"] == pytest.approx(2 / 7)
    assert mot["rejected"] == {"protocol": 3, "syntax": 1, "tests_failed": 1}
    assert list(mot["rejected"]) == ["protocol", "syntax", "tests_failed"]   # rule order
    assert (mot["references"], mot["references_accepted"], mot["problems"]) == (4, 2, 2)
    assert mot["per_round"] == {"0": 4, "1": 3}
    assert mot["prompt_tokens"] == 700
    clean = groups[("apps", "clean")]
    assert (clean["pre_filter"], clean["post_filter"]) == (2, 1)
    assert clean["rejected"] == {"several_programs": 1}
    total = stats["total"]
    assert total["pre_filter"] == 9 and total["post_filter"] == 3
    for group in [*stats["groups"], total]:
        assert group["pre_filter"] == group["post_filter"] + sum(group["rejected"].values())


def test_stats_command_prints_the_table_and_json(mot_run, clean_run):
    result = cli("data", "stats", mot_run, clean_run)
    assert result.exit_code == 0, result.output
    assert "28.6%" in result.output and "50.0%" in result.output
    assert "tests_failed" in result.output and "several_programs" in result.output
    result = cli("data", "stats", mot_run, "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["groups"][0]["post_filter"] == 2 and stats["total"]["pre_filter"] == 7


def test_stats_of_a_directory_that_is_not_a_run_is_a_clear_error(tmp_path):
    result = cli("data", "stats", tmp_path / "nowhere")
    assert result.exit_code == 2 and "nowhere" in result.output
    (tmp_path / "empty").mkdir()
    result = cli("data", "stats", tmp_path / "empty")
    assert result.exit_code == 2 and "rewrites.jsonl" in result.output


# ----------------------------------------------------------------------------- export


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_chat_export_holds_accepted_rewrites_with_our_inference_prompt(mot_run, clean_run,
                                                                       data_file, tmp_path):
    out = tmp_path / "train.jsonl"
    result = cli("data", "export", mot_run, clean_run, "--format", "chat", "--out", out)
    assert result.exit_code == 0, result.output
    assert "2 mot" in result.output and "1 clean" in result.output
    rows = read_lines(out)
    assert len(rows) == 3
    problems = {p.id: p for p in load_problems("apps", path=data_file)}
    by_answer = {r["messages"][-1]["content"]: r for r in rows}
    first = by_answer["MOT ONE"]
    assert set(first) == {"messages", "task_id", "source", "style"}
    assert (first["task_id"], first["source"], first["style"]) == ("APPS/test/4101", "apps",
                                                                   "mot")
    prompt = render_prompt(problems["APPS/test/4101"], "mot")
    assert first["messages"][:-1] == prompt
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert "MOT TWO" in by_answer
    clean = next(r for r in rows if r["style"] == "clean")
    assert clean["messages"][:-1] == render_prompt(problems["APPS/test/4505"], "normal")
    assert clean["messages"][-1]["content"] == \
        "```python\ndef digital_root(n):\n    # keep summing\n    return n\n```"

    import datasets

    loaded = datasets.load_dataset("json", data_files=str(out), split="train")
    assert loaded.num_rows == 3
    assert loaded[0]["messages"][-1]["role"] == "assistant"


def test_alpaca_export(mot_run, tmp_path):
    chat, alpaca = tmp_path / "chat.jsonl", tmp_path / "alpaca.jsonl"
    assert cli("data", "export", mot_run, "--out", chat).exit_code == 0
    assert cli("data", "export", mot_run, "--format", "alpaca", "--out", alpaca).exit_code == 0
    chats, rows = read_lines(chat), read_lines(alpaca)
    assert len(rows) == 2
    for c, a in zip(chats, rows, strict=True):
        assert set(a) == {"instruction", "input", "output"}
        assert a["instruction"] == c["messages"][1]["content"]
        assert a["input"] == "" and a["output"] == c["messages"][-1]["content"]


def test_reference_export_is_the_normal_baseline(data_file, tmp_path):
    out = tmp_path / "normal.jsonl"
    result = cli("data", "export", "--from-references", "--benchmark", "apps", "--data",
                 data_file, "--max-solutions", 1, "--out", out)
    assert result.exit_code == 0, result.output
    rows = read_lines(out)
    problems = load_problems("apps", path=data_file)
    assert len(rows) == len(problems) == 5
    for row, problem in zip(rows, problems, strict=True):
        assert row["style"] == "normal" and row["task_id"] == problem.id
        assert row["messages"][:-1] == render_prompt(problem, "normal")
        assert row["messages"][-1]["content"] == \
            "```python\n" + problem.solutions[0].strip("\n") + "\n```"
    everything = tmp_path / "all.jsonl"
    assert cli("data", "export", "--from-references", "--data", data_file, "--out",
               everything).exit_code == 0
    assert len(read_lines(everything)) == sum(len(p.solutions) for p in problems) == 7

    import datasets

    assert datasets.load_dataset("json", data_files=str(out), split="train").num_rows == 5


def test_export_errors_are_clear(mot_run, data_file, tmp_path):
    out = tmp_path / "x.jsonl"
    result = cli("data", "export", "--out", out)
    assert result.exit_code == 2 and "--from-references" in result.output
    result = cli("data", "export", mot_run, "--from-references", "--out", out)
    assert result.exit_code == 2
    result = cli("data", "export", mot_run, "--format", "sharegpt", "--out", out)
    assert result.exit_code == 2 and "--format" in result.output
    result = cli("data", "export", "--from-references", "--data", tmp_path / "no.jsonl",
                 "--out", out)
    assert result.exit_code == 2 and "no.jsonl" in result.output
    data_file.unlink()   # the run's problems are gone
    result = cli("data", "export", mot_run, "--out", out)
    assert result.exit_code == 2 and str(data_file) in result.output
    assert not out.exists()
