"""What the reports of one or several run directories show, whatever their format.

`report.md` (`motcoder.analysis.report_md`) and `report.html`
(`motcoder.analysis.report_html`) render the same content, built here from the runs
(`motcoder.analysis.loading.RunData`, read by `motcoder.analysis.loading.load_runs`):

* `unfinished_message` — what is said of a run without ``summary.json``;
* `settings_rows` — the settings of ``config.json``, nested keys flattened (``sampling.n``);
* `common_ks`, `comparison`, `delta_rows`, `comparison_notes` — several runs side by side:
  the k every finished run reports, pass@k per difficulty, the difference of each run from
  the first (percentage points), and a warning when they scored different problems;
* `problem_views` — the drill-down of a run: per problem, the answer it ended with (its
  first sample at its last round), that attempt's verdict, the status of every round of
  that sample, and how many of its samples passed.

Everything here is data; nothing is escaped or formatted for a medium except the table
cells, which are the strings of `motcoder.scoring.tables`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motcoder.runs import json_dumps
from motcoder.scoring.metrics import counts_as_passed
from motcoder.scoring.tables import NOT_AVAILABLE, comparison_rows

Key = tuple[str, int, int]

NOT_JUDGED = "not judged"  # the status shown for an attempt without a verdict yet


def unfinished_message(path: Path, config: Mapping[str, Any]) -> str:
    """What a report says of a run without ``summary.json``, and how to finish it."""
    command = config.get("command") if config.get("command") in ("run", "evaluate") else "run"
    return (f"No summary yet: the run has not finished. Continue it with `motcoder {command} "
            f"--out {path} --resume` and the same settings, then report again.")


def record_of(item: Any) -> dict[str, Any]:
    """A sample or verdict as its plain record (dataclasses give their ``to_dict``)."""
    if isinstance(item, Mapping):
        return dict(item)
    to_dict = getattr(item, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    raise TypeError(f"expected a record or a dataclass with to_dict, got {type(item).__name__}")


# ----------------------------------------------------------------------------- settings
def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, (Mapping, list, tuple)):
        out.append((prefix, json_dumps(value)))
    else:
        out.append((prefix, "null" if value is None else str(value)))


def settings_rows(config: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """``config.json`` as a two-column table; nested objects become dotted keys."""
    flat: list[tuple[str, str]] = []
    for key, value in config.items():
        _flatten(str(key), value, flat)
    return ["setting", "value"], [[key, value] for key, value in flat]


# ----------------------------------------------------------------------------- comparison
def _pass_at(group: Mapping[str, Any], k: int) -> float | None:
    values = group.get("pass@k") or {}
    return values.get(str(k), values.get(k))


def common_ks(summaries: Sequence[Mapping[str, Any]]) -> list[int]:
    """The k for which every summary reports pass@k, in the first summary's order."""
    if not summaries:
        return []
    ks = [int(k) for k in summaries[0]["ks"]]
    for summary in summaries[1:]:
        theirs = {int(k) for k in summary["ks"]}
        ks = [k for k in ks if k in theirs]
    return ks


def format_delta(value: float | None) -> str:
    """A difference of two rates in percentage points: ``0.5`` → ``"+50.00"``."""
    return NOT_AVAILABLE if value is None else f"{100 * value:+.2f}"


def pass_at_delta(base: Mapping[str, Any], other: Mapping[str, Any], group: str, k: int
                  ) -> float | None:
    """pass@k of ``other`` minus that of ``base`` on one difficulty (None if either lacks
    the group or the k)."""
    if group not in base["groups"] or group not in other["groups"]:
        return None
    a, b = _pass_at(base["groups"][group], k), _pass_at(other["groups"][group], k)
    return None if a is None or b is None else b - a


def delta_rows(summaries: Mapping[str, Mapping[str, Any]], k: int = 1
               ) -> tuple[list[str], list[list[str]]]:
    """Per run after the first: pass@k minus the first run's, per difficulty then ``all``,
    in percentage points (the columns of `motcoder.scoring.tables.comparison_rows`)."""
    header, _ = comparison_rows(summaries, k)
    groups = header[1:]
    names = list(summaries)
    base = summaries[names[0]]
    rows = [[name] + [format_delta(pass_at_delta(base, summaries[name], g, k))
                      for g in groups]
            for name in names[1:]]
    return ["run"] + groups, rows


def comparison_notes(summaries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Warnings on a comparison: runs that scored different numbers of problems."""
    counts = {name: s["groups"].get("all", {}).get("problems") for name, s in
              summaries.items()}
    if len(set(counts.values())) <= 1:
        return []
    listed = ", ".join(f"{name}: {count}" for name, count in counts.items())
    return [f"the runs scored different numbers of problems ({listed}); their pass@k are "
            "not over the same problems"]


def comparison(summaries: Mapping[str, Mapping[str, Any]], k: int = 1
               ) -> tuple[list[str], list[list[str]]]:
    """pass@k % per difficulty, one row per run (`comparison_rows` with a "run" column)."""
    header, rows = comparison_rows(summaries, k)
    return ["run"] + header[1:], rows


# ----------------------------------------------------------------------------- drill-down
@dataclass
class ProblemView:
    """What the drill-down shows of one problem of one run."""

    task_id: str
    key: Key                                # the attempt shown: its first sample, last round
    sample: dict[str, Any]                  # that attempt's record ({}: not found)
    verdict: dict[str, Any] | None          # its verdict record (None: not judged yet)
    rounds: list[tuple[int, str]]           # (round, status) of every round of that sample
    samples: int                            # samples of the problem
    passed_samples: int                     # of them, those whose last round passed

    @property
    def status(self) -> str:
        return self.verdict["status"] if self.verdict else NOT_JUDGED

    @property
    def difficulty(self) -> str | None:
        return self.verdict.get("difficulty") if self.verdict else None

    @property
    def prompt(self) -> str:
        """The last user turn of the chat the model answered."""
        messages = self.sample.get("messages") or []
        return next((str(m.get("content", "")) for m in reversed(messages)
                     if isinstance(m, Mapping) and m.get("role") == "user"), "")

    @property
    def response(self) -> str | None:
        value = self.sample.get("completion")
        return None if value is None else str(value)

    @property
    def code(self) -> str:
        return str(self.sample.get("code") or self.sample.get("solution") or "")


def _field(verdict: Any, name: str) -> Any:
    return verdict.get(name) if isinstance(verdict, Mapping) else getattr(verdict, name, None)


def problem_views(samples: Mapping[Key, Mapping[str, Any]],
                  verdicts: Mapping[Key, Any], limit: int | None = None,
                  trust_in_child: bool = False) -> list[ProblemView]:
    """Per problem (in the order of the samples, then of the verdicts; at most ``limit``),
    the answer it ended with: its first sample at its last round. ``verdicts`` are records
    or `motcoder.sandbox.verdict.Verdict` objects; samples passed are counted as
    `counts_as_passed` says under ``trust_in_child``."""
    rounds: dict[str, dict[int, list[int]]] = {}    # task -> sample -> rounds
    for task, index, round_ in [*samples, *(k for k in verdicts if k not in samples)]:
        if task not in rounds:
            if limit is not None and len(rounds) >= limit:
                continue
            rounds[task] = {}
        rounds[task].setdefault(index, []).append(round_)
    views = []
    for task, by_sample in rounds.items():
        last = {index: max(found) for index, found in by_sample.items()}
        first = min(by_sample)
        key = (task, first, last[first])
        history = [(r, str(_field(verdicts[(task, first, r)], "status"))
                    if (task, first, r) in verdicts else NOT_JUDGED)
                   for r in sorted(set(by_sample[first]))]
        views.append(ProblemView(
            task_id=task, key=key, sample=dict(samples.get(key) or {}),
            verdict=record_of(verdicts[key]) if key in verdicts else None, rounds=history,
            samples=len(by_sample),
            passed_samples=sum(counts_as_passed(verdicts[(task, i, r)], trust_in_child)
                               for i, r in last.items() if (task, i, r) in verdicts)))
    return views


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    text = text.rstrip()
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [{len(text) - limit} more characters]"
