"""Reuse of the key/value states of prompt prefixes that several requests share.

System prompts and one-shot examples repeat from request to request: the MoT transformation
sends the same ~1,300 tokens ahead of every problem. `PrefixCache` keeps the key/value states
of recently computed prefixes (batch 1, one ``(keys, values)`` pair per layer) and tells the
transformers backend how much of a batch's prompts it may skip.

Which prefix (`PrefixCache.choose`): for a batch of several prompts, the tokens all of them
share; for a single prompt, the longest start it shares with a stored prefix or a recent
prompt, so the second of two sequential requests computes the shared part once and later ones
reuse it. A prefix shorter than ``min_tokens`` is not worth it; every prompt keeps at least one
token of its own, which the model needs to produce its first logits.

How (`PrefixCache.states`): the stored entry sharing the longest start with the wanted prefix
is cut to the shared part and the rest is computed on top of it by the backend's ``extend``
function; the result is stored, and the least recently used entries beyond ``max_entries`` are
dropped.

Written here because transformers has cache objects but no reuse across ``generate`` calls
(vLLM and SGLang do it inside their servers; the transformers backend serves laptops and single
GPUs, where the repeated prefill was most of the time of a one-shot prompt).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

# One (keys, values) pair per layer, each [1, heads, tokens, head_dim].
States = list[tuple[Any, Any]]
# extend(states of tokens[:start] or None, start, tokens) -> states of all of ``tokens``
Extend = Callable[[States | None, int, Sequence[int]], States]


def shared_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` have in common."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _cut(states: States, length: int) -> States:
    return [(k[:, :, :length], v[:, :, :length]) for k, v in states]


@dataclass
class PrefixStats:
    """Counters: batches that reused a stored prefix, tokens reused, tokens computed."""

    hits: int = 0
    reused_tokens: int = 0
    computed_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class PrefixCache:
    """Recently computed prefix states (see the module docstring)."""

    max_entries: int = 4
    min_tokens: int = 64
    history: int = 32
    stats: PrefixStats = field(default_factory=PrefixStats)

    def __post_init__(self) -> None:
        if self.max_entries < 1 or self.min_tokens < 1:
            raise ValueError("max_entries and min_tokens must be at least 1")
        self._entries: OrderedDict[tuple[int, ...], States] = OrderedDict()
        self._recent: deque[tuple[int, ...]] = deque(maxlen=self.history)

    def choose(self, prompts: Sequence[Sequence[int]]) -> int:
        """How many leading tokens of every prompt to take from the cache (0: none)."""
        if not prompts:
            return 0
        first = prompts[0]
        limit = min(len(p) for p in prompts) - 1
        for other in prompts[1:]:
            limit = min(limit, shared_length(first, other))
        if len(prompts) == 1:
            witnesses = [*self._entries, *self._recent]
            limit = min(limit, max((shared_length(first, w) for w in witnesses), default=0))
        return limit if limit >= self.min_tokens else 0

    def remember(self, prompts: Sequence[Sequence[int]]) -> None:
        """Note prompts just served, so a later single prompt can find what it shares."""
        for prompt in prompts:
            key = tuple(prompt)
            if key not in self._recent:
                self._recent.append(key)

    def states(self, tokens: Sequence[int], extend: Extend) -> States:
        """The states of ``tokens``: from the best stored entry, extended where it falls short."""
        key = tuple(tokens)
        best, best_len = None, 0
        for entry in self._entries:
            n = shared_length(entry, key)
            if n > best_len:
                best, best_len = entry, n
        base: States | None = None
        if best is not None and best_len >= self.min_tokens:
            self._entries.move_to_end(best)
            self.stats.hits += 1
            self.stats.reused_tokens += best_len
            if best == key:
                return self._entries[best]
            base = _cut(self._entries[best], best_len)
        else:
            best_len = 0
        if best_len == len(key):  # a longer stored prefix, cut
            states = base
        else:
            states = extend(base, best_len, key)
            self.stats.computed_tokens += len(key) - best_len
        self._entries[key] = states
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return states

    def clear(self) -> None:
        self._entries.clear()
        self._recent.clear()
