"""Attention for batches whose rows share a prompt prefix, on CPU (cascade attention).

The transformers backend runs a batch as rows ``[shared prefix][left padding][own suffix]``
(`motcoder.models.prefix_cache`). With the stock SDPA attention every row reads its own copy
of the prefix's key/value states at every new token: with a ~1,300-token one-shot prompt and
8 rows that is most of the memory traffic of a decoding step on CPU. `prefix_attention`
(registered with transformers' ``AttentionInterface`` as ``"motcoder_prefix"``) instead:

* every query reads the states up to the last position any query of the pass sees, not the
  static cache's whole preallocated length (its unwritten tail is masked anyway);
* while decoding (one new token per row) with ``P`` shared prefix positions set by
  `shared_prefix`: attends all rows' queries to row 0's prefix states in ONE attention call
  (the rows become extra query positions), attends each row to its own positions after the
  prefix, and merges the two partial results with their log-sum-exp weights — exactly the
  softmax over all positions, computed in a different order (float rounding aside);
* otherwise, with grouped-query attention, SDPA broadcasts the key/value heads instead of
  copying them for every query head;
* outside `shared_prefix` (or on GPU tensors, without a mask, with arguments of other
  attention kinds): the stock SDPA function.

The log-sum-exp of a partial attention comes from PyTorch's CPU flash-attention kernel
(``aten::_scaled_dot_product_flash_attention_for_cpu``), which returns it; when that operator
is missing this module stays with the stock function. Written here because neither
transformers nor PyTorch has shared-prefix attention for CPU (vLLM/FlashInfer do, for GPUs).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

NAME = "motcoder_prefix"

# Arguments of other models' attention that only the stock function handles.
_UNSUPPORTED = ("softcap", "sliding_window", "position_bias", "s_aux", "sinks")
_FLASH = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)


@dataclass
class _Batch:
    """The running batch: its shared prefix length, and the additive form of the current
    forward pass's mask (one mask object serves all layers of a pass)."""

    prefix: int
    mask: torch.Tensor | None = None
    additive: torch.Tensor | None = None

    def cut(self, mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``mask`` as an additive mask, up to the last position any query sees: the static
        cache's unwritten tail is left out."""
        if mask is not self.mask:
            cut = mask
            if mask.dtype == torch.bool:
                seen = mask.flatten(0, 2).any(dim=0).nonzero()
                cut = mask[..., :int(seen[-1]) + 1] if len(seen) else mask
                cut = torch.zeros(cut.shape, dtype=dtype).masked_fill_(~cut, float("-inf"))
            self.mask, self.additive = mask, cut.to(dtype)
        assert self.additive is not None
        return self.additive


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("motcoder_shared_prefix",
                                                                     default=None)


@contextlib.contextmanager
def shared_prefix(positions: int) -> Iterator[None]:
    """Within the block (a ``generate`` call on a static cache), the first ``positions``
    key/value positions of every row hold the same states (row 0's are read for all; 0: no
    shared prefix)."""
    token = _batch.set(_Batch(positions))
    try:
        yield
    finally:
        _batch.reset(token)


def register() -> str:
    """Register the attention function (and SDPA's mask format for it); return its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, prefix_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME


def _cascade(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
             mask: torch.Tensor, prefix: int, scaling: float | None) -> torch.Tensor:
    """Attention of one query token per row over positions ``:mask.shape[-1]``, the first
    ``prefix`` of them shared: [B, H, 1, D] → [B, H, 1, D]."""
    batch, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    groups = heads // kv_heads
    end = mask.shape[-1]
    q = query.reshape(batch, kv_heads, groups, dim)
    # The prefix: every row's queries against row 0's states, as one batch-1 attention.
    shared_q = q.transpose(0, 1).reshape(1, kv_heads, batch * groups, dim)
    out_p, lse_p = _FLASH(shared_q, key[:1, :, :prefix], value[:1, :, :prefix], scale=scaling)
    out_p = out_p.view(kv_heads, batch, groups, dim).transpose(0, 1)
    lse_p = lse_p.view(kv_heads, batch, groups).transpose(0, 1)
    # The rest: each row against its own positions (padding masked).
    out_s, lse_s = _FLASH(q, key[:, :, prefix:end], value[:, :, prefix:end],
                          attn_mask=mask[..., prefix:], scale=scaling)
    top = torch.maximum(lse_p, lse_s)
    w_p = torch.exp(lse_p - top).unsqueeze(-1)
    w_s = torch.exp(lse_s - top).unsqueeze(-1)
    return ((out_p * w_p + out_s * w_s) / (w_p + w_s)).reshape(batch, heads, 1, dim)


def _ours(state: _Batch | None, query: torch.Tensor, mask: torch.Tensor | None,
          dropout: float, kwargs: dict[str, Any]) -> bool:
    return (state is not None and _FLASH is not None and mask is not None and not dropout
            and query.device.type == "cpu"
            and not any(kwargs.get(k) is not None for k in _UNSUPPORTED))


def prefix_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor,
                     value: torch.Tensor, attention_mask: torch.Tensor | None,
                     dropout: float = 0.0, scaling: float | None = None,
                     is_causal: bool | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """transformers attention function (see the module docstring); returns [B, q, H, D]."""
    state = _batch.get()
    if not _ours(state, query, attention_mask, dropout, kwargs):
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask,
                                      dropout=dropout, scaling=scaling, is_causal=is_causal,
                                      **kwargs)
    assert state is not None and attention_mask is not None
    mask = state.cut(attention_mask, query.dtype)
    end = mask.shape[-1]
    batch, heads, q_len, dim = query.shape
    kv_heads = key.shape[1]
    if q_len > 1:
        out = F.scaled_dot_product_attention(query, key[:, :, :end], value[:, :, :end],
                                             attn_mask=mask, scale=scaling,
                                             enable_gqa=kv_heads < heads)
    elif batch > 1 and 0 < state.prefix < end:
        out = _cascade(query, key, value, mask, state.prefix, scaling)
    else:  # the query heads of a key/value head as query positions of one attention
        out = F.scaled_dot_product_attention(
            query.reshape(batch, kv_heads, heads // kv_heads, dim), key[:, :, :end],
            value[:, :, :end], attn_mask=mask, scale=scaling).reshape(query.shape)
    return out.transpose(1, 2).contiguous(), None
