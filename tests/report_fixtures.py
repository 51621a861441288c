"""Hand-built run directories for the report tests, with known results.

Three problems in two difficulties: ``E/0`` and ``E/1`` (easy), ``H/0`` (hard), one sample
each, two judged tests (public, private) per verdict. Summaries are computed by the real
scoring code, as `motcoder evaluate` writes them.

* `write_base_run` — self-reflection, two rounds: E/0 fails then passes, E/1 fails twice,
  H/0 passes at once. Final pass@1: easy 50 %, hard 100 %, all 66.67 %.
* `write_better_run` — direct: E/0 and E/1 pass, H/0 fails. pass@1: easy 100 % (+50.00
  points on the base run), hard 0 % (-100.00), all 66.67 % (+0.00). The completion of E/1
  carries HTML that must show as text (`SCRIPT_COMPLETION`).
* `write_started_run` — settings and samples only (killed before judging).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from motcoder.sandbox.verdict import TestOutcome, Verdict
from motcoder.scoring.evaluate import final_attempts
from motcoder.scoring.metrics import summarize

DIFFICULTIES = {"E/0": "easy", "E/1": "easy", "H/0": "hard"}
ISOLATION = {"seccomp": "on", "network namespace": "on", "read-only filesystem": "on"}
SCRIPT_COMPLETION = ("Here it is:\n<script>window.pwned = 1;</script>\n"
                     "<img src=x onerror=\"window.pwned = 2\">\n```python\n"
                     "def solve(a, b):\n    return a + b\n\nprint(solve(*map(int, "
                     "input().split())))\n```")

MODULAR = ("def read():\n    return list(map(int, input().split()))\n\n\n"
           "def solve(a, b):\n    return a + b\n\n\nprint(solve(*read()))\n")
FLAT = "a, b = map(int, input().split())\nprint(a - b)\n"


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def _sample(task: str, round_: int, code: str, solver: str, completion: str | None = None
            ) -> dict[str, Any]:
    user = f"Solve {task}: read two integers and print their sum."
    if round_:
        user = f"Your program for {task} failed the public tests (round {round_}). Fix it."
    return {"task_id": task, "sample_index": 0, "round": round_,
            "messages": [{"role": "system", "content": "You write Python."},
                         {"role": "user", "content": user}],
            "completion": completion or f"```python\n{code}```", "code": code,
            "style": "normal", "solver": solver}


def _verdict(task: str, round_: int, passed: bool, status: str = "wrong_answer",
             cpu: float = 0.02) -> Verdict:
    second = "passed" if passed else status
    tests = [TestOutcome(0, "public", "passed", cpu_time=cpu, wall_time=cpu,
                         peak_memory_mb=9.5),
             TestOutcome(1, "private", second, cpu_time=2 * cpu, wall_time=2 * cpu,
                         peak_memory_mb=10.25,
                         message="" if passed else "expected 7, got <b>-1</b>")]
    return Verdict(task, 0, passed, "passed" if passed else status, tests,
                   reason="" if passed else f"test 1: {status}",
                   difficulty=DIFFICULTIES[task], round=round_)


def _config(solver: str, model: str) -> dict[str, Any]:
    return {"command": "run", "model": model, "benchmark": "problems.jsonl", "solver": solver,
            "style": "normal", "rounds": 1 if solver == "self_reflection" else 5,
            "sampling": {"n": 1, "temperature": 0.0, "max_new_tokens": 256},
            "evaluation": {"early_stop": False, "judge": None}, "ks": None}


def _write_run(path: Path, config: dict[str, Any], samples: list[dict[str, Any]],
               verdicts: list[Verdict], finished: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    _write_jsonl(path / "samples.jsonl", samples)
    _write_jsonl(path / "results.jsonl", [v.to_dict() for v in verdicts])
    if finished:
        summary = summarize(final_attempts(verdicts), DIFFICULTIES)
        rounds = sorted({v.round for v in verdicts})
        if len(rounds) > 1:
            summary["rounds"] = {str(r): summarize(final_attempts(verdicts, up_to=r),
                                                   DIFFICULTIES) for r in rounds}
        summary["isolation"] = dict(ISOLATION)
        (path / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return path


def write_base_run(path: Path, finished: bool = True) -> Path:
    samples = [_sample("E/0", 0, FLAT, "self_reflection"),
               _sample("E/0", 1, MODULAR, "self_reflection"),
               _sample("E/1", 0, FLAT, "self_reflection"),
               _sample("E/1", 1, FLAT, "self_reflection"),
               _sample("H/0", 0, MODULAR, "self_reflection")]
    verdicts = [_verdict("E/0", 0, False), _verdict("E/0", 1, True, cpu=0.03),
                _verdict("E/1", 0, False), _verdict("E/1", 1, False, "runtime_error"),
                _verdict("H/0", 0, True)]
    return _write_run(path, _config("self_reflection", "hf:org/base-7B"), samples, verdicts,
                      finished)


def write_better_run(path: Path) -> Path:
    samples = [_sample("E/0", 0, MODULAR, "direct"),
               _sample("E/1", 0, MODULAR, "direct", completion=SCRIPT_COMPLETION),
               _sample("H/0", 0, FLAT, "direct")]
    verdicts = [_verdict("E/0", 0, True, cpu=0.01), _verdict("E/1", 0, True),
                _verdict("H/0", 0, False, "runtime_error")]
    return _write_run(path, _config("direct", "hf:org/better-7B"), samples, verdicts)


def write_started_run(path: Path) -> Path:
    """A run killed while generating: config.json and two samples, nothing judged."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(_config("direct", "hf:org/slow-7B")),
                                      encoding="utf-8")
    _write_jsonl(path / "samples.jsonl", [_sample("E/0", 0, FLAT, "direct"),
                                          _sample("E/1", 0, MODULAR, "direct")])
    return path


# --- reading a report.html back ------------------------------------------------------------

@dataclass
class Table:
    caption: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Page(HTMLParser):
    """The parts of a report.html the tests look at, read with the standard HTML parser:
    tables (caption, header, rows), <img> and every element's attributes, <details> count,
    and the text of the page."""

    tables: list[Table] = field(default_factory=list)
    images: list[dict[str, str]] = field(default_factory=list)
    attributes: list[tuple[str, str, str]] = field(default_factory=list)  # tag, name, value
    tags: list[str] = field(default_factory=list)
    details: int = 0
    text: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._stack: list[Table] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._in_caption = False
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        if tag == "table":
            self._stack.append(Table())
        elif tag == "caption":
            self._in_caption = True
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append({name: value or "" for name, value in attrs})
        elif tag == "details":
            self.details += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._stack:
            self.tables.append(self._stack.pop())
        elif tag == "caption":
            self._in_caption = False
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._stack:
            table = self._stack[-1]
            if self._in_head:
                table.header = self._row
            else:
                table.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_caption and self._stack:
            self._stack[-1].caption += data

    def table(self, caption_start: str) -> Table:
        found = [t for t in self.tables if t.caption.startswith(caption_start)]
        assert found, f"no table captioned {caption_start!r}: {[t.caption for t in self.tables]}"
        return found[0]


def read_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page
