"""ReflectionSeq samples → token ids, labels and per-token structure for reflection training.

A sample (plain dict, the ReflectionSeq schema)::

    {"type": "reflection" | "generation",
     "messages": [{"role": "user" | "assistant",
                   "content": [{"type": "text" | "code" | "execution", "content": str}, ...]},
                  ...]}

A *reflection* sample has exactly four messages: reflection instruction (user) → reflection
sequence (assistant: text, code, execution, text, code, execution, ...) → re-answer
instruction (user) → final answer (assistant). A *generation* sample is any user/assistant
alternation ending with the assistant (usually one instruction → one answer).

Serialisation (the same text the chat template of the trained model renders, see
`chat_template`)::

    [BOS] <|user|> <|text|> ... <|endofblock|> <|endofmessage|>
          <|assistant|> <|text|> ... <|endofblock|> <|code|> ... <|endofblock|>
                        <|execution|> ... <|endofblock|> ... <|endofmessage|> ...

(the original's markers and layout: blocks and messages joined with nothing between them,
contents verbatim). Labels: the tokens of assistant text/code blocks (marker, content,
``<|endofblock|>``) and the assistant's ``<|endofmessage|>`` carry loss; user turns, role
markers and whole execution blocks are -100. Per token we also record the block it belongs
to (``block_id``, -1 outside blocks), the block's type (`BLOCK_CODES`) and the part of the
sample (`PARTS`), which is what the student masks (`motcoder.training.reflection_masks`) are
computed from.

The marker tokens are added to the tokenizer as special tokens (`add_reflection_tokens`); their
input and output embeddings start as the mean of the embeddings of the sub-tokens the original
tokenizer splits their text into.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from motcoder.prompts.reflection_markup import (
    ASSISTANT,
    CODE,
    END_BLOCK,
    END_MESSAGE,
    EXECUTION,
    TEXT,
    USER,
)
from motcoder.prompts.reflection_markup import MARKERS as SPECIAL_TOKENS
from motcoder.training.settings import TrainingError

ROLE_TOKEN = {"user": USER, "assistant": ASSISTANT}
BLOCK_TOKEN = {"text": TEXT, "code": CODE, "execution": EXECUTION}

BLOCK_TYPES = ("text", "code", "execution")
BLOCK_CODES = {"text": 1, "code": 2, "execution": 3}   # 0: the token is in no block
KINDS = ("reflection", "generation")

# The part of a sample each token belongs to.
PART_PREFIX = 0                   # BOS (and padding)
PART_REFLECTION_INSTRUCTION = 1   # round 1, user
PART_REFLECTION_SEQUENCE = 2      # round 1, assistant
PART_INSTRUCTION = 3              # round 2 user (re-answer instruction) / generation user turns
PART_ANSWER = 4                   # round 2 assistant (final answer) / generation answers
PARTS = ("prefix", "reflection_instruction", "reflection_sequence", "instruction", "answer")
_REFLECTION_PARTS = (PART_REFLECTION_INSTRUCTION, PART_REFLECTION_SEQUENCE, PART_INSTRUCTION,
                     PART_ANSWER)
IGNORE = -100


# ----------------------------------------------------------------------------- samples


@dataclass
class Block:
    type: str          # text | code | execution
    content: str


@dataclass
class Message:
    role: str          # user | assistant
    blocks: list[Block]


@dataclass
class ReflectionSample:
    """One validated sample of the ReflectionSeq schema."""

    kind: str          # reflection | generation
    messages: list[Message]
    source: str = ""
    where: str = ""

    def text_of(self) -> str:
        return "".join(b.content for m in self.messages for b in m.blocks)


def _blocks(content: Any, where: str) -> list[Block]:
    if isinstance(content, str):  # plain text content: one text block
        return [Block("text", content)]
    if not isinstance(content, list) or not content:
        raise TrainingError(f"{where}: 'content' must be a non-empty list of "
                            "{type: text|code|execution, content: str} blocks")
    blocks = []
    for i, item in enumerate(content):
        if not isinstance(item, dict) or item.get("type") not in BLOCK_TYPES \
                or not isinstance(item.get("content"), str):
            raise TrainingError(f"{where}: block {i} must be {{'type': text|code|execution, "
                                f"'content': str}}, got {str(item)[:120]!r}")
        blocks.append(Block(item["type"], item["content"]))
    return blocks


def parse_sample(record: dict[str, Any], where: str = "sample", source: str = ""
                 ) -> ReflectionSample:
    """Validate one record of the ReflectionSeq schema; errors name ``where``."""
    kind = record.get("type")
    if kind not in KINDS:
        raise TrainingError(f"{where}: 'type' must be 'reflection' or 'generation', got "
                            f"{kind!r}")
    raw = record.get("messages")
    if not isinstance(raw, list) or not raw:
        raise TrainingError(f"{where}: 'messages' must be a non-empty list")
    messages = []
    for i, message in enumerate(raw):
        if not isinstance(message, dict) or message.get("role") not in ROLE_TOKEN:
            raise TrainingError(f"{where}: messages[{i}] must have role user or assistant, got "
                                f"{str(message)[:120]!r}")
        messages.append(Message(message["role"],
                                _blocks(message.get("content"), f"{where}: messages[{i}]")))
    roles = [m.role for m in messages]
    if any(role != ("user" if i % 2 == 0 else "assistant") for i, role in enumerate(roles)) \
            or roles[-1] != "assistant":
        raise TrainingError(f"{where}: messages must alternate user, assistant, ... and end "
                            f"with the assistant; got {', '.join(roles)}")
    if kind == "reflection" and len(messages) != 4:
        raise TrainingError(f"{where}: a reflection sample has 4 messages (reflection "
                            "instruction, reflection sequence, re-answer instruction, final "
                            f"answer), got {len(messages)}")
    if not any(b.type != "execution" and b.content.strip() for b in messages[-1].blocks):
        raise TrainingError(f"{where}: the final answer has no text or code")
    return ReflectionSample(kind, messages, source, where)


# ----------------------------------------------------------------------------- tokens


def add_marker_tokens(tokenizer: Any) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Add the marker tokens the tokenizer lacks (as special tokens). Returns ``{token: id}``
    for all markers and, for the ones added now, the ids the original tokenizer split their
    text into (``<``, ``|``, ``code``, ``|``, ``>``)."""
    from tokenizers import AddedToken

    vocab = tokenizer.get_vocab()
    missing = [t for t in SPECIAL_TOKENS if t not in vocab]
    pieces = {t: sub_token_ids(tokenizer, t) for t in missing}
    if missing:
        tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in missing],
                             special_tokens=True)
    return {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}, pieces


def init_marker_embeddings(model: Any, ids: dict[str, int], pieces: dict[str, list[int]]
                           ) -> None:
    """Grow ``model``'s embeddings to hold ``ids`` and set each new token's input embedding to
    the mean of its sub-tokens' input embeddings — and the same for the output embedding (and
    its bias, if any) when it is not tied to the input one."""
    import torch

    if not pieces:
        return
    inputs = model.get_input_embeddings()
    if max(ids.values()) >= inputs.weight.shape[0]:
        # mean_resizing=False: the new rows are set below.
        model.resize_token_embeddings(max(ids.values()) + 1, mean_resizing=False)
        inputs = model.get_input_embeddings()
    outputs = model.get_output_embeddings()
    tied = outputs is not None and outputs.weight.data_ptr() == inputs.weight.data_ptr()
    with torch.no_grad():
        for token, sub_ids in pieces.items():
            sub = torch.tensor(sub_ids, dtype=torch.long)
            new = ids[token]
            inputs.weight[new] = inputs.weight[sub].mean(dim=0)
            if outputs is not None and not tied:
                outputs.weight[new] = outputs.weight[sub].mean(dim=0)
            bias = getattr(outputs, "bias", None) if outputs is not None else None
            if bias is not None:
                bias[new] = bias[sub].mean()


def add_reflection_tokens(model: Any, tokenizer: Any) -> dict[str, int]:
    """Add the marker tokens to ``tokenizer`` and ``model`` (`add_marker_tokens` +
    `init_marker_embeddings`); returns ``{token: id}``. Tokens the tokenizer already has are
    left as they are."""
    ids, pieces = add_marker_tokens(tokenizer)
    init_marker_embeddings(model, ids, pieces)
    return ids


def sub_token_ids(original_tokenizer: Any, token: str) -> list[int]:
    """The ids the original tokenizer splits ``token``'s text into (what its embedding is
    initialised from)."""
    return list(original_tokenizer(token, add_special_tokens=False)["input_ids"])


def prefix_ids(tokenizer: Any) -> list[int]:
    """The ids the tokenizer puts in front of a text by itself (BOS for Llama-style
    tokenizers, nothing for GPT-2/ChatML-style ones)."""
    with_special = tokenizer("a")["input_ids"]
    without = tokenizer("a", add_special_tokens=False)["input_ids"]
    if len(with_special) > len(without) and with_special[-len(without):] == without:
        return list(with_special[:len(with_special) - len(without)])
    return []


def chat_template(with_bos: bool) -> str:
    """A Jinja chat template rendering chats exactly as `ReflectionSerializer` lays out
    training samples: string contents become one text block, list contents are blocks
    ``{type, content}``; a system message becomes the first text block of the next user
    turn (the data has none); the generation prompt is ``<|assistant|>``."""
    bos = "{{ bos_token }}" if with_bos else ""
    return (
        bos + "{%- set ns = namespace(system='') -%}"
        "{%- for message in messages -%}"
        "{%- if message['role'] == 'system' -%}{%- set ns.system = message['content'] -%}"
        "{%- else -%}"
        "{{- '" + USER + "' if message['role'] == 'user' else '" + ASSISTANT + "' -}}"
        "{%- if message['role'] == 'user' and ns.system -%}"
        "{{- '" + TEXT + "' + ns.system + '" + END_BLOCK + "' -}}{%- set ns.system = '' -%}"
        "{%- endif -%}"
        "{%- if message['content'] is string -%}"
        "{{- '" + TEXT + "' + message['content'] + '" + END_BLOCK + "' -}}"
        "{%- else -%}{%- for block in message['content'] -%}"
        "{{- '<|' + block['type'] + '|>' + block['content'] + '" + END_BLOCK + "' -}}"
        "{%- endfor -%}{%- endif -%}"
        "{{- '" + END_MESSAGE + "' -}}"
        "{%- endif -%}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{- '" + ASSISTANT + "' -}}{%- endif -%}"
    )


def install_chat_template(tokenizer: Any) -> None:
    """Give ``tokenizer`` the chat template of the training layout (saved with it)."""
    tokenizer.chat_template = chat_template(bool(prefix_ids(tokenizer)))


# ----------------------------------------------------------------------------- encoding


@dataclass
class Encoded:
    """One serialised sample: parallel per-token lists."""

    kind: str
    input_ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    part: list[int] = field(default_factory=list)
    block_id: list[int] = field(default_factory=list)
    block_type: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.input_ids)

    def add(self, ids: list[int], loss: bool, part: int, block_id: int = -1,
            block_type: int = 0) -> None:
        self.input_ids.extend(ids)
        self.labels.extend(ids if loss else [IGNORE] * len(ids))
        self.part.extend([part] * len(ids))
        self.block_id.extend([block_id] * len(ids))
        self.block_type.extend([block_type] * len(ids))

    def to_row(self) -> dict[str, Any]:
        return {"input_ids": self.input_ids, "labels": self.labels, "part": self.part,
                "block_id": self.block_id, "block_type": self.block_type,
                "is_reflection": self.kind == "reflection"}


class ReflectionSerializer:
    """Encode `ReflectionSample`s with a tokenizer that has the marker tokens."""

    def __init__(self, tokenizer: Any) -> None:
        vocab = tokenizer.get_vocab()
        absent = [t for t in SPECIAL_TOKENS if t not in vocab]
        if absent:
            raise TrainingError(f"the tokenizer lacks the reflection markers {absent}; call "
                                "add_reflection_tokens first")
        self.tokenizer = tokenizer
        self.ids = {t: vocab[t] for t in SPECIAL_TOKENS}
        self.prefix = prefix_ids(tokenizer)

    def _text(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def has_marker_text(self, sample: ReflectionSample) -> bool:
        """Whether a block's text contains a marker token's text (it would be read as the
        marker, so such samples are skipped)."""
        text = sample.text_of()
        return any(t in text for t in SPECIAL_TOKENS)

    def encode(self, sample: ReflectionSample) -> Encoded:
        """The sample's ids, labels and structure. The whole text is tokenized at once, as
        the original does and as the chat template's text is at inference (a SentencePiece
        tokenizer would otherwise open every separately tokenized block with its word-start
        piece); the structure is then read back from the marker tokens, which block texts
        cannot contain (samples holding marker text are dropped before)."""
        text = "".join(
            ROLE_TOKEN[m.role] + "".join(BLOCK_TOKEN[b.type] + b.content + END_BLOCK
                                         for b in m.blocks) + END_MESSAGE
            for m in sample.messages)
        ids = self._text(text)
        out = Encoded(sample.kind)
        out.add(self.prefix, False, PART_PREFIX)
        end_block, end_message = self.ids[END_BLOCK], self.ids[END_MESSAGE]
        at, block_id = 0, 0
        for index, message in enumerate(sample.messages):
            if sample.kind == "reflection":
                part = _REFLECTION_PARTS[index]
            else:
                part = PART_INSTRUCTION if message.role == "user" else PART_ANSWER
            assistant = message.role == "assistant"
            at = self._expect(ids, at, self.ids[ROLE_TOKEN[message.role]], sample)
            out.add([ids[at - 1]], False, part)
            for block in message.blocks:
                start = self._expect(ids, at, self.ids[BLOCK_TOKEN[block.type]], sample) - 1
                try:
                    at = ids.index(end_block, start + 1) + 1
                except ValueError:
                    raise TrainingError(f"{sample.where}: a block has no end marker once "
                                        "tokenized") from None
                out.add(ids[start:at], assistant and block.type != "execution", part,
                        block_id, BLOCK_CODES[block.type])
                block_id += 1
            at = self._expect(ids, at, end_message, sample)
            out.add([end_message], assistant, part)
        if at != len(ids):
            raise TrainingError(f"{sample.where}: tokens left after the last message")
        return out

    @staticmethod
    def _expect(ids: list[int], at: int, token: int, sample: ReflectionSample) -> int:
        """The position after the marker ``token`` expected at ``at``."""
        if at >= len(ids) or ids[at] != token:
            raise TrainingError(f"{sample.where}: the tokenized text does not follow the "
                                "sample's structure (a marker split or merged by the "
                                "tokenizer)")
        return at + 1
