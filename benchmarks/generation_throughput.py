"""Generation throughput of the embedded model (SmolLM2-135M-Instruct) with the transformers
backend: one request at a time vs one batched call, in one run.

* load: the GGUF conversion is made (or found) in the cache first; then the load time of a
  fresh process with the conversion cached is measured (``python -c "load_model(...)"``:
  the whole process, the torch + transformers imports, and ``load_model`` alone);
* sequential: ``--requests`` distinct greedy chat requests, each its own ``generate`` call
  (batch 1);
* batched: the same requests in one ``generate`` call (``batch_size = --requests``).

Both produce the same greedy outputs, so the generated token counts are equal; the script
prints tokens/s for both and the ratio.

Usage: python benchmarks/generation_throughput.py [--requests 32] [--max-new-tokens 64]
       [--dtype auto|float32|bfloat16] [--threads N]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time

PROMPTS = [
    "Write a Python function that adds two numbers.",
    "Write a Python function that reverses a string.",
    "Write a Python function that checks whether a number is prime.",
    "Write a Python function that returns the factorial of n.",
    "Write a Python function that counts the vowels in a string.",
    "Write a Python function that merges two sorted lists.",
    "Write a Python function that returns the n-th Fibonacci number.",
    "Write a Python function that removes duplicates from a list, keeping order.",
    "Write a Python function that checks whether a string is a palindrome.",
    "Write a Python function that computes the greatest common divisor of two integers.",
    "Write a Python function that flattens a nested list.",
    "Write a Python function that returns the largest element of a list.",
    "Write a Python function that converts Celsius to Fahrenheit.",
    "Write a Python function that counts the words in a sentence.",
    "Write a Python function that sums the digits of an integer.",
    "Write a Python function that transposes a matrix given as a list of lists.",
]

LOAD_SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
from motcoder.models import load_model
import torch, transformers  # noqa: E401,F401  (imported by load_model anyway: timed apart)
t1 = time.perf_counter()
m = load_model("embedded", **json.loads(sys.argv[1]))
t2 = time.perf_counter()
print(json.dumps({"loaded_from": m.loaded_from, "imports": t1 - t0, "load": t2 - t1}))
"""


def measure_cold_load(options: dict) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LOAD_SNIPPET, json.dumps(options)],
                          capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"load in a fresh process failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process"] = wall
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    from motcoder.models import GenerationRequest, load_model  # before torch: see its docstring

    torch = importlib.import_module("torch")

    options = {"device": "cpu", "dtype": args.dtype}
    if args.threads:
        options["threads"] = args.threads
    start = time.perf_counter()
    model = load_model("embedded", batch_size=args.requests, **options)
    first_load = time.perf_counter() - start
    print(f"model: {model!r}; torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs")
    print(f"first load in this process: {first_load:.1f} s ({model.loaded_from})")
    cold = measure_cold_load(options)
    print(f"load with the conversion cached, fresh process: {cold['process']:.1f} s "
          f"(torch + transformers imports {cold['imports']:.1f} s, "
          f"load_model {cold['load']:.1f} s, "
          f"{cold['loaded_from']})")

    prompts = (PROMPTS * (-(-args.requests // len(PROMPTS))))[:args.requests]
    requests = [GenerationRequest(messages=[{"role": "user", "content": p}],
                                  max_new_tokens=args.max_new_tokens) for p in prompts]
    model.generate([GenerationRequest(prompt="warm up", max_new_tokens=4)])

    start = time.perf_counter()
    sequential = [model.generate([r])[0] for r in requests]
    seq_time = time.perf_counter() - start
    seq_tokens = sum(c.completion_tokens for c in sequential)

    start = time.perf_counter()
    batched = model.generate(requests)
    batch_time = time.perf_counter() - start
    batch_tokens = sum(c.completion_tokens for c in batched)

    same = [c.texts for c in sequential] == [c.texts for c in batched]
    seq_rate, batch_rate = seq_tokens / seq_time, batch_tokens / batch_time
    print(f"sequential (batch 1): {seq_tokens} tokens in {seq_time:.1f} s = "
          f"{seq_rate:.1f} tokens/s")
    print(f"batched ({args.requests} requests): {batch_tokens} tokens in {batch_time:.1f} s = "
          f"{batch_rate:.1f} tokens/s")
    print(f"speed-up from batching: {batch_rate / seq_rate:.1f}x; "
          f"identical greedy outputs: {same}")
    model.close()


if __name__ == "__main__":
    main()
