"""Resource limits for judged programs: defaults, problem-provided limits, scaling.

The CPU limit of a test is, in order of precedence:

1. ``scale_from_reference``: ``max(min_cpu_seconds, factor x CPU time of the reference
   solution on the same test, measured on this machine)`` when the problem has one;
2. the problem's own limit (CodeContests) x ``time_scale`` when ``use_problem_limits``;
3. ``cpu_seconds``.

The wall-clock limit is ``cpu x wall_factor + wall_extra``: a program that sleeps or blocks
is stopped too.
"""

from __future__ import annotations

from dataclasses import dataclass

from motcoder.problems.model import Problem


@dataclass
class Limits:
    cpu_seconds: float = 4.0
    memory_mb: int = 1024
    output_mb: int = 32
    wall_factor: float = 2.0
    wall_extra: float = 1.0
    use_problem_limits: bool = True
    time_scale: float = 1.0
    scale_from_reference: float | None = None
    min_cpu_seconds: float = 1.0

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "wall_factor", "time_scale", "min_cpu_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"limit {name} must be positive, got {getattr(self, name)}")
        if self.memory_mb < 16 or self.output_mb < 1:
            raise ValueError("memory limit must be >= 16 MB and output limit >= 1 MB")
        if self.scale_from_reference is not None and self.scale_from_reference <= 0:
            raise ValueError("scale_from_reference must be positive")

    def cpu_for(self, problem: Problem, reference_cpu: float | None = None) -> float:
        """CPU seconds allowed for one test of ``problem``."""
        if self.scale_from_reference is not None and reference_cpu is not None:
            return max(self.min_cpu_seconds, self.scale_from_reference * reference_cpu)
        if self.use_problem_limits and problem.time_limit:
            return float(problem.time_limit) * self.time_scale
        return self.cpu_seconds

    def memory_for(self, problem: Problem) -> int:
        if self.use_problem_limits and problem.memory_limit_mb:
            return max(64, int(problem.memory_limit_mb))
        return self.memory_mb

    def wall_for(self, cpu: float) -> float:
        return cpu * self.wall_factor + self.wall_extra
