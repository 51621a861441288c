"""ReflectionCoder commands: `motcoder data reflect` builds reflection sequences with a model
and the sandbox (`motcoder.datagen.reflection_sequences`); `motcoder data codefeedback` builds
the paper recipe's instruction data (`motcoder.datagen.codefeedback`); `motcoder train
reflection` trains with reflection self-distillation (`motcoder.training.reflection_distill`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from motcoder.cli.common import (
    BASE_MODEL,
    BATCH_SIZE,
    CPU_LIMIT,
    DATA,
    DEVICE,
    DTYPE,
    EXECUTOR,
    FLOAT_TOL,
    IDS,
    MAX_STEPS,
    MEMORY_MB,
    MODEL,
    PROGRESS,
    RAY_ADDRESS,
    RAY_WORKERS,
    RESUME,
    SEED,
    SET,
    STDOUT_MODE,
    TEMPERATURE,
    TIME_SCALE,
    TOP_P,
    TRAIN_OUT,
    TRUST_IN_CHILD,
    WORKERS,
    Bars,
    console,
    eval_options,
    executor_options,
    fail,
    out,
    split_list,
    user_errors,
)
from motcoder.cli.data import data_app
from motcoder.cli.train import train_app


def _errors() -> tuple[type[BaseException], ...]:
    from motcoder.datagen.reflection_sequences import ReflectError
    from motcoder.prompts.templates import TemplateError

    return (*user_errors(), ReflectError, TemplateError)


def _problems(benchmark: str, data: Path | None, split: str | None, ids: str | None,
              limit: int | None) -> tuple[dict[str, Any], list[Any]]:
    """Where the problems come from (as stored in the config) and the problems. A named
    benchmark defaults to its train split when it has one (training data)."""
    from motcoder.problems.registry import BENCHMARKS, load_problems

    if data is not None and not data.is_file():
        raise fail(f"--data {data}: no such file")
    named = BENCHMARKS.get(benchmark)
    if split is None and named is not None and "train" in named.splits:
        split = "train"
    is_file = Path(benchmark).is_file()
    source = {"benchmark": str(Path(benchmark).resolve()) if is_file else benchmark,
              "data": str(data.resolve()) if data else None, "split": split,
              "ids": split_list(ids), "limit": limit}
    problems = load_problems(source["benchmark"], path=source["data"], split=split,
                             ids=source["ids"], limit=limit)
    return source, problems


def _summary_table(summary: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    for name in ("built", "passed", "failed kept", "failed dropped", "exported", "rounds"):
        table.add_column(name, justify="right")
    rounds = ", ".join(f"{k}: {v}" for k, v in summary["rounds_histogram"].items()) or "-"
    table.add_row(str(summary["built"]), str(summary["passed"]), str(summary["failed_kept"]),
                  str(summary["failed_dropped"]), str(summary["exported"]), rounds)
    return table


@data_app.command("reflect")
def reflect_command(
    out_dir: Path = typer.Option(..., "--out", help="Run directory: sequences.jsonl (every "
                                 "finished dialogue), reflection.jsonl (training samples), "
                                 "config.json, summary.json."),
    model: str = MODEL,
    benchmark: str = typer.Option("mbpp", "--benchmark", "-b", help="mbpp, humaneval (or "
                                  "another benchmark), or a problem FILE; problems need "
                                  "tests."),
    data: Path | None = DATA,
    split: str | None = typer.Option(None, help="Split (default: train when the benchmark "
                                     "has one)."),
    ids: str | None = IDS,
    limit: int | None = typer.Option(None, min=0, help="Only the first N problems."),
    max_rounds: int = typer.Option(3, min=1, help="Most code blocks in a sequence (it stops "
                                   "at the first that passes)."),
    keep_failed: bool = typer.Option(False, "--keep-failed/--drop-failed", help="Put "
                                     "sequences whose final answer fails its tests into "
                                     "reflection.jsonl too (they are stored and counted "
                                     "either way)."),
    temperature: float = TEMPERATURE, top_p: float = TOP_P,
    max_new_tokens: int = typer.Option(1024, min=1, help="Per model answer."),
    seed: int = SEED,
    reflect_prompts: Path | None = typer.Option(None, "--reflect-prompts", help="Directory "
                                                "of reflect_*.txt files overriding ours."),
    batch_size: int = BATCH_SIZE,
    concurrency: int = typer.Option(8, min=1, help="openai: requests in flight."),
    max_retries: int = typer.Option(5, min=0, help="openai: retries of a failed request."),
    device: str = DEVICE, dtype: str = DTYPE, workers: int = WORKERS,
    cpu_limit: float = CPU_LIMIT, memory_mb: int = MEMORY_MB, time_scale: float = TIME_SCALE,
    stdout_mode: str = STDOUT_MODE, float_tol: float = FLOAT_TOL,
    trust_in_child: bool = TRUST_IN_CHILD,
    resume: bool = RESUME, progress: bool = PROGRESS, executor: str = EXECUTOR,
    ray_workers: int | None = RAY_WORKERS, ray_address: str | None = RAY_ADDRESS,
) -> None:
    """Build reflection sequences: the model solves each problem with the interpreter
    (code, sandbox output, reflection, fix, ...), then answers once more; the final answer
    is judged. Resumable."""
    from motcoder.datagen.reflection_prompts import load_reflection_prompts
    from motcoder.datagen.reflection_sequences import (
        DATA as DATA_FILE,
    )
    from motcoder.datagen.reflection_sequences import (
        SEQUENCES,
        ReflectSettings,
        build_sequences,
        check_problems,
    )
    from motcoder.models.registry import load_model, parse_spec
    from motcoder.runs import RunDir
    from motcoder.scoring.evaluate import file_digest

    options = eval_options(False, None, cpu_limit, memory_mb, time_scale, None, stdout_mode,
                           float_tol, trust_in_child)
    where_run = executor_options(executor, ray_address, ray_workers)
    lm = None
    try:
        prompts = load_reflection_prompts(reflect_prompts)
        settings = ReflectSettings(max_rounds=max_rounds, keep_failed=keep_failed,
                                   temperature=temperature, top_p=top_p,
                                   max_new_tokens=max_new_tokens, seed=seed,
                                   evaluation=options)
        source, problems = _problems(benchmark, data, split, ids, limit)
        data_file = source["data"] or (source["benchmark"] if Path(source["benchmark"])
                                       .is_file() else None)
        config = {"command": "data reflect", "model": model, "problems": source,
                  "data_sha256": file_digest(data_file) if data_file else None,
                  "prompts_sha256": prompts.digest(), **settings.to_config(),
                  "batch_size": batch_size, "concurrency": concurrency,
                  "max_retries": max_retries, "device": device, "dtype": dtype,
                  "workers": workers}
        check_problems(problems, options.judge, str(data_file or benchmark))  # before loading
        remote = parse_spec(model).backend == "openai"
        run_dir = RunDir(out_dir)
        run_dir.check_config(config, resume, volatile=_volatile())  # before loading a model
        lm = load_model(model, device=None if remote else device,
                        dtype=None if remote else dtype,
                        max_concurrency=concurrency if remote else None,
                        max_retries=max_retries if remote else None)
        console.print(f"run directory: {escape(str(out_dir))}", soft_wrap=True)
        with Bars(progress) as bars:
            tally = {"passed": 0, "failed": 0}

            def on_record(record: dict[str, Any]) -> None:
                tally["passed" if record["final_passed"] else "failed"] += 1
                bars.advance(1, f"passed {tally['passed']}, failed {tally['failed']}")

            summary = build_sequences(
                problems, lm, run_dir, settings, config=config, resume=resume,
                prompts=prompts, batch_size=batch_size, workers=workers,
                executor=where_run, hide=[p for p in (source["data"], source["benchmark"])
                      if p and Path(p).is_file()],
                where=str(data_file or benchmark), on_start=bars.start("reflecting"),
                on_record=on_record)
    except _errors() as exc:
        kept = (out_dir / SEQUENCES).exists()
        raise fail(f"{exc}" + (f" (finished sequences are kept in {out_dir}; continue "
                               "with --resume)" if kept else "")) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; every finished sequence is in {out_dir}/{SEQUENCES} — "
                   "continue with the same command and --resume", code=130) from None
    finally:
        if lm is not None:
            lm.close()
    out.print(_summary_table(summary, escape(f"reflection sequences — {out_dir}")))
    if summary["skipped_no_tests"]:
        console.print(f"skipped {len(summary['skipped_no_tests'])} problem(s) without tests")
    tokens = summary["tokens"]
    out.print(f"tokens: {tokens['prompt']} prompt + {tokens['completion']} completion; this "
              f"session {summary['this_session']['sequences']} sequences in "
              f"{summary['this_session']['seconds']:.1f} s", soft_wrap=True)
    console.print(f"training samples: {escape(str(out_dir))}/{DATA_FILE}", soft_wrap=True)


@data_app.command("codefeedback")
def codefeedback_command(
    out_file: Path = typer.Option(..., "--out", help="The instruction data to write (the "
                                  "paper recipe's code_instruct.jsonl), one type: generation "
                                  "record per row."),
    data: Path | None = typer.Option(None, "--data", help="A local JSONL/parquet copy of "
                                     "CodeFeedback (fields query, answer) instead of the "
                                     "hub's m-a-p/CodeFeedback-Filtered-Instruction."),
    limit: int | None = typer.Option(None, min=0, help="Only the first N rows."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Leave out rows with a "
                                      "missing or blank query/answer (counted) instead of "
                                      "stopping at the first."),
) -> None:
    """Build the ReflectionCoder paper's instruction data from CodeFeedback, cleaned as the
    original (HTML entities decoded; in answers CRLF -> LF, tabs -> 4 spaces, stripped)."""
    from motcoder.datagen.codefeedback import build_code_instruct

    if data is not None and not data.is_file():
        raise fail(f"--data {data}: no such file")
    try:
        report = build_code_instruct(out_file, data, limit=limit, skip_invalid=skip_invalid)
    except user_errors() as exc:
        raise fail(f"{exc} (nothing written to {out_file})") from None
    for row in report.skipped_rows:
        console.print(f"skipped {escape(row)}", soft_wrap=True)
    table = Table(title=escape(f"CodeFeedback instruction data — {report.source}"))
    for name in ("read", "written", "skipped"):
        table.add_column(name, justify="right")
    table.add_row(str(report.read), str(report.written), str(report.skipped))
    out.print(table)
    console.print(f"instruction data: {escape(str(out_file))}", soft_wrap=True)


def _volatile() -> frozenset[str]:
    from motcoder.datagen.reflection_sequences import REFLECT_VOLATILE

    return REFLECT_VOLATILE


# ----------------------------------------------------------------------------- train reflection
@train_app.command("reflection")
def train_reflection_command(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML/JSON settings file "
                                       "(see configs/reflection/)."),
    data: list[str] | None = typer.Option(None, "--data", help="Training data PATH[:WEIGHT] "
                                          "in the ReflectionSeq schema (reflection and "
                                          "generation records); repeatable. Replaces the "
                                          "config's data."),
    model: str | None = BASE_MODEL,
    out_dir: Path | None = TRAIN_OUT,
    max_steps: int | None = MAX_STEPS,
    overrides: list[str] | None = SET,
) -> None:
    """Reflection self-distillation (ReflectionCoder): teacher and student views of every
    reflection sample, dynamic block masks, KL on the final answer.

    The result, OUT/final, is a full model + tokenizer: motcoder run --model hf:OUT/final.
    """
    from motcoder.training.reflection_distill import load_reflection_settings, train_reflection
    from motcoder.training.settings import TrainingError

    try:
        settings = load_reflection_settings(
            config, overrides or [], model=model, data=data or None,
            out=str(out_dir) if out_dir is not None else None, max_steps=max_steps)
        stage = {"value": None}

        def on_log(record: dict[str, Any]) -> None:
            if "mask_stage" in record and record["mask_stage"] != stage["value"]:
                stage["value"] = record["mask_stage"]
                console.print(f"step {record.get('step')}: mask stage {record['mask_stage']}")

        final = train_reflection(settings, on_log=on_log)
    except (TrainingError, *user_errors()) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; checkpoints so far are in {settings.out} — run the same "
                   "command again to resume from the last one", code=130) from None
    out.print(f"final model: {escape(str(final))}   (use it: motcoder run --model "
              f"hf:{escape(str(final))})")
