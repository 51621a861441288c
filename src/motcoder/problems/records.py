"""Reading and writing the record files benchmark data comes in.

Each record comes with where it is (``file:line`` for JSON lines, ``file:row N`` for
parquet and JSON arrays), so loaders can name the exact place of a bad field.
Supported: ``.jsonl`` / ``.jsonl.gz`` (one JSON object per line), ``.json`` (a JSON array
of objects, or JSON lines), ``.parquet``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from motcoder.problems.errors import ProblemLoadError
from motcoder.runs import atomic_writer, json_dumps

SPLIT_WORDS: dict[str, str] = {
    "train": "train",
    "test": "test",
    "valid": "valid",
    "validation": "valid",
    "val": "valid",
    "dev": "valid",
    "prompt": "prompt",
}


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise ProblemLoadError(f"{path}: no such file (give the path of a benchmark data file)")


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_no, record)`` for each non-blank line of a JSONL (or .jsonl.gz) file.

    A line that is not a JSON object raises `ProblemLoadError` naming ``file:line``.
    """
    path = Path(path)
    _check_exists(path)
    try:
        with _open_text(path) as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                yield line_no, _parse_line(line, f"{path}:{line_no}")
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise ProblemLoadError(
            f"{path}: cannot be read as UTF-8 JSON lines ({exc}); "
            "give a .jsonl, .jsonl.gz, .json or .parquet file"
        ) from exc


def _parse_line(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProblemLoadError(
            f"{where}: invalid JSON ({exc.msg} at column {exc.colno}); each line must be one "
            "JSON object: fix or delete that line"
        ) from exc
    if not isinstance(record, dict):
        raise ProblemLoadError(
            f"{where}: expected a JSON object, got {type(record).__name__}; each line must "
            "be one JSON object: fix or delete that line"
        )
    return record


def _read_json(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with _open_text(path) as handle:
        head = handle.read(1024).lstrip()
    if not head.startswith("["):
        for line_no, record in read_jsonl(path):
            yield f"{path}:{line_no}", record
        return
    try:
        with _open_text(path) as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise ProblemLoadError(
            f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno}); "
            "the file must hold one JSON array of objects (or one object per line)"
        ) from exc
    for i, record in enumerate(data):
        where = f"{path}:row {i}"
        if not isinstance(record, dict):
            raise ProblemLoadError(
                f"{where}: expected a JSON object, got {type(record).__name__}"
            )
        yield where, record


def _read_parquet(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error types for a bad file
        raise ProblemLoadError(f"{path}: not a readable parquet file ({exc})") from exc
    row = 0
    for batch in parquet.iter_batches(batch_size=256):
        for record in batch.to_pylist():
            yield f"{path}:row {row}", record
            row += 1


def read_records(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(where, record)`` for every record of a data file, by its extension."""
    path = Path(path)
    _check_exists(path)
    name = path.name.lower()
    if name.endswith(".parquet"):
        yield from _read_parquet(path)
    elif name.endswith((".json", ".json.gz")):
        yield from _read_json(path)
    else:
        for line_no, record in read_jsonl(path):
            yield f"{path}:{line_no}", record


def first_record(path: str | Path) -> dict[str, Any]:
    """The first record of a data file (to detect its schema)."""
    for _, record in read_records(path):
        return record
    raise ProblemLoadError(f"{path}: the file holds no records")


def split_from_filename(path: str | Path) -> str | None:
    """The split a file name says it holds (``apps/train.jsonl`` → ``train``), if any."""
    stem = Path(path).name.lower().split(".")[0]
    for word in stem.replace("-", "_").split("_")[::-1]:
        if word in SPLIT_WORDS:
            return SPLIT_WORDS[word]
    return None


def normalise_split(split: str, splits: tuple[str, ...]) -> str:
    """A split name in a benchmark's own spelling (``validation`` ↔ ``valid``); others as is."""
    word = SPLIT_WORDS.get(split.lower(), split)
    if word == "valid":
        for name in splits:
            if SPLIT_WORDS.get(name) == "valid":
                return name
    return word


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records as JSON lines (gzip when the name ends in .gz) atomically: the file
    appears, or replaces the old one, only once complete (`atomic_writer`). Returns how
    many."""
    count = 0
    with atomic_writer(path) as handle:
        for record in records:
            handle.write(json_dumps(record) + "\n")
            count += 1
    return count
