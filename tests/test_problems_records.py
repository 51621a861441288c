"""Reading record files: JSONL(.gz), JSON arrays, parquet; errors name file and line."""

from __future__ import annotations

import gzip
import json

import pytest

from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.records import (
    first_record,
    normalise_split,
    read_jsonl,
    read_records,
    split_from_filename,
    write_jsonl,
)


def test_problem_load_error_is_a_value_error():
    assert issubclass(ProblemLoadError, ValueError)


def test_read_jsonl_yields_line_numbers_and_skips_blank_lines(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (3, {"a": 2})]


def test_read_jsonl_reads_gzip(tmp_path):
    path = tmp_path / "data.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('{"a": 1}\n{"a": 2}\n')
    assert [r["a"] for _, r in read_jsonl(path)] == [1, 2]


@pytest.mark.parametrize(
    ("bad_line", "says"),
    [
        ('{"a": 1,,}', "invalid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('"text"', "expected a JSON object, got str"),
    ],
)
def test_broken_line_names_file_and_line(tmp_path, bad_line, says):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n' + bad_line + "\n", encoding="utf-8")
    with pytest.raises(ProblemLoadError) as info:
        list(read_jsonl(path))
    message = str(info.value)
    assert f"{path}:3:" in message
    assert says in message
    assert "fix or delete that line" in message


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ProblemLoadError, match="no such file"):
        list(read_records(tmp_path / "nope.jsonl"))


def test_json_array_rows_are_located_by_index(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([{"a": 1}, {"a": 2}]), encoding="utf-8")
    assert list(read_records(path)) == [(f"{path}:row 0", {"a": 1}), (f"{path}:row 1", {"a": 2})]


def test_json_file_with_json_lines_is_read_as_lines(tmp_path):
    path = tmp_path / "data.json"
    path.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    assert [w for w, _ in read_records(path)] == [f"{path}:1", f"{path}:2"]


def test_parquet_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_pylist([{"a": 1, "b": {"x": [1]}}, {"a": 2, "b": None}]), path)
    assert list(read_records(path)) == [
        (f"{path}:row 0", {"a": 1, "b": {"x": [1]}}),
        (f"{path}:row 1", {"a": 2, "b": None}),
    ]


def test_empty_file_has_no_first_record(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(ProblemLoadError, match="holds no records"):
        first_record(path)


def test_write_jsonl_round_trip_with_gzip(tmp_path):
    path = tmp_path / "out" / "data.jsonl.gz"
    assert write_jsonl(path, [{"a": "é"}, {"a": 2}]) == 2
    assert [r for _, r in read_jsonl(path)] == [{"a": "é"}, {"a": 2}]


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("train.jsonl", "train"),
        ("apps_test.jsonl", "test"),
        ("code_contests-valid.parquet", "valid"),
        ("mbpp_validation.json", "valid"),
        ("problems.jsonl", None),
        ("contest.jsonl", None),
    ],
)
def test_split_from_filename(name, split):
    assert split_from_filename(f"/data/{name}") == split


@pytest.mark.parametrize(
    ("split", "splits", "expected"),
    [
        ("validation", ("train", "valid", "test"), "valid"),
        ("valid", ("train", "test", "validation", "prompt"), "validation"),
        ("dev", ("train", "valid", "test"), "valid"),
        ("TEST", ("train", "test"), "test"),
        ("other", ("train", "test"), "other"),
    ],
)
def test_normalise_split(split, splits, expected):
    assert normalise_split(split, splits) == expected
