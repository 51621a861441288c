"""Training data for MoT instruction tuning: read, mix, lay out, and measure.

Input records (one per line of a ``.jsonl``, or rows of ``.json`` / ``.parquet`` / a hub
dataset):

* chat — ``{"messages": [{"role": "system", ...}?, {"role": "user", ...},
  {"role": "assistant", ...}, ...], "task_id"?, "source"?, "style"?: "mot"|"clean"|"normal"}``
  (what ``motcoder data export`` writes); any chat that ends with an assistant turn;
* Alpaca — ``{"instruction", "input"?, "output"}`` (the published MoTCode-Data): the user turn
  is the instruction, followed by the input when there is one.

The pipeline, each step a function:

1. `read_source` — records → `Example` (a normalised chat + its style), errors name
   ``file:line``;
2. `mix` — per-source weights, then an optional MoT:normal ratio (deterministic per seed);
3. `add_system_prompt` / `two_step` — the system prompt of the prompt style, and the two-step
   layout (outline turn, then build turn) for MoT answers;
4. `to_rows` — rows in a format TRL's `SFTTrainer` understands: conversational
   prompt-completion pairs (``{"prompt": [...], "completion": [...]}``, one per assistant
   turn) or whole conversations (``{"messages": [...]}``) for ``assistant_only_loss``;
5. `drop_overlength` — rows longer than ``max_length`` tokens (with the chat template) are
   dropped, never truncated, and counted per source.

`build_dataset` runs them all and returns the rows and a `DataReport`.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from motcoder.prompts.mot_format import check_mot, step2_start
from motcoder.training.settings import (
    STYLES,
    DataSource,
    SFTSettings,
    TrainingError,
    parse_ratio,
)

Message = dict[str, str]
ROLES = ("system", "user", "assistant")
MOTCODE_DATA = "hf:JingyaoLi/MoTCode-Data"


@dataclass
class Example:
    """One training conversation: ``messages`` ends with an assistant turn."""

    messages: list[Message]
    style: str                  # mot | clean | normal
    source: str                 # the data source's path (or hub id)
    where: str                  # file:line of the record
    task_id: str | None = None


@dataclass
class DataReport:
    """What happened to the data, per source: read, after mixing, dropped, trained."""

    read: dict[str, int] = field(default_factory=dict)
    after_weights: dict[str, int] = field(default_factory=dict)
    after_ratio: dict[str, int] = field(default_factory=dict)
    dropped_overlength: dict[str, int] = field(default_factory=dict)
    trained: dict[str, int] = field(default_factory=dict)
    styles: dict[str, int] = field(default_factory=dict)   # trained conversations per style
    rows: int = 0               # rows handed to the trainer (two-step may split one in two)
    loss_mask: str = ""
    layout: str = ""
    max_length: int = 0
    longest: int = 0            # longest kept row, in tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped_overlength.values())


# ----------------------------------------------------------------------------- reading


def _style_of(record: dict[str, Any], answer: str, source: DataSource, where: str) -> str:
    if source.style is not None:
        return source.style
    style = record.get("style")
    if style is not None:
        if style not in STYLES:
            raise TrainingError(f"{where}: style must be one of {', '.join(STYLES)}, got "
                                f"{style!r}")
        return str(style)
    return "mot" if check_mot(answer).ok else "normal"


def _chat_messages(record: dict[str, Any], where: str) -> list[Message]:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise TrainingError(f"{where}: 'messages' must be a non-empty list of "
                            "{role, content} objects")
    out: list[Message] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES \
                or not isinstance(message.get("content"), str):
            raise TrainingError(f"{where}: messages[{i}] must be {{'role': system|user|"
                                f"assistant, 'content': text}}, got {str(message)[:120]!r}")
        out.append({"role": message["role"], "content": message["content"]})
    if out[-1]["role"] != "assistant":
        raise TrainingError(f"{where}: the last message must be the assistant's answer, got "
                            f"role {out[-1]['role']!r}")
    if not any(m["role"] == "user" for m in out):
        raise TrainingError(f"{where}: the chat has no user message")
    if any(m["role"] == "system" for m in out[1:]):
        raise TrainingError(f"{where}: a system message may only come first")
    return out


def _alpaca_messages(record: dict[str, Any], where: str) -> list[Message]:
    instruction, extra, output = (record.get("instruction"), record.get("input") or "",
                                  record.get("output"))
    if not isinstance(instruction, str) or not isinstance(output, str) \
            or not isinstance(extra, str):
        raise TrainingError(f"{where}: an Alpaca record needs text fields 'instruction' and "
                            "'output' (and optionally 'input')")
    user = instruction.rstrip() + ("\n\n" + extra.strip() if extra.strip() else "")
    return [{"role": "user", "content": user}, {"role": "assistant", "content": output}]


def record_to_example(record: dict[str, Any], source: DataSource, where: str) -> Example:
    """One record (chat or Alpaca, see the module docstring) as an `Example`."""
    fmt = source.format
    if fmt == "auto":
        if "messages" in record:
            fmt = "chat"
        elif "instruction" in record and "output" in record:
            fmt = "alpaca"
        else:
            raise TrainingError(f"{where}: neither a chat record ('messages') nor an Alpaca "
                                f"record ('instruction', 'output'); fields: "
                                f"{', '.join(sorted(record)) or 'none'}")
    messages = _chat_messages(record, where) if fmt == "chat" \
        else _alpaca_messages(record, where)
    if not messages[-1]["content"].strip():
        raise TrainingError(f"{where}: the assistant's answer is empty")
    task_id = record.get("task_id")
    return Example(messages=messages,
                   style=_style_of(record, messages[-1]["content"], source, where),
                   source=source.path, where=where,
                   task_id=str(task_id) if task_id is not None else None)


def _hub_records(source: DataSource) -> list[tuple[str, dict[str, Any]]]:
    from motcoder.problems.errors import ProblemLoadError
    from motcoder.problems.hub import load_hub_rows

    repo = source.path[len("hf:"):]
    try:
        rows = load_hub_rows(repo, split=source.split,
                             hint="a local JSONL file of chat ('messages') or Alpaca "
                                  "('instruction', 'input', 'output') records, e.g. "
                                  "--data motcode_data.jsonl",
                             what=f"the training data {repo} (split {source.split})")
    except ProblemLoadError as exc:
        raise TrainingError(str(exc)) from None
    return [(f"{source.path}:row {i + 1}", row) for i, row in enumerate(rows)]


def read_source(source: DataSource) -> list[Example]:
    """Every record of one data source as an `Example`."""
    if source.is_hub:
        records = _hub_records(source)
    else:
        from motcoder.problems.errors import ProblemLoadError
        from motcoder.problems.records import read_records

        if not Path(source.path).is_file():
            raise TrainingError(f"{source.path}: no such data file (for a hub dataset write "
                                f"hf:ORG/NAME, e.g. {MOTCODE_DATA})")
        try:
            records = list(read_records(source.path))
        except ProblemLoadError as exc:
            raise TrainingError(str(exc)) from None
    examples = [record_to_example(record, source, where) for where, record in records]
    if not examples:
        raise TrainingError(f"{source.path}: no records")
    return examples


# ----------------------------------------------------------------------------- mixing


def weigh(examples: list[Example], weight: float, rng: random.Random) -> list[Example]:
    """``examples`` repeated ``int(weight)`` times plus a random ``frac(weight)`` share."""
    whole = int(weight)
    share = round((weight - whole) * len(examples))
    return examples * whole + rng.sample(examples, share)


def apply_ratio(examples: list[Example], ratio: str, rng: random.Random) -> list[Example]:
    """Subsample the larger side so MoT : other (normal + clean) answers = ``ratio``; a side
    with weight 0 is dropped. Nothing is repeated to reach the ratio."""
    want_mot, want_other = parse_ratio(ratio)
    mot = [e for e in examples if e.style == "mot"]
    other = [e for e in examples if e.style != "mot"]
    if want_other == 0:
        return mot
    if want_mot == 0:
        return other
    if (want_mot and not mot) or not other:
        raise TrainingError(f"mot_ratio {ratio}: the data has {len(mot)} MoT and {len(other)} "
                            "other answers, so the ratio cannot be met")
    if len(mot) * want_other > len(other) * want_mot:   # too many MoT answers
        mot = rng.sample(mot, round(len(other) * want_mot / want_other))
    else:
        other = rng.sample(other, round(len(mot) * want_other / want_mot))
    return mot + other


def mix(per_source: list[tuple[DataSource, list[Example]]], ratio: str | None, seed: int,
        report: DataReport) -> list[Example]:
    """Weights per source, then the ratio; shuffled with ``seed``."""
    rng = random.Random(seed)
    mixed: list[Example] = []
    for source, examples in per_source:
        report.read[source.path] = report.read.get(source.path, 0) + len(examples)
        taken = weigh(examples, source.weight, rng)
        report.after_weights[source.path] = report.after_weights.get(source.path, 0) + \
            len(taken)
        mixed.extend(taken)
    if ratio is not None:
        mixed = apply_ratio(mixed, ratio, rng)
    report.after_ratio = dict(Counter(e.source for e in mixed))
    rng.shuffle(mixed)
    return mixed


# ----------------------------------------------------------------------------- layout


def system_prompt(style: str) -> str:
    """Our system prompt for ``style`` (``mot`` or ``normal``): the one inference sends."""
    from motcoder.prompts.templates import resolve_templates

    return resolve_templates(None).render("system_mot" if style == "mot" else "system_normal")


def add_system_prompt(example: Example, prompt_style: str) -> Example:
    """A system message for a chat that has none, per ``prompt_style`` (auto | mot | normal |
    data — the last adds nothing)."""
    if prompt_style == "data" or example.messages[0]["role"] == "system":
        return example
    style = ("mot" if example.style == "mot" else "normal") if prompt_style == "auto" \
        else prompt_style
    messages = [{"role": "system", "content": system_prompt(style)}, *example.messages]
    return Example(messages, example.style, example.source, example.where, example.task_id)


def two_step(example: Example, outline_request: str, build_request: str) -> Example:
    """A one-turn MoT answer as two turns: the user asks for the outline (the original request
    plus ``outline_request``) → the assistant's ``Step 1``; the user asks to implement
    (``build_request``) → the assistant's ``Step 2``. Other examples are returned as they are.
    """
    users = [m for m in example.messages if m["role"] == "user"]
    if example.style != "mot" or len(users) != 1 or example.messages[-2]["role"] != "user":
        return example
    answer = example.messages[-1]["content"].replace("\r\n", "\n").replace("\r", "\n")
    cut = step2_start(answer)
    if cut is None:
        raise TrainingError(f"{example.where}: style 'mot' but the answer has no 'Step 1' / "
                            "'Step 2' sections to split for the two-step layout")
    outline, build = answer[:cut].strip(), answer[cut:].strip()
    head = example.messages[:-2]
    user = example.messages[-2]
    messages = [*head,
                {"role": "user", "content": user["content"].rstrip() + "\n\n" + outline_request},
                {"role": "assistant", "content": outline},
                {"role": "user", "content": build_request},
                {"role": "assistant", "content": build}]
    return Example(messages, example.style, example.source, example.where, example.task_id)


def layout(example: Example, settings: SFTSettings) -> Example:
    """System prompt, then the layout of the settings."""
    example = add_system_prompt(example, settings.prompt_style)
    if settings.layout == "two-step":
        example = two_step(example, settings.outline_request, settings.build_request)
    return example


def to_rows(example: Example, loss_mask: str) -> list[dict[str, Any]]:
    """TRL rows of one conversation.

    ``assistant``: one row ``{"messages"}``; TRL's ``assistant_only_loss`` trains every
    assistant turn through the template's generation markers. ``completion``: one
    prompt-completion row per assistant turn (the conversation up to it → that turn), so every
    assistant turn is trained with TRL's completion-only loss whatever the chat template —
    a conversation with two assistant turns becomes two rows.
    """
    if loss_mask == "assistant":
        return [{"messages": example.messages}]
    return [{"prompt": example.messages[:i], "completion": [message]}
            for i, message in enumerate(example.messages)
            if message["role"] == "assistant"]


# ----------------------------------------------------------------------------- lengths


def token_length(tokenizer: Any, messages: list[Message], chat_template: str | None = None
                 ) -> int:
    """Tokens of a whole conversation with the chat template — exactly what TRL tokenises for
    the longest row of it (the full conversation)."""
    encoded = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                            chat_template=chat_template)
    return len(encoded["input_ids"])


def drop_overlength(examples: list[Example], tokenizer: Any, max_length: int,
                    report: DataReport, chat_template: str | None = None) -> list[Example]:
    """Keep the conversations of at most ``max_length`` tokens; count the others per source."""
    kept: list[Example] = []
    for example in examples:
        length = token_length(tokenizer, example.messages, chat_template)
        if length > max_length:
            report.dropped_overlength[example.source] = \
                report.dropped_overlength.get(example.source, 0) + 1
            continue
        report.longest = max(report.longest, length)
        kept.append(example)
    return kept


# ----------------------------------------------------------------------------- all of it


def load_examples(settings: SFTSettings, report: DataReport) -> list[Example]:
    """Read every source, mix, and lay out (no tokenizer needed)."""
    per_source = [(source, read_source(source)) for source in settings.data]
    mixed = mix(per_source, settings.mot_ratio, settings.seed, report)
    if not mixed:
        raise TrainingError("the data mixture is empty (weights 0, or mot_ratio dropped "
                            "everything)")
    return [layout(e, settings) for e in mixed]


def tokenized_rows(examples: list[Example], report: DataReport, settings: SFTSettings,
                   tokenizer: Any, loss_mask: str, chat_template: str | None = None
                   ) -> list[dict[str, Any]]:
    """Drop over-length conversations (counted in ``report``) and turn the rest into rows."""
    report.loss_mask = loss_mask
    for source in report.after_ratio:
        report.dropped_overlength.setdefault(source, 0)
    kept = drop_overlength(examples, tokenizer, settings.max_length, report, chat_template)
    if not kept:
        raise TrainingError(f"every sample is longer than max_length={settings.max_length} "
                            f"tokens ({report.total_dropped} dropped); raise max_length")
    report.trained = dict(Counter(e.source for e in kept))
    report.styles = dict(Counter(e.style for e in kept))
    rows = [row for e in kept for row in to_rows(e, loss_mask)]
    report.rows = len(rows)
    return rows


def build_dataset(settings: SFTSettings, tokenizer: Any, loss_mask: str,
                  chat_template: str | None = None) -> tuple[list[dict[str, Any]], DataReport]:
    """The trainer's rows and the data report. ``chat_template``: the template TRL will
    tokenise with (the training template in ``assistant`` mode), for the length check."""
    report = new_report(settings)
    examples = load_examples(settings, report)
    return tokenized_rows(examples, report, settings, tokenizer, loss_mask,
                          chat_template), report


def new_report(settings: SFTSettings) -> DataReport:
    return DataReport(layout=settings.layout, max_length=settings.max_length)
