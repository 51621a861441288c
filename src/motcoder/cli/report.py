"""``motcoder report``: ``report.html`` (self-contained: tables, plots, a drill-down into
every problem) and ``report.md`` for one run, or several runs side by side."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from motcoder.cli.common import app, console, fail, user_errors


@app.command("report")
def report_command(
    runs: list[Path] = typer.Argument(..., help="Run directories of `motcoder run` or "
                                      "`motcoder evaluate`; the first is the baseline of "
                                      "the comparison."),
    labels: list[str] | None = typer.Option(None, "--label", help="Name of a run in the "
                                            "report; repeat once per run, in order "
                                            "(default: model + style/solver)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Where report.html and "
                                        "report.md go (default: the run directory; needed "
                                        "for several runs)."),
    title: str | None = typer.Option(None, "--title", help="Title of the report."),
) -> None:
    """Write report.html and report.md on one run, or on several runs compared with the
    first (pass@k differences per difficulty)."""
    from motcoder.analysis.loading import AnalysisError
    from motcoder.analysis.report_html import write_reports

    if out_dir is None:
        if len(runs) > 1:
            raise fail(f"{len(runs)} runs given: say where their joint report goes with "
                       "--out DIR (a run directory's own report covers that run only)")
        out_dir = runs[0]
    if out_dir.exists() and not out_dir.is_dir():
        raise fail(f"--out {out_dir} is a file — give a directory")
    default_title = "motcoder report" if len(runs) == 1 else f"motcoder report — {len(runs)} runs"
    try:
        html_path, md_path = write_reports(runs, out_dir, labels or None,
                                           title=title or default_title)
    except (*user_errors(), AnalysisError) as exc:
        raise fail(str(exc)) from None
    console.print(f"report: {escape(str(html_path))}   markdown: {escape(str(md_path))}")
