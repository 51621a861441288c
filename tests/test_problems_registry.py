"""load_problems: benchmark names and files, schema detection, filters, hub errors."""

from __future__ import annotations

import gzip
import json

import pytest

from fixture_files import write_apps_fixture, write_codecontests_fixture, write_mbpp_fixture
from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.humaneval import embedded_path
from motcoder.problems.registry import (
    BENCHMARKS,
    detect_schema,
    load_problems,
    read_problems,
    write_problems,
)


@pytest.fixture
def apps_file(tmp_path):
    return write_apps_fixture(tmp_path / "apps_test.jsonl")


@pytest.fixture
def humaneval_file(tmp_path):
    with gzip.open(embedded_path(), "rt", encoding="utf-8") as handle:
        lines = [next(handle) for _ in range(5)]
    path = tmp_path / "he.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_benchmark_names():
    assert set(BENCHMARKS) == {"humaneval", "humaneval-plus", "mbpp", "mbpp-sanitized",
                               "mbpp-plus", "apps", "codecontests"}


def test_humaneval_default_is_the_embedded_copy():
    assert len(load_problems("humaneval")) == 164


@pytest.mark.parametrize(
    ("writer", "name", "schema"),
    [
        (write_apps_fixture, "a.jsonl", "apps"),
        (write_codecontests_fixture, "c.jsonl", "codecontests"),
        (write_mbpp_fixture, "m.jsonl", "mbpp"),
        (lambda p: write_mbpp_fixture(p, sanitized=True), "m.json", "mbpp"),
    ],
)
def test_detect_schema(tmp_path, writer, name, schema):
    assert detect_schema(writer(tmp_path / name)) == schema


def test_detect_humaneval_and_our_own_format(tmp_path, humaneval_file):
    assert detect_schema(humaneval_file) == "humaneval"
    ours = tmp_path / "ours.jsonl"
    write_problems(load_problems(str(humaneval_file)), ours)
    assert detect_schema(ours) == "problems"


def test_unknown_schema(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"foo": 1}\n', encoding="utf-8")
    with pytest.raises(ProblemLoadError, match="cannot tell which benchmark.*fields foo"):
        load_problems(str(path))


@pytest.mark.parametrize(
    ("make", "benchmark", "count"),
    [
        (lambda d: write_apps_fixture(d / "a.jsonl"), "apps", 5),
        (lambda d: write_codecontests_fixture(d / "c.parquet", "parquet"), "codecontests", 2),
        (lambda d: write_mbpp_fixture(d / "mbpp.jsonl"), "mbpp", 2),  # the test split only
        (lambda d: write_mbpp_fixture(d / "s.json", True), "mbpp-sanitized", 2),
    ],
)
def test_file_path_equals_named_benchmark_with_path(tmp_path, make, benchmark, count):
    path = make(tmp_path)
    by_file = load_problems(str(path))
    by_name = load_problems(benchmark, path=path)
    assert len(by_file) == count
    assert [p.to_dict() for p in by_file] == [p.to_dict() for p in by_name]


def test_own_format_round_trip(tmp_path, apps_file):
    problems = load_problems("apps", path=apps_file)
    out = tmp_path / "problems.jsonl.gz"
    assert write_problems(problems, out) == 5
    assert [p.to_dict() for p in read_problems(out)] == [p.to_dict() for p in problems]
    assert [p.to_dict() for p in load_problems(str(out))] == [p.to_dict() for p in problems]


def test_bad_record_in_own_format(tmp_path):
    path = tmp_path / "ours.jsonl"
    record = {"id": "x", "source": "file", "statement": "s", "tests": [{"kind": "magic"}]}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(ProblemLoadError, match=r"ours\.jsonl:1: not a valid problem record"):
        load_problems(str(path))


@pytest.mark.parametrize(
    ("split", "ids"),
    [
        (None, ["Mbpp/17", "Mbpp/120"]),
        ("test", ["Mbpp/17", "Mbpp/120"]),
        ("train", ["Mbpp/700"]),
        ("validation", ["Mbpp/530"]),
        ("valid", ["Mbpp/530"]),
        ("prompt", ["Mbpp/3"]),
    ],
)
def test_split_filter_on_a_file_with_every_split(tmp_path, split, ids):
    path = write_mbpp_fixture(tmp_path / "mbpp.jsonl")
    assert [p.id for p in load_problems("mbpp", path=path, split=split)] == ids


def test_unknown_split_name(apps_file):
    with pytest.raises(ProblemLoadError, match="apps has splits train, test; not 'dev2'"):
        load_problems("apps", path=apps_file, split="dev2")


def test_split_absent_from_a_file_lists_the_present_ones(tmp_path):
    fixture = write_apps_fixture(tmp_path / "x.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in fixture.splitlines()]
    path = tmp_path / "with_split.jsonl"
    path.write_text("".join(json.dumps({**r, "split": "test"}) + "\n" for r in rows),
                    encoding="utf-8")
    with pytest.raises(ProblemLoadError, match="no problem of split 'train'; splits present: test"):
        load_problems("apps", path=path, split="train")


@pytest.mark.parametrize(
    ("difficulty", "ids"),
    [
        ("introductory", [4101, 4505]),
        ("Interview", [1202, 2404]),
        (["competition", "introductory"], [4101, 3303, 4505]),
    ],
)
def test_difficulty_filter(apps_file, difficulty, ids):
    problems = load_problems("apps", path=apps_file, difficulty=difficulty)
    assert [p.metadata["problem_id"] for p in problems] == ids


def test_unknown_difficulty_lists_the_present_ones(apps_file):
    says = "'easy'; difficulties present: competition, interview, introductory"
    with pytest.raises(ProblemLoadError, match=says):
        load_problems("apps", path=apps_file, difficulty="easy")


def test_codecontests_difficulty_filter(tmp_path):
    path = write_codecontests_fixture(tmp_path / "cc.jsonl")
    assert [p.id for p in load_problems("codecontests", path=path, difficulty="b")] == [
        "9001_B. Ordinary Numbers"
    ]


def test_ids_filter_keeps_file_order(apps_file):
    problems = load_problems("apps", path=apps_file, ids=["APPS/test/4505", "APPS/test/1202"])
    assert [p.id for p in problems] == ["APPS/test/1202", "APPS/test/4505"]


def test_unknown_id_is_listed(apps_file):
    with pytest.raises(ProblemLoadError) as info:
        load_problems("apps", path=apps_file, ids=["APPS/test/4101", "APPS/test/9", "nope"])
    message = str(info.value)
    assert "unknown problem id(s) 'APPS/test/9', 'nope'" in message
    assert "'APPS/test/4101'" in message.split("look like")[1]  # shows what ids look like


@pytest.mark.parametrize(("limit", "count"), [(0, 0), (2, 2), (100, 5)])
def test_limit_applies_after_filters(apps_file, limit, count):
    assert len(load_problems("apps", path=apps_file, limit=limit)) == count
    one = load_problems("apps", path=apps_file, difficulty="interview", limit=1)
    assert [p.metadata["problem_id"] for p in one] == [1202]


def test_negative_limit():
    with pytest.raises(ProblemLoadError, match="limit must be 0 or more"):
        load_problems("humaneval", limit=-1)


def test_unknown_benchmark(tmp_path):
    with pytest.raises(ProblemLoadError, match="unknown benchmark 'apss': choose one of"):
        load_problems("apss")
    with pytest.raises(ProblemLoadError, match="unknown benchmark 'apss'"):
        load_problems("apss", path=tmp_path / "x.jsonl")


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"])
@pytest.mark.parametrize(
    ("benchmark", "kwargs", "dataset"),
    [
        ("apps", {}, "codeparrot/apps, test.jsonl"),
        ("apps", {"split": "train"}, "codeparrot/apps, train.jsonl"),
        ("codecontests", {"split": "valid"}, "deepmind/code_contests, split valid"),
        ("mbpp", {}, "google-research-datasets/mbpp, config full, split test"),
        ("mbpp-sanitized", {}, "google-research-datasets/mbpp, config sanitized, split test"),
        ("humaneval", {"hub": True}, "openai/openai_humaneval, split test"),
    ],
)
def test_offline_hub_is_one_clear_error(monkeypatch, variable, benchmark, kwargs, dataset):
    monkeypatch.setenv(variable, "1")
    with pytest.raises(ProblemLoadError) as info:
        load_problems(benchmark, **kwargs)
    message = str(info.value)
    assert "could not load" in message and f"({dataset})" in message
    assert "offline mode is on" in message
    assert "Pass a local file instead: --data PATH with" in message
    assert "schema" in message or "fields" in message


def test_offline_mode_is_restored_after_the_call(monkeypatch):
    import datasets.config
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ProblemLoadError):
        load_problems("apps")
    assert (constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE) == before
