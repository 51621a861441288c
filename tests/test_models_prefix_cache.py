"""Reuse of shared prompt prefixes: which prefix a batch takes (`PrefixCache.choose`), how
stored states are cut, extended and evicted (`PrefixCache.states`, with a recording stand-in
for the model's forward pass), and end to end on the embedded model: reusing changes no
output and computes the shared part once."""

from __future__ import annotations

import pytest

import motcoder.models  # noqa: F401  (first: it tunes OpenMP before torch loads)

torch = pytest.importorskip("torch")

from motcoder.models import GenerationRequest, load_model  # noqa: E402
from motcoder.models.prefix_cache import PrefixCache, shared_length  # noqa: E402


class Forward:
    """Stands in for the model: the "states" of a token are the token itself, so a result
    shows exactly which tokens it holds; calls are recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, base, start, tokens):
        self.calls.append((start, len(tokens)))
        if base is not None:
            assert base[0][0].shape[2] == start   # the stored states were cut to ``start``
        new = torch.tensor(tokens[start:], dtype=torch.float32).view(1, 1, -1, 1)
        old = base[0][0] if base is not None else new[:, :, :0]
        keys = torch.cat([old, new], dim=2)
        return [(keys, keys.clone())]


def held(states) -> list[int]:
    return [int(x) for x in states[0][0].flatten()]


def test_shared_length():
    assert shared_length([1, 2, 3], [1, 2, 4, 5]) == 2
    assert shared_length([], [1]) == 0
    assert shared_length([7, 8], [7, 8]) == 2


def test_a_batch_takes_what_all_its_prompts_share_but_leaves_each_a_token():
    cache = PrefixCache(min_tokens=3)
    a, b = list(range(10)) + [50, 51], list(range(10)) + [60]
    assert cache.choose([a, b]) == 10
    assert cache.choose([a[:6], a]) == 5                    # the shorter keeps one token
    assert cache.choose([a, [0, 1, 99] + a[3:]]) == 0       # 2 shared tokens: below min_tokens


def test_a_single_prompt_takes_what_it_shares_with_recent_prompts():
    cache = PrefixCache(min_tokens=3)
    first, second = list(range(20)) + [100], list(range(20)) + [200, 201]
    assert cache.choose([first]) == 0                       # nothing seen yet
    cache.remember([first])
    assert cache.choose([second]) == 20
    assert cache.choose([[9, 9, 9, 9]]) == 0


def test_states_are_computed_once_then_cut_and_extended():
    cache, forward = PrefixCache(min_tokens=3), Forward()
    system = list(range(100, 130))
    got = cache.states(system + [1, 2], forward)
    assert held(got) == system + [1, 2] and forward.calls == [(0, 32)]
    # The same tokens again: nothing computed.
    assert held(cache.states(system + [1, 2], forward)) == system + [1, 2]
    assert forward.calls == [(0, 32)]
    # A shorter prefix of a stored one: cut, nothing computed.
    assert held(cache.states(system, forward)) == system
    assert forward.calls == [(0, 32)]
    # Sharing only the system part: that part reused, the rest computed on top.
    got = cache.states(system + [7, 8, 9], forward)
    assert held(got) == system + [7, 8, 9] and forward.calls[-1] == (30, 33)
    assert cache.stats.computed_tokens == 32 + 3
    assert cache.stats.reused_tokens == 32 + 30 + 30 and cache.stats.hits == 3


def test_too_short_a_match_is_computed_afresh_and_old_entries_are_evicted():
    cache, forward = PrefixCache(max_entries=2, min_tokens=5), Forward()
    cache.states([1, 2, 3, 4, 5, 6], forward)
    cache.states([1, 2, 9, 9, 9, 9], forward)               # 2 shared tokens: too few
    assert forward.calls == [(0, 6), (0, 6)]
    cache.states([3, 3, 3, 3, 3], forward)                  # a third entry evicts the first
    cache.states([1, 2, 3, 4, 5, 6], forward)
    assert forward.calls[-1] == (0, 6)


# -- the real embedded model -------------------------------------------------------------------

SYSTEM = ("You rewrite Python programs for a code-review course. Keep the behaviour exactly the "
          "same. Use meaningful names, split the work into small functions with docstrings, and "
          "answer with one fenced code block. Never print anything the original did not print. "
          "Read input the same way as the original does, and keep its output format. ") * 2
USERS = ["Rewrite: print(int(input()) * 2)",
         "Rewrite this program, which reads two integers and prints their sum: "
         "a, b = map(int, input().split()); print(a + b)",
         "Rewrite: print(input()[::-1])"]


@pytest.fixture(scope="module")
def pair():
    options = {"device": "cpu", "batch_size": 8}
    reusing, plain = load_model("embedded", **options), load_model("embedded", prefix_cache=False,
                                                                   **options)
    yield reusing, plain
    reusing.close()
    plain.close()


def requests(max_new_tokens=20):
    return [GenerationRequest(messages=[{"role": "system", "content": SYSTEM},
                                        {"role": "user", "content": u}],
                              max_new_tokens=max_new_tokens) for u in USERS]


@pytest.mark.e2e
def test_reusing_shared_prefixes_changes_no_output(pair):
    reusing, plain = pair
    assert reusing.prefix_cache is not None and plain.prefix_cache is None
    assert reusing.model.config._attn_implementation == "motcoder_prefix"
    expected = [plain.generate([r])[0].texts for r in requests()]
    singles = [reusing.generate([r])[0].texts for r in requests()]
    batched = [c.texts for c in reusing.generate(requests())]   # suffixes of unequal length
    assert singles == expected and batched == expected
    stats = reusing.prefix_cache.stats
    prompt = reusing.encode(requests()[0])
    assert stats.hits >= 2
    # The shared part was computed once (the first request had nothing to share with); the
    # later requests reused it.
    assert stats.computed_tokens < len(prompt)
    assert stats.reused_tokens > len(prompt)
