"""Multi-turn Best-of-N throughput: candidates/s with and without batching across problems.

In one run, with the embedded model (SmolLM2-135M on the CPU) and the real sandbox, the same
Best-of-N search (a few HumanEval problems, N candidates per turn, T turns, ``pt`` rule,
seeded sampling) is run twice:

* **batched** — one model call per turn holds the requests of every open search of every
  problem (``batch_size`` = number of problems), so the backend fills its forward batches
  with candidates of several problems;
* **per problem** — one model call per search and turn (``batch_size=1``): only the N
  candidates of one problem share a forward batch.

Printed: candidates generated, seconds, candidates/s for each, and the speed-up. The order
of the two runs alternates over ``--repeats`` to even out a shared machine's load.

Usage: python benchmarks/bon_throughput.py [--problems 4] [-N 4] [--turns 2]
       [--max-new-tokens 64] [--repeats 1]
"""

from __future__ import annotations

import argparse
import time


def run_search(problems, model, judge, *, batch_size: int, candidates: int, turns: int,
               max_new_tokens: int) -> tuple[int, int, float]:
    from motcoder.solvers.best_of_n import BestOfNSolver

    solver = BestOfNSolver(judge, candidates=candidates, turns=turns, select="pt",
                           batch_size=batch_size)
    start = time.perf_counter()
    attempts = list(solver.solve(problems, model, n=1, temperature=0.7,
                                 max_new_tokens=max_new_tokens, seed=0))
    elapsed = time.perf_counter() - start
    generated = sum(len(a.metadata["candidates"]) for a in attempts)
    return generated, len(attempts), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=4)
    parser.add_argument("-N", "--candidates", type=int, default=4)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    from motcoder.models.registry import load_model
    from motcoder.problems.registry import load_problems
    from motcoder.sandbox.judge import Judge
    from motcoder.sandbox.pool import Sandbox, SandboxConfig

    problems = load_problems("humaneval", limit=args.problems)
    model = load_model("embedded")
    print(f"{len(problems)} HumanEval problems, N={args.candidates}, T={args.turns}, "
          f"max_new_tokens={args.max_new_tokens}, model batch (rows per forward) "
          f"{getattr(model, 'batch_size', '?')}")
    totals = {"batched": [0, 0.0], "per problem": [0, 0.0]}
    try:
        with Sandbox(SandboxConfig(workers=2)) as sandbox:
            judge = Judge(sandbox)
            # warm-up: tokenizer, first forward pass, sandbox recordings
            run_search(problems[:1], model, judge, batch_size=1, candidates=1, turns=1,
                       max_new_tokens=4)
            for repeat in range(args.repeats):
                order = [("batched", len(problems)), ("per problem", 1)]
                for name, batch in (order if repeat % 2 == 0 else order[::-1]):
                    made, turns, seconds = run_search(
                        problems, model, judge, batch_size=batch,
                        candidates=args.candidates, turns=args.turns,
                        max_new_tokens=args.max_new_tokens)
                    totals[name][0] += made
                    totals[name][1] += seconds
                    print(f"  {name:>11}: {made} candidates in {turns} turns, "
                          f"{seconds:.1f} s, {made / seconds:.2f} candidates/s")
    finally:
        model.close()
    rates = {name: made / seconds for name, (made, seconds) in totals.items()}
    for name, rate in rates.items():
        print(f"{name:>11}: {rate:.2f} candidates/s")
    print(f"batched / per problem: {rates['batched'] / rates['per problem']:.2f}x")


if __name__ == "__main__":
    main()
