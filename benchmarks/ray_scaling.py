"""Ray scale-out overhead: the local executor vs the Ray executor on this machine.

In one run, on the same HumanEval canonical solutions (repeated to at least --programs
programs, as in ``exec_throughput.py``), time `motcoder.scoring.evaluate.evaluate` with every
isolation layer on and a warm recording cache:

* local: the fork-server pool of this process, ``--workers`` servers (default: one per core);
* Ray, 1 worker: one sandbox actor with one fork-server, on a local Ray instance;
* Ray, 2 workers: the default Ray placement on a one-node cluster (one actor per node with
  as many fork-servers as the node's CPUs; ``--ray-workers 2`` when the machine has another
  count of cores);

and print programs/s of each and the ratios to local (target: Ray with 2 workers at least
0.7 x local with 2 fork-servers). Ray and its actors start once, before the timings (a cost
per process, printed apart); each Ray timing includes starting the fork-servers in the
actors, as each local timing includes starting its pool. Every executor is timed
``--repeat`` times, interleaved, and the best and median rates are shown (the best is the
least disturbed by other work on the machine; the CPU time the hypervisor stole during
each timing is printed too).

Usage: python benchmarks/ray_scaling.py [--programs 1000] [--workers N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exec_throughput import write_samples  # noqa: E402


def time_evaluate(problems, sample_file: Path, workers: int, executor) -> tuple[float, int]:
    from motcoder.problems.samples import read_samples
    from motcoder.runs import RunDir
    from motcoder.sandbox.pool import SandboxConfig
    from motcoder.scoring.evaluate import EvalOptions, evaluate

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        samples = read_samples(str(sample_file), {p.id: p for p in problems})
        summary = evaluate(problems, samples, RunDir(out), EvalOptions(),
                           sandbox_config=SandboxConfig(workers=workers), executor=executor)
        elapsed = time.perf_counter() - start
    return elapsed, summary["groups"]["all"]["passed_samples"]


def stolen_seconds() -> float:
    """CPU time the hypervisor took from this machine so far (Linux), 0 where unknown: a
    timing with much of it was disturbed from outside."""
    try:
        with open("/proc/stat") as f:
            return int(f.readline().split()[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def actor_start_seconds(executor) -> float:
    """How long the Ray executor takes to place its actors and start their fork-servers."""
    from motcoder.sandbox.executors import open_sandbox
    from motcoder.sandbox.pool import SandboxConfig

    start = time.perf_counter()
    with open_sandbox(SandboxConfig(), executor):
        elapsed = time.perf_counter() - start
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3, help="Timings of each executor, "
                        "interleaved; the best and the median are shown.")
    args = parser.parse_args()

    from motcoder.problems.humaneval import load_humaneval
    from motcoder.ray_cluster import connect
    from motcoder.sandbox.executors import ExecutorOptions

    problems = load_humaneval()
    for p in problems:
        p.metadata.setdefault("canonical_solution", p.solutions[0][len(p.statement):])
    started = time.perf_counter()
    ray = connect(None)
    cpus = int(ray.cluster_resources().get("CPU", 0))
    print(f"Ray {ray.__version__} started in {time.perf_counter() - started:.1f} s "
          f"({cpus} CPUs, {len(ray.nodes())} node)", flush=True)
    runs = [("local", args.workers, ExecutorOptions()),
            ("ray, 1 worker", 1, ExecutorOptions("ray", ray_workers=1)),
            ("ray, 2 workers", 2, ExecutorOptions("ray") if cpus == 2
             else ExecutorOptions("ray", ray_workers=2))]
    rates: dict[str, list[float]] = {label: [] for label, _, _ in runs}
    with tempfile.TemporaryDirectory() as tmp:
        sample_file = Path(tmp) / "samples.jsonl"
        n = write_samples(problems, args.programs, sample_file)
        print(f"{n} programs ({len(problems)} HumanEval canonical solutions, repeated), "
              f"{os.cpu_count()} cores, {args.repeat} timings each", flush=True)
        os.environ["MOTCODER_CACHE"] = str(Path(tmp) / "cache")
        time_evaluate(problems, sample_file, args.workers, runs[0][2])  # records the checks
        cold = [actor_start_seconds(executor) for _, _, executor in runs[1:]]  # starts actors
        print(f"starting the Ray actors (once per process): {max(cold):.2f} s; opening a "
              f"sandbox on them after: {actor_start_seconds(runs[2][2]):.2f} s", flush=True)
        for _ in range(args.repeat):
            for label, workers, executor in runs:
                stolen = stolen_seconds()
                seconds, passed = time_evaluate(problems, sample_file, workers, executor)
                stolen = stolen_seconds() - stolen
                print(f"  {label:15}: {n / seconds:6.1f} programs/s  ({seconds:.2f} s, "
                      f"{stolen:.2f} s stolen by the hypervisor)", flush=True)
                if passed != n:
                    sys.exit(f"{label}: {passed}/{n} canonical solutions passed: the "
                             "comparison is void")
                rates[label].append(n / seconds)
    best = {label: max(values) for label, values in rates.items()}
    median = {label: statistics.median(values) for label, values in rates.items()}
    for label, _, _ in runs:
        print(f"{label:15}: best {best[label]:6.1f} programs/s, median {median[label]:6.1f}  "
              f"ratio to local: best {best[label] / best['local']:.2f}x, median "
              f"{median[label] / median['local']:.2f}x", flush=True)
    ratio = best["ray, 2 workers"] / best["local"]
    print(f"Ray with 2 workers vs local with {args.workers}: {ratio:.2f}x "
          f"(target >= 0.70x) -> {'met' if ratio >= 0.7 else 'NOT met'}")


if __name__ == "__main__":
    main()
