"""Difficulty groups shared by every analysis: each difficulty in the reporting order of
`motcoder.scoring.metrics`, then ``all`` (items without a difficulty count in ``all`` only)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from motcoder.scoring.metrics import ALL, order_difficulties

T = TypeVar("T")


def ordered_groups(difficulties: Iterable[str | None]) -> list[str]:
    """The difficulties in the order of the summary tables (`order_difficulties`), then
    ``all``."""
    return [*order_difficulties(d for d in difficulties if d is not None), ALL]


def grouped(items: Iterable[T], difficulty: Callable[[T], str | None],
            names: Iterable[str | None] = ()) -> dict[str, list[T]]:
    """``{group: items}`` in `ordered_groups` order; every item is also in ``all``.
    ``names``: difficulties that get a group even when no item has them (so that every
    table of a run lists the same groups)."""
    items = list(items)
    groups: dict[str, list[T]] = {
        name: [] for name in ordered_groups([*map(difficulty, items), *names])}
    for item in items:
        name = difficulty(item)
        if name is not None:
            groups[name].append(item)
        groups[ALL].append(item)
    return groups
