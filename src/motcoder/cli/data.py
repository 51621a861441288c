"""Data commands (`motcoder data ...`): MoT transformation, assessment statistics, export
and decontamination of training data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from motcoder.cli.common import (
    BATCH_SIZE,
    CPU_LIMIT,
    DATA,
    DEVICE,
    DIFFICULTY,
    DTYPE,
    EXECUTOR,
    FLOAT_TOL,
    GENERATOR,
    IDS,
    MEMORY_MB,
    MODEL,
    PROGRESS,
    PROMPTS,
    RAY_ADDRESS,
    RAY_WORKERS,
    REPLICA_GPUS,
    REPLICAS,
    RESUME,
    SEED,
    STDOUT_MODE,
    TEMPERATURE,
    TIME_SCALE,
    TOP_P,
    TRUST_IN_CHILD,
    WORKERS,
    Bars,
    app,
    choice,
    console,
    eval_options,
    executor_options,
    fail,
    generator_options,
    out,
    split_list,
    user_errors,
)

data_app = typer.Typer(help="Build training data: MoT transformation, statistics, export, "
                       "decontamination.", no_args_is_help=True)
app.add_typer(data_app, name="data")

# ----------------------------------------------------------------------------- options
TRAIN_BENCHMARK = typer.Option("apps", "--benchmark", "-b", help="apps, codecontests, or a "
                               "problem FILE (training problems with reference solutions).")
TRAIN_SPLIT = typer.Option(None, help="Split (default: train for a hub benchmark; a local "
                           "file keeps what it holds).")
LIMIT = typer.Option(None, min=0, help="Only the first N problems.")
MAX_SOLUTIONS = typer.Option(100, min=1, help="Most reference solutions used per problem.")


def _errors() -> tuple[type[BaseException], ...]:
    from motcoder.datagen.transform import DatagenError
    from motcoder.prompts.templates import TemplateError

    return (*user_errors(), DatagenError, TemplateError)


def _select(benchmark: str, data: Path | None, split: str | None, difficulty: str | None,
            ids: str | None, limit: int | None) -> tuple[dict[str, Any], list[Any]]:
    """Where the problems come from (as stored in a run's config) and the problems."""
    from motcoder.problems.registry import BENCHMARKS, load_problems

    if data is not None and not data.is_file():
        raise fail(f"--data {data}: no such file")
    if split is None and data is None and benchmark in BENCHMARKS:
        split = "train"
    source = {"benchmark": str(Path(benchmark).resolve()) if Path(benchmark).is_file()
              else benchmark, "data": str(data.resolve()) if data else None, "split": split,
              "difficulty": split_list(difficulty), "ids": split_list(ids), "limit": limit}
    problems = load_problems(source["benchmark"], path=source["data"], split=split,
                             difficulty=source["difficulty"], ids=source["ids"], limit=limit)
    return source, problems


def _hidden(source: dict[str, Any]) -> list[str]:
    return [p for p in (source["data"], source["benchmark"]) if p and Path(p).is_file()]


# ----------------------------------------------------------------------------- transform
@data_app.command("transform")
def transform_command(
    out_dir: Path = typer.Option(..., "--out", help="Run directory: rewrites.jsonl, "
                                 "config.json, summary.json."),
    model: str = MODEL, benchmark: str = TRAIN_BENCHMARK, data: Path | None = DATA,
    split: str | None = TRAIN_SPLIT, difficulty: str | None = DIFFICULTY,
    ids: str | None = IDS, limit: int | None = LIMIT,
    style: str = typer.Option("mot", help="mot (two-step Module-of-Thought rewrite) | clean "
                              "(meaningful names and comments)."),
    max_solutions: int = MAX_SOLUTIONS,
    rounds: int = typer.Option(1, min=1, help="Evolution rounds: a rejected rewrite is asked "
                               "again in the next round, up to this many answers."),
    concurrency: int = typer.Option(8, min=1, help="Teacher requests in flight (servers; a "
                                    "local model takes --batch-size requests per call)."),
    temperature: float = TEMPERATURE,
    retry_temperature: float = typer.Option(0.8, min=0.0, help="Temperature of rounds after "
                                            "the first (a fresh sample)."),
    top_p: float = TOP_P,
    max_new_tokens: int = typer.Option(2048, min=1),
    seed: int = SEED,
    teacher_prompts: Path | None = typer.Option(None, "--teacher-prompts", help="Directory "
                                                "of teacher prompt files overriding ours."),
    price_in: float = typer.Option(0.0, min=0.0, help="USD per 1M prompt tokens (cost "
                                   "estimate)."),
    price_out: float = typer.Option(0.0, min=0.0, help="USD per 1M completion tokens."),
    max_retries: int = typer.Option(5, min=0, help="Retries of a failed HTTP request."),
    batch_size: int = BATCH_SIZE, device: str = DEVICE, dtype: str = DTYPE,
    workers: int = WORKERS, cpu_limit: float = CPU_LIMIT, memory_mb: int = MEMORY_MB,
    time_scale: float = TIME_SCALE, stdout_mode: str = STDOUT_MODE,
    float_tol: float = FLOAT_TOL, trust_in_child: bool = TRUST_IN_CHILD,
    resume: bool = RESUME, progress: bool = PROGRESS,
    executor: str = EXECUTOR, ray_workers: int | None = RAY_WORKERS,
    generator: str = GENERATOR, replicas: int | None = REPLICAS,
    replica_gpus: float = REPLICA_GPUS, ray_address: str | None = RAY_ADDRESS,
) -> None:
    """Rewrite reference solutions with a teacher model (MoT or clean), assess each rewrite
    in the sandbox, and store it in --out (resumable). `--generator ray` / `--executor ray`:
    a local teacher's replicas / the assessments on a Ray cluster."""
    from motcoder.datagen.stats import stats_table
    from motcoder.datagen.teacher_prompts import load_teacher_prompts
    from motcoder.datagen.transform import TransformSettings, plan_items, transform
    from motcoder.models.generators import open_model
    from motcoder.models.registry import parse_spec
    from motcoder.runs import RunDir
    from motcoder.scoring.evaluate import file_digest

    choice("--style", style, ("mot", "clean"))
    options = eval_options(False, None, cpu_limit, memory_mb, time_scale, None, stdout_mode,
                           float_tol, trust_in_child)
    where_run = executor_options(executor, ray_address, ray_workers)
    generation = generator_options(generator, replicas, replica_gpus, ray_address)
    lm = None
    try:
        prompts = load_teacher_prompts(teacher_prompts)
        settings = TransformSettings(style=style, max_solutions=max_solutions, rounds=rounds,
                                     temperature=temperature,
                                     retry_temperature=retry_temperature, top_p=top_p,
                                     max_new_tokens=max_new_tokens, seed=seed,
                                     evaluation=options)
        source, problems = _select(benchmark, data, split, difficulty, ids, limit)
        data_file = source["data"] or (source["benchmark"] if Path(source["benchmark"])
                                       .is_file() else None)
        config = {"command": "data transform", "model": model, "problems": source,
                  "data_sha256": file_digest(data_file) if data_file else None,
                  "teacher_prompts_sha256": prompts.digest(), **settings.to_config(),
                  "concurrency": concurrency, "batch_size": batch_size, "workers": workers,
                  "price_in": price_in, "price_out": price_out, "max_retries": max_retries}
        where = str(data_file or benchmark)
        plan_items(problems, settings, options.judge, where)  # bad input fails before loading
        spec = parse_spec(model)
        remote = spec.backend == "openai"
        lm = open_model(spec, generation, device=device, dtype=dtype,
                        max_concurrency=concurrency, max_retries=max_retries)
        teacher = lm.name
        if remote and hasattr(lm, "list_models"):
            served = lm.list_models()  # an unreachable teacher fails here, before any work
            teacher = spec.model_name or (served[0] if served else "?")
        config["teacher"] = teacher
        console.print(f"run directory: {escape(str(out_dir))}")
        tally = {"accepted": 0, "rejected": 0}
        with Bars(progress) as bars:
            def on_record(rewrite: Any, final: bool) -> None:
                tally[rewrite.status] += 1
                bars.advance(1 if final else 0, f"accepted {tally['accepted']}, rejected "
                                                f"{tally['rejected']}")

            summary = transform(
                problems, lm, RunDir(out_dir), settings, config=config, resume=resume,
                prompts=prompts, concurrency=concurrency if remote else 1,
                batch_size=1 if remote else batch_size, workers=workers,
                executor=where_run, hide=_hidden(source), price_in=price_in, price_out=price_out,
                where=where, on_start=bars.start("rewriting"),
                on_record=on_record)
    except _errors() as exc:
        raise fail(f"{exc}" + (f" (rewrites so far are kept in {out_dir}; continue with "
                               "--resume)" if (out_dir / "rewrites.jsonl").exists() else "")
                   ) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; every assessed rewrite is in {out_dir}/rewrites.jsonl — "
                   "continue with the same command and --resume", code=130) from None
    finally:
        if lm is not None:
            lm.close()
    counts = summary["counts"]
    stats = {"groups": [{"source": ", ".join(sorted({p.source for p in problems})),
                         "style": style, **counts}], "total": counts}
    out.print(stats_table(stats, title=escape(f"{style} rewrites — {out_dir}")))
    skipped = summary["skipped_problems"]
    if skipped["no_solutions"] or skipped["no_tests"]:
        console.print(f"skipped problems: {len(skipped['no_solutions'])} without reference "
                      f"solutions, {len(skipped['no_tests'])} without tests")
    tokens = summary["tokens"]
    session = summary["this_session"]
    out.print(f"tokens: {tokens['prompt']} prompt + {tokens['completion']} completion = "
              f"{tokens['total']}; estimated cost ${summary['cost_usd']:.4f}; this session "
              f"{session['rewrites']} rewrites in {session['seconds']:.1f} s "
              f"({session['rewrites_per_second']:.2f}/s)", soft_wrap=True)
    console.print(f"rewrites: {escape(str(out_dir))}/rewrites.jsonl   export with: motcoder "
                  f"data export {escape(str(out_dir))} --out FILE")


# ----------------------------------------------------------------------------- stats
@data_app.command("stats")
def stats_command(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories of `data transform`."),
    as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
) -> None:
    """Pre-filter / post-filter counts, passing rate and rejections by reason, per source
    and style (the paper's data table)."""
    from motcoder.datagen.stats import run_stats, stats_table

    try:
        stats = run_stats(run_dirs)
    except _errors() as exc:
        raise fail(str(exc)) from None
    if as_json:
        out.print_json(json.dumps(stats))
        return
    out.print(stats_table(stats))


# ----------------------------------------------------------------------------- export
@data_app.command("export")
def export_command(
    run_dirs: list[Path] | None = typer.Argument(None, help="Run directories of `data "
                                                 "transform` (their accepted rewrites)."),
    out_file: Path = typer.Option(..., "--out", help="JSONL file to write."),
    fmt: str = typer.Option("chat", "--format", help="chat | alpaca"),
    from_references: bool = typer.Option(False, "--from-references", help="Export the "
                                         "problems' own reference solutions (style normal) "
                                         "instead of rewrites."),
    benchmark: str = TRAIN_BENCHMARK, data: Path | None = DATA,
    split: str | None = TRAIN_SPLIT, difficulty: str | None = DIFFICULTY,
    ids: str | None = IDS, limit: int | None = LIMIT, max_solutions: int = MAX_SOLUTIONS,
    prompts: Path | None = PROMPTS,
) -> None:
    """Write accepted rewrites (or, with --from-references, reference solutions) as chat or
    Alpaca JSONL training data."""
    from motcoder.datagen.export import export_references, export_rewrites

    choice("--format", fmt, ("chat", "alpaca"))
    if prompts is not None and not prompts.is_dir():
        raise fail(f"--prompts {prompts}: not a directory of templates")
    if from_references == bool(run_dirs):
        raise fail("give either RUN_DIR(s) of `motcoder data transform` or --from-references "
                   "(with --benchmark/--data), not both or neither")
    try:
        if from_references:
            _, problems = _select(benchmark, data, split, difficulty, ids, limit)
            count = export_references(problems, out_file, fmt, max_solutions, prompts)
            counts = {"normal": count}
        else:
            counts = export_rewrites(list(run_dirs or []), out_file, fmt, prompts)
    except _errors() as exc:
        raise fail(str(exc)) from None
    shown = ", ".join(f"{n} {style}" for style, n in sorted(counts.items())) or "0"
    out.print(f"wrote {escape(str(out_file))}: {shown} record(s) ({fmt})", soft_wrap=True)


# ----------------------------------------------------------------------------- decontaminate
@data_app.command("decontaminate")
def decontaminate_command(
    out_file: Path = typer.Option(..., "--out", help="Problem JSONL to write: the training "
                                  "problems that remain (our problem format; any command "
                                  "takes it as --benchmark FILE)."),
    benchmark: str = TRAIN_BENCHMARK, data: Path | None = DATA,
    split: str | None = TRAIN_SPLIT,
    eval_benchmark: str = typer.Option(..., "--eval", help="Evaluation problems to protect: a "
                                       "benchmark name or a problem FILE (e.g. apps)."),
    eval_data: Path | None = typer.Option(None, "--eval-data", help="Local file for --eval."),
    eval_split: str | None = typer.Option(None, "--eval-split", help="Split of --eval "
                                          "(default: its test split)."),
    threshold: float = typer.Option(0.7, min=0.01, max=1.0, help="Statement overlap "
                                    "(0-1) from which a training problem is removed."),
    ngram: int = typer.Option(5, min=1, help="Word n-gram size of the comparison."),
    report: Path | None = typer.Option(None, help="Also write the matches as JSON here."),
) -> None:
    """Remove training problems whose statement matches an evaluation problem (e.g.
    CodeContests train vs APPS test); print how many and which."""
    from motcoder.datagen.decontam import decontaminate
    from motcoder.problems.registry import load_problems, write_problems
    from motcoder.runs import write_json

    try:
        _, train = _select(benchmark, data, split, None, None, None)
        evaluation = load_problems(eval_benchmark, path=eval_data, split=eval_split)
        result = decontaminate(train, evaluation, threshold=threshold, ngram=ngram)
        write_problems(result.kept, out_file)
        if report is not None:
            write_json(report, result.to_dict())
    except _errors() as exc:
        raise fail(str(exc)) from None
    for match in result.removed:
        out.print(f"removed {escape(match.train_id)}  ~ {escape(match.eval_id)}  "
                  f"(overlap {match.similarity:.2f})", soft_wrap=True)
    out.print(f"{len(result.removed)} of {len(train)} training problem(s) removed, "
              f"{len(result.kept)} kept -> {escape(str(out_file))}", soft_wrap=True)


# ----------------------------------------------------------------------------- toy
@data_app.command("toy")
def toy_command(
    out_dir: Path = typer.Option(Path("data/toy"), "--out", help="Directory to write."),
) -> None:
    """Write the toy MoT data set (small stdin/stdout problems with hand-written MoT and
    normal answers) to try training and the MoT ablation on a CPU."""
    from motcoder.datagen.toy import write_toy_set

    paths = write_toy_set(out_dir)
    for name, path in paths.items():
        out.print(f"{name:>15}: {escape(str(path))}", soft_wrap=True)
