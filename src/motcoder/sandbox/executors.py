"""Where programs run: one factory for the local pool and the Ray cluster.

``open_sandbox(config, options)`` gives a `motcoder.sandbox.pool.Sandbox` (``local``, the
default: fork-servers on this machine) or a `motcoder.sandbox.ray_executor.RaySandbox`
(``ray``: fork-servers on every node of a Ray cluster). Both have the same interface and the
`Judge` decides verdicts the same way over either. The choice is a runtime option, like the
number of workers: it changes where and how fast programs run, never a verdict, so it is not
part of a run's stored configuration. Ray is imported only when ``ray`` is chosen.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from motcoder.ray_cluster import import_ray
from motcoder.sandbox.pool import Sandbox, SandboxConfig

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ExecutorOptions:
    """``executor``: local | ray. Ray only: ``ray_address`` (None: start or attach a local
    instance; ``auto``: the cluster of ``ray start``; ``HOST:PORT``), ``ray_workers`` (None:
    one actor per node with that node's CPUs as fork-servers; N: N one-server actors spread
    over the nodes)."""

    executor: str = "local"
    ray_address: str | None = None
    ray_workers: int | None = None

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"unknown executor {self.executor!r}: choose "
                             f"{' or '.join(EXECUTORS)}")
        if self.ray_workers is not None and self.ray_workers < 1:
            raise ValueError(f"ray_workers must be at least 1, got {self.ray_workers}")
        if self.executor == "ray":
            import_ray()  # no Ray: one clear error now, before a run directory is written


LOCAL = ExecutorOptions()


def _ray_directory() -> str | None:
    """Ray's directory on this machine (its sockets live there), when this process uses Ray:
    then programs run by a local sandbox must not see it either."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    return ray.get_runtime_context().get_temp_dir()


def open_sandbox(config: SandboxConfig, options: ExecutorOptions | None = None) -> Any:
    """A started sandbox (use it as a context manager) on the chosen executor."""
    options = options or LOCAL
    if options.executor == "ray":
        from motcoder.sandbox.ray_executor import RaySandbox

        return RaySandbox(config, address=options.ray_address, actors=options.ray_workers)
    ray_dir = _ray_directory()
    if ray_dir is not None:
        config.hide = list(dict.fromkeys([*config.hide, ray_dir]))
    return Sandbox(config)


def judge_threads(sandbox: Any) -> int:
    """How many judging threads keep ``sandbox`` busy: two per fork-server locally (one
    compares or replays while the other's program runs); for Ray, enough to fill the
    batches its actors take (`RaySandbox.judge_threads`)."""
    return getattr(sandbox, "judge_threads", 2 * sandbox.workers)
