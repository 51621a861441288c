"""Local models through Hugging Face transformers, on CPU or GPU, with batched generation.

`TransformersModel` loads ``AutoModelForCausalLM`` + ``AutoTokenizer`` from a hub id, a local
checkpoint directory, or a GGUF file (dequantised once and cached, see
`motcoder.models.gguf_cache`).

How requests become tokens:

* a chat (``messages``) is rendered with the model's own chat template
  (``add_generation_prompt=True``) and tokenised without adding special tokens again; a raw
  ``prompt`` is tokenised as-is (with the tokenizer's usual special tokens, e.g. BOS);
* every sample is one row: a greedy request is one row whose output is repeated ``n`` times,
  a sampled request is ``n`` rows. Rows are sorted by length and run ``batch_size`` at a time
  through ``model.generate`` with LEFT padding, greedy and sampled rows mixed in one batch;
* sampling (temperature, top-p) happens in a logits processor with one ``torch.Generator``
  per row, seeded from the request's ``seed`` and the sample's index, so a request with a seed
  gives the same samples however it is batched (up to floating-point differences between
  batch shapes). Requests without a seed draw fresh seeds from the model's own generator
  (itself seeded by the ``seed`` option when given);
* a stopping criterion ends each row on its own at EOS (the tokenizer's and the generation
  config's end tokens), at one of its stop strings, or at its ``max_new_tokens``; the text is
  cut before the first stop string. ``finish_reason`` is "stop" for EOS or a stop string and
  "length" when ``max_new_tokens`` (or the model's context length) ran out.

Prompt prefixes that requests share (a system prompt, a one-shot example) are computed once
and reused (`motcoder.models.prefix_cache`): a batch's rows become ``[shared prefix][left
padding][own suffix]`` and only the suffixes are run through the model, on top of a copy of the
stored prefix states; on CPU, attention reads the prefix's states once for the whole batch
(`motcoder.models.prefix_attention`). Key/value states live in a preallocated `StaticCache`
(filled in place), because the default cache copies all of them at every new token.
``prefix_cache=False`` turns the reuse off; models whose cache is not plain full attention
(sliding windows, linear attention) generate without either.

``Output.tokens`` counts the generated tokens up to and including the one that ended the row
(EOS, or the token that completed a stop string); ``Completion.prompt_tokens`` counts the
prompt's tokens.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import os
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from motcoder.models import prefix_attention
from motcoder.models.base import Completion, GenerationRequest, ModelError, Output
from motcoder.models.prefix_cache import PrefixCache, States
from motcoder.prompts.reflection_markup import has_markers

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
}


def resolve_device(device: str = "auto") -> str:
    """"auto" → "cuda" when a GPU is visible, else "cpu"; "cuda[:N]" must be available."""
    device = (device or "auto").strip().lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError(f"device {device!r} asked for, but torch sees no CUDA GPU "
                             f"(torch {torch.__version__}); use device='cpu'")
        return device
    if device == "mps":
        return device
    raise ModelError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'")


def resolve_dtype(dtype: str = "auto", device: str = "cpu") -> torch.dtype:
    """"auto" → float32 on CPU; bfloat16 on a GPU that supports it, else float16."""
    name = (dtype or "auto").strip().lower()
    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if name not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16")
    return DTYPES[name]


def row_seed(seed: int, sample: int) -> int:
    """The seed of sample ``sample`` of a request seeded with ``seed`` (independent streams)."""
    digest = hashlib.sha256(f"motcoder:{seed}:{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut before the earliest occurrence of any stop string; whether one occurred."""
    cut = -1
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1 and (cut == -1 or i < cut):
                cut = i
    return (text, False) if cut == -1 else (text[:cut], True)


@dataclass
class _Row:
    """One sample to generate: a request's prompt with its own settings and seed."""

    request: int
    prompt_ids: list[int]
    temperature: float
    top_p: float
    max_new_tokens: int
    stop: tuple[str, ...]
    seed: int | None            # None for greedy rows
    # filled by generation
    token_ids: list[int] | None = None
    text: str = ""
    finish_reason: str = "stop"


class _RowSampler:
    """Logits processor sampling each row with its own temperature, top-p and generator.

    ``generate`` runs greedy (argmax); for sampled rows this returns scores that are -inf
    everywhere but at the token drawn here, so argmax picks the draw. Greedy rows pass through
    untouched."""

    def __init__(self, rows: list[_Row], device: torch.device) -> None:
        self.rows = rows
        self.generators: list[torch.Generator | None] = []
        for row in rows:
            if row.seed is None:
                self.generators.append(None)
            else:
                g = torch.Generator(device=device)
                g.manual_seed(row.seed)
                self.generators.append(g)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.Tensor:
        if all(g is None for g in self.generators):
            return scores
        out = scores.clone()
        for i, (row, g) in enumerate(zip(self.rows, self.generators, strict=True)):
            if g is None:
                continue
            probs = torch.softmax(scores[i].float() / row.temperature, dim=-1)
            if row.top_p < 1.0:
                sorted_probs, order = torch.sort(probs, descending=True)
                before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
                sorted_probs = sorted_probs.masked_fill(before >= row.top_p, 0.0)
                pick = order[torch.multinomial(sorted_probs, 1, generator=g)]
            else:
                pick = torch.multinomial(probs, 1, generator=g)
            out[i] = float("-inf")
            out[i, pick] = 0.0
        return out


class _RowStopper:
    """Stopping criterion ending each row at EOS, a stop string or its token budget, and
    recording where and why it ended."""

    def __init__(self, rows: list[_Row], prompt_len: int, eos_ids: set[int],
                 decode: Any) -> None:
        self.rows = rows
        self.prompt_len = prompt_len
        self.eos_ids = eos_ids
        self.decode = decode
        self.ended_at: list[int | None] = [None] * len(rows)
        self.reasons: list[str] = ["length"] * len(rows)
        # Enough trailing tokens to hold any stop string even at 4 byte-tokens per character.
        self.windows = [4 * max((len(s) for s in row.stop), default=0) + 8 for row in rows]

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        generated = input_ids.shape[1] - self.prompt_len
        done = torch.zeros(len(self.rows), dtype=torch.bool, device=input_ids.device)
        last = input_ids[:, -1].tolist()
        for i, row in enumerate(self.rows):
            if self.ended_at[i] is not None:
                done[i] = True
                continue
            reason = None
            if last[i] in self.eos_ids:
                reason = "stop"
            elif row.stop:
                start = max(self.prompt_len, input_ids.shape[1] - self.windows[i])
                tail = self.decode(input_ids[i, start:].tolist())
                if any(s and s in tail for s in row.stop):
                    reason = "stop"
            if reason is None and generated >= row.max_new_tokens:
                reason = "length"
            if reason is not None:
                self.ended_at[i] = generated
                self.reasons[i] = reason
                done[i] = True
        return done


def special_token_decoder(tokenizer: Any) -> Any:
    """``decode(token_ids) -> str`` without the special tokens — but for a tokenizer that
    has ReflectionCoder's block markers, with those kept (and every other special token
    dropped): the markers are the answer's structure (`motcoder.prompts.reflection_markup`),
    and without them prose and unfenced code run together."""
    if not has_markers(tokenizer.get_vocab()):
        return functools.partial(tokenizer.decode, skip_special_tokens=True)
    from motcoder.prompts.reflection_markup import MARKERS

    kept = {tokenizer.convert_tokens_to_ids(m) for m in MARKERS}
    special = set(tokenizer.all_special_ids) | {
        i for i, token in getattr(tokenizer, "added_tokens_decoder", {}).items()
        if getattr(token, "special", False)}
    dropped = special - kept

    def decode(token_ids: Sequence[int]) -> str:
        return tokenizer.decode([t for t in token_ids if t not in dropped],
                                skip_special_tokens=False)

    return decode


def _is_gguf(path: str) -> bool:
    return path.lower().endswith(".gguf")


class TransformersModel:
    """A causal LM run locally with transformers (see the module docstring).

    ``path_or_id``: a hub id, a local checkpoint directory, a local ``.gguf`` file, or (with
    ``gguf_file``) a directory or hub repository holding that GGUF file.
    ``device``: "auto" | "cpu" | "cuda" | "cuda:N". ``dtype``: "auto" (float32 on CPU,
    bfloat16/float16 on GPU) | "float32" | "bfloat16" | "float16".
    ``batch_size``: rows (samples) per forward batch. ``max_model_len``: context length
    (prompt + new tokens); default the model's ``max_position_embeddings``.
    ``threads``: torch CPU threads (default: torch's own choice, one per core).
    ``cache_dir``: where GGUF conversions are cached (default ``$MOTCODER_CACHE/models``).
    ``prefix_cache``: reuse the states of prompt prefixes shared between requests (default on).

    ``loaded_from`` says where the weights came from: "pretrained" (checkpoint or hub),
    "gguf" (GGUF dequantised in this process) or "gguf-cache" (the cached conversion).
    """

    def __init__(self, path_or_id: str | os.PathLike[str], gguf_file: str | None = None, *,
                 device: str = "auto", dtype: str = "auto", batch_size: int = 8,
                 max_model_len: int | None = None, trust_remote_code: bool = False,
                 seed: int | None = None, threads: int | None = None,
                 name: str | None = None, cache_dir: str | os.PathLike[str] | None = None,
                 prefix_cache: bool = True) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if threads is not None:
            torch.set_num_threads(threads)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.conversion_dir: Path | None = None

        source = str(path_or_id)
        local = Path(source).expanduser()
        if gguf_file is not None or _is_gguf(source):
            gguf_path = self._locate_gguf(source, gguf_file)
            from motcoder.models.gguf_cache import load_gguf

            loaded = load_gguf(gguf_path, cache_dir)
            model, tokenizer = loaded.model, loaded.tokenizer
            self.loaded_from = loaded.loaded_from
            self.conversion_dir = loaded.directory
            default_name = gguf_path.stem
            if self.dtype != torch.float32 or self.device != "cpu":
                model = model.to(device=self.device, dtype=self.dtype)
        else:
            model, tokenizer = self._load_pretrained(source, trust_remote_code)
            self.loaded_from = "pretrained"
            default_name = local.name if local.is_dir() else source
        self.model = model
        self.model.eval()
        self.tokenizer = tokenizer
        self.name = name or default_name
        self.source = source

        tokenizer.padding_side = "left"
        self.decode = special_token_decoder(tokenizer)
        self.eos_ids = self._eos_ids()
        if tokenizer.pad_token_id is not None:
            self.pad_id = int(tokenizer.pad_token_id)
        elif self.eos_ids:
            # No pad token: pad with an end token. Padding is masked out and each row's end is
            # tracked separately, so reusing the id is harmless (no new embedding needed).
            self.pad_id = min(self.eos_ids)
        else:
            self.pad_id = 0
        config_len = getattr(model.config, "max_position_embeddings", None)
        self.max_model_len = max_model_len or config_len
        self.static_cache = self._plain_attention()
        self.prefix_cache = PrefixCache() if prefix_cache and self.static_cache else None
        if (self.static_cache and self.device == "cpu"
                and getattr(model.config, "_attn_implementation", None) == "sdpa"):
            self.model.set_attn_implementation(prefix_attention.register())

    def _plain_attention(self) -> bool:
        """Whether every layer caches plain full-attention states (so the states can be
        preallocated, cut and copied)."""
        from transformers import StaticCache
        from transformers.cache_utils import StaticLayer

        try:
            layers = StaticCache(config=self.model.config, max_cache_len=2).layers
        except Exception:  # a model the static cache does not know
            return False
        return bool(layers) and all(type(layer) is StaticLayer for layer in layers)

    # -- loading ----------------------------------------------------------------------------

    @staticmethod
    def _locate_gguf(source: str, gguf_file: str | None) -> Path:
        local = Path(source).expanduser()
        if gguf_file is None:
            if not local.is_file():
                raise ModelError(f"no such GGUF file: {local}")
            return local
        if local.is_dir():
            path = local / gguf_file
            if not path.is_file():
                raise ModelError(f"no GGUF file {gguf_file!r} in {local}")
            return path
        try:
            from huggingface_hub import hf_hub_download

            return Path(hf_hub_download(source, gguf_file))
        except Exception as exc:
            raise ModelError(f"cannot fetch {gguf_file!r} from the hub repository {source!r}: "
                             f"{exc}") from exc

    def _load_pretrained(self, source: str, trust_remote_code: bool) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs: dict[str, Any] = {"dtype": self.dtype, "trust_remote_code": trust_remote_code}
        if self.device.startswith("cuda"):
            kwargs["device_map"] = self.device
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        except OSError as exc:
            raise ModelError(f"cannot load the model {source!r} (not a local checkpoint "
                             f"directory, and not reachable on the Hugging Face hub): {exc}"
                             ) from exc
        except ValueError as exc:
            raise ModelError(f"cannot load {source!r} as a causal language model: {exc}"
                             ) from exc
        if not self.device.startswith("cuda"):
            model = model.to(self.device)
        return model, tokenizer

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for value in (getattr(self.model.generation_config, "eos_token_id", None),
                      self.tokenizer.eos_token_id):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        return ids

    # -- generation -------------------------------------------------------------------------

    def encode(self, request: GenerationRequest) -> list[int]:
        """The prompt token ids of a request (chat template applied for chats)."""
        if request.messages is not None:
            if not getattr(self.tokenizer, "chat_template", None):
                raise ModelError(f"{self.name} has no chat template: send raw prompts "
                                 "(GenerationRequest(prompt=...)) to this model")
            text = self.tokenizer.apply_chat_template(request.messages, tokenize=False,
                                                      add_generation_prompt=True)
            return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return list(self.tokenizer(request.prompt)["input_ids"])

    def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        with self._lock:
            return self._generate(requests)

    def _generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        prompts = [self.encode(r) for r in requests]
        rows: list[_Row] = []
        for i, (req, ids) in enumerate(zip(requests, prompts, strict=True)):
            budget = req.max_new_tokens
            if self.max_model_len:
                room = self.max_model_len - len(ids)
                if room < 1:
                    raise ModelError(f"request {i}: the prompt has {len(ids)} tokens, but "
                                     f"{self.name} takes at most {self.max_model_len}")
                budget = min(budget, room)
            count = 1 if req.greedy else req.n
            for j in range(count):
                seed = None
                if not req.greedy:
                    seed = (row_seed(req.seed, j) if req.seed is not None
                            else self._rng.getrandbits(63))
                rows.append(_Row(i, ids, req.temperature, req.top_p, budget,
                                 tuple(s for s in req.stop if s), seed))
        order = sorted(range(len(rows)),
                       key=lambda k: (rows[k].max_new_tokens, len(rows[k].prompt_ids)))
        for start in range(0, len(order), self.batch_size):
            self._run_batch([rows[k] for k in order[start:start + self.batch_size]])

        completions = [Completion(outputs=[], prompt_tokens=len(ids)) for ids in prompts]
        for row in rows:
            completions[row.request].outputs.append(
                Output(text=row.text, tokens=len(row.token_ids or []),
                       finish_reason=row.finish_reason))
        for req, completion in zip(requests, completions, strict=True):
            if req.greedy and req.n > 1:
                first = completion.outputs[0]
                completion.outputs = [Output(first.text, first.tokens, first.finish_reason)
                                      for _ in range(req.n)]
        return completions

    def _extend(self, base: States | None, start: int, tokens: Sequence[int]) -> States:
        """The states of ``tokens`` (batch 1), computed on top of those of ``tokens[:start]``."""
        from transformers import DynamicCache

        device = self.model.device
        cache = DynamicCache(config=self.model.config)
        for i, (keys, values) in enumerate(base or []):
            cache.update(keys, values, i)
        with torch.inference_mode():
            self.model(input_ids=torch.tensor([list(tokens[start:])], device=device),
                       position_ids=torch.arange(start, len(tokens), device=device)[None],
                       cache=cache, use_cache=True, logits_to_keep=1)
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _cache(self, rows: list[_Row], prefix: int, length: int) -> Any:
        """A preallocated cache for ``rows`` holding ``length`` tokens, its first ``prefix``
        positions filled from the prefix cache; None to let ``generate`` make its own."""
        if not self.static_cache:
            return None
        from transformers import StaticCache

        cache = StaticCache(config=self.model.config, max_cache_len=length)
        if prefix:
            assert self.prefix_cache is not None
            states = self.prefix_cache.states(rows[0].prompt_ids[:prefix], self._extend)
            for layer, (keys, values) in zip(cache.layers, states, strict=True):
                layer.update(keys.expand(len(rows), -1, -1, -1),
                             values.expand(len(rows), -1, -1, -1))
        return cache

    def _run_batch(self, rows: list[_Row]) -> None:
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        prompts = [r.prompt_ids for r in rows]
        prefix = self.prefix_cache.choose(prompts) if self.prefix_cache else 0
        # [shared prefix][left padding][own suffix]: positions follow the attention mask, so
        # padding between the two parts is invisible to the model.
        width = prefix + max(len(p) - prefix for p in prompts)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, ids in enumerate(prompts):
            n = len(ids) - prefix
            input_ids[i, :prefix] = torch.tensor(ids[:prefix], dtype=torch.long)
            attention[i, :prefix] = 1
            input_ids[i, width - n:] = torch.tensor(ids[prefix:], dtype=torch.long)
            attention[i, width - n:] = 1
        device = self.model.device
        max_new_tokens = max(r.max_new_tokens for r in rows)
        cache = self._cache(rows, prefix, width + max_new_tokens)
        if self.prefix_cache:
            self.prefix_cache.remember(prompts)
        stopper = _RowStopper(rows, width, self.eos_ids, self.decode)
        config = GenerationConfig(
            max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
            temperature=1.0, top_p=1.0, top_k=None, repetition_penalty=1.0,
            eos_token_id=sorted(self.eos_ids) or None, pad_token_id=self.pad_id,
        )
        with torch.inference_mode(), prefix_attention.shared_prefix(prefix):
            output = self.model.generate(
                input_ids=input_ids.to(device), attention_mask=attention.to(device),
                generation_config=config, cache=cache,
                logits_processor=LogitsProcessorList([_RowSampler(rows, device)]),
                stopping_criteria=StoppingCriteriaList([stopper]),
            )
        generated = output[:, width:].tolist()
        for i, row in enumerate(rows):
            end = stopper.ended_at[i]
            tokens = generated[i][:end] if end is not None else generated[i]
            text = self.decode(tokens)
            text, stopped = truncate_at_stop(text, row.stop)
            row.token_ids = tokens
            row.text = text
            if stopped or (tokens and tokens[-1] in self.eos_ids):
                row.finish_reason = "stop"
            elif end is not None:
                row.finish_reason = stopper.reasons[i]
            else:
                row.finish_reason = "length" if len(tokens) >= row.max_new_tokens else "stop"

    def close(self) -> None:
        self.model = None
        self.tokenizer = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def __repr__(self) -> str:
        return (f"TransformersModel({self.name!r}, device={self.device!r}, "
                f"dtype={str(self.dtype).removeprefix('torch.')}, "
                f"loaded_from={self.loaded_from!r})")
