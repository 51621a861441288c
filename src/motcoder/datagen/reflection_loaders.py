"""Loaders of ReflectionCoder training data: the published ReflectionSeq sets and plain
instruction data, all as validated `ReflectionSample` records.

* `load_reflection_seq(name_or_file)` — ``ReflectionSeq-GPT`` / ``ReflectionSeq-DS`` (or
  their hub ids ``SenseLLM/ReflectionSeq-GPT`` / ``SenseLLM/ReflectionSeq-DS``) from the
  Hugging Face hub through ``datasets`` when it is reachable (or cached), else one clear
  error saying how to pass a local file; or a local ``.jsonl`` / ``.jsonl.gz`` / ``.json``
  / ``.parquet`` file in the same schema (our `motcoder data reflect` output included).
* `load_instruction_data(file)` — plain instruction records mapped to ``type: generation``
  samples (`instruction_sample`): ``{"query", "answer"}`` (CodeFeedback's rows, cleaned as
  the original's download script does: `codefeedback_sample`), ``{"instruction", "input",
  "output"}`` (Alpaca; a non-empty input is appended to the instruction), or chat records
  ``{"messages": [{"role", "content": str}]}`` (a system message is put in front of the
  first user message). Records already in the ReflectionSeq schema pass through validated,
  so one file may mix both.

Every bad record is an error naming ``file:line`` (or ``file:row N``) and the field.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from motcoder.datagen.reflection_schema import (
    Block,
    Message,
    ReflectionSample,
    SchemaError,
    parse_sample,
)
from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.hub import load_hub_rows
from motcoder.problems.records import read_records

PUBLISHED: dict[str, str] = {
    "reflectionseq-gpt": "SenseLLM/ReflectionSeq-GPT",
    "reflectionseq-ds": "SenseLLM/ReflectionSeq-DS",
}
SCHEMA_HINT = ("a ReflectionSeq JSONL file (one {\"messages\": [...], \"type\": "
               "\"reflection\" | \"generation\"} record per line), e.g. the dataset's train "
               "split saved with `datasets`' to_json")
INSTRUCTION_HINT = ('records with "query"/"answer", "instruction"/"input"/"output", or '
                    '"messages" (role + string content), or ReflectionSeq records')
CODEFEEDBACK_HINT = 'CodeFeedback rows: {"query": str, "answer": str}'


def published_repo(name: str) -> str | None:
    """The hub id of a published set named ``name`` (short name or hub id), else None."""
    key = name.strip().lower()
    key = key.split("/", 1)[1] if key.startswith("sensellm/") else key
    return PUBLISHED.get(key)


def _limited(rows: list[Any], limit: int | None) -> list[Any]:
    return rows if limit is None else rows[:limit]


def load_reflection_seq(source: str | Path, *, split: str = "train",
                        limit: int | None = None) -> list[ReflectionSample]:
    """A published ReflectionSeq set (from the hub) or a local file in its schema."""
    repo = published_repo(str(source)) if not Path(source).exists() else None
    if repo is not None:
        rows = load_hub_rows(repo, split=split, hint=SCHEMA_HINT,
                             what=f"{repo} (split {split})")
        return [parse_sample(row, f"{repo} row {i}")
                for i, row in enumerate(_limited(rows, limit))]
    path = Path(source)
    if not path.is_file():
        known = ", ".join(r.split("/")[1] for r in PUBLISHED.values())
        raise ProblemLoadError(f"{source}: no such file and not a published set ({known}); "
                               f"give {SCHEMA_HINT}")
    samples = []
    for where, record in read_records(path):
        if limit is not None and len(samples) >= limit:
            break
        samples.append(parse_sample(record, where))
    return samples


# ----------------------------------------------------------------------------- instruction data


def _field(record: Mapping[str, Any], name: str, where: str,
           hint: str = INSTRUCTION_HINT) -> str:
    """The string ``record[name]`` as it is; an error unless it holds some non-blank text."""
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        raise SchemaError(f"{where}: {name}: must be a non-empty string, got "
                          f"{value!r}"[:300] + f" — give {hint}")
    return value


def _text(record: Mapping[str, Any], name: str, where: str) -> str:
    return _field(record, name, where).replace("\r\n", "\n").strip()


def clean_codefeedback_query(query: str) -> str:
    """A CodeFeedback query as the original ReflectionCoder data script keeps it: HTML
    entities decoded, nothing else changed."""
    return html.unescape(query)


def clean_codefeedback_answer(answer: str) -> str:
    """A CodeFeedback answer as the original script keeps it: HTML entities decoded, CRLF
    line ends made LF, each tab made four spaces, surrounding whitespace stripped."""
    return html.unescape(answer).replace("\r\n", "\n").replace("\t", "    ").strip()


def codefeedback_sample(record: Any, where: str = "record") -> ReflectionSample:
    """One CodeFeedback row (``query`` and ``answer``, other fields ignored) as a
    ``generation`` sample, cleaned as the original (`clean_codefeedback_query` /
    `clean_codefeedback_answer`); a missing or blank field (or an answer blank once
    cleaned) is a `SchemaError` naming ``where``."""
    if not isinstance(record, Mapping):
        raise SchemaError(f"{where}: expected a JSON object, got {type(record).__name__}")
    query = _field(record, "query", where, CODEFEEDBACK_HINT)
    answer = _field(record, "answer", where, CODEFEEDBACK_HINT)
    return _one_turn(clean_codefeedback_query(query),
                     clean_codefeedback_answer(answer)).validate(where)


def _one_turn(query: str, answer: str) -> ReflectionSample:
    return ReflectionSample([Message("user", [Block("text", query)]),
                             Message("assistant", [Block("text", answer)])], "generation")


def _chat_sample(record: Mapping[str, Any], where: str) -> ReflectionSample:
    raw = record["messages"]
    if not isinstance(raw, list):
        raise SchemaError(f"{where}: messages: must be a list — give {INSTRUCTION_HINT}")
    system: list[str] = []
    messages: list[Message] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise SchemaError(f"{where}: messages[{i}]: must be an object")
        role = item.get("role")
        text = _text(item, "content", f"{where}: messages[{i}]") if role != "system" else \
            str(item.get("content") or "").strip()
        if role == "system":
            if messages:
                raise SchemaError(f"{where}: messages[{i}].role: a system message must come "
                                  "first")
            if text:
                system.append(text)
            continue
        messages.append(Message(str(role), [Block("text", text)]))
    if system and messages:
        messages[0].content.insert(0, Block("text", "\n\n".join(system)))
    return parse_sample({"messages": [m.to_dict() for m in messages], "type": "generation"},
                        where)


def instruction_sample(record: Any, where: str = "record") -> ReflectionSample:
    """One instruction record as a ``generation`` sample (forms: module docstring)."""
    if not isinstance(record, Mapping):
        raise SchemaError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if "type" in record and "messages" in record:
        return parse_sample(record, where)
    if "messages" in record:
        return _chat_sample(record, where)
    if "query" in record or "answer" in record:
        return codefeedback_sample(record, where)
    if "instruction" in record or "output" in record:
        query, answer = _text(record, "instruction", where), _text(record, "output", where)
        extra = record.get("input")
        if isinstance(extra, str) and extra.strip():
            query = f"{query}\n\n{extra.strip()}"
        return _one_turn(query, answer)
    raise SchemaError(f"{where}: cannot tell the instruction format (fields "
                      f"{', '.join(sorted(map(str, record))) or 'none'}) — give "
                      f"{INSTRUCTION_HINT}")


def load_instruction_data(path: str | Path, *,
                          limit: int | None = None) -> list[ReflectionSample]:
    """Plain instruction data (and/or ReflectionSeq records) from a local file."""
    samples = []
    for where, record in read_records(path):
        if limit is not None and len(samples) >= limit:
            break
        samples.append(instruction_sample(record, where))
    return samples
