"""The ReflectionCoder paper recipe's instruction data: CodeFeedback → ``code_instruct.jsonl``.

`build_code_instruct` reads ``m-a-p/CodeFeedback-Filtered-Instruction`` (split ``train``)
from the Hugging Face hub — or a local ``.jsonl`` / ``.json`` / ``.parquet`` file with the
same ``query`` and ``answer`` fields — cleans every row as the original's data script does
(`motcoder.datagen.reflection_loaders.codefeedback_sample`) and writes one ``type:
generation`` record of the ReflectionSeq schema per row, atomically, in the row order.

A bad row (not an object, ``query`` or ``answer`` missing or blank) stops the build with an
error naming ``file:line`` (``file:row N`` for parquet, ``REPO row N`` for the hub) and the
field, and leaves no output; with ``skip_invalid`` it is left out and counted instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from motcoder.datagen.reflection_loaders import codefeedback_sample
from motcoder.datagen.reflection_schema import SchemaError, write_samples
from motcoder.problems.hub import load_hub_rows
from motcoder.problems.records import read_records

REPO = "m-a-p/CodeFeedback-Filtered-Instruction"
SPLIT = "train"
HINT = ('a JSONL or parquet file of CodeFeedback rows ({"query": str, "answer": str}), e.g. '
        f"the train split of {REPO} saved with `datasets`' to_json")
MAX_REPORTED = 20   # bad rows listed by place in the report (all are counted)


@dataclass
class CodeInstructReport:
    """What a build read and wrote."""

    source: str
    out: str
    read: int = 0
    written: int = 0
    skipped: int = 0
    skipped_rows: list[str] = field(default_factory=list)   # "where: why", the first few

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def codefeedback_rows(data: str | Path | None = None) -> tuple[str, Iterator[tuple[str, Any]]]:
    """``(source, rows)``: the rows of a local file (``data``) or of the hub data set, each
    with where it is."""
    if data is not None:
        return str(data), read_records(data)
    rows = load_hub_rows(REPO, split=SPLIT, hint=HINT, what=f"{REPO} (split {SPLIT})")
    return f"{REPO} (split {SPLIT})", ((f"{REPO} row {i}", row) for i, row in enumerate(rows))


def build_code_instruct(out: str | Path, data: str | Path | None = None, *,
                        limit: int | None = None,
                        skip_invalid: bool = False) -> CodeInstructReport:
    """Write ``out`` (``code_instruct.jsonl``; gzip if it ends in .gz) from CodeFeedback: the
    first ``limit`` rows, or all. Raises `SchemaError` / `ProblemLoadError` (naming the
    place) for a bad row unless ``skip_invalid``, and for data that cannot be read; ``out``
    is then left as it was."""
    source, rows = codefeedback_rows(data)
    report = CodeInstructReport(source=source, out=str(out))

    def samples() -> Iterator[Any]:
        for where, row in rows:
            if limit is not None and report.read >= limit:
                return
            report.read += 1
            try:
                sample = codefeedback_sample(row, where)
            except SchemaError as exc:
                if not skip_invalid:
                    raise
                report.skipped += 1
                if len(report.skipped_rows) < MAX_REPORTED:
                    report.skipped_rows.append(str(exc))
                continue
            yield sample

    report.written = write_samples(out, samples())
    return report
