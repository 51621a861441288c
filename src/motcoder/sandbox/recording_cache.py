"""On-disk cache of assertion-script recordings, keyed by the content that determines them.

A recording (the argument lists an assertion script passes to the reference solution) depends
only on the reference program, the setup code, the script, the entry point, the replay seed
and the Python version. Evaluating the same benchmark again — every model, every checkpoint —
reuses them instead of running every reference solution again.

Location: ``$MOTCODER_CACHE/recordings`` (default ``~/.cache/motcoder/recordings``); the
directory is hidden from judged programs like other data caches. ``MOTCODER_NO_CACHE=1``
turns the cache off. Files are written atomically; a damaged file is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

FORMAT = 1


def cache_root() -> Path:
    return Path(os.environ.get("MOTCODER_CACHE") or Path.home() / ".cache" / "motcoder")


class RecordingCache:
    """Maps (reference, setup, script, entry point, seed) to recorded calls."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    @classmethod
    def default(cls) -> RecordingCache | None:
        if os.environ.get("MOTCODER_NO_CACHE") == "1":
            return None
        return cls(cache_root() / "recordings")

    @staticmethod
    def key(reference: str, setup: str, script: str, entry_point: str, seed: int) -> str:
        text = json.dumps([FORMAT, sys.version_info[:2], reference, setup, script,
                           entry_point, seed])
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> list[Any] | None:
        try:
            with open(self.directory / f"{key}.json", encoding="utf-8") as f:
                calls = json.load(f)
        except (OSError, ValueError):
            return None
        return calls if isinstance(calls, list) else None

    def put(self, key: str, calls: list[Any]) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(calls, f, separators=(",", ":"))
            os.replace(tmp, self.directory / f"{key}.json")
        except OSError:
            pass  # a cache that cannot be written only costs time
