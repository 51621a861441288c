"""report.md: the drill-down of a multi-round run shows the answer each problem ended with;
several runs are compared with pass@k differences per difficulty; untrusted text stays
inside code fences and code spans."""

from __future__ import annotations

import json

from motcoder.analysis.report_html import write_reports
from motcoder.runs import RunDir
from report_fixtures import write_base_run, write_better_run, write_started_run


def test_drill_down_shows_the_last_round_of_the_first_sample(tmp_path):
    samples = [{"task_id": "T/0", "sample_index": s, "round": r, "code": f"# s{s} r{r}\n",
                "completion": f"answer s{s} r{r}"}
               for s in (0, 1) for r in (0, 1, 2)]
    samples.append({"task_id": "T/1", "sample_index": 0, "round": 0, "code": "# only\n"})
    (tmp_path / RunDir.SAMPLES).write_text("".join(json.dumps(s) + "\n" for s in samples))
    verdict = {"task_id": "T/0", "sample_index": 0, "round": 2, "status": "passed",
               "passed": True,
               "tests": [{"index": 0, "visibility": "private", "status": "passed",
                          "cpu_time": 0.01, "peak_memory_mb": 9.0, "message": ""}]}
    (tmp_path / RunDir.RESULTS).write_text(json.dumps(verdict) + "\n")
    _, md = write_reports([tmp_path], tmp_path)
    text = md.read_text()
    assert "### T/0 (sample 0, round 3) — passed" in text
    assert "answer s0 r2" in text and "answer s0 r0" not in text and "s1" not in text
    assert "### T/1 (sample 0, round 1) — not judged" in text
    assert "Samples passed: 1 of 2" in text  # sample 1 was never judged
    assert "No summary yet: the run has not finished" in text


def test_markdown_compares_runs_with_pass_at_k_differences(tmp_path):
    base, better = write_base_run(tmp_path / "base"), write_better_run(tmp_path / "better")
    _, md = write_reports([base, better], tmp_path / "out", labels=["base", "better"])
    text = md.read_text()
    assert md == tmp_path / "out" / "report.md"
    assert "| easy | 2 | 2 | 50.00 | 50.00 | 75.00 |" in text  # base: one of two easy
    assert "| better | 100.00 | 0.00 | 66.67 |" in text
    assert "Difference from base (percentage points):" in text
    assert "| better | +50.00 | -100.00 | +0.00 |" in text
    assert "| 2 | 66.67 |" in text  # base: pass@1 after round 2
    assert "| seccomp | on |" in text
    assert "#### Modularity: accuracy by number of functions — base" in text
    assert "### base — E/0 (sample 0, round 2) — passed" in text
    assert "Rounds: 1: wrong_answer, 2: passed" in text
    # untrusted text: the test message is a code span, the completion inside a fence
    assert "| `` expected 7, got <b>-1</b> `` |" in text or \
        "| ` expected 7, got <b>-1</b> ` |" in text
    completion = text.index("<script>window.pwned")
    assert text.rfind("```", 0, completion) > text.rfind("**Response**", 0, completion)


def test_unfinished_run_is_reported_and_left_out_of_the_comparison(tmp_path):
    base, started = write_base_run(tmp_path / "base"), write_started_run(tmp_path / "slow")
    _, md = write_reports([base, started], tmp_path / "out", labels=["base", "slow"])
    text = md.read_text()
    assert f"`motcoder run --out {started} --resume`" in text
    assert "| slow | " in text and "| not finished |" in text
    assert "## Comparison" not in text  # one finished run: nothing to compare
    assert "### slow — E/1 (sample 0, round 1) — not judged" in text


def test_fence_is_longer_than_any_backtick_run_in_the_text(tmp_path):
    run = write_base_run(tmp_path / "run")
    records = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    records[-1]["completion"] = "````\nnot the end\n```"
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    _, md = write_reports([run], run)
    text = md.read_text()
    assert "`````\n````\nnot the end\n```\n`````" in text


def _summary(ks, **groups):
    return {"ks": ks, "groups": {name: {"problems": n, "pass@k": {str(k): v for k in ks}}
                                 for name, (n, v) in groups.items()}}


def test_differences_need_the_difficulty_in_both_runs_and_warn_on_other_problems():
    from motcoder.analysis.report_content import common_ks, comparison_notes, delta_rows

    summaries = {"A": _summary([1, 2], easy=(2, 0.25), all=(2, 0.25)),
                 "B": _summary([1], easy=(1, 0.5), hard=(1, 1.0), all=(2, 0.75)),
                 "C": _summary([1, 2], hard=(3, 0.0), all=(3, 0.0))}
    assert common_ks(list(summaries.values())) == [1]
    header, rows = delta_rows(summaries, 1)
    assert header == ["run", "easy", "hard", "all"]
    assert rows == [["B", "+25.00", "n/a", "+50.00"], ["C", "n/a", "n/a", "-25.00"]]
    (note,) = comparison_notes(summaries)
    assert "different numbers of problems (A: 2, B: 2, C: 3)" in note
    assert comparison_notes({k: summaries[k] for k in "AB"}) == []


def test_three_runs_one_unfinished(tmp_path):
    base, better = write_base_run(tmp_path / "base"), write_better_run(tmp_path / "better")
    started = write_started_run(tmp_path / "slow")
    _, md = write_reports([base, better, started], tmp_path / "out",
                          labels=["base", "better", "slow"])
    text = md.read_text()
    assert "| better | +50.00 | -100.00 | +0.00 |" in text
    assert "* not compared (not finished): slow" in text
    assert "different numbers of problems" not in text
