"""Throughput of the MoT data transformation: rewrites/s through a real `motcoder serve`
with 1 vs C requests in flight, and sandbox-checked rewrites/s of the assessment alone.

In one run:

1. start ``motcoder serve`` (default model: the embedded SmolLM2-135M) in its own process on
   a free loopback port, as a user would;
2. transform the same ``--problems`` small stdin/stdout problems (one reference each) with
   the `openai` backend (``openai:URL#MODEL``), ``concurrency=1`` and then ``concurrency=C``
   (fresh run directories, greedy, ``--max-tokens`` new tokens; everything included:
   prompts, HTTP, generation, assessment in the sandbox, the JSONL store) and print
   rewrites/s and the ratio;
3. assess ``--assess`` fixed rewrites (the one-shot example's answer and a wrong variant,
   alternating) on the example problem's tests, one thread vs 2 x workers threads, and
   print sandbox-checked rewrites/s.

``--prompts short`` replaces the teacher prompts by short instructions and a short example
(~1,500 prompt tokens with ours, ~280 with the short ones). Of our prompt, the ~1,300 tokens of
instructions and one-shot example are the same for every problem: the transformers backend
computes them once and reuses them (the counters are printed).

Usage: python benchmarks/transform_throughput.py [--model embedded] [--problems 16]
       [--concurrency 8] [--max-tokens 128] [--prompts full|short] [--assess 200]
       [--batch-window-ms 5] [--dtype float32|bfloat16] [--no-prefix-cache]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from motcoder.datagen.assess import Assessor
from motcoder.datagen.teacher_prompts import (
    example_answer,
    example_problem,
    load_teacher_prompts,
)
from motcoder.datagen.transform import TransformSettings, transform
from motcoder.models.openai_backend import OpenAIModel
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


@contextlib.contextmanager
def serve_process(args: argparse.Namespace) -> Iterator[str]:
    """``motcoder serve`` in its own process; yields its base URL once it answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "motcoder.cli", "serve", "--port", str(port),
               "--model", args.model, "--batch-size", str(max(args.concurrency, 1)),
               "--batch-window-ms", str(args.batch_window_ms)]
    if args.dtype:
        command += ["--dtype", args.dtype]
    if args.no_prefix_cache:
        command.append("--no-prefix-cache")
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise SystemExit(f"motcoder serve exited ({proc.returncode}):\n"
                                 f"{log.read().decode(errors='replace')[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("motcoder serve did not answer within 300 s")
            time.sleep(0.5)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def server_stats(base_url: str) -> dict:
    return httpx.get(f"{base_url}/stats", timeout=10).json()


def run_transform(base_url: str, name: str, items: list[Problem], concurrency: int,
                  settings: TransformSettings, prompts_dir: str | None, workers: int
                  ) -> tuple[float, dict]:
    """Seconds to transform ``items`` with ``concurrency`` requests in flight, and the
    summary (with the server's counters for the run under ``"server"``)."""
    prompts = load_teacher_prompts(prompts_dir)
    before = server_stats(base_url)
    with tempfile.TemporaryDirectory() as tmp, \
            OpenAIModel(base_url, name, max_concurrency=concurrency) as client:
        t0 = time.perf_counter()
        summary = transform(items, client, RunDir(Path(tmp) / "run"), settings,
                            prompts=prompts, concurrency=concurrency, workers=workers)
        elapsed = time.perf_counter() - t0
    after = server_stats(base_url)
    server = {k: after[k] - before[k] for k in ("generate_calls", "requests")}
    if "prefix_cache" in after:
        server["prefix_cache"] = {k: v - before["prefix_cache"][k]
                                  for k, v in after["prefix_cache"].items()}
    summary["server"] = server
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
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--prompts", choices=("full", "short"), default="full")
    parser.add_argument("--assess", type=int, default=200)
    parser.add_argument("--batch-window-ms", type=float, default=5.0,
                        help="how long the server gathers a batch (motcoder serve's default)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dtype", default=None, help="model dtype (default: the backend's)")
    parser.add_argument("--no-prefix-cache", action="store_true",
                        help="compute every prompt in full (transformers backend)")
    args = parser.parse_args(argv)

    settings = TransformSettings(style="mot", rounds=1, max_new_tokens=args.max_tokens)
    items = problems(args.problems)
    seconds: dict[int, float] = {}
    notes: dict[int, str] = {}
    prompt_tokens = 0
    with tempfile.TemporaryDirectory() as prompts_tmp:
        prompts_dir = None
        if args.prompts == "short":
            prompts_dir = prompts_tmp
            for name, text in SHORT_PROMPTS.items():
                Path(prompts_tmp, name).write_text(text)
        t0 = time.perf_counter()
        with serve_process(args) as base_url:
            print(f"motcoder serve ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            name = httpx.get(f"{base_url}/models", timeout=10).json()["data"][0]["id"]
            run_transform(base_url, name, problems(2), 2, settings, prompts_dir, args.workers)
            for conc in (1, args.concurrency):
                elapsed, summary = run_transform(base_url, name, items, conc, settings,
                                                 prompts_dir, args.workers)
                seconds[conc] = elapsed
                server = summary["server"]
                notes[conc] = (f"mean batch at the server "
                               f"{server['requests'] / max(server['generate_calls'], 1):.2f}")
                if "prefix_cache" in server:
                    notes[conc] += (f"; prefix tokens reused "
                                    f"{server['prefix_cache']['reused_tokens']}, computed "
                                    f"{server['prefix_cache']['computed_tokens']}")
                prompt_tokens = summary["tokens"]["prompt"] // max(len(items), 1)
                print(f"concurrency {conc:>2}: {len(items)} rewrites in {elapsed:.1f} s "
                      f"(accepted {summary['counts']['post_filter']})", file=sys.stderr)

    print(f"\ntransform throughput: {len(items)} MoT rewrites, {args.prompts} teacher prompts "
          f"(~{prompt_tokens} prompt tokens each), <= {args.max_tokens} new tokens, greedy, "
          f"{name} behind motcoder serve (dtype {args.dtype or 'default'}, prefix reuse "
          f"{'off' if args.no_prefix_cache else 'on'}), {os.cpu_count()} CPUs")
    rates = {c: len(items) / s for c, s in seconds.items()}
    for conc, rate in rates.items():
        print(f"  concurrency {conc:>2}: {rate:6.3f} rewrites/s   ({notes[conc]})")
    print(f"  concurrency {args.concurrency} / 1: {rates[args.concurrency] / rates[1]:.2f}x")

    if args.assess < 1:
        return
    one = assess_rate(args.assess, 1, args.workers)
    many = assess_rate(args.assess, 2 * args.workers, args.workers)
    print("\nassessment (sandbox-checked rewrites of the one-shot example problem, 4 tests "
          "each, half of them failing):")
    print(f"  1 thread: {one:7.1f} rewrites/s   {2 * args.workers} threads over "
          f"{args.workers} sandbox workers: {many:7.1f} rewrites/s ({many / one:.2f}x)")


if __name__ == "__main__":
    main()
