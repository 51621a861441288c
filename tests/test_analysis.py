"""The analysis layer and ``motcoder analyze`` on two fixture runs with known code and verdicts.

* function / class counts on programs with known answers (nested, methods, async, lambdas,
  unparsable), and accuracy per function-count bucket against the fixture's declared counts;
* radon's MI / CC / LOC / SLOC equal radon's own numbers on the same code;
* resources: only problems passed by both runs, each measured on its lowest passing sample;
* accuracy per round (self-reflection) and per turn (Best-of-N), with or without summary.json;
* figures are real PNGs; the CLI writes its files, prints its tables, and fails clearly.

Nothing here runs a solution: analysis only reads run directories.
"""

from __future__ import annotations

import io
import json
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analysis_fixtures import (
    BROKEN,
    DIFFICULTY,
    FOUR,
    MOT,
    NORMAL,
    SCRIPT,
    TWO,
    finals,
    write_fixture_runs,
    write_run,
)
from motcoder.analysis.analyze import analysis_markdown, analyze_runs
from motcoder.analysis.loading import AnalysisError, load_run, load_runs
from motcoder.analysis.maintainability import maintainability_rows, measure_code
from motcoder.analysis.modularity import BUCKETS, bucket, count_definitions, modularity_rows
from motcoder.analysis.plots import analysis_figures
from motcoder.analysis.resources import compare_resources
from motcoder.analysis.rounds import round_rows
from motcoder.cli import app
from motcoder.runs import RunDirError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_paths(tmp_path_factory) -> tuple[Path, Path]:
    return write_fixture_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def runs(run_paths):
    return [load_run(p) for p in run_paths]


@pytest.fixture(scope="module")
def analysis(runs):
    return analyze_runs(runs)


def group_of(rows, name):
    return next(r for r in rows if r["difficulty"] == name)


# ----------------------------------------------------------------------------- loading

def test_load_run_keeps_final_attempts_with_their_code(runs):
    mot, normal = runs
    assert mot.label != normal.label
    assert "mot" in mot.label and "Coder-7B" in mot.label
    expected = finals(MOT)
    assert {(f.task_id, f.sample_index) for f in mot.finals} == set(expected)
    for final in mot.finals:
        spec = expected[(final.task_id, final.sample_index)]
        assert final.code == spec.code and final.passed == spec.passed
        assert final.verdict.round == spec.round
    assert mot.difficulties == DIFFICULTY
    assert len(normal.finals) == len(finals(NORMAL))
    no_code = [f for f in normal.finals if f.code is None]
    assert [(f.task_id, f.sample_index) for f in no_code] == [("T/3", 0)]


def test_same_settings_get_unique_labels(tmp_path):
    a = write_run(tmp_path / "a", MOT, {"model": "embedded", "style": "mot"})
    b = write_run(tmp_path / "b", MOT, {"model": "embedded", "style": "mot"})
    labels = [r.label for r in load_runs([a, b])]
    assert len(set(labels)) == 2 and all(label.startswith("embedded mot") for label in labels)
    assert [r["label"] for r in analyze_runs([load_run(a), load_run(b)])["runs"]] == labels
    assert [r.label for r in load_runs([a, b], ["x", "y"])] == ["x", "y"]
    with pytest.raises(AnalysisError, match="one label per run"):
        load_runs([a, b], ["x"])


def test_load_run_errors_name_the_directory_and_the_fix(tmp_path):
    with pytest.raises(RunDirError, match="no such run directory"):
        load_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirError, match=r"results\.jsonl.*motcoder evaluate"):
        load_run(tmp_path / "empty")
    assert not (tmp_path / "missing").exists()  # loading never creates directories


# -------------------------------------------------------------------------- modularity

@pytest.mark.parametrize(("code", "functions", "classes"), [
    ("print(1)\n", 0, 0),
    ("", 0, 0),
    ("def f():\n    def g():\n        def h():\n            pass\n        return h\n"
     "    return g\n", 3, 0),
    ("class A:\n    def a(self):\n        pass\n\n    class B:\n        def b(self):\n"
     "            pass\n", 2, 2),
    ("async def f():\n    return 1\n\nsquare = lambda x: x * x\n", 1, 0),
    (FOUR, 4, 1),
])
def test_count_definitions(code, functions, classes):
    counts = count_definitions(code)
    assert (counts.functions, counts.classes) == (functions, classes)


@pytest.mark.parametrize("code", [BROKEN, "x = (\n", "a\x00b\n"])
def test_unparsable_code_has_no_count(code):
    assert count_definitions(code) is None


def test_buckets():
    assert [bucket(n) for n in range(8)] == ["0", "1", "2", "3", "4", "5+", "5+", "5+"]


@pytest.mark.parametrize("which", [0, 1])
def test_accuracy_per_function_bucket_matches_the_spec(runs, which):
    spec = finals([MOT, NORMAL][which])
    rows = modularity_rows(runs[which])
    assert [r["difficulty"] for r in rows] == ["introductory", "interview", "competition",
                                               "all"]
    for row in rows:
        members = [a for a in spec.values()
                   if row["difficulty"] in ("all", DIFFICULTY[a.task_id])]
        assert row["solutions"] == len(members)
        assert row["no_code"] == sum(a.code is None for a in members)
        assert row["unparsable"] == sum(a.code == BROKEN for a in members)
        for name in BUCKETS:
            inside = [a for a in members if a.functions is not None
                      and bucket(a.functions) == name]
            cell = row["buckets"][name]
            assert cell["solutions"] == len(inside)
            assert cell["passed"] == sum(a.passed for a in inside)
            assert cell["accuracy"] == (sum(a.passed for a in inside) / len(inside)
                                        if inside else None)
        passing = [a.functions for a in members if a.passed and a.functions is not None]
        assert row["mean_functions"] == (statistics.fmean(passing) if passing else None)
    assert group_of(rows, "all")["unparsable"] + group_of(rows, "all")["no_code"] == 1


# --------------------------------------------------------------------- maintainability

@pytest.mark.parametrize("code", [SCRIPT, TWO, FOUR])
def test_code_metrics_are_radons_own(code):
    from radon.complexity import cc_visit
    from radon.metrics import mi_visit
    from radon.raw import analyze
    from radon.visitors import ComplexityVisitor

    metrics = measure_code(code)
    assert metrics.mi == pytest.approx(mi_visit(code, True))
    blocks = cc_visit(code)
    if blocks:
        assert metrics.cc == pytest.approx(sum(b.complexity for b in blocks) / len(blocks))
    else:  # a plain script: its module-level complexity
        assert metrics.cc == ComplexityVisitor.from_code(code).complexity
    raw = analyze(code)
    assert (metrics.loc, metrics.sloc) == (raw.loc, raw.sloc)
    assert measure_code(BROKEN) is None


def test_maintainability_means_over_passing_finals(runs):
    mot = runs[0]
    rows = maintainability_rows(mot)
    for row in rows:
        codes = [a.code for a in finals(MOT).values() if a.passed
                 and row["difficulty"] in ("all", DIFFICULTY[a.task_id])]
        measured = [measure_code(c) for c in codes]
        assert row["solutions"] == len(codes) and row["skipped"] == 0
        for metric in ("mi", "cc", "loc", "sloc"):
            expected = [getattr(m, metric) for m in measured]
            assert row[metric] == (pytest.approx(statistics.fmean(expected)) if expected
                                   else None)
    assert group_of(rows, "competition")["solutions"] == 0  # T/3 never passed


def test_maintainability_skips_and_counts_unparsable_code(tmp_path):
    from analysis_fixtures import Attempt

    attempts = [a for a in MOT if a.task_id != "T/4"]
    attempts.append(Attempt("T/4", 0, 0, BROKEN, True, [0.1], [1.0]))  # e.g. a stale record
    run = load_run(write_run(tmp_path / "r", attempts, {"model": "m"}))
    interview = group_of(maintainability_rows(run), "interview")
    assert interview["skipped"] == 1
    assert interview["solutions"] == 1  # T/2 only
    assert interview["mi"] == pytest.approx(measure_code(SCRIPT).mi)


# --------------------------------------------------------------------------- resources

def test_resources_pair_only_problems_passed_by_both(runs):
    mot, normal = runs
    section = compare_resources(mot, normal)
    both = {t for t in DIFFICULTY
            if any(a.passed for (task, _), a in finals(MOT).items() if task == t)
            and any(a.passed for (task, _), a in finals(NORMAL).items() if task == t)}
    assert {p["task_id"] for p in section["problems"]} == both
    assert "T/4" not in both and "T/3" not in both  # one run only / neither

    def measured(spec, task):  # the passing final attempt with the lowest sample index
        chosen = min((a for (t, _), a in finals(spec).items() if t == task and a.passed),
                     key=lambda a: a.sample_index)
        return sum(chosen.cpu), max(chosen.memory)

    for row in section["rows"]:
        tasks = sorted(t for t in both if row["difficulty"] in ("all", DIFFICULTY[t]))
        assert row["problems"] == len(tasks)
        if not tasks:
            assert row["cpu_time"][mot.label] == {"mean": None, "median": None}
            continue
        for run, spec in ((mot, MOT), (normal, NORMAL)):
            cpu = [measured(spec, t)[0] for t in tasks]
            memory = [measured(spec, t)[1] for t in tasks]
            assert row["cpu_time"][run.label]["mean"] == pytest.approx(statistics.fmean(cpu))
            assert row["cpu_time"][run.label]["median"] == pytest.approx(
                statistics.median(cpu))
            assert row["peak_memory_mb"][run.label]["mean"] == pytest.approx(
                statistics.fmean(memory))
    assert [r["difficulty"] for r in section["rows"]] == ["introductory", "interview",
                                                          "competition", "all"]
    assert group_of(section["rows"], "competition")["problems"] == 0


def test_resources_need_two_runs_and_known_labels(runs):
    assert analyze_runs(runs[:1])["resources"] is None
    swapped = analyze_runs(runs, pair=(runs[1].label, runs[0].label))["resources"]
    assert swapped["pair"] == [runs[1].label, runs[0].label]
    with pytest.raises(AnalysisError, match="no run is labelled 'nope'"):
        analyze_runs(runs, pair=("nope", runs[0].label))
    with pytest.raises(AnalysisError, match="two different runs"):
        analyze_runs(runs, pair=(runs[0].label, runs[0].label))


# ------------------------------------------------------------------------------ rounds

def spec_accuracy(spec, up_to):
    answers = finals(spec, up_to)
    tasks = sorted({t for t, _ in answers})
    searches = sorted({s for _, s in answers})
    per_search = [sum(answers[(t, s)].passed for t in tasks if (t, s) in answers) / len(tasks)
                  for s in searches]
    return statistics.fmean(per_search), statistics.pstdev(per_search)


@pytest.mark.parametrize("with_summary", [True, False])
def test_accuracy_per_round_and_turn(tmp_path, with_summary):
    mot, normal = (load_run(p) for p in write_fixture_runs(tmp_path, summary=with_summary))
    rows = round_rows(mot)
    assert [(r["kind"], r["step"]) for r in rows] == [("round", 1), ("round", 2)]
    for row in rows:
        assert row["accuracy"] == pytest.approx(spec_accuracy(MOT, row["step"] - 1)[0])
    intro = [a for a in finals(MOT, 0).values() if DIFFICULTY[a.task_id] == "introductory"]
    assert rows[0]["by_difficulty"]["introductory"] == pytest.approx(
        sum(a.passed for a in intro) / len(intro))
    rows = round_rows(normal)
    assert [(r["kind"], r["step"]) for r in rows] == [("turn", 1), ("turn", 2)]
    for row in rows:
        mean, std = spec_accuracy(NORMAL, row["step"] - 1)
        assert row["accuracy"] == pytest.approx(mean) and row["std"] == pytest.approx(std)
    assert rows[0]["accuracy"] < rows[1]["accuracy"]


def test_single_round_run_has_no_rounds(tmp_path):
    single = [a for a in MOT if a.round == 0]
    run = load_run(write_run(tmp_path / "one", single, {"model": "m", "solver": "direct"}))
    assert round_rows(run) == []


# ------------------------------------------------------------------- analysis and plots

def test_analysis_is_json_safe_and_markdown_has_every_section(analysis, runs):
    assert json.loads(json.dumps(analysis)) == analysis
    assert set(analysis) == {"runs", "modularity", "resources", "maintainability", "rounds"}
    assert set(analysis["modularity"]) == {r.label for r in runs}
    text = "\n".join(analysis_markdown(analysis))
    for heading in ("## Runs", "## Modularity", "## Resources", "## Maintainability",
                    "## Accuracy per round"):
        assert heading in text
    assert text.count("| introductory |") >= 5


def test_markdown_says_why_a_section_is_empty(tmp_path):
    single = [a for a in MOT if a.round == 0]
    run = load_run(write_run(tmp_path / "one", single, {"model": "m"}))
    text = "\n".join(analysis_markdown(analyze_runs([run])))
    assert "Needs two runs" in text and "No run has more than one round" in text


def read_png(data: bytes):
    import matplotlib.image

    assert data.startswith(PNG_SIGNATURE)
    image = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    return image


def test_figures_are_pngs_and_empty_sections_are_skipped(analysis, runs, tmp_path):
    figures = analysis_figures(analysis)
    assert set(figures) == {"modularity", "resources", "maintainability", "rounds"}
    for data in figures.values():
        read_png(data)
    single = [a for a in MOT if a.round == 0]
    one = analyze_runs([load_run(write_run(tmp_path / "one", single, {"model": "m"}))])
    assert set(analysis_figures(one)) == {"modularity", "maintainability"}


# --------------------------------------------------------------------------------- CLI

def test_cli_writes_files_and_prints_tables(run_paths, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["analyze", *map(str, run_paths), "--label", "MoT",
                                      "--label", "normal", "--pair", "normal", "MoT",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    for title in ("Modularity", "Resources", "Maintainability", "Accuracy per round"):
        assert title in result.stdout
    saved = json.loads((out / "analysis.json").read_text())
    assert [r["label"] for r in saved["runs"]] == ["MoT", "normal"]
    assert saved["resources"]["pair"] == ["normal", "MoT"]
    markdown = (out / "analysis.md").read_text()
    for name in ("modularity", "resources", "maintainability", "rounds"):
        read_png((out / f"analysis-{name}.png").read_bytes())
        assert f"(analysis-{name}.png)" in markdown


def test_cli_defaults_to_the_first_run_directory(tmp_path):
    first, second = write_fixture_runs(tmp_path)
    result = CliRunner().invoke(app, ["analyze", str(first)])
    assert result.exit_code == 0, result.output
    assert (first / "analysis.json").is_file() and (first / "analysis.md").is_file()
    assert not (second / "analysis.json").exists()


@pytest.mark.parametrize(("args", "fragment"), [
    (["MISSING"], "no such run directory"),
    (["EMPTY"], "motcoder evaluate"),
    (["RUN", "--label", "a", "--label", "b"], "one label per run"),
    (["RUN", "RUN", "--pair", "x", "y"], "no run is labelled 'x'"),
])
def test_cli_errors_exit_2_with_a_clear_message(run_paths, tmp_path, args, fragment):
    (tmp_path / "empty").mkdir()
    paths = {"MISSING": str(tmp_path / "missing"), "EMPTY": str(tmp_path / "empty"),
             "RUN": str(run_paths[0])}
    result = CliRunner().invoke(app, ["analyze", *(paths.get(a, a) for a in args),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "error" in result.stderr and fragment in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "analysis.json").exists()
