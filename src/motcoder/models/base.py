"""The protocol every model backend implements, and the records that cross it.

A request is a chat (``messages``: list of ``{"role", "content"}``) or a raw ``prompt``,
with sampling settings. ``generate`` takes a batch of requests and returns one `Completion`
per request, in order, each holding ``n`` outputs. Backends batch internally as they can
(transformers: left-padded batches; vLLM: its scheduler; OpenAI: concurrent HTTP requests).

``temperature == 0`` means greedy decoding (then ``n`` greedy outputs are identical, and
backends may compute one and repeat it). ``seed`` makes sampling reproducible where the
backend supports it. ``stop`` strings end an output early; they are not included in it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class ModelError(RuntimeError):
    """A model could not be loaded or reached; the message says what to do."""


@dataclass
class GenerationRequest:
    messages: list[dict[str, str]] | None = None
    prompt: str | None = None
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    stop: list[str] = field(default_factory=list)
    seed: int | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("a request has either messages (a chat) or a prompt, not both")
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Output:
    text: str
    tokens: int = 0                 # completion tokens
    finish_reason: str = "stop"     # "stop" (EOS or a stop string) | "length"


@dataclass
class Completion:
    outputs: list[Output]
    prompt_tokens: int = 0

    @property
    def texts(self) -> list[str]:
        return [o.text for o in self.outputs]

    @property
    def completion_tokens(self) -> int:
        return sum(o.tokens for o in self.outputs)


@runtime_checkable
class LanguageModel(Protocol):
    """What solvers, data generation and `motcoder serve` need from a model."""

    name: str

    def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        """One completion per request, in order."""
        ...

    def close(self) -> None:
        """Release the model (GPU memory, HTTP clients, engines)."""
        ...
