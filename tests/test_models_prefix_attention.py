"""Shared-prefix (cascade) attention against transformers' stock SDPA attention on the same
tensors: same results while decoding and in prefill; the shared prefix is read from row 0
only and the static cache's unwritten tail not at all (both are filled with NaN to prove it);
outside `shared_prefix` the stock function runs."""

from __future__ import annotations

import types

import pytest

import motcoder.models  # noqa: F401  (first: it tunes OpenMP before torch loads)

torch = pytest.importorskip("torch")

from transformers.integrations.sdpa_attention import sdpa_attention_forward  # noqa: E402

from motcoder.models import prefix_attention  # noqa: E402
from motcoder.models.prefix_attention import shared_prefix  # noqa: E402

BATCH, HEADS, KV_HEADS, DIM = 4, 6, 2, 16
PREFIX, LENGTH, TAIL = 40, 70, 12          # shared positions, cache length, unwritten tail
PADS = [0, 3, 7, 1]                         # left padding after the prefix, per row
MODULE = types.SimpleNamespace(num_key_value_groups=HEADS // KV_HEADS, is_causal=True)


def cache_and_mask(queries: int):
    """Keys/values as a static cache holds them (prefix copied into every row), and the mask
    of the last ``queries`` written positions."""
    gen = torch.Generator().manual_seed(0)
    key = torch.randn(BATCH, KV_HEADS, LENGTH, DIM, generator=gen)
    value = torch.randn(BATCH, KV_HEADS, LENGTH, DIM, generator=gen)
    key[:, :, :PREFIX], value[:, :, :PREFIX] = key[:1, :, :PREFIX], value[:1, :, :PREFIX]
    written = LENGTH - TAIL
    mask = torch.zeros(BATCH, 1, queries, LENGTH, dtype=torch.bool)
    for row, pad in enumerate(PADS):
        mask[row, 0, :, :PREFIX] = True
        for i in range(queries):
            mask[row, 0, i, PREFIX + pad:written - queries + i + 1] = True
    query = torch.randn(BATCH, HEADS, queries, DIM, generator=gen)
    return query, key, value, mask


def poisoned(tensor):
    """``tensor`` with the prefix of rows 1.. and the unwritten tail set to NaN."""
    out = tensor.clone()
    out[1:, :, :PREFIX] = float("nan")
    out[:, :, LENGTH - TAIL:] = float("nan")
    return out


def stock(query, key, value, mask):
    return sdpa_attention_forward(MODULE, query, key, value, mask, scaling=DIM ** -0.5)[0]


@pytest.mark.parametrize("queries", [1, 5])
def test_shared_prefix_attention_matches_stock_sdpa(queries):
    query, key, value, mask = cache_and_mask(queries)
    expected = stock(query, key, value, mask)
    with shared_prefix(PREFIX if queries == 1 else 0):
        got, _ = prefix_attention.prefix_attention(MODULE, query, key, value, mask,
                                                   scaling=DIM ** -0.5)
    assert got.shape == expected.shape == (BATCH, queries, HEADS, DIM)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_decoding_reads_the_prefix_of_row_0_only_and_not_the_unwritten_tail():
    query, key, value, mask = cache_and_mask(1)
    expected = stock(query, key, value, mask)
    with shared_prefix(PREFIX):
        got, _ = prefix_attention.prefix_attention(MODULE, query, poisoned(key),
                                                   poisoned(value), mask, scaling=DIM ** -0.5)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # Without the shared-prefix promise every row reads its own (poisoned) prefix copy.
    with shared_prefix(0):
        plain, _ = prefix_attention.prefix_attention(MODULE, query, poisoned(key),
                                                     poisoned(value), mask, scaling=DIM ** -0.5)
    assert torch.isnan(plain[1:]).all() and not torch.isnan(plain[0]).any()


def test_outside_shared_prefix_the_stock_function_runs():
    query, key, value, mask = cache_and_mask(1)
    got, _ = prefix_attention.prefix_attention(MODULE, query, key, poisoned(value), mask,
                                               scaling=DIM ** -0.5)
    assert torch.isnan(got).all()   # the stock function reads the whole cache, tail included
