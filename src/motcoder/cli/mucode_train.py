"""μCode commands: ``motcoder train verifier``, ``motcoder train mucode``, ``motcoder score``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from motcoder.cli.common import (
    BASE_MODEL,
    EXECUTOR,
    GENERATOR,
    MAX_STEPS,
    RAY_ADDRESS,
    RAY_WORKERS,
    REPLICA_GPUS,
    REPLICAS,
    SET,
    TRAIN_OUT,
    app,
    console,
    executor_options,
    fail,
    generator_options,
    out,
    user_errors,
)
from motcoder.cli.train import train_app


@train_app.command("verifier")
def verifier(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML/JSON settings "
                                       "(see configs/mucode/)."),
    model: str | None = BASE_MODEL,
    data: list[str] | None = typer.Option(None, "--data", help="Candidate JSONL "
                                          "({task_id, prompt, response, passed}) or a judged "
                                          "motcoder run directory; repeatable."),
    out_dir: Path | None = TRAIN_OUT,
    loss: str | None = typer.Option(None, help="bt (Bradley-Terry pairs) | bce"),
    max_steps: int | None = MAX_STEPS,
    overrides: list[str] | None = SET,
) -> None:
    """Train μCode's learned verifier (one-score classifier on passing/failing pairs).

    The result, OUT/final, is scored with: motcoder score --verifier OUT --run RUN_DIR.
    """
    from motcoder.training.settings import TrainingError
    from motcoder.training.verifier import load_verifier_settings, train_verifier

    try:
        settings = load_verifier_settings(config, overrides or [], model=model,
                                          data=data or None, loss=loss, max_steps=max_steps,
                                          out=str(out_dir) if out_dir is not None else None)
        final = train_verifier(settings)
    except (TrainingError, *user_errors()) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted; run the same command again to resume", code=130) from None
    marker = final / "motcoder-verifier.json"
    if marker.is_file():
        summary = json.loads(marker.read_text())
        console.print(f"pairs/rows: {summary['data']['rows']}   steps: "
                      f"{summary['global_step']}   loss: {summary['first_loss']} → "
                      f"{summary['last_loss']}")
    out.print(f"verifier: {escape(str(final))}")


@train_app.command("mucode")
def mucode(
    config: Path = typer.Option(..., "--config", "-c", help="YAML/JSON settings (see "
                                "configs/mucode/)."),
    method: str | None = typer.Option(None, help="mucode (relabel with the verifier) | rft "
                                      "(successful trajectories only)."),
    out_dir: Path | None = TRAIN_OUT,
    rounds: int | None = typer.Option(None, help="Number of expert-iteration rounds."),
    overrides: list[str] | None = SET,
    executor: str = EXECUTOR, ray_workers: int | None = RAY_WORKERS,
    generator: str = GENERATOR, replicas: int | None = REPLICAS,
    replica_gpus: float = REPLICA_GPUS, ray_address: str | None = RAY_ADDRESS,
) -> None:
    """μCode expert iteration: rollouts → verifier → relabel → generator, per round.

    `--generator ray` / `--executor ray`: the rollouts' model replicas / programs on a Ray
    cluster (training scales with accelerate / DeepSpeed)."""
    from motcoder.training.expert_iteration import load_mucode_settings, train_mucode
    from motcoder.training.settings import TrainingError

    where = executor_options(executor, ray_address, ray_workers)
    generation = generator_options(generator, replicas, replica_gpus, ray_address)
    try:
        settings = load_mucode_settings(config, overrides or [], method=method, rounds=rounds,
                                        out=str(out_dir) if out_dir is not None else None)
        results = train_mucode(settings, progress=lambda m: console.print(escape(m)),
                               executor=where, generator=generation)
    except (TrainingError, *user_errors()) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted; run the same command again to resume", code=130) from None
    for r in results:
        out.print(f"round {r.index}: {r.solved}/{r.trajectories} trajectories solved, "
                  f"{r.rows} rows; generator {escape(str(r.generator))}"
                  + (f"; verifier {escape(str(r.verifier))}" if r.verifier else ""))


@app.command("score")
def score(
    verifier_dir: Path = typer.Option(..., "--verifier", help="A trained verifier (OUT or "
                                      "OUT/final of motcoder train verifier)."),
    run: Path | None = typer.Option(None, "--run", help="A motcoder run directory (its "
                                    "samples.jsonl; verdicts joined when present)."),
    candidates: Path | None = typer.Option(None, "--candidates", help="Candidate JSONL "
                                           "{task_id, prompt, response, passed?}."),
    out_file: Path | None = typer.Option(None, "--out", help="Scores JSONL (default: "
                                         "RUN/verifier_scores.jsonl or FILE.scores.jsonl)."),
    batch_size: int = typer.Option(8, min=1),
) -> None:
    """Score candidates with a learned verifier; one JSONL record per candidate."""
    from motcoder.training.settings import TrainingError
    from motcoder.training.verifier import (
        load_verifier,
        read_candidate_file,
        read_run_candidates,
    )

    if (run is None) == (candidates is None):
        raise fail("give exactly one of --run RUN_DIR or --candidates FILE")
    try:
        items = read_run_candidates(run, require_verdicts=False) if run is not None \
            else read_candidate_file(candidates)  # type: ignore[arg-type]
        target = out_file or (run / "verifier_scores.jsonl" if run is not None
                              else Path(str(candidates)).with_suffix(".scores.jsonl"))
        scorer = load_verifier(verifier_dir, batch_size=batch_size)
        values = scorer.score_many([c.prompt for c in items], [c.response for c in items])
    except (TrainingError, *user_errors()) as exc:
        raise fail(str(exc)) from None
    with target.open("w", encoding="utf-8") as handle:
        for c, value in zip(items, values, strict=True):
            handle.write(json.dumps({"task_id": c.task_id, "sample_index": c.sample_index,
                                     "round": c.round, "passed": c.passed,
                                     "score": value}) + "\n")
    out.print(f"{len(items)} scores: {escape(str(target))}")
