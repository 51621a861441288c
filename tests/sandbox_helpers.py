"""Helpers shared by the sandbox tests: find a sandbox's processes on the host."""

from __future__ import annotations

import os

from motcoder.sandbox.pool import Sandbox


def sandbox_pids(sandbox: Sandbox) -> list[int]:
    """The host PIDs of one sandbox's fork-servers and everything forked from them: their
    environment names the sandbox's private work directory."""
    marker = b"MOTCODER_SANDBOX_ROOT=" + sandbox.root.encode() + b"\0"
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker in f.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids
