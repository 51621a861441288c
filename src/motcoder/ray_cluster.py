"""Ray, imported only when asked for: the connection and the cluster's nodes.

Ray is an optional extra (``pip install "motcoder[ray]"``). Nothing in motcoder imports it
unless ``--executor ray`` or ``--generator ray`` is chosen; then `import_ray` either returns
the module or raises `RayUnavailable` with the one message saying how to install it.

`connect` joins Ray once per process: an address of ``None`` starts a private local
instance (or attaches to ``RAY_ADDRESS`` when that is set), ``auto`` attaches to the cluster
started on this machine with ``ray start``, and ``HOST:PORT`` / ``ray://HOST:PORT`` to any
other. A process already connected (a test's session, a second stage of ``motcoder run``)
keeps its connection. Ray shuts itself down when the process exits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

INSTALL_HINT = 'pip install "motcoder[ray]"'


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached or cannot place the work."""


def import_ray() -> Any:
    """The ``ray`` module, or `RayUnavailable` naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable(f"Ray is not installed; --executor ray and --generator ray need "
                             f"it: {INSTALL_HINT}") from None
    return ray


def connect(address: str | None = None) -> Any:
    """Connect this process to Ray (once) and return the ``ray`` module."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    options: dict[str, Any] = {"address": address, "logging_level": "ERROR",
                               "log_to_driver": False}
    if address is None and not os.environ.get("RAY_ADDRESS"):
        # A private instance. "local" and not None: with None, Ray attaches to whatever
        # cluster /tmp/ray/ray_current_cluster names, and waits for minutes when that
        # cluster was killed without `ray stop`.
        options["address"] = "local"
        options["include_dashboard"] = False  # no dashboard to serve
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"at {address!r}" if address else "locally"
        raise RayUnavailable(f"cannot connect to Ray {where}: {exc}. Start a cluster with "
                             "`ray start --head` (and `ray start --address=HEAD:6379` on the "
                             "other nodes), then pass --ray-address auto") from None
    return ray


@dataclass(frozen=True)
class Node:
    """An alive node of the cluster and the resources Ray sees on it."""

    node_id: str
    address: str
    cpus: int
    gpus: float


def alive_nodes(ray: Any) -> list[Node]:
    """The cluster's alive nodes that have CPUs, in a stable order (by address)."""
    nodes = []
    for info in ray.nodes():
        resources = info.get("Resources", {})
        if info.get("Alive") and resources.get("CPU", 0) >= 1:
            nodes.append(Node(info["NodeID"], info.get("NodeManagerAddress", "?"),
                              int(resources["CPU"]), float(resources.get("GPU", 0))))
    if not nodes:
        raise RayUnavailable("the Ray cluster has no alive node with a CPU")
    return sorted(nodes, key=lambda n: (n.address, n.node_id))
