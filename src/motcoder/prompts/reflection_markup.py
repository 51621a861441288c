"""ReflectionCoder's block markup: the marker tokens, and its answers turned into Markdown.

A model trained on ReflectionSeq data (`motcoder train reflection`, or a published
ReflectionCoder checkpoint) writes its answers as blocks::

    <|text|>Here is the fix.<|endofblock|><|code|>def add(a, b):
        return a + b<|endofblock|><|endofmessage|>

Code blocks carry no fences. Decoded with the special tokens skipped, that becomes
``Here is the fix.def add(a, b): ...`` and no program can be extracted from it; so models
whose tokenizer has these markers are decoded with them kept (`motcoder.models`), and
`to_markdown` turns the blocks back into prose and fenced code before extraction.

The marker strings are the original's (SenseLLM/ReflectionCoder, ``src/utils/processor.py``),
so its published checkpoints read and write the same layout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

USER, ASSISTANT = "<|user|>", "<|assistant|>"
TEXT, CODE, EXECUTION = "<|text|>", "<|code|>", "<|execution|>"
END_BLOCK, END_MESSAGE = "<|endofblock|>", "<|endofmessage|>"
MARKERS = (USER, ASSISTANT, TEXT, CODE, EXECUTION, END_BLOCK, END_MESSAGE)

_BLOCK = re.compile(
    "(" + "|".join(re.escape(m) for m in (TEXT, CODE, EXECUTION)) + r")(.*?)(?:"
    + re.escape(END_BLOCK) + "|(?=" + "|".join(re.escape(m) for m in MARKERS) + ")|$)",
    re.DOTALL)


def has_markers(vocabulary: Iterable[str]) -> bool:
    """Whether a tokenizer vocabulary holds every marker token."""
    vocabulary = set(vocabulary)
    return all(marker in vocabulary for marker in MARKERS)


def to_markdown(text: str, language: str = "python") -> str:
    """``text`` with its blocks as Markdown: text blocks as they are, code blocks fenced
    (unless already fenced), execution blocks left out; the role and end-of-message markers
    removed. Text without markers is returned unchanged. An unclosed last block (the answer
    was cut off) counts as closed."""
    if not any(marker in text for marker in MARKERS):
        return text
    parts = []
    before = _BLOCK.split(text, maxsplit=0)
    # re.split with groups: [outside, marker, content, outside, marker, content, ...]
    for i in range(0, len(before), 3):
        outside = before[i]
        for marker in (USER, ASSISTANT, END_BLOCK, END_MESSAGE):
            outside = outside.replace(marker, "")
        if outside.strip():
            parts.append(outside.strip("\n"))
        if i + 2 < len(before):
            marker, content = before[i + 1], before[i + 2]
            if marker == TEXT and content.strip():
                parts.append(content.strip("\n"))
            elif marker == CODE and content.strip():
                code = content.strip("\n")
                parts.append(code if code.lstrip().startswith("```")
                             else f"```{language}\n{code}\n```")
    return "\n".join(parts)
