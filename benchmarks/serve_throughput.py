"""Request throughput of `motcoder serve`: 1 client vs many concurrent clients.

In one run: load a model (default: the embedded SmolLM2-135M), serve it on a free loopback port
with `ServerThread`, and send the same set of short completions (``--max-tokens``, greedy,
distinct prompts) through the `openai` backend twice:

* 1 client: one request at a time (``max_concurrency=1``);
* C clients: up to ``--concurrency`` requests in flight, which the server batches onto the
  model (one ``generate`` call per batch).

The two modes alternate for ``--rounds`` rounds (so a change in machine load hits both
alike); print requests/s for each over all rounds, the ratio, and the server's batching
counters (generate calls, mean batch).

Usage: python benchmarks/serve_throughput.py [--model embedded] [--requests 32]
       [--concurrency 16] [--max-tokens 16] [--rounds 2] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace

from motcoder.models.base import GenerationRequest
from motcoder.models.openai_backend import OpenAIModel
from motcoder.models.serve import ServerStats, ServerThread


def prompts(k: int) -> list[str]:
    subjects = ["a linked list", "binary search", "a stack", "merge sort", "a hash map",
                "dynamic programming", "a trie", "Dijkstra's algorithm"]
    return [f"Q{i}: In one sentence, what is {subjects[i % len(subjects)]}?\nA:"
            for i in range(k)]


def run(server: ServerThread, concurrency: int, requests: list[GenerationRequest]
        ) -> tuple[float, ServerStats]:
    """Seconds to send ``requests`` with ``concurrency`` in flight, and the server's counters
    for them."""
    before = replace(server.stats)
    with OpenAIModel(server.base_url, None, max_concurrency=concurrency) as client:
        t0 = time.perf_counter()
        outs = client.generate(requests)
        elapsed = time.perf_counter() - t0
    assert len(outs) == len(requests)
    after = server.stats
    delta = ServerStats(**{k: getattr(after, k) - getattr(before, k)
                           for k in ("http_requests", "requests", "generate_calls",
                                     "sequences", "prompt_tokens", "completion_tokens",
                                     "errors")})
    return elapsed, delta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-window-ms", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)

    from motcoder.models.registry import load_model

    t0 = time.perf_counter()
    model = load_model(args.model, threads=args.threads)
    print(f"model {model.name} loaded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    requests = [GenerationRequest(prompt=p, max_new_tokens=args.max_tokens, temperature=0.0)
                for p in prompts(args.requests)]
    modes = (1, args.concurrency)
    seconds = dict.fromkeys(modes, 0.0)
    ratios: list[float] = []
    totals = {c: ServerStats() for c in modes}
    try:
        with ServerThread(model, batch_size=max(args.concurrency, 1),
                          batch_window=args.batch_window_ms / 1000) as server:
            # warm-up: first forward passes are slower (allocations, kernels)
            run(server, args.concurrency, requests[: args.concurrency])
            for r in range(args.rounds):
                round_rps = {}
                for conc in modes:
                    elapsed, st = run(server, conc, requests)
                    round_rps[conc] = len(requests) / elapsed
                    seconds[conc] += elapsed
                    for k in ("requests", "generate_calls", "completion_tokens"):
                        setattr(totals[conc], k, getattr(totals[conc], k) + getattr(st, k))
                    print(f"round {r + 1}: {conc:>2} client(s) {round_rps[conc]:6.2f} req/s",
                          file=sys.stderr)
                ratios.append(round_rps[args.concurrency] / round_rps[1])
    finally:
        model.close()

    print(f"\nserve throughput: {args.requests} completions x {args.rounds} rounds, "
          f"<= {args.max_tokens} new tokens ({model.name}, greedy, "
          f"{os.cpu_count()} CPUs)")
    print(f"{'clients':>8} {'req/s':>8} {'tok/s':>8} {'generate calls':>15} {'mean batch':>11}")
    rps = {}
    for conc in modes:
        st = totals[conc]
        rps[conc] = st.requests / seconds[conc]
        print(f"{conc:>8} {rps[conc]:>8.2f} {st.completion_tokens / seconds[conc]:>8.1f} "
              f"{st.generate_calls:>15} {st.requests / max(st.generate_calls, 1):>11.2f}")
    print(f"\n{args.concurrency} clients / 1 client: {rps[args.concurrency] / rps[1]:.2f}x "
          f"requests/s (per round: {', '.join(f'{x:.2f}x' for x in ratios)})")


if __name__ == "__main__":
    main()
