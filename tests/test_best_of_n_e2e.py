"""`motcoder run --solver best_of_n` and `motcoder mucode table` end to end: the embedded
model, the real sandbox, run directories on disk (answers are a few tokens long)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from motcoder.cli import app

pytestmark = pytest.mark.e2e

SMALL = ["--max-new-tokens", "16", "--no-progress", "--workers", "2"]
BON = ["--solver", "best_of_n", "--select", "pt", "-N", "2", "--turns", "2", "--limit", "2"]


def cli(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def keyed(path: Path) -> dict[tuple, dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    keys = [(r["task_id"], r["sample_index"], r.get("round", 0)) for r in rows]
    assert len(keys) == len(set(keys)), "a record was written twice"
    return dict(zip(keys, rows, strict=True))


def check_searches(samples: dict[tuple, dict]) -> None:
    """Every search of both problems ends in one final turn; earlier turns failed public."""
    by_search: dict[tuple, list[dict]] = {}
    for (task, search, _), record in sorted(samples.items()):
        by_search.setdefault((task, search), []).append(record)
    assert len(by_search) == 2
    for turns in by_search.values():
        assert [t["round"] for t in turns] == list(range(len(turns))) and len(turns) <= 2
        assert [t["final"] for t in turns] == [False] * (len(turns) - 1) + [True]
        for t in turns[:-1]:
            assert t["public_passed"] < t["public_total"] and t["feedback"]
        for t in turns:
            assert len(t["metadata"]["candidates"]) == 2 and t["solver"] == "best_of_n"
            chosen = t["metadata"]["candidates"][t["metadata"]["selected"]]
            assert chosen["response"] == t["completion"]


def test_best_of_n_run_reports_per_turn_accuracy_and_resumes_without_duplicates(tmp_path):
    out = tmp_path / "bon"
    result = cli("run", "--out", out, *BON, *SMALL)
    assert result.exit_code == 0, result.output
    samples, verdicts = keyed(out / "samples.jsonl"), keyed(out / "results.jsonl")
    check_searches(samples)
    assert set(samples) == set(verdicts)            # every turn's selection is judged
    for v in verdicts.values():                     # on the private tests only
        assert {t["visibility"] for t in v["tests"]} == {"private"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["searches"]["searches"] == 1 and summary["searches"]["problems"] == 2
    assert set(summary["searches"]["turns"]) == {str(r + 1) for _, _, r in samples}
    assert "after turn 1" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["best_of_n"] == {"candidates": 2, "turns": 2, "select": "pt",
                                   "searches": 1, "verifier": None}
    assert config["evaluation"]["judge"] == ["private", "generated"]
    assert config["sampling"]["temperature"] == 0.7

    # a kill during generation leaves the first records only (one write per record)
    killed = tmp_path / "killed"
    shutil.copytree(out, killed)
    for name in ("results.jsonl", "summary.json", "report.md", "samples.evalplus.jsonl"):
        (killed / name).unlink(missing_ok=True)
    lines = (killed / "samples.jsonl").read_text().splitlines(keepends=True)
    (killed / "samples.jsonl").write_text("".join(lines[:1]))
    assert cli("run", "--out", killed, *BON, *SMALL).exit_code == 2   # needs --resume
    resumed = cli("run", "--out", killed, "--resume", *BON, *SMALL)
    assert resumed.exit_code == 0, resumed.output
    again = keyed(killed / "samples.jsonl")
    assert next(iter(again.values())) == next(iter(samples.values()))  # kept, not redone
    check_searches(again)
    assert set(keyed(killed / "results.jsonl")) == set(again)


def test_bad_best_of_n_flags_are_clear_errors(tmp_path):
    result = cli("run", "--out", tmp_path / "x", "--solver", "best_of_n", "--select", "lv",
                 "--limit", "1", *SMALL)
    assert result.exit_code == 2 and "--verifier" in result.output
    result = cli("run", "--out", tmp_path / "y", "--solver", "best_of_n", "--select", "best",
                 "--limit", "1", *SMALL)
    assert result.exit_code == 2 and "--select" in result.output


def test_mucode_table_has_the_three_settings(tmp_path):
    out = tmp_path / "table"
    result = cli("mucode", "table", "--model", "embedded", "--benchmark", "humaneval",
                 "--limit", "2", "-N", "2", "--turns", "2", "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    table = json.loads((out / "table.json").read_text())
    assert table["columns"] == ["single-turn", "multi-turn", "multi-turn BoN"]
    cells = table["cells"]["embedded"]
    assert set(cells) == set(table["columns"])
    assert all(0.0 <= value <= 1.0 for value in cells.values())
    markdown = (out / "table.md").read_text()
    assert "| embedded |" in markdown and "multi-turn BoN %" in markdown
    assert "multi-turn BoN" in result.output
    runs = table["runs"]["embedded"]
    single = keyed(Path(runs["single-turn"]) / "samples.jsonl")
    assert {r for _, _, r in single} == {0} and len(single) == 2
    bon_config = json.loads((Path(runs["multi-turn BoN"]) / "config.json").read_text())
    assert bon_config["best_of_n"]["candidates"] == 2
    assert bon_config["sampling"]["temperature"] == 0.7
    multi_config = json.loads((Path(runs["multi-turn"]) / "config.json").read_text())
    assert multi_config["best_of_n"]["candidates"] == 1
    assert multi_config["sampling"]["temperature"] == 0.0
