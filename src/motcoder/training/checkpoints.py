"""The run directory of a training run, and resuming it.

``OUT/`` holds ``sft_settings.json`` (the settings of the run), ``checkpoint-N/`` (written by
the trainer every ``save_steps``), ``loss.jsonl`` (one record per logging step),
``data_report.json``, and at the end ``adapter/`` (LoRA) and ``final/`` (the full model +
tokenizer, with ``motcoder-training.json`` written last as the completion marker).

Running again with the same ``OUT``:

* finished (``final/`` complete) → nothing to do, the final directory is returned;
* checkpoints present → training resumes from the last one (``resume_from_checkpoint``);
  loss records logged after that checkpoint are dropped first, so none is duplicated;
* the settings differ (other than the few in `FREE_ON_RESUME`) from those of a run that has
  checkpoints → refused, naming the setting. (A run that failed before its first checkpoint
  may be started again with other settings.)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motcoder.training.settings import SFTSettings, TrainingError

SETTINGS_FILE = "sft_settings.json"
LOSS_LOG = "loss.jsonl"
DATA_REPORT = "data_report.json"
FINAL = "final"
ADAPTER = "adapter"
DONE_MARKER = "motcoder-training.json"
# Settings that do not change what is trained: they may differ when a run is resumed.
FREE_ON_RESUME = frozenset({"logging_steps", "save_steps", "save_total_limit", "keep_adapter",
                            "deepspeed", "out"})


def is_main_process() -> bool:
    """Rank 0 (or no distributed launcher): the process that writes files."""
    return os.environ.get("RANK", "0") == "0"


@dataclass
class RunState:
    """What the run directory says: a finished final model, a checkpoint to resume, or
    neither."""

    out: Path
    finished: Path | None = None
    checkpoint: Path | None = None

    @property
    def checkpoint_step(self) -> int:
        return int(self.checkpoint.name.rsplit("-", 1)[1]) if self.checkpoint else 0


def final_dir(out: Path) -> Path:
    return out / FINAL


def is_finished(out: Path) -> bool:
    return (final_dir(out) / DONE_MARKER).is_file()


def last_checkpoint(out: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    if not out.is_dir():
        return None
    found = get_last_checkpoint(str(out))
    return Path(found) if found else None


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted((set(old) | set(new)) - FREE_ON_RESUME)
    return [f"{k} ({old.get(k)!r} → {new.get(k)!r})" for k in keys if old.get(k) != new.get(k)]


def prepare_run_dir(settings: SFTSettings, record: bool = True) -> RunState:
    """Check ``settings.out`` (see the module docstring) and, with ``record``, write the
    settings file at once (`train_sft` records them later, once its data has loaded)."""
    out = Path(settings.out)
    state = RunState(out)
    path = out / SETTINGS_FILE
    current = json.loads(json.dumps(settings.to_dict()))
    main = is_main_process()  # the other ranks of a distributed run only read the state
    started = is_finished(out) or last_checkpoint(out) is not None
    if main and path.is_file():
        saved = json.loads(path.read_text())
        differ = _differences(saved, current)
        if differ and started:
            raise TrainingError(f"{out} holds a training run with other settings: "
                                f"{'; '.join(differ)}. Use another output directory, or the "
                                "same settings to resume it")
    elif main and out.is_dir() and any(out.iterdir()):
        raise TrainingError(f"{out} is not empty and holds no motcoder training run "
                            f"({SETTINGS_FILE} missing); choose another output directory")
    if is_finished(out):
        state.finished = final_dir(out)
        return state
    state.checkpoint = last_checkpoint(out)
    if record:
        record_settings(settings)
    return state


def record_settings(settings: SFTSettings) -> None:
    """Write ``sft_settings.json`` (once the run is about to train: a run that failed while
    preparing can be started again with corrected settings)."""
    if is_main_process():
        out = Path(settings.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / SETTINGS_FILE).write_text(json.dumps(settings.to_dict(), indent=2) + "\n")


def trim_loss_log(out: Path, step: int) -> int:
    """Drop loss records after ``step`` (logged after the checkpoint being resumed, so they
    will be logged again); returns how many were dropped."""
    path = out / LOSS_LOG
    if not path.is_file() or not is_main_process():
        return 0
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line).get("step", 0) <= step]
    if len(kept) != len(lines):
        path.write_text("".join(line + "\n" for line in kept))
    return len(lines) - len(kept)


def read_loss_log(out: Path) -> list[dict[str, Any]]:
    path = Path(out) / LOSS_LOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
