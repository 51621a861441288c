"""Trainer callbacks: the loss log (``OUT/loss.jsonl``) and progress reporting."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


class LossLogger(TrainerCallback):
    """Append every log of the trainer (loss, learning rate, grad norm, ...) as one JSON line
    ``{"step", "epoch", "time", ...}``, flushed at once, from the main process only."""

    def __init__(self, path: str | Path,
                 on_record: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.path = Path(path)
        self.on_record = on_record

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step, "epoch": state.epoch, "time": time.time(),
                  **{k: v for k, v in logs.items() if isinstance(v, (int, float, str))}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.on_record is not None:
            self.on_record(record)
