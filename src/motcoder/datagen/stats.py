"""Counts of a transformation, in the shape of the MoTCoder paper's data table.

Per (source, style): how many rewrites the teacher produced (pre-filter), how many the
assessment accepted (post-filter), the passing rate, and the rejections by reason. Every
teacher answer counts once — with evolution rounds, a reference solution rejected twice and
accepted on its third answer adds 3 to pre-filter, 1 to post-filter and 2 to the
rejections — so ``pre_filter == post_filter + sum(rejected.values())`` always holds.
``references`` is the number of distinct reference solutions asked about and
``references_accepted`` how many of them ended with an accepted rewrite.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from motcoder.datagen.assess import REASON_ORDER
from motcoder.datagen.records import Rewrite, read_rewrites


def _ordered(counter: Counter[str]) -> dict[str, int]:
    known = [r for r in REASON_ORDER if counter.get(r)]
    others = sorted(r for r in counter if r not in REASON_ORDER and counter[r])
    return {r: counter[r] for r in known + others}


def group_counts(rewrites: Iterable[Rewrite]) -> dict[str, Any]:
    """The counts of one group of rewrites."""
    pre = post = prompt_tokens = completion_tokens = 0
    rejected: Counter[str] = Counter()
    references: set[tuple[str, int]] = set()
    accepted_refs: set[tuple[str, int]] = set()
    rounds: Counter[int] = Counter()
    for rewrite in rewrites:
        pre += 1
        ref = (rewrite.task_id, rewrite.solution_index)
        references.add(ref)
        rounds[rewrite.round] += 1
        prompt_tokens += rewrite.prompt_tokens
        completion_tokens += rewrite.completion_tokens
        if rewrite.accepted:
            post += 1
            accepted_refs.add(ref)
        else:
            rejected[rewrite.reason or "unknown"] += 1
    return {
        "pre_filter": pre,
        "post_filter": post,
        "passing_rate": post / pre if pre else 0.0,
        "rejected": _ordered(rejected),
        "references": len(references),
        "references_accepted": len(accepted_refs),
        "problems": len({task for task, _ in references}),
        "per_round": {str(r): rounds[r] for r in sorted(rounds)},
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
    }


def rewrite_stats(rewrites: Iterable[Rewrite]) -> dict[str, Any]:
    """``{"groups": [{"source", "style", counts...}, ...], "total": counts}``."""
    by_group: dict[tuple[str, str], list[Rewrite]] = defaultdict(list)
    everything: list[Rewrite] = []
    for rewrite in rewrites:
        by_group[(rewrite.source, rewrite.style)].append(rewrite)
        everything.append(rewrite)
    groups = [{"source": source, "style": style, **group_counts(items)}
              for (source, style), items in sorted(by_group.items())]
    return {"groups": groups, "total": group_counts(everything)}


def run_stats(run_dirs: Sequence[str | Path]) -> dict[str, Any]:
    """`rewrite_stats` over the rewrites of one or more run directories (each read once)."""
    seen: set[Path] = set()
    rewrites: list[Rewrite] = []
    for path in run_dirs:
        resolved = Path(path).resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        rewrites.extend(read_rewrites(path))
    stats = rewrite_stats(rewrites)
    stats["runs"] = [str(p) for p in dict.fromkeys(str(p) for p in run_dirs)]
    return stats


def stats_table(stats: dict[str, Any], title: str = "MoT data assessment") -> Any:
    """A rich table: one row per (source, style) (and a total row when there are several),
    with the rejections listed one reason per line."""
    from rich.table import Table

    table = Table(title=title)
    for name in ("source", "style"):
        table.add_column(name)
    for name in ("pre-filter", "post-filter", "passing rate"):
        table.add_column(name, justify="right")
    table.add_column("rejected, by reason")
    rows = list(stats["groups"])
    if len(rows) > 1:
        rows.append({"source": "all", "style": "", **stats["total"]})
    for row in rows:
        rejected = "\n".join(f"{reason} {n}" for reason, n in row["rejected"].items())
        table.add_row(row["source"], row["style"], str(row["pre_filter"]),
                      str(row["post_filter"]), f"{100 * row['passing_rate']:.1f}%",
                      rejected or "-")
    return table
