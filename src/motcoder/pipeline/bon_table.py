"""``motcoder mucode table``: μCode's comparison table — one row per model, three settings.

For every model, three `motcoder run` jobs (`motcoder.pipeline.run.run`), each in its own
resumable run directory ``OUT/<model>/<setting>``, all under the μCode protocol (turn 1
shows the public tests, the verdict uses the hidden tests only):

* ``single-turn``    — one greedy answer to the first prompt (direct solving, N = 1);
* ``multi-turn``     — up to ``turns`` greedy turns with public-test feedback (N = 1);
* ``multi-turn BoN`` — up to ``turns`` turns, ``candidates`` sampled per turn at
  ``temperature``, one selected by ``select``; ``searches`` searches, averaged.

A cell is the accuracy (%) of the final programs on the hidden tests, averaged over
searches. The table goes to ``OUT/table.json`` and ``OUT/table.md``. The model is loaded once
per row and shared by its three runs. Re-running with ``resume`` continues every cell.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motcoder.pipeline.generate import Sampling
from motcoder.pipeline.run import Progress, RunSettings, run
from motcoder.runs import RunDir
from motcoder.scoring.evaluate import EvalOptions
from motcoder.scoring.tables import format_percent, markdown_lines
from motcoder.solvers.best_of_n import BestOfNSettings

COLUMNS: tuple[str, ...] = ("single-turn", "multi-turn", "multi-turn BoN")
TABLE_JSON = "table.json"
TABLE_MD = "table.md"


@dataclass
class TableSettings:
    """What decides the table (stored in ``OUT/config.json``)."""

    models: list[str] = field(default_factory=lambda: ["embedded"])
    benchmark: str = "mbpp"
    data: str | None = None
    split: str | None = None
    ids: list[str] | None = None
    limit: int | None = None
    candidates: int = 5
    turns: int = 3
    select: str = "pt"
    searches: int = 1
    verifier: str | None = None
    temperature: float = 0.7
    top_p: float = 1.0
    max_new_tokens: int = 512
    seed: int = 0
    style: str = "normal"
    evaluation: EvalOptions = field(default_factory=EvalOptions)

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("the table needs at least one model")
        BestOfNSettings(candidates=self.candidates, turns=self.turns, select=self.select,
                        searches=self.searches, verifier=self.verifier)  # validates

    def to_config(self) -> dict[str, Any]:
        return {"command": "mucode table", **dataclasses.asdict(self)}


def slug(text: str) -> str:
    """A directory name for a model spec (``hf:org/name`` -> ``hf_org_name``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def cell_settings(table: TableSettings, model: str, column: str) -> RunSettings:
    """The `motcoder run` settings of one cell."""
    if column == "multi-turn BoN":
        bon = BestOfNSettings(candidates=table.candidates, turns=table.turns,
                              select=table.select, searches=table.searches,
                              verifier=table.verifier)
        sampling = Sampling(n=table.searches, temperature=table.temperature,
                            top_p=table.top_p, max_new_tokens=table.max_new_tokens,
                            seed=table.seed)
    elif column in ("single-turn", "multi-turn"):
        bon = BestOfNSettings(candidates=1, turns=1 if column == "single-turn" else table.turns,
                              select="pt", searches=1)
        sampling = Sampling(n=1, temperature=0.0, max_new_tokens=table.max_new_tokens,
                            seed=table.seed)
    else:
        raise ValueError(f"unknown column {column!r}: choose {', '.join(COLUMNS)}")
    return RunSettings(model=model, benchmark=table.benchmark, data=table.data,
                       split=table.split, ids=table.ids, limit=table.limit,
                       solver="best_of_n", style=table.style, sampling=sampling,
                       evaluation=dataclasses.replace(table.evaluation), best_of_n=bon)


def cell_accuracy(summary: dict[str, Any]) -> float | None:
    found = summary.get("searches") or {}
    accuracy = found.get("accuracy") or {}
    return accuracy.get("mean")


def table_rows(cells: dict[str, dict[str, float | None]]) -> tuple[list[str], list[list[str]]]:
    header = ["model", *[f"{c} %" for c in COLUMNS]]
    rows = [[model, *[format_percent(values.get(c)) for c in COLUMNS]]
            for model, values in cells.items()]
    return header, rows


def table_markdown(table: TableSettings, cells: dict[str, dict[str, float | None]]) -> str:
    title = (f"{table.benchmark}: accuracy on the hidden tests (turns {table.turns}; BoN: "
             f"N={table.candidates}, {table.select}, {table.searches} search(es))")
    return "\n".join(markdown_lines(*table_rows(cells), title)) + "\n"


def run_table(
    table: TableSettings,
    out: str | Path,
    *,
    resume: bool = False,
    batch_size: int = 16,
    workers: int | None = None,
    model_options: dict[str, Any] | None = None,
    progress: Callable[[str, str], Progress] | None = None,
    models: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Run (or continue) every cell; write and return ``{"settings", "cells", "runs"}``.

    ``progress(model, column)`` may give each run its progress callbacks. ``models``: already
    loaded models, one per ``table.models`` entry (else each is loaded, once per row).
    """
    from motcoder.models.registry import load_model

    out = Path(out)
    RunDir(out).start(table.to_config(), resume=resume)
    cells: dict[str, dict[str, float | None]] = {}
    runs: dict[str, dict[str, str]] = {}
    for position, spec in enumerate(table.models):
        owned = models is None
        model = load_model(spec, **(model_options or {})) if models is None \
            else models[position]
        try:
            for column in COLUMNS:
                cell_dir = out / slug(spec) / slug(column)
                summary = run(cell_settings(table, spec, column), cell_dir, resume=True,
                              model=model, batch_size=batch_size, workers=workers,
                              progress=progress(spec, column) if progress else None)
                cells.setdefault(spec, {})[column] = cell_accuracy(summary)
                runs.setdefault(spec, {})[column] = str(cell_dir)
        finally:
            if owned:
                model.close()
    result = {"settings": table.to_config(), "columns": list(COLUMNS), "cells": cells,
              "runs": runs}
    RunDir(out).write_json(TABLE_JSON, result)
    (out / TABLE_MD).write_text(table_markdown(table, cells))
    return result
