"""Throughput of the MoT data transformation: rewrites/s through a real `motcoder serve`
with 1 vs C requests in flight, and sandbox-checked rewrites/s of the assessment alone.

In one run:

1. load a model (default: the embedded SmolLM2-135M) and serve it on a free loopback port
   with `ServerThread`;
2. transform the same ``--problems`` small stdin/stdout problems (one reference each) with
   the `openai` backend, ``concurrency=1`` and then ``concurrency=C`` (fresh run directories,
   greedy, ``--max-tokens`` new tokens; everything included: prompts, HTTP, generation,
   assessment in the sandbox, the JSONL store) and print rewrites/s and the ratio;
3. assess ``--assess`` fixed rewrites (the one-shot example's answer and a wrong variant,
   alternating) on the example problem's tests, one thread vs 2 x workers threads, and
   print sandbox-checked rewrites/s.

``--prompts short`` replaces the teacher prompts by short instructions and a short example
(prompt length dominates the CPU time of a small model: ~1,500 prompt tokens with ours,
~280 with the short ones).

Usage: python benchmarks/transform_throughput.py [--model embedded] [--problems 16]
       [--concurrency 8] [--max-tokens 32] [--prompts full|short] [--assess 200]
       [--batch-window-ms 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from motcoder.datagen.assess import Assessor
from motcoder.datagen.teacher_prompts import (
    example_answer,
    example_problem,
    load_teacher_prompts,
)
from motcoder.datagen.transform import TransformSettings, transform
from motcoder.models.openai_backend import OpenAIModel
from motcoder.models.serve import ServerThread
from motcoder.problems.model import Problem, Test
from motcoder.runs import RunDir
from motcoder.sandbox.judge import Judge
from motcoder.sandbox.limits import Limits
from motcoder.sandbox.pool import Sandbox, SandboxConfig

SHORT_PROMPTS = {
    "teacher_system_mot.txt": "Rewrite solutions as modules.",
    "teacher_user_mot.txt": "{statement}\n{starter_section}\nReference:\n```python\n"
                            "{reference}\n```\n{target_note}\nAnswer with `Step 1` (function "
                            "outlines with docstrings), then `Step 2` (one final ```python "
                            "program).",
    "example_problem.txt": "Read an integer n and print n squared.",
    "example_reference.txt": "print(int(input())**2)\n",
    "example_mot_answer.txt": "Step 1\n\n```python\ndef square(n):\n    \"\"\"Return n squared."
                              "\"\"\"\n```\n\nStep 2\n\n```python\ndef square(n):\n"
                              "    return n * n\n\n\nprint(square(int(input())))\n```\n",
    "example_tests.json": json.dumps([{"input": "3\n", "output": "9\n"}]),
}


def problems(k: int) -> list[Problem]:
    """``k`` distinct small stdin/stdout problems, each with a correct reference."""
    out = []
    for i in range(k):
        m = i + 2
        tests = [Test("stdio", "public" if n == 1 else "private", f"{n}\n",
                      f"{m * n * (n + 1) // 2}\n") for n in (1, 5, 10)]
        out.append(Problem(
            id=f"bench/{i}", source="bench", tests=tests,
            statement=f"Read a positive integer n and print the sum of the first n positive "
                      f"multiples of {m}.",
            solutions=[f"n=int(input())\nprint({m}*n*(n+1)//2)\n"]))
    return out


def run_transform(server: ServerThread, items: list[Problem], concurrency: int,
                  settings: TransformSettings, prompts_dir: str | None, workers: int
                  ) -> tuple[float, dict]:
    """Seconds to transform ``items`` with ``concurrency`` requests in flight, and the
    summary (with the server's batching counters for the run under ``"server"``)."""
    prompts = load_teacher_prompts(prompts_dir)
    calls, served = server.stats.generate_calls, server.stats.requests
    with tempfile.TemporaryDirectory() as tmp, \
            OpenAIModel(server.base_url, None, max_concurrency=concurrency) as client:
        t0 = time.perf_counter()
        summary = transform(items, client, RunDir(Path(tmp) / "run"), settings,
                            prompts=prompts, concurrency=concurrency, workers=workers)
        elapsed = time.perf_counter() - t0
    summary["server"] = {"generate_calls": server.stats.generate_calls - calls,
                         "requests": server.stats.requests - served}
    return elapsed, summary


def assess_rate(count: int, threads: int, workers: int) -> float:
    problem = example_problem()
    good = example_answer("mot")
    wrong = good.replace("sorted(outstanding)", "outstanding")
    answers = [good if i % 2 == 0 else wrong for i in range(count)]
    with Sandbox(SandboxConfig(workers=workers)) as sandbox:
        assessor = Assessor(Judge(sandbox, Limits(cpu_seconds=2.0)))
        assessor.assess(problem, good, "mot")  # warm-up
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(lambda a: assessor.assess(problem, a, "mot"), answers))
        elapsed = time.perf_counter() - t0
    accepted = sum(r.accepted for r in results)
    assert accepted == (count + 1) // 2, f"{accepted} accepted of {count}"
    return count / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--prompts", choices=("full", "short"), default="full")
    parser.add_argument("--assess", type=int, default=200)
    parser.add_argument("--batch-window-ms", type=float, default=5.0,
                        help="how long the server gathers a batch (motcoder serve's default)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)

    from motcoder.models.registry import load_model

    settings = TransformSettings(style="mot", rounds=1, max_new_tokens=args.max_tokens)
    items = problems(args.problems)
    t0 = time.perf_counter()
    model = load_model(args.model, threads=args.threads)
    print(f"model {model.name} loaded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    seconds: dict[int, float] = {}
    batches: dict[int, float] = {}
    prompt_tokens = 0
    with tempfile.TemporaryDirectory() as prompts_tmp:
        prompts_dir = None
        if args.prompts == "short":
            prompts_dir = prompts_tmp
            for name, text in SHORT_PROMPTS.items():
                Path(prompts_tmp, name).write_text(text)
        try:
            with ServerThread(model, batch_size=max(args.concurrency, 1),
                              batch_window=args.batch_window_ms / 1000) as server:
                run_transform(server, problems(2), 2, settings, prompts_dir, args.workers)
                for conc in (1, args.concurrency):
                    elapsed, summary = run_transform(server, items, conc, settings,
                                                     prompts_dir, args.workers)
                    seconds[conc] = elapsed
                    batching = summary["server"]
                    batches[conc] = batching["requests"] / max(batching["generate_calls"], 1)
                    prompt_tokens = summary["tokens"]["prompt"] // max(len(items), 1)
                    print(f"concurrency {conc:>2}: {len(items)} rewrites in {elapsed:.1f} s "
                          f"(accepted {summary['counts']['post_filter']})", file=sys.stderr)
        finally:
            model.close()

    print(f"\ntransform throughput: {len(items)} MoT rewrites, {args.prompts} teacher prompts "
          f"(~{prompt_tokens} prompt tokens each), <= {args.max_tokens} new tokens, greedy, "
          f"{model.name} behind motcoder serve, {os.cpu_count()} CPUs")
    rates = {c: len(items) / s for c, s in seconds.items()}
    for conc, rate in rates.items():
        print(f"  concurrency {conc:>2}: {rate:6.3f} rewrites/s   (mean batch at the server "
              f"{batches[conc]:.2f})")
    print(f"  concurrency {args.concurrency} / 1: {rates[args.concurrency] / rates[1]:.2f}x")

    one = assess_rate(args.assess, 1, args.workers)
    many = assess_rate(args.assess, 2 * args.workers, args.workers)
    print("\nassessment (sandbox-checked rewrites of the one-shot example problem, 4 tests "
          "each, half of them failing):")
    print(f"  1 thread: {one:7.1f} rewrites/s   {2 * args.workers} threads over "
          f"{args.workers} sandbox workers: {many:7.1f} rewrites/s ({many / one:.2f}x)")


if __name__ == "__main__":
    main()
