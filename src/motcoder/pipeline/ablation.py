"""``motcoder experiment mot-ablation``: normal vs Module-of-Thought fine-tuning, one command.

From one base model and one set of training settings it trains two models and evaluates
three on the same problems, giving MoTCoder's Table 2 shape (pass@k per difficulty + all):

* ``base``       the base model as it is;
* ``normal-ft``  fine-tuned on normal data (reference solutions, ``motcoder data export
                 --from-references``);
* ``mot-ft``     fine-tuned on MoT data (accepted rewrites, ``motcoder data export``).

Layout of the experiment directory ``out``::

    experiment.json          the settings (checked on --resume)
    normal-ft/ mot-ft/       training runs (checkpoints, loss.jsonl, final/)
    eval-base/ eval-normal-ft/ eval-mot-ft/   `motcoder run` directories
    ablation.json ablation.md                 the comparison

Every step skips what is finished and continues what was interrupted (training resumes
from its last checkpoint, evaluation from its last sample), so a killed experiment is
continued by running the same command again with ``--resume``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motcoder.pipeline.generate import Sampling
from motcoder.pipeline.run import RunSettings, run
from motcoder.runs import RunDirError, config_differences, read_json, write_json
from motcoder.scoring.evaluate import EvalOptions
from motcoder.scoring.tables import comparison_markdown

ARMS = ("base", "normal-ft", "mot-ft")


@dataclass
class AblationEval:
    """Where and how the three models are evaluated (one `motcoder run` each)."""

    benchmark: str = "apps"
    data: str | None = None
    split: str | None = None
    difficulty: list[str] | None = None
    limit: int | None = None
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    seed: int = 0
    ks: list[int] | None = None
    # prompt style per arm: the MoT-tuned model is asked in MoT style, the others normally
    styles: dict[str, str] = field(default_factory=lambda: {
        "base": "normal", "normal-ft": "normal", "mot-ft": "mot"})


@dataclass
class AblationSettings:
    """One ablation: base model, the two data sets, shared training settings, evaluation.

    ``train`` holds any `motcoder.training.settings.SFTSettings` field except ``model``,
    ``data`` and ``out`` (set here per arm), e.g. ``{"finetune": "lora", "max_steps": 40}``;
    ``train_config`` optionally names an SFT config file those settings apply on top of.
    """

    model: str = "embedded"
    normal_data: list[str] = field(default_factory=list)
    mot_data: list[str] = field(default_factory=list)
    train_config: str | None = None
    train: dict[str, Any] = field(default_factory=dict)
    eval: AblationEval = field(default_factory=AblationEval)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AblationSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown ablation setting {unknown[0]!r}; accepted: "
                             f"{', '.join(sorted(names))}")
        values = dict(values)
        eval_values = values.pop("eval", None) or {}
        eval_names = {f.name for f in dataclasses.fields(AblationEval)}
        bad = sorted(set(eval_values) - eval_names)
        if bad:
            raise ValueError(f"unknown setting eval.{bad[0]!r}; accepted in eval: "
                             f"{', '.join(sorted(eval_names))}")
        settings = cls(**values, eval=AblationEval(**eval_values))
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.normal_data:
            raise ValueError("normal_data is empty: give the normal training data (e.g. from "
                             "`motcoder data export --from-references`)")
        if not self.mot_data:
            raise ValueError("mot_data is empty: give the MoT training data (from "
                             "`motcoder data export`)")
        reserved = {"model", "data", "out"} & set(self.train)
        if reserved:
            raise ValueError(f"train.{sorted(reserved)[0]} is set by the ablation itself; "
                             "remove it from train")
        missing = set(ARMS) - set(self.eval.styles)
        if missing:
            raise ValueError(f"eval.styles needs a prompt style for {sorted(missing)[0]}")
        for arm, style in self.eval.styles.items():
            if style not in ("normal", "mot", "mot-given-modules"):
                raise ValueError(f"eval.styles.{arm}: unknown prompt style {style!r}")


@dataclass
class AblationHooks:
    """Callbacks for a front end; all optional."""

    step: Callable[[str], None] | None = None              # a step starts: its name
    run_progress: Callable[[str], Any] | None = None       # arm -> pipeline.run Progress


def _train_arm(settings: AblationSettings, arm: str, out: Path) -> Path:
    from motcoder.training.settings import load_settings
    from motcoder.training.sft import train_sft

    data = settings.normal_data if arm == "normal-ft" else settings.mot_data
    sft = load_settings(settings.train_config, [], **{
        **settings.train, "model": settings.model, "data": list(data),
        "out": str(out / arm)})
    return Path(train_sft(sft))


def _eval_arm(settings: AblationSettings, arm: str, model: str, out: Path, resume: bool,
              hooks: AblationHooks, workers: int | None) -> dict[str, Any]:
    e = settings.eval
    run_settings = RunSettings(
        model=model, benchmark=e.benchmark, data=e.data, split=e.split,
        difficulty=e.difficulty, limit=e.limit, solver="direct", style=e.styles[arm],
        sampling=Sampling(n=e.n, temperature=e.temperature, top_p=e.top_p,
                          max_new_tokens=e.max_new_tokens, seed=e.seed),
        evaluation=EvalOptions(), ks=e.ks)
    run_dir = out / f"eval-{arm}"
    progress = hooks.run_progress(arm) if hooks.run_progress else None
    return run(run_settings, run_dir, resume=resume and (run_dir / "config.json").exists(),
               workers=workers, progress=progress)


def _start(settings: AblationSettings, out: Path, resume: bool) -> None:
    path = out / "experiment.json"
    config = {"experiment": "mot-ablation", **settings.to_dict()}
    if path.exists():
        if not resume:
            raise RunDirError(f"{out} already holds an experiment: continue it with --resume "
                              "or choose another --out")
        differences = config_differences(read_json(path), config)
        if differences:
            raise RunDirError(f"{path}: the settings differ from the experiment being "
                              f"resumed: {'; '.join(differences)}")
        return
    out.mkdir(parents=True, exist_ok=True)
    write_json(path, config)


def run_ablation(settings: AblationSettings, out: str | Path, *, resume: bool = False,
                 workers: int | None = None, hooks: AblationHooks | None = None,
                 ) -> dict[str, dict[str, Any]]:
    """Train both arms, evaluate all three; write ``ablation.json``/``.md``; return the
    summaries by arm."""
    settings.validate()
    out = Path(out)
    hooks = hooks or AblationHooks()
    _start(settings, out, resume)
    models = {"base": settings.model}
    for arm in ("normal-ft", "mot-ft"):
        if hooks.step:
            hooks.step(f"training {arm}")
        models[arm] = f"hf:{_train_arm(settings, arm, out)}"
    summaries: dict[str, dict[str, Any]] = {}
    for arm in ARMS:
        if hooks.step:
            hooks.step(f"evaluating {arm}")
        summaries[arm] = _eval_arm(settings, arm, models[arm], out, resume, hooks, workers)
    k = (settings.eval.ks or [1])[0]
    write_json(out / "ablation.json", {"k": k, "models": models, "summaries": summaries})
    title = f"pass@{k} % on {settings.eval.benchmark} — base {settings.model}"
    (out / "ablation.md").write_text(comparison_markdown(summaries, k, title), encoding="utf-8")
    return summaries


def read_settings(path: str | Path) -> AblationSettings:
    """Ablation settings from a YAML or JSON file."""
    from motcoder.training.settings import read_config_file

    values = read_config_file(path)
    try:
        return AblationSettings.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
