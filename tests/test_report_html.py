"""report.html read back with the standard HTML parser: its tables, embedded PNG figures,
pass@k differences, escaping of model output, unfinished runs, self-containment; and the
`motcoder report` command."""

from __future__ import annotations

import base64
import io
import re

import pytest
from typer.testing import CliRunner

from motcoder.analysis.report_html import write_reports
from motcoder.cli import app
from report_fixtures import (
    ISOLATION,
    read_page,
    write_base_run,
    write_better_run,
    write_started_run,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return write_base_run(root / "base"), write_better_run(root / "better")


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    html_path, md_path = write_reports(list(runs), out, labels=["base", "better"],
                                       title="base vs better")
    return html_path


def test_writes_both_reports_into_out(compared):
    assert compared.name == "report.html"
    assert (compared.parent / "report.md").read_text().startswith("# base vs better")


def test_results_rounds_isolation_and_settings_tables(compared):
    page = read_page(compared)
    results = [t for t in page.tables if t.caption.startswith("pass@k, strict accuracy")]
    assert len(results) == 2
    assert results[0].header == ["difficulty", "problems", "samples", "pass@1 %",
                                 "strict acc %", "test pass rate %"]
    assert [row[0] for row in results[0].rows] == ["easy", "hard", "all"]
    assert results[0].rows[0][3:] == ["50.00", "50.00", "75.00"]
    assert page.table("Accuracy after each round").rows == [["1", "33.33"], ["2", "66.67"]]
    layers = [t for t in page.tables if t.caption == "Sandbox isolation layers"]
    assert len(layers) == 2 and layers[0].rows == [[k, v] for k, v in ISOLATION.items()]
    settings = page.table("Settings of better")
    assert ["solver", "direct"] in settings.rows and ["sampling.n", "1"] in settings.rows
    listed = page.table("Runs reported").rows
    assert [(row[0], row[2], row[3]) for row in listed] == [
        ("base", "finished", "hf:org/base-7B"), ("better", "finished", "hf:org/better-7B")]
    assert listed[1][1].endswith("better")


def test_pass_at_k_side_by_side_and_differences_from_the_first_run(compared):
    page = read_page(compared)
    side = page.table("pass@1 %")
    assert side.header == ["run", "easy", "hard", "all"]
    assert side.rows == [["base", "50.00", "100.00", "66.67"],
                         ["better", "100.00", "0.00", "66.67"]]
    deltas = page.table("pass@1: difference from base")
    assert deltas.header == ["run", "easy", "hard", "all"]
    assert deltas.rows == [["better", "+50.00", "-100.00", "+0.00"]]


def test_analysis_tables_are_html_tables(compared):
    page = read_page(compared)
    captions = [t.caption for t in page.tables]
    for title in ("Modularity: accuracy by number of functions — base",
                  "Maintainability of passing solutions (radon) — better",
                  "Resources of problems passed by both runs — base vs better",
                  "Accuracy per round / turn — base"):
        assert title in captions
    rounds = page.table("Accuracy per round / turn — base")
    assert [row[:2] for row in rounds.rows] == [["round 1", "33.33"], ["round 2", "66.67"]]


def test_every_figure_is_an_embedded_png_with_alt_text_and_caption(compared):
    from matplotlib.image import imread

    page = read_page(compared)
    alts = [image["alt"] for image in page.images]
    assert alts[0] == "Results: pass@1 per difficulty and run"
    assert len(alts) == 5 and all(alts) and len(set(alts)) == 5  # results + 4 analysis figures
    text = compared.read_text()
    for image in page.images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        data = base64.b64decode(image["src"][len(prefix):], validate=True)
        assert data.startswith(PNG)
        pixels = imread(io.BytesIO(data), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert f"<figcaption>{image['alt']}</figcaption>" in text


def test_self_contained_no_script_no_external_address(compared):
    page = read_page(compared)
    linked = [(tag, name, value) for tag, name, value in page.attributes
              if name in ("src", "href", "action", "srcset", "data", "poster")]
    assert linked
    assert all(value.startswith(("data:image/png;base64,", "#")) for _, _, value in linked), \
        [v[:40] for _, _, v in linked]
    text = compared.read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", text)
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags


def test_model_output_is_escaped(compared):
    page = read_page(compared)
    text = compared.read_text()
    assert "<script>window.pwned" not in text and "<img src=x" not in text
    assert "&lt;script&gt;window.pwned = 1;&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=&quot;window.pwned = 2&quot;&gt;" in text
    assert not any(name.startswith("on") for _, name, _ in page.attributes)
    assert len(page.images) == 5  # the completion's <img> is text, not an image
    # the test message "<b>-1</b>" is a cell's text, not markup
    assert "expected 7, got <b>-1</b>" in [row[-1] for t in page.tables
                                            if t.caption == "Judged tests" for row in t.rows]
    assert "b" not in page.tags


def test_drill_down_has_every_problem_of_every_run(compared):
    page = read_page(compared)
    text = compared.read_text()
    problems = re.findall(r'<details class="problem" id="problem-\d+"><summary>(.*?)</summary>',
                          text)
    assert len(problems) == 3
    assert problems[0].startswith("<code>E/0</code> (easy)")
    assert "base: " in problems[0] and "better: " in problems[0]
    tests = [t for t in page.tables if t.caption == "Judged tests"]
    assert len(tests) == 6  # 3 problems x 2 runs
    assert tests[0].header == ["test", "status", "visibility", "CPU s", "peak MB", "message"]
    assert tests[0].rows[1][:5] == ["1", "passed", "private", "0.060", "10.2"]
    assert "base: sample 0, round 2 — " in text  # the last round of a multi-round run
    assert "rounds: 1 " in text and "Prompt (last user turn)" in text
    assert "Your program for E/0 failed the public tests (round 1). Fix it." in text


def test_long_texts_are_clipped(tmp_path):
    import json

    run = write_better_run(tmp_path / "run")
    records = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    records[0]["completion"] = "x" * 50_000
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    html_path, _ = write_reports([run], run)
    text = html_path.read_text()
    assert "x" * 6000 in text and "x" * 6001 not in text
    assert "[44000 more characters]" in text


def test_unfinished_runs_get_a_report_that_says_so(tmp_path):
    started = write_started_run(tmp_path / "started")       # killed before judging
    partial = write_base_run(tmp_path / "partial", finished=False)  # judged, no summary
    html_path, md_path = write_reports([started], started)
    assert html_path.parent == started
    page = read_page(html_path)
    assert "No summary yet: the run has not finished. Continue it with `motcoder run --out " \
        f"{started} --resume`" in "".join(page.text)
    assert "not judged" in html_path.read_text()
    assert "No analysis: no run has verdicts yet." in "".join(page.text)
    html_path, _ = write_reports([partial, started], tmp_path / "out")
    text = html_path.read_text()
    assert text.count('class="unfinished"') == 2
    assert "pass@1: difference" not in text  # nothing finished to compare
    assert "Modularity: accuracy by number of functions" in text  # verdicts are analysed


def test_single_finished_run_has_results_chart_and_no_comparison(runs, tmp_path):
    html_path, _ = write_reports([runs[1]], tmp_path)
    page = read_page(html_path)
    assert page.images[0]["alt"] == "Results: pass@1 per difficulty and run"
    assert not [t for t in page.tables if t.caption.startswith("pass@1: difference")]


# --------------------------------------------------------------------------- the command
def cli(*args: object):
    result = CliRunner().invoke(app, ["report", *map(str, args)])
    assert "Traceback" not in result.output, result.output
    return result


def test_report_command_writes_into_the_run_directory(runs, tmp_path):
    import shutil

    run = shutil.copytree(runs[0], tmp_path / "run")
    result = cli(run)
    assert result.exit_code == 0, result.output
    assert (run / "report.html").is_file() and (run / "report.md").is_file()
    assert "report.html" in result.output


def test_report_command_compares_runs_with_labels(runs, tmp_path):
    result = cli(*runs, "--label", "A", "--label", "B", "--out", tmp_path / "cmp",
                 "--title", "A vs B")
    assert result.exit_code == 0, result.output
    page = read_page(tmp_path / "cmp" / "report.html")
    assert page.table("pass@1: difference from A").rows == [["B", "+50.00", "-100.00",
                                                              "+0.00"]]


@pytest.mark.parametrize(("args", "named"), [
    (["{a}", "{b}"], "--out DIR"),
    (["{a}", "{b}", "--label", "only-one", "--out", "{tmp}"], "one label per run"),
    (["{a}", "{b}", "--label", "X", "--label", "X", "--out", "{tmp}"], "labels must differ"),
    (["{tmp}/missing"], "missing: no such run directory"),
    (["{tmp}"], "no results.jsonl"),
])
def test_report_command_errors_are_clear(runs, tmp_path, args, named):
    values = {"a": runs[0], "b": runs[1], "tmp": tmp_path}
    result = cli(*(arg.format(**values) for arg in args))
    assert result.exit_code == 2, result.output
    assert named in " ".join(result.output.split())
