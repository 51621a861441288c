"""Tests of the JSONL reader, the resumable JsonlStore and run directories."""

from __future__ import annotations

import gzip
import json
import logging
import threading
from pathlib import Path

import pytest

from motcoder.runs import (
    DuplicateKeyError,
    JsonlError,
    JsonlStore,
    RunDir,
    RunDirError,
    read_json,
    read_jsonl,
    write_json,
)


def by_id(record: dict) -> int:
    return record["id"]


def by_task_sample(record: dict) -> tuple[str, int]:
    return record["task_id"], record["sample_index"]


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------------
# read_jsonl


def test_read_jsonl_plain_gz_blank_lines_and_bom(tmp_path: Path) -> None:
    text = '{"id": 1}\n\n  \n{"id": 2, "s": "é\\n"}\n[3]\n'
    plain = write_bytes(tmp_path / "a.jsonl", text.encode())
    packed = write_bytes(tmp_path / "a.jsonl.gz", gzip.compress(text.encode()))
    bom = write_bytes(tmp_path / "b.jsonl", b"\xef\xbb\xbf" + text.encode())
    expected = [{"id": 1}, {"id": 2, "s": "é\n"}, [3]]
    for path in (plain, packed, bom):
        assert list(read_jsonl(path)) == expected
    no_final_newline = write_bytes(tmp_path / "c.jsonl", b'{"id": 1}\n{"id": 2}')
    assert list(read_jsonl(no_final_newline)) == [{"id": 1}, {"id": 2}]
    assert list(read_jsonl(write_bytes(tmp_path / "empty.jsonl", b""))) == []


def test_read_jsonl_unicode_line_separator_is_not_a_line_break(tmp_path: Path) -> None:
    record = {"s": "a\u2028b\u0085c\rd"}
    path = tmp_path / "u.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    assert list(read_jsonl(path)) == [record]


@pytest.mark.parametrize(
    ("data", "line", "problem", "fix"),
    [
        (b'{"id": 1}\n{"id": \n{"id": 3}\n', 2, "not valid JSON", "fix or delete this line"),
        (b'{"id": 1}\n{"id": 2}\n{oops}\n', 3, "not valid JSON", "fix or delete this line"),
        (b'{"id": 1}\n\xff\xfe\n', 2, "not UTF-8", "re-save the file as UTF-8"),
        (b'{"id": 1}\n{"id": 2, "x', 2, "the last line is incomplete", "--resume"),
    ],
)
def test_read_jsonl_errors_name_file_and_line(
    tmp_path: Path, data: bytes, line: int, problem: str, fix: str
) -> None:
    path = write_bytes(tmp_path / "bad.jsonl", data)
    with pytest.raises(JsonlError) as info:
        list(read_jsonl(path))
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ")
    head, _, tail = message.partition(" — ")
    assert problem in head
    assert fix in tail
    assert (info.value.path, info.value.line_no) == (str(path), line)
    assert isinstance(info.value, ValueError)


def test_read_jsonl_cut_off_gzip(tmp_path: Path) -> None:
    packed = gzip.compress(b"".join(b'{"id": %d}\n' % i for i in range(1000)))
    path = write_bytes(tmp_path / "cut.jsonl.gz", packed[: len(packed) // 2])
    with pytest.raises(JsonlError, match=r"cut\.jsonl\.gz:\d+: the compressed data ends early"):
        list(read_jsonl(path))


def test_read_jsonl_not_gzip(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "fake.jsonl.gz", b'{"id": 1}\n')
    with pytest.raises(JsonlError, match=r"fake\.jsonl\.gz:1: cannot decompress"):
        list(read_jsonl(path))


# ---------------------------------------------------------------------------------------------
# JsonlStore


def test_append_reopen_and_resume(tmp_path: Path) -> None:
    path = tmp_path / "run" / "results.jsonl"
    work = [("t/1", 0), ("t/1", 1), ("t/2", 0), ("t/2", 1), ("t/3", 0)]

    with JsonlStore(path, key=by_task_sample) as store:  # first attempt, "crashes" after 3
        for task_id, index in work[:3]:
            store.append({"task_id": task_id, "sample_index": index, "ok": True})
        assert len(store) == 3
        assert ("t/1", 1) in store and ("t/3", 0) not in store

    done = []
    with JsonlStore(path, key=by_task_sample) as store:  # the resumed run
        assert store.keys() == frozenset(work[:3])
        for task_id, index in work:
            if (task_id, index) in store:
                continue
            store.append({"task_id": task_id, "sample_index": index, "ok": False})
            done.append((task_id, index))
        assert [by_task_sample(r) for r in store.records()] == work
    assert done == work[3:]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [by_task_sample(json.loads(line)) for line in lines] == work
    assert list(read_jsonl(path))[3] == {"task_id": "t/2", "sample_index": 1, "ok": False}


def test_each_append_is_on_disk_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    store = JsonlStore(path, key=by_id)
    try:
        store.append({"id": 1, "text": "x" * 100_000})
        assert path.read_bytes().endswith(b'"}\n')  # read by another handle, before close
        assert list(read_jsonl(path)) == [{"id": 1, "text": "x" * 100_000}]
    finally:
        store.close()


def test_truncated_final_line_is_removed_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = b'{"id": 1}\n{"id": 2}\n'
    path = write_bytes(tmp_path / "r.jsonl", good + b'{"id": 3, "text": "half a rec')
    with caplog.at_level(logging.WARNING, logger="motcoder.runs"):
        store = JsonlStore(path, key=by_id)
    with store:
        assert path.read_bytes() == good
        assert store.keys() == {1, 2}
        assert any("r.jsonl:3" in r.getMessage() and "incomplete" in r.getMessage()
                   for r in caplog.records)
        store.append({"id": 3, "text": "whole"})
    assert list(read_jsonl(path)) == [{"id": 1}, {"id": 2}, {"id": 3, "text": "whole"}]


def test_complete_final_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "r.jsonl", b'{"id": 1}\n{"id": 2}')
    with JsonlStore(path, key=by_id) as store:
        assert store.keys() == {1, 2}
        store.append({"id": 3})
    assert path.read_bytes() == b'{"id": 1}\n{"id": 2}\n{"id": 3}\n'


@pytest.mark.parametrize(
    ("data", "line", "match"),
    [
        (b'{"id": 1}\n{"id": 2, "x\n{"id": 3}\n', 2, "not valid JSON"),
        (b'{"id": 1}\n{"id": 2, "x\n{"id": 3}', 2, "not valid JSON"),
        (b'{"id": 1}\n{"id": 2, "x\n', 2, "not valid JSON"),  # has its line end: not a kill
        (b'{"id": 1}\n{"id": 2}\n{"id": 1}\n', 3, r"second record with key 1 .*line 1"),
        (b'{"id": 1}\n{"other": 2}\n', 2, "cannot take the key"),
    ],
)
def test_damaged_file_is_an_error_not_repaired(
    tmp_path: Path, data: bytes, line: int, match: str
) -> None:
    path = write_bytes(tmp_path / "r.jsonl", data)
    with pytest.raises(JsonlError, match=match) as info:
        JsonlStore(path, key=by_id)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert path.read_bytes() == data  # untouched
    JsonlStore(write_bytes(tmp_path / "ok.jsonl", b""), key=by_id).close()  # the lock was freed
    path.write_bytes(b"")
    JsonlStore(path, key=by_id).close()


def test_duplicate_key_cannot_be_appended(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with JsonlStore(path, key=by_id) as store:
        store.append({"id": 1, "v": "first"})
        with pytest.raises(DuplicateKeyError, match=r"key 1 is already in the store"):
            store.append({"id": 1, "v": "second"})
    with JsonlStore(path, key=by_id) as store:
        with pytest.raises(DuplicateKeyError):
            store.append({"id": 1, "v": "third"})
    assert list(read_jsonl(path)) == [{"id": 1, "v": "first"}]


def test_bad_records_write_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with JsonlStore(path, key=by_id) as store:
        with pytest.raises(TypeError, match="cannot be written as JSON"):
            store.append({"id": 1, "v": {1, 2}})
        with pytest.raises(KeyError):
            store.append({"no id": 1})
        with pytest.raises(TypeError, match="hashable"):
            JsonlStore(tmp_path / "l.jsonl", key=lambda r: [r["id"]]).append({"id": 1})
        assert len(store) == 0
        store.append({"id": 1})
    assert path.read_bytes() == b'{"id": 1}\n'


def test_closed_store_refuses_appends(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path / "r.jsonl", key=by_id)
    store.close()
    store.close()
    assert store.closed
    with pytest.raises(ValueError, match="closed"):
        store.append({"id": 1})


def test_second_writer_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with JsonlStore(path, key=by_id):
        with pytest.raises(RuntimeError, match="already open for writing"):
            JsonlStore(path, key=by_id)
    JsonlStore(path, key=by_id).close()


def test_gz_store_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plain .jsonl"):
        JsonlStore(tmp_path / "r.jsonl.gz", key=by_id)


def test_concurrent_appends_from_threads(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    threads_n, per_thread = 8, 150
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []
    duplicates: list[tuple[int, int]] = []

    with JsonlStore(path, key=by_id) as store:

        def worker(t: int) -> None:
            try:
                barrier.wait()
                for i in range(per_thread):
                    # Big records (larger than any I/O buffer) so interleaved writes would show.
                    store.append({"id": f"{t}-{i}", "payload": chr(65 + t) * (5000 + i * 37)})
                    # Every thread races for the same key: exactly one may win it.
                    try:
                        store.append({"id": f"race-{i}", "payload": f"won by {t}"})
                    except DuplicateKeyError:
                        duplicates.append((t, i))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store) == (threads_n + 1) * per_thread

    assert errors == []
    records = list(read_jsonl(path))
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == (threads_n + 1) * per_thread
    assert set(ids) == {f"{t}-{i}" for t in range(threads_n) for i in range(per_thread)} | {
        f"race-{i}" for i in range(per_thread)
    }
    for r in records:
        if not r["id"].startswith("race"):
            t, i = map(int, r["id"].split("-"))
            assert r["payload"] == chr(65 + t) * (5000 + i * 37)
    assert len(duplicates) == (threads_n - 1) * per_thread
    assert path.read_bytes().count(b"\n") == len(records)


# ---------------------------------------------------------------------------------------------
# write_json / RunDir


def test_write_json_is_atomic_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    write_json(target, {"a": 1, "é": [1, 2]})
    assert read_json(target) == {"a": 1, "é": [1, 2]}
    with pytest.raises(TypeError):
        write_json(target, {"a": object()})
    assert read_json(target) == {"a": 1, "é": [1, 2]}  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_read_json_error_names_file_and_line(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "config.json", b'{\n  "a": 1,\n  oops\n}\n')
    with pytest.raises(JsonlError, match=rf"^{path}:3: not valid JSON .* — fix the file"):
        read_json(path)


def test_run_dir_paths(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "a" / "b")
    assert run.path.is_dir() and run.is_empty()
    assert run.config_path == run.path / "config.json"
    assert run.samples_path == run.path / "samples.jsonl"
    assert run.results_path == run.path / "results.jsonl"
    assert run.summary_path == run.path / "summary.json"
    assert run.write_json("summary.json", {"x": 1}) == run.summary_path
    assert run.read_json("summary.json") == {"x": 1}
    with run.store(RunDir.RESULTS, key=by_id) as store:
        store.append({"id": 1})
    assert list(read_jsonl(run.results_path)) == [{"id": 1}]
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="is a file"):
        RunDir(tmp_path / "file")


CONFIG = {"model": "smollm2", "temperature": 0.2, "n": 5, "workers": 2, "ks": (1, 5)}


def test_fresh_run_and_resume_with_same_settings(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.check_config(CONFIG, resume=False)
    run.write_config(CONFIG)
    assert run.read_config() == {**CONFIG, "ks": [1, 5]}
    run.check_config(CONFIG, resume=True)
    run.check_config({**CONFIG, "workers": 16}, resume=True)  # volatile key
    run.start({**CONFIG, "workers": 16}, resume=True)
    assert run.read_config()["workers"] == 16


def test_resume_with_different_settings_lists_the_keys(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.start(CONFIG, resume=False)
    changed = {**CONFIG, "model": "other", "temperature": 0.8, "workers": 8, "seed": 3}
    del changed["n"]
    with pytest.raises(RunDirError) as info:
        run.check_config(changed, resume=True)
    message = str(info.value)
    assert "differ on model, n, seed, temperature " in message
    assert 'model: stored "smollm2", now "other"' in message
    assert "temperature: stored 0.2, now 0.8" in message
    assert "n: stored 5, now null" in message
    assert "workers" not in message
    assert "same settings" in message and "new --out" in message
    run.check_config(changed, resume=True, volatile={"model", "temperature", "workers", "seed",
                                                     "n"})


def test_non_empty_run_dir_needs_resume_or_another_out(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    (run.path / ".hidden").write_text("editor leftovers do not count")
    run.check_config(CONFIG, resume=False)
    run.start(CONFIG, resume=False)
    with pytest.raises(RunDirError, match=r"already holds a run — pass --resume .* another --out"):
        run.check_config(CONFIG, resume=False)


def test_resume_of_empty_or_unknown_dir(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.check_config(CONFIG, resume=True)  # nothing to resume: a fresh start
    (run.path / "results.jsonl").write_text("")
    with pytest.raises(RunDirError, match="has no config.json"):
        run.check_config(CONFIG, resume=True)
    run.config_path.write_text("[1, 2]")
    with pytest.raises(RunDirError, match="expected a JSON object"):
        run.check_config(CONFIG, resume=True)
