"""report.md drill-down: a multi-round run shows the answer each problem ended with."""

from __future__ import annotations

import json

from motcoder.pipeline.report import write_report
from motcoder.runs import RunDir


def test_drill_down_shows_the_last_round_of_the_first_sample(tmp_path):
    run = RunDir(tmp_path)
    samples = [{"task_id": "T/0", "sample_index": s, "round": r, "code": f"# s{s} r{r}\n",
                "completion": f"answer s{s} r{r}"}
               for s in (0, 1) for r in (0, 1, 2)]
    samples.append({"task_id": "T/1", "sample_index": 0, "round": 0, "code": "# only\n"})
    (tmp_path / RunDir.SAMPLES).write_text("".join(json.dumps(s) + "\n" for s in samples))
    verdict = {"task_id": "T/0", "sample_index": 0, "round": 2, "status": "passed",
               "tests": [{"index": 0, "visibility": "private", "status": "passed",
                          "cpu_time": 0.01, "peak_memory_mb": 9.0, "message": ""}]}
    (tmp_path / RunDir.RESULTS).write_text(json.dumps(verdict) + "\n")
    text = write_report(run).read_text()
    assert "### T/0 (sample 0, round 3) — passed" in text
    assert "answer s0 r2" in text and "answer s0 r0" not in text and "s1" not in text
    assert "### T/1 (sample 0, round 1) — not judged" in text
