"""Where a model generates: one factory for this process and for replicas on Ray.

``open_model(spec, options, **load_options)`` gives the registry's model (``local``, the
default) or a `motcoder.models.ray_backend.RayModel` (``ray``: ``replicas`` copies of the
model on a Ray cluster, each batch shared among them). Like the sandbox executor, the
choice is a runtime option: it changes speed, not outputs, and is not part of a run's
stored configuration. Ray is imported only when ``ray`` is chosen.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motcoder.models import registry
from motcoder.models.base import LanguageModel, ModelError
from motcoder.ray_cluster import import_ray

GENERATORS = ("local", "ray")


@dataclass(frozen=True)
class GeneratorOptions:
    """``generator``: local | ray. Ray only: ``replicas`` (None: one per node, or per
    ``replica_gpus`` GPUs of the cluster), ``replica_gpus`` GPUs each (0: CPU replicas),
    ``ray_address`` (None: start or attach a local instance; ``auto``; ``HOST:PORT``)."""

    generator: str = "local"
    replicas: int | None = None
    replica_gpus: float = 0.0
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise ValueError(f"unknown generator {self.generator!r}: choose "
                             f"{' or '.join(GENERATORS)}")
        if self.replicas is not None and self.replicas < 1:
            raise ValueError(f"replicas must be at least 1, got {self.replicas}")
        if self.replica_gpus < 0:
            raise ValueError(f"replica_gpus must be 0 or more, got {self.replica_gpus}")
        if self.generator == "ray":
            import_ray()  # no Ray: one clear error now, before a run directory is written


LOCAL = GeneratorOptions()


def open_model(spec: str | registry.ModelSpec | None, options: GeneratorOptions | None = None,
               **load_options: Any) -> LanguageModel:
    """The model of ``spec`` on the chosen generator; close it when done."""
    options = options or LOCAL
    if options.generator == "local":
        return registry.load_model(spec, **load_options)
    parsed = spec if isinstance(spec, registry.ModelSpec) else registry.parse_spec(spec)
    if parsed.backend == "openai":
        raise ModelError(f"--generator ray runs local models (embedded, hf:, gguf:, vllm:); "
                         f"{parsed} is a server, which spreads its own load: use it with "
                         "--generator local")
    from motcoder.models.ray_backend import RayModel

    if parsed.target and Path(parsed.target).expanduser().exists():  # replicas' cwd differs
        parsed = dataclasses.replace(parsed, target=str(Path(parsed.target).expanduser()
                                                        .resolve()))
    return RayModel(str(parsed), replicas=options.replicas, gpus=options.replica_gpus,
                    address=options.ray_address,
                    options={k: v for k, v in load_options.items() if v is not None})
