"""vLLM offline inference (optional extra ``motcoder[vllm]``, needs a CUDA GPU).

`VLLMModel` wraps ``vllm.LLM``: chats go through ``llm.chat`` (the model's chat template),
raw prompts through ``llm.generate``; vLLM's scheduler does the batching. vLLM is imported
only when a `VLLMModel` is built, so this module imports anywhere.

The translation between our records and vLLM's lives in two pure functions,
`sampling_params_kwargs` and `completion_from_output`, tested without vLLM installed. Greedy
requests (``temperature == 0``) ask vLLM for one output and repeat it ``n`` times, as the
protocol allows.
"""

from __future__ import annotations

import gc
from typing import Any

from motcoder.models.base import Completion, GenerationRequest, ModelError, Output
from motcoder.prompts.reflection_markup import MARKERS, has_markers

INSTALL_HINT = 'pip install "motcoder[vllm]"'


def sampling_params_kwargs(request: GenerationRequest,
                           keep_markers: bool = False) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for one request; ``keep_markers``: the
    model writes ReflectionCoder's block markers, which must stay in the text (as the
    original's evaluation decodes them)."""
    kwargs: dict[str, Any] = {
        "n": 1 if request.greedy else request.n,
        "temperature": 0.0 if request.greedy else float(request.temperature),
        "top_p": 1.0 if request.greedy else float(request.top_p),
        "max_tokens": int(request.max_new_tokens),
    }
    stop = [s for s in request.stop if s]
    if stop:
        kwargs["stop"] = stop
    if request.seed is not None and not request.greedy:
        kwargs["seed"] = int(request.seed)
    if keep_markers:
        kwargs.update(skip_special_tokens=False, spaces_between_special_tokens=False)
    return kwargs


def _without(text: str, tokens: tuple[str, ...]) -> str:
    for token in tokens:
        text = text.replace(token, "")
    return text


def _finish_reason(reason: Any) -> str:
    return "length" if reason == "length" else "stop"


def completion_from_output(output: Any, request: GenerationRequest,
                           dropped: tuple[str, ...] = ()) -> Completion:
    """Our `Completion` from one vLLM ``RequestOutput`` (anything with ``prompt_token_ids``
    and ``outputs``, each with ``text``, ``token_ids`` and ``finish_reason``); ``dropped``:
    special tokens to take out of the text (the ones other than the markers, when those
    are kept)."""
    outputs = [Output(text=_without(o.text, dropped), tokens=len(o.token_ids or ()),
                      finish_reason=_finish_reason(o.finish_reason))
               for o in output.outputs]
    if not outputs:
        raise ModelError("vLLM returned no output for a request")
    if request.greedy and request.n > 1:
        first = outputs[0]
        outputs = [Output(first.text, first.tokens, first.finish_reason) for _ in range(request.n)]
    return Completion(outputs=outputs, prompt_tokens=len(output.prompt_token_ids or ()))


class VLLMModel:
    """A model served in-process by vLLM.

    ``model``: hub id or local checkpoint directory. ``tensor_parallel_size``: GPUs to shard
    over. ``dtype``: "auto" | "bfloat16" | "float16" | "float32". ``max_model_len``: context
    length (default: the model's). ``seed``: the engine's seed. Further keyword arguments go to
    ``vllm.LLM`` unchanged (e.g. ``gpu_memory_utilization``, ``enforce_eager``).
    """

    def __init__(self, model: str, *, tensor_parallel_size: int = 1, dtype: str = "auto",
                 max_model_len: int | None = None, seed: int = 0,
                 gpu_memory_utilization: float = 0.9, trust_remote_code: bool = False,
                 name: str | None = None, **engine_kwargs: Any) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise ModelError(f"vLLM is not installed ({exc}): install it with {INSTALL_HINT} "
                             "(it needs a CUDA GPU; on a CPU use the transformers backend, "
                             "hf:MODEL)") from exc
        self._vllm = vllm
        kwargs: dict[str, Any] = {"model": model, "tensor_parallel_size": tensor_parallel_size,
                                  "dtype": dtype, "seed": seed,
                                  "gpu_memory_utilization": gpu_memory_utilization,
                                  "trust_remote_code": trust_remote_code, **engine_kwargs}
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        try:
            self.llm = vllm.LLM(**kwargs)
        except Exception as exc:
            raise ModelError(f"vLLM could not load {model!r}: {exc}") from exc
        self.name = name or model
        tokenizer = self.llm.get_tokenizer()
        self.keep_markers = has_markers(tokenizer.get_vocab())
        self.dropped: tuple[str, ...] = tuple(
            t for t in tokenizer.all_special_tokens if t not in MARKERS) \
            if self.keep_markers else ()

    def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        results: list[Completion | None] = [None] * len(requests)
        chats = [i for i, r in enumerate(requests) if r.messages is not None]
        prompts = [i for i, r in enumerate(requests) if r.messages is None]
        params = [self._vllm.SamplingParams(**sampling_params_kwargs(r, self.keep_markers))
                  for r in requests]
        if chats:
            outs = self.llm.chat([requests[i].messages for i in chats],
                                 sampling_params=[params[i] for i in chats], use_tqdm=False)
            for i, out in zip(chats, outs, strict=True):
                results[i] = completion_from_output(out, requests[i], self.dropped)
        if prompts:
            outs = self.llm.generate([requests[i].prompt for i in prompts],
                                     sampling_params=[params[i] for i in prompts],
                                     use_tqdm=False)
            for i, out in zip(prompts, outs, strict=True):
                results[i] = completion_from_output(out, requests[i], self.dropped)
        return [r for r in results if r is not None]

    def close(self) -> None:
        self.llm = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
