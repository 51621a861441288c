"""Run directories and the append-only JSONL store every long job writes to.

A run directory holds one job's files::

    config.json    the settings the run was started with (checked again on --resume)
    samples.jsonl  one record per generated sample
    results.jsonl  one record per verdict
    summary.json   the metrics, written at the end

Long jobs write their records through a `JsonlStore`: one JSON object per line, appended and
handed to the operating system as soon as it is complete, so a crash, Ctrl-C or ``kill``
loses at most the record being written. On ``--resume`` the store is reopened, the keys of
the records already present are loaded, and the job skips them; appending a record whose key
is already present raises, so nothing is ever written twice.

Durability: each record is written with one ``write(2)`` (the equivalent of a flush — no
bytes stay in a user-space buffer) but *not* ``fsync``-ed. After ``append`` returns, the
record is in the kernel's page cache and survives the death of the process however it dies;
only a power cut or a kernel crash within the next few seconds can lose it. An ``fsync`` per
record costs milliseconds on real disks and would cap a job at a few hundred records per
second — slower than the execution engine produces verdicts — to protect against a failure
that the store recovers from anyway (the records lost are simply redone on resume). Call
`JsonlStore.sync` at checkpoints where that guarantee matters; `JsonlStore.close` syncs once.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import logging
import os
import tempfile
import threading
import zlib
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

try:  # POSIX only; elsewhere two writers on one file are not detected
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


class JsonlError(ValueError):
    """A JSONL file that cannot be read as records.

    The message is ``"{path}:{line_no}: {what is wrong} — {what to do}"``.
    """

    def __init__(self, path: PathLike, line_no: int, problem: str, fix: str) -> None:
        self.path = str(path)
        self.line_no = line_no
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}:{line_no}: {problem} — {fix}")


class DuplicateKeyError(ValueError):
    """A record whose key is already in the store was appended."""


class RunDirError(ValueError):
    """A run directory that cannot be used with the given settings; the message says why."""


# --------------------------------------------------------------------------------------------
# Reading


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _lines(fh: IO[bytes], path: Path, limit: int | None = None) -> Iterator[tuple[int, int, bytes]]:
    """Yield ``(line_no, start_offset, raw_line)``; ``raw_line`` keeps its ``\\n`` if it had one.

    Lines are split on ``\\n`` only (JSON escapes every control character inside strings, so
    no record contains a raw newline). ``limit`` stops at that byte offset.
    """
    offset = 0
    line_no = 0
    try:
        for raw in fh:
            if limit is not None and offset >= limit:
                return
            line_no += 1
            yield line_no, offset, raw
            offset += len(raw)
    except EOFError:
        raise JsonlError(
            path, line_no + 1, "the compressed data ends early (the file was cut off)",
            "re-create or re-download the file",
        ) from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise JsonlError(
            path, line_no + 1, f"cannot decompress ({exc})",
            "check that the file is really gzip-compressed, or remove the .gz suffix",
        ) from None


def _parse(raw: bytes, path: Path, line_no: int, more_follow: bool = True) -> Any:
    """Decode one line; blank lines give ``_BLANK``."""
    try:
        text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise JsonlError(
            path, line_no, f"not UTF-8 text (byte {exc.start + 1} of the line)",
            "re-save the file as UTF-8",
        ) from None
    if not text.strip():
        return _BLANK
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if not raw.endswith(b"\n") and not more_follow:
            raise JsonlError(
                path, line_no,
                f"the last line is incomplete ({exc.msg} at column {exc.colno}) and has no "
                "line end: the writer was interrupted",
                "reopen the run with --resume (which removes it) or delete that line",
            ) from None
        raise JsonlError(
            path, line_no, f"not valid JSON ({exc.msg} at column {exc.colno})",
            "fix or delete this line",
        ) from None


_BLANK = object()


def read_jsonl(path: PathLike) -> Iterator[Any]:
    """Yield the records of a JSONL file (``.jsonl`` or ``.jsonl.gz``), skipping blank lines.

    Raises `JsonlError` naming the file and line for a line that is not JSON, not UTF-8, or
    for a compressed file that is cut off.
    """
    path = Path(path)
    with _open_binary(path) as fh:
        pending: tuple[int, bytes] | None = None
        for line_no, _, raw in _lines(fh, path):
            if pending is not None:
                record = _parse(pending[1], path, pending[0])
                if record is not _BLANK:
                    yield record
            pending = (line_no, raw)
        if pending is not None:
            record = _parse(pending[1], path, pending[0], more_follow=False)
            if record is not _BLANK:
                yield record


# --------------------------------------------------------------------------------------------
# Writing


def json_dumps(obj: Any, *, indent: int | None = None) -> str:
    """``obj`` as JSON text that always encodes as valid UTF-8: every writer of records and
    JSON files goes through it.

    Non-ASCII text is written as itself — unless ``obj`` holds a string UTF-8 cannot encode
    (a lone surrogate, e.g. in the error message of a program under test): then the whole
    of ``obj`` is written ASCII-escaped (``"\\ud800"``), which `json.loads` reads back
    as the very same value.
    """
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(obj, ensure_ascii=True, indent=indent)
    return text


def _dump_line(record: Any) -> bytes:
    """One record as one line of UTF-8 JSON ending in a newline (`json_dumps`)."""
    try:
        text = json_dumps(record)
    except TypeError as exc:
        raise TypeError(f"record cannot be written as JSON: {exc}") from None
    return (text + "\n").encode("utf-8")


class JsonlStore:
    """An append-only JSONL file of keyed records that a job can resume.

    ``key`` maps a record to its identity (a hashable value, e.g. ``(task_id,
    sample_index)``); a key may be present only once. Typical use::

        with JsonlStore(run.results_path, key=lambda r: (r["task_id"], r["sample_index"])) as st:
            for task_id, index in work:
                if (task_id, index) in st:       # done before the crash: skip
                    continue
                st.append(evaluate(task_id, index))

    Opening an existing file loads the keys of its records. A last line without a line end
    that is not valid JSON — a write cut short by a kill — is removed by truncating the file
    back to the end of the last complete line, with a warning; a last line without a line
    end that *is* complete JSON is kept and given its line end. Any other malformed line, or
    two records with the same key, is a `JsonlError` naming the file and line: the file was
    changed by something else and is not repaired silently.

    One process at a time may hold a store on a file (an exclusive ``flock``, on POSIX);
    within that process `append` is thread-safe. Records are not kept in memory, only keys;
    `records` reads the file.
    """

    def __init__(self, path: PathLike, key: Callable[[Any], Hashable]) -> None:
        self.path = Path(path)
        if self.path.suffix == ".gz":
            raise ValueError(
                f"{self.path}: a JsonlStore writes plain .jsonl (appending to gzip cannot be "
                "repaired after a crash) — write .jsonl and compress it after the run"
            )
        self._key = key
        self._lock = threading.Lock()
        self._keys: set[Hashable] = set()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise RuntimeError(
                        f"{self.path} is already open for writing by another process (or by "
                        "another JsonlStore in this one) — wait for that job to finish, or use "
                        "another --out"
                    ) from None
            self._size = self._load(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd

    # -- opening ------------------------------------------------------------------------------

    def _load(self, fd: int) -> int:
        """Read keys, repair an interrupted last line; return the size of the good data."""
        first_line: dict[Hashable, int] = {}
        last: tuple[int, int, bytes] | None = None
        with open(fd, "rb", closefd=False) as fh:
            fh.seek(0)
            for item in _lines(fh, self.path):
                if last is not None:
                    self._load_line(*last, first_line)
                last = item
            if last is None:
                return 0
            line_no, start, raw = last
            if raw.endswith(b"\n"):
                self._load_line(line_no, start, raw, first_line)
                return start + len(raw)
            # No line end: either an interrupted write or a file written without a final newline.
            try:
                record = _parse(raw, self.path, line_no)
            except JsonlError as exc:
                logger.warning(
                    "%s:%d: removing an incomplete last line (%d bytes, %s) left by an "
                    "interrupted write; its record will be redone",
                    self.path, line_no, len(raw), exc.problem,
                )
                os.ftruncate(fd, start)
                return start
            if record is _BLANK:
                os.ftruncate(fd, start)
                return start
            self._load_line(line_no, start, raw, first_line)
            logger.warning("%s:%d: the last line had no line end; adding it", self.path, line_no)
            self._write_all(fd, b"\n")
            return start + len(raw) + 1

    def _load_line(
        self, line_no: int, start: int, raw: bytes, first_line: dict[Hashable, int]
    ) -> None:
        record = _parse(raw, self.path, line_no)
        if record is _BLANK:
            return
        try:
            key = self.key_of(record)
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise JsonlError(
                self.path, line_no, f"cannot take the key of this record ({exc!r})",
                "this file was written by a different kind of job; use another --out",
            ) from None
        if key in first_line:
            raise JsonlError(
                self.path, line_no,
                f"a second record with key {key!r} (the first is on line {first_line[key]})",
                "delete one of the two lines, then resume",
            )
        first_line[key] = line_no
        self._keys.add(key)

    # -- keys ---------------------------------------------------------------------------------

    def key_of(self, record: Any) -> Hashable:
        """The key of ``record`` under this store's key function."""
        key = self._key(record)
        try:
            hash(key)
        except TypeError:
            raise TypeError(
                f"the key function must return a hashable value such as a tuple, "
                f"got {type(key).__name__}: {key!r}"
            ) from None
        return key

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._keys

    def keys(self) -> frozenset[Hashable]:
        """The keys of all records in the store (a snapshot)."""
        with self._lock:
            return frozenset(self._keys)

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    # -- appending ----------------------------------------------------------------------------

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def append(self, record: Any) -> None:
        """Write ``record`` as one line and hand it to the OS before returning.

        Raises `DuplicateKeyError` if a record with the same key is already in the store,
        ``TypeError`` if the record is not JSON-serialisable; in both cases nothing is written.
        """
        key = self.key_of(record)
        data = _dump_line(record)
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self.path}: the store is closed")
            if key in self._keys:
                raise DuplicateKeyError(
                    f"{self.path}: a record with key {key!r} is already in the store — "
                    "check `key in store` before appending (resumed jobs skip done records)"
                )
            try:
                self._write_all(self._fd, data)
            except BaseException:
                # Disk full, Ctrl-C between two partial writes, ...: never leave half a line
                # that the next record would be glued to.
                try:
                    os.ftruncate(self._fd, self._size)
                except OSError:  # pragma: no cover - nothing better to do
                    logger.exception("%s: could not remove a partly written record", self.path)
                raise
            self._size += len(data)
            self._keys.add(key)

    def sync(self) -> None:
        """Force the records written so far to disk (``fsync``)."""
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)

    # -- reading ------------------------------------------------------------------------------

    def records(self) -> Iterator[Any]:
        """Yield the records in the file, in order, as of the moment of the call.

        Safe while other threads append: records appended after the call are not read.
        """
        with self._lock:
            limit = self._size
        with open(self.path, "rb") as fh:
            for line_no, _, raw in _lines(fh, self.path, limit=limit):
                record = _parse(raw, self.path, line_no)
                if record is not _BLANK:
                    yield record

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Sync and close the file (releases the lock). Further appends raise."""
        with self._lock:
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __enter__(self) -> JsonlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JsonlStore({str(self.path)!r}, records={len(self)})"


# --------------------------------------------------------------------------------------------
# JSON files and run directories


@contextlib.contextmanager
def atomic_writer(path: PathLike, errors: str = "strict") -> Iterator[IO[str]]:
    """A UTF-8 text file that replaces ``path`` only when the ``with`` block ends without an
    error: written to a temporary file beside it, synced, then ``os.replace``d. Readers see
    the old file or the complete new one, never a partial write. A name ending in ``.gz``
    is written gzip-compressed. ``errors``: what becomes of text UTF-8 cannot encode (a lone
    surrogate): ``"strict"`` raises; reports, which show whatever programs printed, pass
    ``"backslashreplace"`` (written as ``\\ud800``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw:
            with _text_over(raw, path.name.endswith(".gz"), errors) as fh:
                yield fh
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _text_over(raw: IO[bytes], gz: bool, errors: str) -> Iterator[IO[str]]:
    """UTF-8 text written to ``raw`` (through gzip with ``gz``), which is left open."""
    binary: Any = gzip.GzipFile(fileobj=raw, mode="wb") if gz else raw
    text = io.TextIOWrapper(binary, encoding="utf-8", errors=errors)
    try:
        yield text
    finally:
        text.detach()            # flushes; closing the wrapper would close ``raw``
        if gz:
            binary.close()       # the gzip trailer


def write_json(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (`atomic_writer`). If ``obj`` cannot be
    serialised, the old file is left untouched."""
    text = json_dumps(obj, indent=2) + "\n"
    with atomic_writer(path) as fh:
        fh.write(text)


def read_json(path: PathLike) -> Any:
    """Read a JSON file; a malformed one is a `JsonlError` naming file and line."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonlError(
            path, exc.lineno, f"not valid JSON ({exc.msg} at column {exc.colno})",
            "fix the file or delete it",
        ) from None


# Config keys that do not change results: they may differ between a run and its resumption.
VOLATILE_KEYS: frozenset[str] = frozenset(
    {"workers", "resume", "out", "progress", "verbose", "quiet", "log_level"}
)


def _normalise(obj: Any) -> Any:
    """What ``obj`` looks like after a JSON round trip (tuples become lists, keys strings)."""
    return json.loads(json.dumps(obj))


def _short(value: Any, limit: int = 80) -> str:
    text = json_dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def config_differences(
    stored: Mapping[str, Any], current: Mapping[str, Any], volatile: Collection[str] = VOLATILE_KEYS
) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ, ``{key: (stored, current)}``; a missing key is ``None``.

    Keys in ``volatile`` are ignored. Values are compared after a JSON round trip. Where
    both values are objects, the keys inside that differ are listed with dotted names
    (``options.limits.cpu_seconds``), so a message names the setting itself.
    """
    stored, current = _normalise(dict(stored)), _normalise(dict(current))
    _missing = object()
    diffs: dict[str, tuple[Any, Any]] = {}
    for name in sorted(set(stored) | set(current)):
        if name in volatile:
            continue
        old, new = stored.get(name, _missing), current.get(name, _missing)
        if isinstance(old, dict) and isinstance(new, dict):
            for inner, pair in config_differences(old, new, volatile=()).items():
                diffs[f"{name}.{inner}"] = pair
        elif old != new:
            diffs[name] = (None if old is _missing else old, None if new is _missing else new)
    return diffs


class RunDir:
    """One run's directory: its standard file paths, its config check, atomic JSON writes."""

    CONFIG = "config.json"
    SAMPLES = "samples.jsonl"
    RESULTS = "results.jsonl"
    SUMMARY = "summary.json"

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"{self.path} is a file, not a run directory — choose another --out")
        self.path.mkdir(parents=True, exist_ok=True)

    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def samples_path(self) -> Path:
        return self.path / self.SAMPLES

    @property
    def results_path(self) -> Path:
        return self.path / self.RESULTS

    @property
    def summary_path(self) -> Path:
        return self.path / self.SUMMARY

    def file(self, name: str) -> Path:
        """The path of ``name`` inside the run directory."""
        return self.path / name

    def is_empty(self) -> bool:
        """True if the directory holds nothing but hidden files (such as editor leftovers)."""
        return not any(not p.name.startswith(".") for p in self.path.iterdir())

    def write_json(self, name: str, obj: Any) -> Path:
        """Atomically write ``obj`` as ``name`` in the run directory; return its path."""
        target = self.file(name)
        write_json(target, obj)
        return target

    def read_json(self, name: str) -> Any:
        return read_json(self.file(name))

    def write_config(self, config: Mapping[str, Any]) -> None:
        self.write_json(self.CONFIG, dict(config))

    def read_config(self) -> dict[str, Any]:
        config = self.read_json(self.CONFIG)
        if not isinstance(config, dict):
            raise RunDirError(
                f"{self.config_path}: expected a JSON object, got {type(config).__name__} — "
                "this is not a motcoder run directory; use another --out"
            )
        return config

    def check_config(
        self,
        config: Mapping[str, Any],
        resume: bool,
        volatile: Collection[str] = VOLATILE_KEYS,
    ) -> None:
        """Check that a job with ``config`` may write into this directory.

        Without ``resume`` the directory must be empty. With ``resume``, the stored config
        must equal ``config`` on every key except ``volatile`` ones (a resumed run must produce
        what the original run would have); an empty directory is simply a fresh start.
        Raises `RunDirError` with what to do.
        """
        if not resume:
            if not self.is_empty():
                raise RunDirError(
                    f"{self.path} already holds a run — pass --resume to continue it, or "
                    "choose another --out for a new run"
                )
            return
        if not self.config_path.exists():
            if self.is_empty():
                return
            raise RunDirError(
                f"{self.path} is not empty but has no {self.CONFIG}, so it cannot be checked "
                "that it was made with the same settings — choose another --out"
            )
        diffs = config_differences(self.read_config(), config, volatile)
        if diffs:
            listed = "; ".join(
                f"{name}: stored {_short(old)}, now {_short(new)}"
                for name, (old, new) in diffs.items()
            )
            raise RunDirError(
                f"cannot resume {self.path}: its settings differ on {', '.join(diffs)} "
                f"({listed}) — resume with the same settings, or use a new --out"
            )

    def start(
        self,
        config: Mapping[str, Any],
        resume: bool,
        volatile: Collection[str] = VOLATILE_KEYS,
    ) -> None:
        """`check_config`, then write ``config`` (a resumed run records its new volatile keys)."""
        self.check_config(config, resume, volatile)
        self.write_config(config)

    def store(self, name: str, key: Callable[[Any], Hashable]) -> JsonlStore:
        """Open the JSONL store ``name`` (e.g. ``RunDir.RESULTS``) of this run."""
        return JsonlStore(self.file(name), key=key)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"
