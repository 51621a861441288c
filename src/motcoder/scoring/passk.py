"""The unbiased pass@k estimator of Chen et al. (2021), "Evaluating Large Language Models
Trained on Code".

With ``n`` samples of a problem of which ``c`` pass, the probability that at least one of
``k`` samples drawn without replacement passes is

    pass@k = 1 - C(n - c, k) / C(n, k)

computed here in the numerically stable product form used by the paper,

    1 - prod_{i = n - c + 1}^{n} (1 - k / i),

which never forms the (huge) binomial coefficients. The benchmark score is the mean of this
value over problems. It is *not* the fraction of passing tests, and with ``n > k`` it is not
"the first k samples passed" either: every sample is used.
"""

from __future__ import annotations

from collections.abc import Iterable

# The k reported by default: 1, 2, 5, 10, 20, 50, 100, ... (plus n itself).
_MANTISSAS = (1, 2, 5)


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    return value


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``n`` samples of which ``c`` are correct.

    Raises ``ValueError`` if ``k > n`` (the estimator needs at least ``k`` samples), if
    ``c > n``, or for negative / zero counts where they make no sense.
    """
    _check_int("n", n)
    _check_int("c", c)
    _check_int("k", k)
    if n < 1:
        raise ValueError(f"n={n}: pass@k needs at least one sample of the problem")
    if c < 0 or c > n:
        raise ValueError(
            f"c={c} correct samples out of n={n}: the number correct must be between 0 and n"
        )
    if k < 1:
        raise ValueError(f"k={k}: k must be at least 1")
    if k > n:
        raise ValueError(
            f"k={k} is larger than the n={n} samples of the problem: pass@{k} needs at least "
            f"{k} samples per problem — generate more samples or use k <= {n}"
        )
    if n - c < k:  # every draw of k samples contains a correct one
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """Mean pass@k over problems given as ``(n, c)`` pairs (each with its own ``n``)."""
    values = [pass_at_k(n, c, k) for n, c in counts]
    if not values:
        raise ValueError("mean pass@k of no problems is undefined")
    return sum(values) / len(values)


def standard_ks(n: int) -> list[int]:
    """The k to report for ``n`` samples per problem: {1, 2, 5, 10, 20, 50, ...} ∩ [1, n],
    plus ``n`` itself, in increasing order."""
    _check_int("n", n)
    if n < 1:
        raise ValueError(f"n={n}: there must be at least one sample per problem")
    ks: list[int] = []
    scale = 1
    while scale <= n:
        ks.extend(m * scale for m in _MANTISSAS if m * scale <= n)
        scale *= 10
    if ks[-1] != n:
        ks.append(n)
    return ks
