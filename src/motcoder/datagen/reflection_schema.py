"""The ReflectionSeq record: dataclasses, strict validation, JSONL reading and writing.

One record (one line of JSONL) is one training sample::

    {"messages": [{"role": "user" | "assistant",
                   "content": [{"type": "text" | "code" | "execution", "content": str}, ...]},
                  ...],
     "type": "generation" | "reflection"}

* ``reflection`` — a two-round dialogue of exactly four messages: (1) the reflection
  instruction (user) and the reflection sequence (assistant: text, code, execution, text,
  code, execution, ...); (2) the re-answer instruction (user) and the final one-off answer
  (assistant: text and code, no execution).
* ``generation`` — plain instruction data: user and assistant messages alternating, starting
  with the user and ending with the assistant.

Rules checked for every record (a broken one is a `SchemaError` naming ``file:line`` and the
field, e.g. ``data.jsonl:7: messages[1].content[2].type: ...``): the fields above with their
types; at least one block per message; roles alternating from ``user`` to a final
``assistant``; ``execution`` blocks only inside assistant messages and never in the final
answer, which must hold some text or code. Other top-level keys (ids, metadata that our
own runs add) are allowed and kept out of the sample.

`split_blocks` cuts a Markdown answer into ``text`` and ``code`` blocks at its fenced code
blocks; the sequence builder and the instruction-data loader share it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.records import read_jsonl, write_jsonl

BLOCK_TYPES: tuple[str, ...] = ("text", "code", "execution")
ROLES: tuple[str, ...] = ("user", "assistant")
SAMPLE_TYPES: tuple[str, ...] = ("generation", "reflection")


class SchemaError(ProblemLoadError):
    """A record that is not a valid ReflectionSeq sample; the message says where and which
    field (a `ProblemLoadError`, so command lines print it without a traceback)."""


@dataclass
class Block:
    """One block of a message: prose (``text``), a program (``code``) or interpreter output
    (``execution``)."""

    type: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "content": self.content}


@dataclass
class Message:
    role: str
    content: list[Block] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "content": [b.to_dict() for b in self.content]}

    def text(self) -> str:
        """The blocks joined as Markdown (code fenced), e.g. to show a model or a person."""
        return blocks_to_markdown(self.content)


@dataclass
class ReflectionSample:
    messages: list[Message]
    type: str = "reflection"

    def to_dict(self) -> dict[str, Any]:
        return {"messages": [m.to_dict() for m in self.messages], "type": self.type}

    @classmethod
    def from_dict(cls, record: Any, where: str = "record") -> ReflectionSample:
        """Parse and validate one record; `SchemaError` naming ``where`` and the field."""
        return parse_sample(record, where)

    def validate(self, where: str = "sample") -> ReflectionSample:
        """Check the rules of the module docstring (raises `SchemaError`); returns self."""
        parse_sample(self.to_dict(), where)
        return self

    @property
    def sequence(self) -> list[Block]:
        """A reflection sample's reflection sequence (the first assistant message)."""
        return self.messages[1].content

    @property
    def final_answer(self) -> list[Block]:
        """The blocks of the last assistant message."""
        return self.messages[-1].content


# ----------------------------------------------------------------------------- validation


def _fail(where: str, path: str, problem: str) -> SchemaError:
    return SchemaError(f"{where}: {path}: {problem} — expected a ReflectionSeq record "
                       '{"messages": [{"role", "content": [{"type", "content"}]}], "type"}')


def _one_of(value: Any, allowed: tuple[str, ...], where: str, path: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _fail(where, path, f"must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _block(data: Any, where: str, path: str) -> Block:
    if not isinstance(data, Mapping):
        raise _fail(where, path, f"must be an object, got {type(data).__name__}")
    kind = _one_of(data.get("type"), BLOCK_TYPES, where, f"{path}.type")
    content = data.get("content")
    if not isinstance(content, str):
        raise _fail(where, f"{path}.content",
                    f"must be a string, got {type(content).__name__}")
    return Block(kind, content)


def _message(data: Any, where: str, path: str) -> Message:
    if not isinstance(data, Mapping):
        raise _fail(where, path, f"must be an object, got {type(data).__name__}")
    role = _one_of(data.get("role"), ROLES, where, f"{path}.role")
    content = data.get("content")
    if not isinstance(content, list) or not content:
        raise _fail(where, f"{path}.content", "must be a non-empty list of blocks, got "
                    f"{content!r}"[:200])
    return Message(role, [_block(b, where, f"{path}.content[{i}]")
                          for i, b in enumerate(content)])


def parse_sample(record: Any, where: str = "record") -> ReflectionSample:
    """A validated `ReflectionSample` from a JSON record (see the module docstring)."""
    if not isinstance(record, Mapping):
        raise _fail(where, "record", f"must be a JSON object, got {type(record).__name__}")
    kind = _one_of(record.get("type"), SAMPLE_TYPES, where, "type")
    raw = record.get("messages")
    if not isinstance(raw, list) or not raw:
        raise _fail(where, "messages", "must be a non-empty list of messages")
    messages = [_message(m, where, f"messages[{i}]") for i, m in enumerate(raw)]
    for i, message in enumerate(messages):
        expected = ROLES[i % 2]
        if message.role != expected:
            raise _fail(where, f"messages[{i}].role", f"must be {expected!r} (roles alternate, "
                        f"starting with 'user'), got {message.role!r}")
    if messages[-1].role != "assistant":
        raise _fail(where, f"messages[{len(messages) - 1}]",
                    "the last message must be the assistant's")
    if kind == "reflection" and len(messages) != 4:
        raise _fail(where, "messages", f"a reflection sample has 4 messages (instruction, "
                    f"reflection sequence, re-answer instruction, final answer), got "
                    f"{len(messages)}")
    for i, message in enumerate(messages):
        if message.role == "user":
            for j, block in enumerate(message.content):
                if block.type == "execution":
                    raise _fail(where, f"messages[{i}].content[{j}].type",
                                "execution blocks belong to assistant messages only")
    last = len(messages) - 1
    for j, block in enumerate(messages[last].content):
        if block.type == "execution":
            raise _fail(where, f"messages[{last}].content[{j}].type",
                        "the final answer cannot hold an execution block")
    if not any(block.content.strip() for block in messages[last].content):
        raise _fail(where, f"messages[{last}].content", "the final answer has no text or code")
    return ReflectionSample(messages, kind)


# ----------------------------------------------------------------------------- files


def read_samples(path: str | Path) -> Iterator[ReflectionSample]:
    """The validated samples of a JSONL file (``.jsonl`` / ``.jsonl.gz``); a bad line is a
    `ProblemLoadError` / `SchemaError` naming ``file:line``."""
    for line_no, record in read_jsonl(path):
        yield parse_sample(record, f"{path}:{line_no}")


def write_samples(path: str | Path, samples: Iterable[ReflectionSample]) -> int:
    """Write samples as JSONL (gzip when the name ends in .gz); returns how many."""
    return write_jsonl(path, (s.to_dict() for s in samples))


# ----------------------------------------------------------------------------- markdown

_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")


def split_blocks(text: str) -> list[Block]:
    """Cut Markdown into ``text`` and ``code`` blocks at its fenced code blocks.

    Text between fences becomes a text block (stripped; empty ones are left out); the body of
    each fenced block (without the fences) a code block. A block still open at the end of
    the text (an answer cut off by the token limit) is a code block with what it holds.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[Block] = []
    prose: list[str] = []
    code: list[str] | None = None
    fence = ""

    def flush_prose() -> None:
        joined = "\n".join(prose).strip()
        if joined:
            blocks.append(Block("text", joined))
        prose.clear()

    for line in lines:
        match = _FENCE.match(line)
        if code is None:
            if match:
                flush_prose()
                code, fence = [], match["fence"]
            else:
                prose.append(line)
        elif match and not match["info"] and match["fence"][0] == fence[0] \
                and len(match["fence"]) >= len(fence):
            blocks.append(Block("code", "\n".join(code).strip("\n")))
            code = None
        else:
            code.append(line)
    if code is not None:
        blocks.append(Block("code", "\n".join(code).strip("\n")))
    flush_prose()
    return blocks


def blocks_to_markdown(blocks: Iterable[Block]) -> str:
    """Blocks as Markdown: text as is, code in ```python fences, execution in ```text
    fences (the inverse of `split_blocks` for text and code)."""
    parts = []
    for block in blocks:
        if block.type == "code":
            parts.append(f"```python\n{block.content}\n```")
        elif block.type == "execution":
            parts.append(f"```text\n{block.content}\n```")
        else:
            parts.append(block.content)
    return "\n\n".join(parts)
