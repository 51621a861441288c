"""PNG figures of an analysis (`motcoder.analysis.analyze.analyze_runs`):
`analysis_figures` returns ``{name: PNG bytes}`` for

* ``modularity`` — accuracy vs number of functions, one line per run, one panel per
  difficulty group (MoTCoder Fig. 4a);
* ``resources`` — mean CPU time and mean peak memory per difficulty of the problems passed
  by both compared runs (Fig. 4b);
* ``maintainability`` — mean maintainability index per difficulty per run (Fig. 4c);
* ``rounds`` — accuracy after each round / turn, one line per run.

A figure whose section has no data is left out. Figures are drawn on matplotlib's Agg
canvas directly (no pyplot, no global backend switch), so this works headless and from any
thread; matplotlib is imported only when figures are made.
"""

from __future__ import annotations

import io
import math
from typing import Any

from motcoder.analysis.modularity import BUCKETS


def _new_figure(panels: int = 1, width: float = 5.0, height: float = 3.8) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(max(width * panels, 6.0), height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    return figure, list(axes)


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def _percent(value: float | None) -> float:
    return math.nan if value is None else 100.0 * value


def _value(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _groups(tables: dict[str, list[dict[str, Any]]]) -> list[str]:
    names: list[str] = []
    for rows in tables.values():
        names += [r["difficulty"] for r in rows if r["difficulty"] not in names]
    if "all" in names:  # always last
        names.remove("all")
        names.append("all")
    return names


def _grouped_bars(axis: Any, groups: list[str], series: dict[str, list[float]]) -> None:
    width = 0.8 / max(len(series), 1)
    for i, (label, values) in enumerate(series.items()):
        offsets = [x + (i - (len(series) - 1) / 2) * width for x in range(len(groups))]
        axis.bar(offsets, values, width=width, label=label)
    axis.set_xticks(range(len(groups)), groups)
    axis.set_xlabel("difficulty")


def modularity_figure(modularity: dict[str, list[dict[str, Any]]]) -> bytes | None:
    groups = _groups(modularity)
    if not any(r["buckets"][b]["solutions"] for rows in modularity.values() for r in rows
               for b in BUCKETS):
        return None
    figure, axes = _new_figure(len(groups), width=4.0)
    for axis, group in zip(axes, groups, strict=True):
        for label, rows in modularity.items():
            row = next((r for r in rows if r["difficulty"] == group), None)
            if row is None:
                continue
            values = [_percent(row["buckets"][b]["accuracy"]) for b in BUCKETS]
            axis.plot(range(len(BUCKETS)), values, marker="o", label=label)
        axis.set_xticks(range(len(BUCKETS)), BUCKETS)
        axis.set_xlim(-0.4, len(BUCKETS) - 0.6)
        axis.set_ylim(-2, 102)
        axis.set_title(group)
        axis.set_xlabel("number of functions")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy %")
    axes[0].legend(fontsize="small")
    figure.suptitle("Accuracy by number of functions in the solution")
    return _png(figure)


def resources_figure(resources: dict[str, Any] | None) -> bytes | None:
    if not resources or not any(r["problems"] for r in resources["rows"]):
        return None
    rows = [r for r in resources["rows"] if r["problems"]]
    groups = [r["difficulty"] for r in rows]
    figure, axes = _new_figure(2)
    for axis, (measure, name) in zip(axes, (("cpu_time", "mean CPU time (s)"),
                                            ("peak_memory_mb", "mean peak memory (MB)")),
                                     strict=True):
        series = {label: [_value(r[measure][label]["mean"]) for r in rows]
                  for label in resources["pair"]}
        _grouped_bars(axis, groups, series)
        axis.set_ylabel(name)
        axis.set_title(name)
        axis.legend(fontsize="small")
    a, b = resources["pair"]
    counts = ", ".join(f"{r['difficulty']}: {r['problems']}" for r in rows)
    figure.suptitle(f"Problems passed by both {a} and {b} ({counts})")
    return _png(figure)


def maintainability_figure(maintainability: dict[str, list[dict[str, Any]]]) -> bytes | None:
    if not any(r["solutions"] for rows in maintainability.values() for r in rows):
        return None
    groups = _groups(maintainability)
    series = {}
    for label, rows in maintainability.items():
        by_group = {r["difficulty"]: r["mi"] for r in rows}
        series[label] = [_value(by_group.get(g)) for g in groups]
    figure, axes = _new_figure(1, width=7.0)
    _grouped_bars(axes[0], groups, series)
    axes[0].set_ylabel("mean maintainability index (radon)")
    axes[0].set_title("Maintainability index of passing solutions")
    axes[0].legend(fontsize="small")
    return _png(figure)


def rounds_figure(rounds: dict[str, list[dict[str, Any]]]) -> bytes | None:
    if not any(rounds.values()):
        return None
    figure, axes = _new_figure(1, width=7.0)
    axis = axes[0]
    kinds = set()
    for label, rows in rounds.items():
        if not rows:
            continue
        kinds.add(rows[0]["kind"])
        axis.plot([r["step"] for r in rows], [_percent(r["accuracy"]) for r in rows],
                  marker="o", label=label)
    steps = sorted({r["step"] for rows in rounds.values() for r in rows})
    axis.set_xticks(steps)
    axis.set_xlabel(" / ".join(sorted(kinds)))
    axis.set_ylabel("accuracy %")
    axis.set_title("Accuracy after each round / turn")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    return _png(figure)


def analysis_figures(analysis: dict[str, Any]) -> dict[str, bytes]:
    """``{"modularity" | "resources" | "maintainability" | "rounds": PNG bytes}`` for the
    sections that have data."""
    figures = {
        "modularity": modularity_figure(analysis["modularity"]),
        "resources": resources_figure(analysis.get("resources")),
        "maintainability": maintainability_figure(analysis["maintainability"]),
        "rounds": rounds_figure(analysis["rounds"]),
    }
    return {name: png for name, png in figures.items() if png is not None}
