"""The results chart of a report: pass@k per difficulty (then over all problems), one bar
per run, as PNG bytes.

matplotlib is imported only when a chart is drawn, and only its object-oriented API with
the Agg canvas is used (no pyplot state, no display needed).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from motcoder.analysis.report_content import comparison


def results_chart(summaries: Mapping[str, Mapping[str, Any]], k: int = 1) -> bytes | None:
    """A grouped bar chart of pass@k % per difficulty and run; None without summaries."""
    if not summaries:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    header, rows = comparison(summaries, k)
    groups = header[1:]
    width = 0.8 / len(rows)
    figure = Figure(figsize=(max(5.0, 1.2 * len(groups) + 2.5), 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for i, row in enumerate(rows):
        values = [float(cell) if cell != "n/a" else 0.0 for cell in row[1:]]
        positions = [g + (i - (len(rows) - 1) / 2) * width for g in range(len(groups))]
        bars = axes.bar(positions, values, width, label=row[0])
        axes.bar_label(bars, labels=[cell for cell in row[1:]], fontsize=7, padding=1)
    axes.set_xticks(range(len(groups)), groups)
    axes.set_ylabel(f"pass@{k} %")
    axes.set_ylim(0, 110)
    axes.set_title(f"pass@{k} per difficulty")
    if len(rows) > 1:
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
