"""The execution engine spread over a Ray cluster: `RaySandbox`, the `Sandbox` of many nodes.

`RaySandbox` has the interface of `motcoder.sandbox.pool.Sandbox` (``run``, ``layers``,
``workers``, ``close``, context manager), so a `Judge` uses either without knowing which.
Its ``run`` is executed by Ray actors (`SandboxActor`), each owning an ordinary local
`Sandbox` — its own fork-servers, with every isolation layer — on its node. An actor returns
the fields of the `RawResult` as plain data (bytes, numbers); the `Judge` in the driver then
compares, replays and decides exactly as it does locally, so verdicts are the same by
construction. Untrusted code runs only in the fork-servers' children, never in an actor.

Placement:

* default: one actor per alive node, pinned to it (``NodeAffinitySchedulingStrategy``), with
  as many fork-servers as Ray counts CPUs on that node;
* ``actors=N``: N actors of ``servers_per_actor`` fork-servers each (default 1), spread over
  the nodes with Ray's ``SPREAD`` strategy.

Actors reserve no Ray CPUs: the work happens in their fork-servers, separate processes Ray
does not schedule, and model replicas of ``--generator ray`` must still find CPUs to run on.
Each actor is threaded (``max_concurrency`` = 2 x its servers) so that all its servers are
busy while replies travel back. Actors are named and reused (``get_if_exists``) by the
sandboxes a process opens one after another — a solver's, then the evaluation's — so only
the first pays for starting a Ray worker; each `RaySandbox` has its own `Sandbox` in them
(its own hidden paths), stopped by ``close``. Each actor hides its node's data caches and
Ray's own directory (its sockets) from programs, besides the paths the driver asks to hide.
A lost node ends the evaluation with a `SandboxError` (verdicts so far are kept; resume).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from motcoder.ray_cluster import alive_nodes, connect
from motcoder.sandbox.pool import RawResult, SandboxConfig, SandboxError

_RAW_FIELDS = tuple(f.name for f in dataclasses.fields(RawResult))


class SandboxActor:
    """Runs on a node (as a Ray actor): local `Sandbox` pools, one per `RaySandbox` using it
    (by token), and nothing else."""

    def __init__(self) -> None:
        import ray

        context = ray.get_runtime_context()
        self.node = context.get_node_id()
        self.ray_dir = context.get_temp_dir()
        self.sandboxes: dict[str, tuple[Any, ThreadPoolExecutor]] = {}

    def open(self, token: str, config: dict[str, Any]) -> dict[str, Any]:
        """Start the fork-servers of one `RaySandbox`; what they run with."""
        from motcoder.sandbox.pool import Sandbox

        sandbox_config = SandboxConfig(**config)
        sandbox_config.hide = list(dict.fromkeys([*sandbox_config.hide, self.ray_dir]))
        sandbox = Sandbox(sandbox_config)
        self.sandboxes[token] = (sandbox, ThreadPoolExecutor(
            max_workers=sandbox.workers, thread_name_prefix="sandbox"))
        return {"node": self.node, "workers": sandbox.workers, "layers": sandbox.layers}

    def run_batch(self, token: str, items: list[tuple[dict[str, Any], dict[str, Any]]]
                  ) -> list[tuple[Any, ...] | str]:
        """Run the programs of ``items`` at once over the servers; per item the `RawResult`
        fields as plain values, or the text of the engine's error."""
        if token not in self.sandboxes:
            return ["the sandbox on this Ray node is gone (closed, or its actor restarted)"
                    ] * len(items)
        sandbox, pool = self.sandboxes[token]

        def run_one(item: tuple[dict[str, Any], dict[str, Any]]) -> tuple[Any, ...] | str:
            request, limits = item
            try:
                raw = sandbox.run(request, **limits)
            except SandboxError as exc:
                return str(exc)
            return tuple(getattr(raw, name) for name in _RAW_FIELDS)

        if len(items) == 1:  # the usual case: no hop to another thread
            return [run_one(items[0])]
        return list(pool.map(run_one, items))

    def close(self, token: str) -> None:
        sandbox, pool = self.sandboxes.pop(token, (None, None))
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if sandbox is not None:
            sandbox.close()


# The actors of this process, by name. Held here because Ray ends an actor once no handle
# to it is left, and starting one costs a Ray worker (~0.5-1 s); they end with the process.
_ACTORS: dict[str, Any] = {}


def _actor(ray: Any, name: str, servers: int, strategy: Any) -> Any:
    """The named sandbox actor of this process, started when it is not running yet."""
    key = f"{ray.get_runtime_context().get_job_id()}/{name}"  # one Ray connection's
    if key not in _ACTORS:
        _ACTORS[key] = ray.remote(SandboxActor).options(
            name=name, get_if_exists=True, num_cpus=0, max_concurrency=2 * servers,
            scheduling_strategy=strategy).remote()
    return _ACTORS[key]


def _merge_layers(reports: list[dict[str, str]]) -> dict[str, str]:
    """One isolation report for all nodes; a layer that differs lists each distinct value."""
    merged: dict[str, str] = {}
    for key in dict.fromkeys(k for report in reports for k in report):
        values = list(dict.fromkeys(report.get(key, "absent") for report in reports))
        merged[key] = values[0] if len(values) == 1 else "differs by node: " + " | ".join(
            values)
    return merged


DEPTH = 2  # batches in flight per actor
BATCH = 2  # most runs per batch, per server of the actor


@dataclasses.dataclass
class _Slot:
    """One program waiting for its run: the request, then its result (or error text)."""

    request: dict[str, Any]
    limits: dict[str, Any]
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    result: tuple[Any, ...] | str | None = None


class RaySandbox:
    """A pool of `SandboxActor` on a Ray cluster; same interface as `Sandbox`. Thread-safe."""

    def __init__(self, config: SandboxConfig | None = None, *, address: str | None = None,
                 actors: int | None = None, servers_per_actor: int | None = None) -> None:
        self.config = config or SandboxConfig()
        ray = connect(address)
        self._ray = ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self._token = uuid.uuid4().hex
        self._actors: list[Any] = []
        servers: list[int] = []
        if actors is None:
            for node in alive_nodes(ray):
                servers.append(servers_per_actor or node.cpus)
                self._actors.append(_actor(
                    ray, f"motcoder-sandbox-{node.node_id}-{servers[-1]}", servers[-1],
                    NodeAffinitySchedulingStrategy(node.node_id, soft=False)))
        else:
            if actors < 1:
                raise ValueError(f"actors must be at least 1, got {actors}")
            for i in range(actors):
                servers.append(servers_per_actor or 1)
                self._actors.append(_actor(
                    ray, f"motcoder-sandbox-spread-{i}-of-{actors}-{servers[-1]}",
                    servers[-1], "SPREAD"))
        plain = dataclasses.asdict(self.config)
        self._closed = True  # until every actor has its servers
        try:
            self._described = ray.get([
                actor.open.remote(self._token, {**plain, "workers": count})
                for actor, count in zip(self._actors, servers, strict=True)])
        except Exception as exc:  # noqa: BLE001 - any actor failing to start its servers
            self._release()
            for actor in self._actors:  # a lost or broken actor is not reused
                for name in [n for n, a in _ACTORS.items() if a is actor]:
                    del _ACTORS[name]
            raise SandboxError(f"the sandbox could not start on the Ray cluster: {exc}"
                               ) from None
        self._capacity = [d["workers"] for d in self._described]
        self._in_flight = [0] * len(self._actors)  # batches per actor
        self._pending: collections.deque[_Slot] = collections.deque()
        self._lock = threading.Lock()
        self._closed = False

    @property
    def layers(self) -> dict[str, str]:
        """Which isolation layers are active (the same on every node, or each value)."""
        return _merge_layers([d["layers"] for d in self._described])

    @property
    def workers(self) -> int:
        """Fork-servers over all actors."""
        return sum(self._capacity)

    @property
    def judge_threads(self) -> int:
        """Callers that keep every server busy: enough for `DEPTH` full batches per actor."""
        return DEPTH * BATCH * self.workers + self.workers

    @property
    def nodes(self) -> int:
        """Distinct nodes the actors run on."""
        return len({d["node"] for d in self._described})

    def run(
        self,
        request: dict[str, Any],
        *,
        cpu: float,
        wall: float,
        mem_mb: int,
        out_mb: int,
    ) -> RawResult:
        """Run one program on some node; the result is judged by the caller, here."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        slot = _Slot(request, {"cpu": cpu, "wall": wall, "mem_mb": mem_mb, "out_mb": out_mb})
        with self._lock:
            self._pending.append(slot)
        self._dispatch()
        slot.done.wait()
        self._dispatch()  # a batch came back: its actor can take what is waiting
        if isinstance(slot.result, str):
            raise SandboxError(slot.result)
        return RawResult(**dict(zip(_RAW_FIELDS, slot.result, strict=True)))

    # Batching, written here because no Ray facility fits: judge threads each wait for one
    # program, and one Ray call per program costs ~1.3 ms of CPU (driver + actor), as much
    # as a short program. So the runs waiting when an actor is free leave in one call (at
    # most `BATCH` per server of the actor), and each actor has at most `DEPTH` calls in
    # flight, so its servers have the next batch while the last one's results travel back.
    def _dispatch(self) -> None:
        while True:
            with self._lock:
                free = [i for i, n in enumerate(self._in_flight) if n < DEPTH]
                if not self._pending or not free:
                    return
                index = min(free, key=lambda i: (self._in_flight[i], -self._capacity[i]))
                size = min(BATCH * self._capacity[index], len(self._pending))
                batch = [self._pending.popleft() for _ in range(size)]
                self._in_flight[index] += 1
            # Ray is called without the lock held: a batch that is already back runs its
            # callback (which takes the lock) at once, in this thread.
            ref = self._actors[index].run_batch.remote(
                self._token, [(slot.request, slot.limits) for slot in batch])
            ref.future().add_done_callback(functools.partial(self._finished, index, batch))

    def _finished(self, index: int, batch: list[_Slot], future: Any) -> None:
        """Called by Ray when a batch is back: hand each waiting thread its result."""
        try:
            results = future.result()
        except self._ray.exceptions.RayActorError as exc:
            results = [f"a sandbox node was lost: {exc}"] * len(batch)
        except Exception as exc:  # noqa: BLE001 - reported to each waiting caller
            results = [f"sandbox error on a Ray node: {exc}"] * len(batch)
        with self._lock:
            self._in_flight[index] -= 1
        for slot, result in zip(batch, results, strict=True):
            slot.result = result
            slot.done.set()

    def _release(self) -> None:
        """Stop this sandbox's fork-servers in every actor (the actors stay, for reuse)."""
        try:
            self._ray.get([a.close.remote(self._token) for a in self._actors], timeout=30)
        except Exception:  # noqa: BLE001 - a lost node: its servers died with it
            pass

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._release()

    def __enter__(self) -> RaySandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["RaySandbox", "SandboxActor"]
