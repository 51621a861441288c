"""μCode expert iteration: `train_mucode(settings)` — rollouts → verifier → relabel → generator.

Round r (``OUT/round-r/``), each step skipped when its output is complete:

1. **rollouts** (``rollouts.jsonl``, one record per problem, appended as each problem's N
   episodes finish): the round's generator (round 0: the base model; round r: the generator
   of round r−1) plays N episodes of at most T turns per training problem in the μCode
   environment (`motcoder.solvers.multi_turn.rollout`: public tests → feedback). Every turn's
   program is then judged on the private tests (the oracle; the final turn's verdict is the
   trajectory's success);
2. **verifier** (``verifier/``, ``mucode`` only): trained *from the base model* on the
   candidates of every round so far (every turn's response, labelled by its private-test
   verdict). Round 0 trains it on the base model's rollouts before relabeling, as the paper's
   script does — relabeling needs a verifier score for every final program;
3. **scores** (``scores.json``): the round's verifier scores each final response;
4. **relabel** (``sft.jsonl``): `motcoder.datagen.relabel` — ``mucode``: successful
   trajectories → their own answer, the 3 best-scored failed ones → y*; ``rft``: successful
   trajectories only;
5. **generator** (``generator/``): `train_sft` *from the base model* on the relabeled rows of
   every round so far, loss on the final assistant turn only (TRL prompt-completion rows;
   the rows of earlier assistant turns in a state are removed; counts in
   ``generator_rows.json``). ``generator/final`` is a full
   checkpoint: ``load_model("hf:OUT/round-r/generator/final")``.

``OUT/mucode_settings.json`` holds the settings; a second run with other settings that
change what is trained is refused. The verifier and generator runs resume from their own
checkpoints (``motcoder.training.checkpoints``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motcoder.datagen.relabel import METHODS, Row, Trajectory, Turn, build_rows
from motcoder.runs import JsonlStore, atomic_writer, read_jsonl
from motcoder.training.settings import (
    TrainingError,
    apply_dotted,
    build_settings,
    read_config_file,
)
from motcoder.training.verifier import Candidate, VerifierSettings

SETTINGS_FILE = "mucode_settings.json"
ROLLOUTS = "rollouts.jsonl"
SCORES = "scores.json"
SFT_DATA = "sft.jsonl"
GENERATOR_ROWS = "generator_rows.json"
FREE = frozenset({"out", "workers", "batch_size"})

Progress = Callable[[str], None]


@dataclass
class MucodeSettings:
    """Expert iteration settings (``configs/mucode/*.yaml``).

    ``model`` base model spec (every verifier and generator starts from it); ``problems`` a
    problem file or benchmark name (``mbpp`` ...) with ``split`` / ``limit``; ``method``
    ``mucode`` | ``rft``; ``rounds``; ``rollouts`` N episodes per problem; ``turns`` T;
    ``temperature``, ``top_p``, ``max_new_tokens``, ``style`` (prompt style), ``batch_size``
    (generation requests per model call); ``num_relabel`` failed trajectories relabeled per
    problem; ``relabel_unsolved``; ``workers`` sandbox processes; ``cpu_limit`` seconds per
    test; ``verifier`` / ``generator`` settings of the two training runs (any
    `VerifierSettings` / `SFTSettings` field but model, data and out); ``verifier_extra``
    labelled candidate files / judged run directories added to every round's verifier data
    (not in the paper — empty by default; useful when a weak base model solves nothing, so
    the rollouts alone hold no (passing, failing) pair).
    """

    model: str = "embedded"
    problems: str = ""
    split: str | None = None
    limit: int | None = None
    method: str = "mucode"
    rounds: int = 2
    rollouts: int = 15
    turns: int = 3
    temperature: float = 0.7
    top_p: float = 1.0
    max_new_tokens: int = 512
    style: str = "normal"
    batch_size: int = 32
    num_relabel: int = 3
    relabel_unsolved: bool = True
    seed: int = 0
    workers: int = 2
    cpu_limit: float = 4.0
    verifier: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)
    verifier_extra: list[str] = field(default_factory=list)
    out: str = "runs/mucode"

    def validate(self) -> MucodeSettings:
        if self.method not in METHODS:
            raise TrainingError(f"method must be one of {', '.join(METHODS)}, got "
                                f"{self.method!r}")
        if not self.problems:
            raise TrainingError("no training problems: set problems (a problem file or a "
                                "benchmark name, e.g. mbpp with split train)")
        for name in ("rounds", "rollouts", "turns", "batch_size", "workers"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name} must be at least 1, got {getattr(self, name)}")
        for part in ("verifier", "generator"):
            taken = {"model", "data", "out"} & set(getattr(self, part))
            if taken:
                raise TrainingError(f"{part}.{sorted(taken)[0]} is set by expert iteration "
                                    "(the base model, the aggregated data, OUT/round-k)")
        self.verifier_settings(Path(self.out), [])   # unknown keys show now
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def verifier_settings(self, out: Path, data: list[str]) -> VerifierSettings:
        values = {**self.verifier, "model": self.model, "data": data, "out": str(out)}
        return build_settings(VerifierSettings, values, "verifier.")

    def generator_settings(self, out: Path, data: list[str]) -> Any:
        from motcoder.training.settings import load_settings

        values = {**self.generator, "model": self.model, "data": data, "out": str(out),
                  # states are kept exactly as played; one row per state, loss on the target
                  "loss_mask": "completion", "prompt_style": "data", "layout": "one-step"}
        return load_settings(None, [], **values)


def load_mucode_settings(config: str | Path | None = None, overrides: Iterable[str] = (),
                         **fields: Any) -> MucodeSettings:
    values = read_config_file(config) if config is not None else {}
    values = apply_dotted(values, overrides)
    values.update({k: v for k, v in fields.items() if v is not None})
    return build_settings(MucodeSettings, values).validate()


# ============================================================================ run directory


def round_dir(out: Path, index: int) -> Path:
    return out / f"round-{index}"


def check_run_dir(settings: MucodeSettings) -> Path:
    """Create ``OUT`` or check that it holds a run with the same settings."""
    out = Path(settings.out)
    path = out / SETTINGS_FILE
    current = json.loads(json.dumps(settings.to_dict()))
    if path.is_file():
        saved = json.loads(path.read_text())
        differ = sorted(k for k in set(saved) | set(current)
                        if k not in FREE and k != "rounds" and saved.get(k) != current.get(k))
        if differ:
            raise TrainingError(f"{out} holds an expert-iteration run with other settings "
                                f"({', '.join(differ)}); use another output directory")
    elif out.is_dir() and any(out.iterdir()):
        raise TrainingError(f"{out} is not empty and holds no expert-iteration run")
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n")
    return out


def read_trajectories(path: Path) -> list[Trajectory]:
    if not path.is_file():
        return []
    return [Trajectory.from_dict(t) for record in read_jsonl(path)
            for t in record["trajectories"]]


# ============================================================================ the steps


def _convert(played: Any, round_: int) -> Trajectory:
    """A multi-turn environment trajectory as a relabel `Trajectory`."""
    turns = [Turn(messages=t.messages, response=t.response, code=t.code,
                  public_passed=t.public_passed, public_total=t.public_total,
                  feedback=t.feedback) for t in played.turns]
    return Trajectory(task_id=played.task_id, index=played.index, turns=turns, round=round_)


def judge_turns(trajectory: Trajectory, problem: Any, judge: Any) -> None:
    """The oracle on every turn's program (private + generated tests, never public)."""
    from motcoder.solvers.multi_turn import MUCODE_JUDGE

    tests = problem.tests_of(*MUCODE_JUDGE)
    if not tests:
        raise TrainingError(f"problem {problem.id!r} has no private tests to judge on")
    for turn in trajectory.turns:
        if not turn.code.strip():
            turn.private_passed = False
            continue
        outcomes, _ = judge.run_tests(problem, turn.code, tests, early_stop=True)
        turn.private_passed = all(o.passed for o in outcomes)
    trajectory.passed = trajectory.final.private_passed


def roll_out(settings: MucodeSettings, problems: list[Any], model_spec: str, path: Path,
             round_: int, judge: Any, progress: Progress, generator: Any = None
             ) -> list[Trajectory]:
    """Step 1: N episodes per problem not yet in ``path``, appended problem by problem.
    ``generator``: `GeneratorOptions` (default: the model in this process)."""
    from motcoder.models.generators import open_model
    from motcoder.solvers.base import derive_seed
    from motcoder.solvers.multi_turn import rollout

    with JsonlStore(path, key=lambda r: r["task_id"]) as store:
        todo = [p for p in problems if p.id not in store]
        if todo:
            progress(f"round {round_}: rolling out {len(todo)} problems × "
                     f"{settings.rollouts} with {model_spec}")
            model = open_model(model_spec, generator)
            try:
                # as many problems per call as fill a generation batch
                chunk = max(1, settings.batch_size // settings.rollouts)
                for start in range(0, len(todo), chunk):
                    part = todo[start:start + chunk]
                    played = rollout(part, model, judge, n=settings.rollouts,
                                     turns=settings.turns, temperature=settings.temperature,
                                     top_p=settings.top_p,
                                     max_new_tokens=settings.max_new_tokens,
                                     seed=derive_seed(settings.seed, "round", round_),
                                     style=settings.style, batch_size=settings.batch_size)
                    for problem in part:
                        mine = [_convert(t, round_) for t in played if t.task_id == problem.id]
                        for trajectory in mine:
                            judge_turns(trajectory, problem, judge)
                        store.append({"task_id": problem.id,
                                      "trajectories": [t.to_dict() for t in mine]})
                    progress(f"round {round_}: {min(start + chunk, len(todo))}/{len(todo)} "
                             "problems rolled out")
            finally:
                model.close()
    return read_trajectories(path)


def verifier_candidates(trajectories: Iterable[Trajectory]) -> list[Candidate]:
    """Every turn's response as a labelled candidate for the verifier."""
    return [Candidate(t.task_id, t.prompt, turn.response, turn.private_passed,
                      t.index, position)
            for t in trajectories for position, turn in enumerate(t.turns)
            if turn.private_passed is not None]


def score_finals(verifier_dir: Path, trajectories: list[Trajectory], path: Path
                 ) -> dict[str, float]:
    """Step 3: the verifier's score of every final response (``task_id#index`` → score)."""
    if path.is_file():
        return json.loads(path.read_text())
    from motcoder.training.verifier import load_verifier

    verifier = load_verifier(verifier_dir)
    values = verifier.score_many([t.prompt for t in trajectories],
                                 [t.final.response for t in trajectories])
    scores = {f"{t.task_id}#{t.index}": v for t, v in zip(trajectories, values, strict=True)}
    with atomic_writer(path) as fh:
        fh.write(json.dumps(scores, indent=1) + "\n")
    return scores


def write_rows(rows: list[Row], path: Path) -> None:
    """Step 4's output: chat records, written at once (atomic rename)."""
    with atomic_writer(path) as fh:
        fh.writelines(json.dumps(r.chat_record()) + "\n" for r in rows)


def final_turn_only(data_files: list[Path], record: Path | None = None
                    ) -> Callable[[Any], None]:
    """An ``on_prepared`` hook for `train_sft`: keep only the prompt-completion row of each
    conversation's LAST assistant turn (TRL makes one row per assistant turn; the earlier
    ones are the generator's own attempts inside the state). ``record``: a JSON file for the
    counts (``train_sft`` writes its ``data_report.json`` before the hook runs, so the
    report's ``rows`` counts the rows before this filter)."""
    wanted = set()
    for path in data_files:
        for line in path.read_text().splitlines():
            if line.strip():
                wanted.add(json.dumps(json.loads(line)["messages"], sort_keys=True))

    def hook(prepared: Any) -> None:
        kept = [row for row in prepared.rows
                if json.dumps([*row["prompt"], *row["completion"]], sort_keys=True) in wanted]
        if not kept:
            raise TrainingError("no generator rows left after keeping final turns only")
        if record is not None:
            record.write_text(json.dumps({"rows_from_data": len(prepared.rows),
                                          "final_turn_rows": len(kept)}) + "\n")
        prepared.rows[:] = kept
        prepared.report.rows = len(kept)

    return hook


# ============================================================================ the loop


@dataclass
class RoundResult:
    index: int
    directory: Path
    trajectories: int
    solved: int                  # trajectories whose final program passes
    rows: int
    verifier: Path | None
    generator: Path


def run_round(settings: MucodeSettings, out: Path, index: int, problems: list[Any],
              judge: Any, progress: Progress, generator: Any = None) -> RoundResult:
    directory = round_dir(out, index)
    directory.mkdir(parents=True, exist_ok=True)
    spec = settings.model if index == 0 else \
        f"hf:{round_dir(out, index - 1) / 'generator' / 'final'}"
    trajectories = roll_out(settings, problems, spec, directory / ROLLOUTS, index, judge,
                            progress, generator)
    verifier = None
    if settings.method == "mucode":
        history = [t for k in range(index + 1)
                   for t in read_trajectories(round_dir(out, k) / ROLLOUTS)]
        progress(f"round {index}: training the verifier on {len(history)} trajectories")
        from motcoder.training.verifier import read_candidates, train_verifier

        extra = read_candidates(settings.verifier_extra) if settings.verifier_extra else []
        verifier = train_verifier(settings.verifier_settings(directory / "verifier", []),
                                  candidates=verifier_candidates(history) + extra)
        scores = score_finals(verifier, trajectories, directory / SCORES)
        for t in trajectories:
            t.score = scores[f"{t.task_id}#{t.index}"]
    data = directory / SFT_DATA
    if not data.is_file():
        rows = build_rows(trajectories, settings.method, num_relabel=settings.num_relabel,
                          relabel_unsolved=settings.relabel_unsolved)
        write_rows(rows, data)
    files = [round_dir(out, k) / SFT_DATA for k in range(index + 1)]
    files = [f for f in files if f.stat().st_size > 0]
    if not files:
        raise TrainingError(f"round {index}: no generator training rows (no trajectory solved "
                            "a problem and nothing was relabeled)")
    progress(f"round {index}: training the generator on {len(files)} round(s) of rows")
    from motcoder.training.sft import train_sft

    generator = train_sft(settings.generator_settings(directory / "generator",
                                                      [str(f) for f in files]),
                          on_prepared=final_turn_only(files, directory / GENERATOR_ROWS))
    rows = sum(1 for line in data.read_text().splitlines() if line.strip())
    return RoundResult(index, directory, len(trajectories),
                       sum(bool(t.passed) for t in trajectories), rows, verifier, generator)


def train_mucode(settings: MucodeSettings, progress: Progress | None = None, *,
                 executor: Any = None, generator: Any = None) -> list[RoundResult]:
    """Run (or resume) every round; returns what each produced. The last round's
    ``generator/final`` is the μCode generator, its ``verifier/final`` the verifier.
    ``executor`` (`ExecutorOptions`) / ``generator`` (`GeneratorOptions`): where the
    rollouts' programs and model run (default: this machine; Ray for scale-out). Training
    itself scales with accelerate / DeepSpeed, not Ray."""
    from motcoder.problems.registry import load_problems
    from motcoder.sandbox.executors import open_sandbox
    from motcoder.sandbox.judge import Judge
    from motcoder.sandbox.limits import Limits
    from motcoder.sandbox.pool import SandboxConfig

    settings.validate()
    report = progress or (lambda message: None)
    out = check_run_dir(settings)
    try:
        problems = load_problems(settings.problems, split=settings.split, limit=settings.limit)
    except ValueError as exc:  # ProblemLoadError: a clear message naming the file / benchmark
        raise TrainingError(str(exc)) from None
    results: list[RoundResult] = []
    with open_sandbox(SandboxConfig(workers=settings.workers), executor) as sandbox:
        judge = Judge(sandbox, Limits(cpu_seconds=settings.cpu_limit))
        for index in range(settings.rounds):
            results.append(run_round(settings, out, index, problems, judge, report,
                                     generator))
    summary = [{**dataclasses.asdict(r), "directory": str(r.directory),
                "verifier": str(r.verifier) if r.verifier else None,
                "generator": str(r.generator)} for r in results]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return results
