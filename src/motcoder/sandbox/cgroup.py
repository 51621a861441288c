"""A memory cgroup per fork-server, so everything a run makes counts against its limit.

The address-space rlimit misses memory that is not mapped into the process: files in its
scratch tmpfs, memfds and shared memory (refused by seccomp, but not when seccomp is off),
page cache. A cgroup counts all of it. The harness makes one cgroup per server
(`make_cgroup`, under the harness's own memory cgroup, cgroup v2 or the v1 memory
hierarchy); the server opens its files before it leaves the host's filesystem
(`MemoryCgroup.open`); each child moves itself in during its set-up (moving costs ~0.05 ms:
measured on this project's CI machine), the zygote stays outside, and the server sets the
run's limit, with swap off, and reads the count of OOM kills after it.

Needs root (or a delegated cgroup); without one the layer is reported missing. Stdlib only:
it runs in the fork-server too.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

# Files of each version: limit, swap limit, where OOM kills are counted.
FILES = {
    1: ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.oom_control"),
    2: ("memory.max", "memory.swap.max", "memory.events"),
}
PREFIX = "motcoder-"


def _mounts() -> dict[int, str]:
    """Where the cgroup v2 hierarchy and the v1 memory hierarchy are mounted."""
    found: dict[int, str] = {}
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fstype, _, options = right.split()[:3]
                target = left.split()[4]
                if fstype == "cgroup2":
                    found.setdefault(2, target)
                elif fstype == "cgroup" and "memory" in options.split(","):
                    found.setdefault(1, target)
    except OSError:
        pass
    return found


def _own_cgroup(version: int) -> str | None:
    """This process's cgroup path in the hierarchy of ``version``."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                number, controllers, path = line.rstrip("\n").split(":", 2)
                if version == 2 and number == "0":
                    return path
                if version == 1 and "memory" in controllers.split(","):
                    return path
    except OSError:
        pass
    return None


def _v2_parent(mount: str) -> str | None:
    """A cgroup v2 directory whose children get the memory controller: our own when it is
    delegated so, else the root (which may hold processes), enabling it there."""
    own = _own_cgroup(2)
    candidates = [os.path.join(mount, own.lstrip("/"))] if own not in (None, "/") else []
    candidates.append(mount)
    for parent in candidates:
        try:
            with open(os.path.join(parent, "cgroup.subtree_control")) as f:
                if "memory" in f.read().split():
                    return parent
            with open(os.path.join(parent, "cgroup.subtree_control"), "w") as f:
                f.write("+memory")
            return parent
        except OSError:
            continue
    return None


def make_cgroup(label: str) -> tuple[int, str] | str:
    """Make a fresh memory cgroup for one server: ``(version, path)``, or why none could be
    made. Stale cgroups of harnesses that died are removed on the way."""
    errors = []
    for version, mount in sorted(_mounts().items(), reverse=True):  # v2 first
        parent = _v2_parent(mount) if version == 2 else None
        if version == 1:
            own = _own_cgroup(1)
            parent = os.path.join(mount, (own or "/").lstrip("/"))
        if parent is None:
            errors.append("cgroup v2: no memory controller to delegate")
            continue
        _remove_stale(parent)
        path = os.path.join(parent, f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{label}")
        try:
            os.mkdir(path)
        except OSError as exc:
            errors.append(f"cgroup v{version}: {exc.strerror}")
            continue
        return version, path
    return "; ".join(errors) or "no memory cgroup hierarchy is mounted"


def _remove_stale(parent: str) -> None:
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if name.startswith(PREFIX):
            pid = name[len(PREFIX):].split("-", 1)[0]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                remove_cgroup(os.path.join(parent, name))


def remove_cgroup(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass  # still in use (a server not yet reaped) or gone


@dataclass
class MemoryCgroup:
    """The open files of one server's cgroup (opened before the server's root changes)."""

    version: int
    procs: int       # cgroup.procs, for writing: a child writes "0" to move itself in
    limit: int       # memory limit file
    swap: int        # swap limit file (-1 when swap is not accounted)
    events: int      # where OOM kills are counted
    current_mb: int = -1  # -1: no limit yet
    oom_kills: int = 0

    @classmethod
    def open(cls, version: int, path: str) -> MemoryCgroup:
        limit, swap, events = FILES[version]
        try:
            swap_fd = os.open(os.path.join(path, swap), os.O_WRONLY)
        except OSError:
            swap_fd = -1
        group = cls(version, os.open(os.path.join(path, "cgroup.procs"), os.O_WRONLY),
                    os.open(os.path.join(path, limit), os.O_WRONLY), swap_fd,
                    os.open(os.path.join(path, events), os.O_RDONLY))
        if version == 2 and swap_fd >= 0:
            os.write(swap_fd, b"0")
        group.oom_kills = group.read_oom_kills()
        return group

    def set_limit(self, mb: int) -> None:
        """The limit of the next run (written only when it changes)."""
        if mb == self.current_mb:
            return
        value = str(mb << 20).encode()
        if self.version == 1 and self.swap >= 0:
            # memory + swap must stay >= memory: raise it first when raising, after when not
            raising = 0 <= self.current_mb < mb
            order = [self.swap, self.limit] if raising else [self.limit, self.swap]
            for fd in order:
                os.write(fd, value)
        else:
            os.write(self.limit, value)
        self.current_mb = mb

    def read_oom_kills(self) -> int:
        data = os.pread(self.events, 4096, 0).decode()
        for line in data.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def killed_since_last(self) -> bool:
        """Whether the OOM killer struck in this cgroup since the last call."""
        kills = self.read_oom_kills()
        struck = kills > self.oom_kills
        self.oom_kills = kills
        return struck
