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

INSTALL_HINT = 'pip install "motcoder[vllm]"'


def sampling_params_kwargs(request: GenerationRequest) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for one request."""
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
    return kwargs


def _finish_reason(reason: Any) -> str:
    return "length" if reason == "length" else "stop"


def completion_from_output(output: Any, request: GenerationRequest) -> Completion:
    """Our `Completion` from one vLLM ``RequestOutput`` (anything with ``prompt_token_ids``
    and ``outputs``, each with ``text``, ``token_ids`` and ``finish_reason``)."""
    outputs = [Output(text=o.text, tokens=len(o.token_ids or ()),
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

    def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        results: list[Completion | None] = [None] * len(requests)
        chats = [i for i, r in enumerate(requests) if r.messages is not None]
        prompts = [i for i, r in enumerate(requests) if r.messages is None]
        params = [self._vllm.SamplingParams(**sampling_params_kwargs(r)) for r in requests]
        if chats:
            outs = self.llm.chat([requests[i].messages for i in chats],
                                 sampling_params=[params[i] for i in chats], use_tqdm=False)
            for i, out in zip(chats, outs, strict=True):
                results[i] = completion_from_output(out, requests[i])
        if prompts:
            outs = self.llm.generate([requests[i].prompt for i in prompts],
                                     sampling_params=[params[i] for i in prompts],
                                     use_tqdm=False)
            for i, out in zip(prompts, outs, strict=True):
                results[i] = completion_from_output(out, requests[i])
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
