"""Decontamination: drop training problems whose statement matches an evaluation problem.

CodeContests' training split holds many Codeforces problems that are also in APPS' test
split; training on them inflates the evaluation. `decontaminate(train, evaluation)` finds,
for every training problem, the evaluation problem whose statement overlaps it most and
removes the training problem when the overlap reaches ``threshold``.

Similarity, on normalised statements:

* normalising: Unicode NFKC, lower case, LaTeX/markdown punctuation and every other
  non-alphanumeric character turned into a space, whitespace collapsed — so the same text
  re-wrapped, re-cased or re-formatted (``$n$`` vs ``n``) is identical;
* shingles: the set of word ``n``-grams (default 5); a statement shorter than ``n`` words
  is one shingle of all its words;
* overlap: |A ∩ B| / min(|A|, |B|) (the overlap coefficient), so a statement copied into a
  longer one (extra notes or examples) still scores 1.0, while two problems sharing only the
  usual boilerplate ("the first line contains an integer n") stay far below the threshold.

Written by hand rather than with a MinHash library: MinHash/LSH estimates Jaccard
similarity, which drops when one statement is embedded in a longer one (exactly the case to
catch), and the exact overlap over an inverted index is fast enough for these sizes (tens
of thousands of statements). Shingles found in more than ``common_fraction`` of evaluation
statements are boilerplate: they are neither indexed nor counted, so two problems sharing
only an input-format paragraph do not look alike however short they are.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from motcoder.problems.model import Problem

DEFAULT_THRESHOLD = 0.7
DEFAULT_NGRAM = 5

_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise(text: str) -> str:
    """The comparable form of a statement (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _NON_WORD.sub(" ", text).strip()


def shingles(text: str, n: int = DEFAULT_NGRAM) -> frozenset[str]:
    """Word n-grams of the normalised text."""
    words = normalise(text).split()
    if not words:
        return frozenset()
    if len(words) < n:
        return frozenset({" ".join(words)})
    return frozenset(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))


@dataclass
class Match:
    """One training problem removed, and the evaluation problem it matched."""

    train_id: str
    eval_id: str
    similarity: float


@dataclass
class DecontamReport:
    """What `decontaminate` kept and removed."""

    kept: list[Problem]
    removed: list[Match] = field(default_factory=list)
    threshold: float = DEFAULT_THRESHOLD
    ngram: int = DEFAULT_NGRAM

    def to_dict(self) -> dict[str, Any]:
        return {"kept": len(self.kept), "removed": len(self.removed),
                "threshold": self.threshold, "ngram": self.ngram,
                "matches": [asdict(m) for m in self.removed]}


class _Index:
    """Evaluation statements' shingles in an inverted index (boilerplate left out)."""

    def __init__(self, problems: Sequence[Problem], n: int, common_fraction: float) -> None:
        self.ids = [p.id for p in problems]
        self.sets = [shingles(p.statement, n) for p in problems]
        frequency: Counter[str] = Counter()
        for shingle_set in self.sets:
            frequency.update(shingle_set)
        limit = max(2, int(common_fraction * len(problems)))
        self.common = frozenset(s for s, count in frequency.items() if count > limit)
        self.sets = [self.informative(s) for s in self.sets]
        self.postings: dict[str, list[int]] = {}
        for i, shingle_set in enumerate(self.sets):
            for shingle in shingle_set:
                self.postings.setdefault(shingle, []).append(i)

    def informative(self, shingle_set: frozenset[str]) -> frozenset[str]:
        """Without boilerplate; all of it when it is nothing but boilerplate."""
        return (shingle_set - self.common) or shingle_set

    def best(self, query: frozenset[str]) -> tuple[int, float] | None:
        """The evaluation statement overlapping ``query`` most, with the overlap."""
        query = self.informative(query)
        if not query:
            return None
        shared: Counter[int] = Counter()
        for shingle in query:
            for i in self.postings.get(shingle, ()):
                shared[i] += 1
        best: tuple[int, float] | None = None
        for i, _ in shared.most_common(5):
            other = self.sets[i]
            score = len(query & other) / min(len(query), len(other))
            if best is None or score > best[1]:
                best = (i, score)
        return best


def decontaminate(train: Sequence[Problem], evaluation: Sequence[Problem], *,
                  threshold: float = DEFAULT_THRESHOLD, ngram: int = DEFAULT_NGRAM,
                  common_fraction: float = 0.05) -> DecontamReport:
    """Training problems with every one matching an evaluation problem removed."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if ngram < 1:
        raise ValueError(f"ngram must be at least 1, got {ngram}")
    index = _Index(evaluation, ngram, common_fraction)
    report = DecontamReport(kept=[], threshold=threshold, ngram=ngram)
    for problem in train:
        found = index.best(shingles(problem.statement, ngram))
        if found is not None and found[1] >= threshold:
            report.removed.append(Match(problem.id, index.ids[found[0]], round(found[1], 4)))
        else:
            report.kept.append(problem)
    return report
