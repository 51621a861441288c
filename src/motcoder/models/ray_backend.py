"""A model served by replicas on a Ray cluster: `RayModel`, one `LanguageModel` over N copies.

Each replica is a Ray actor (`ModelReplica`) that builds the model of a spec with the
registry's `load_model` on its node — transformers / the embedded model on CPU, vLLM where a
GPU is given to it — and answers ``generate`` calls. `RayModel.generate` cuts each batch of
requests into contiguous chunks, one per replica, sends them at once and returns the
completions in the order of the requests. A replica computes each chunk exactly as the local
model would, so greedy outputs are the local model's (up to floating-point differences
between batch shapes, as for any batch of a local model).

Placement: the replicas are the bundles of one placement group (``SPREAD``: on different
nodes when there are several), each bundle ``cpus`` CPUs and ``gpus`` GPUs. Defaults: one
replica per node (or per ``gpus`` GPUs of the cluster when GPUs are asked for), each with
an equal share of the cluster's CPUs; transformers models use that many threads. A cluster
that cannot place them fails with a clear message instead of waiting for ever.
"""

from __future__ import annotations

import threading
from typing import Any

from motcoder.models.base import Completion, GenerationRequest, ModelError
from motcoder.ray_cluster import RayUnavailable, alive_nodes, connect

PLACEMENT_TIMEOUT = 60.0  # seconds to wait for the cluster to find room for the replicas


class ModelReplica:
    """Runs on a node (as a Ray actor): one loaded model."""

    def __init__(self, spec: str, options: dict[str, Any]) -> None:
        from motcoder.models.registry import load_model

        self.model = load_model(spec, **options)

    def name(self) -> str:
        return self.model.name

    def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        return self.model.generate(requests)

    def close(self) -> None:
        self.model.close()


def chunks(count: int, parts: int) -> list[range]:
    """``range(count)`` cut into at most ``parts`` contiguous, nearly equal pieces."""
    parts = max(1, min(parts, count))
    size, extra = divmod(count, parts)
    pieces, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        pieces.append(range(start, end))
        start = end
    return pieces


class RayModel:
    """``replicas`` copies of the model ``spec`` on a Ray cluster (see the module docstring).

    ``options``: load options of `load_model` (device, dtype, ...), given to every replica.
    ``address``: the Ray cluster (None: start or attach a local instance; ``auto``).
    """

    def __init__(self, spec: str, *, replicas: int | None = None, gpus: float = 0.0,
                 cpus: int | None = None, address: str | None = None,
                 options: dict[str, Any] | None = None) -> None:
        ray = connect(address)
        self._ray = ray
        from ray.util.placement_group import placement_group, remove_placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        nodes = alive_nodes(ray)
        total_gpus = sum(n.gpus for n in nodes)
        if replicas is None:
            replicas = int(total_gpus // gpus) if gpus > 0 else len(nodes)
        if replicas < 1:
            raise RayUnavailable(f"the Ray cluster has {total_gpus:g} GPU(s): not enough for "
                                 f"one replica of {gpus:g} GPU(s)")
        if cpus is None:
            cpus = max(1, min(max(n.cpus for n in nodes),
                              sum(n.cpus for n in nodes) // replicas))
        bundle: dict[str, float] = {"CPU": cpus}
        if gpus > 0:
            bundle["GPU"] = gpus
        self._group = placement_group([dict(bundle) for _ in range(replicas)],
                                      strategy="SPREAD")
        self._remove_group = remove_placement_group
        try:
            ray.get(self._group.ready(), timeout=PLACEMENT_TIMEOUT)
        except ray.exceptions.GetTimeoutError:
            remove_placement_group(self._group)
            raise RayUnavailable(
                f"the Ray cluster cannot place {replicas} replica(s) of {cpus} CPU(s)"
                + (f" and {gpus:g} GPU(s)" if gpus else "") + f" each (it has "
                f"{sum(n.cpus for n in nodes)} CPUs, {total_gpus:g} GPUs on {len(nodes)} "
                "node(s)); ask for fewer --replicas") from None
        load = dict(options or {})
        load.setdefault("threads", cpus)  # transformers: one torch thread per CPU given
        remote = ray.remote(ModelReplica)
        self.replicas = [
            remote.options(
                num_cpus=cpus, num_gpus=gpus,
                scheduling_strategy=PlacementGroupSchedulingStrategy(
                    self._group, placement_group_bundle_index=i),
            ).remote(spec, load)
            for i in range(replicas)
        ]
        try:
            names = ray.get([r.name.remote() for r in self.replicas])
        except ray.exceptions.RayTaskError as exc:
            self.close()
            cause = exc.cause if isinstance(exc.cause, Exception) else exc
            raise ModelError(f"a replica could not load {spec!r}: {cause}") from None
        except ray.exceptions.RayActorError as exc:
            self.close()
            raise ModelError(f"a replica of {spec!r} died while loading: {exc}") from None
        self.name = names[0]
        self._next = 0
        self._lock = threading.Lock()
        self._closed = False

    def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        """One completion per request, in order; the batch is shared among the replicas."""
        if not requests:
            return []
        # Rotate the first replica between calls: concurrent small batches (one request
        # each, say) would otherwise all land on replica 0.
        with self._lock:
            first = self._next
            self._next = (self._next + 1) % len(self.replicas)
        pieces = chunks(len(requests), len(self.replicas))
        refs = [self.replicas[(first + k) % len(self.replicas)].generate.remote(
            [requests[i] for i in piece]) for k, piece in enumerate(pieces)]
        try:
            parts = self._ray.get(refs)
        except self._ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, Exception) else None
            if cause is not None:
                raise cause from None  # the model's own error (ModelError, ValueError, ...)
            raise ModelError(f"a replica of {self.name} failed: {exc}") from None
        except self._ray.exceptions.RayActorError as exc:
            raise ModelError(f"a replica of {self.name} was lost: {exc}") from None
        return [completion for part in parts for completion in part]

    def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        try:
            self._ray.get([r.close.remote() for r in self.replicas], timeout=30)
        except Exception:  # noqa: BLE001 - a lost replica frees its memory with its process
            pass
        for replica in self.replicas:
            self._ray.kill(replica)
        self._remove_group(self._group)

    def __repr__(self) -> str:
        return f"RayModel({self.name!r}, replicas={len(self.replicas)})"
