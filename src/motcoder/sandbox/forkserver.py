"""The fork-server: a small warm process that forks one isolated child per program run.

Started by exec (``python -s -m motcoder.sandbox.forkserver CONFIG_JSON``), never forked from
the big harness process. At start it enters its namespaces once (mount, network, PID, IPC,
UTS; a user namespace first when not root), makes the whole filesystem read-only except a
private tmpfs, hides the paths it is told to (benchmark files, caches, run directories),
preloads common modules and freezes the GC. Then it forks its *zygote*: a copy of itself
that installs the seccomp filter and from then on only forks children and reaps them.

Why two processes: a fork shares every page of the forking process with the child until
one of them writes it, and each page written is then copied, at a cost of microseconds.
The server's own work per run (reading requests, writing replies) writes a few hundred
pages; done in the process that forks, while a child is alive, it paid a copy for each.
The zygote's loop writes only a handful.

Per request:

1. the server makes the run's files (stdin/stdout/stderr/results memfds, a request pipe, a
   private directory) and hands them to the zygote, which forks the child ahead of its
   request: the child enters its own session, takes the files as fds 0-4, gets rlimits
   (CPU, address space, file size, open files, no core), no_new_privs, no capabilities and
   the seccomp filter, then waits for its request and runs the program
   (`motcoder.sandbox.child`);
2. the server sends the request and waits with a wall-clock deadline for the zygote's
   report; past it, it kills the child's whole session. The zygote reaps the child with
   wait4 (CPU time, peak RSS), kills anything the child left behind, and reports;
3. the server sends back plain bytes: stdout (capped), stderr tail, the results channel.

Protocol on the inherited pipes (fds 0 and 1 at start): 4-byte big-endian length + pickle,
both ways. Only the trusted harness writes requests; children never see these pipes. A run
request carries the limits the server enforces, the stdin bytes, and the child's own request
already pickled by the harness (``child``): the server forwards those bytes to the child
as they are, without building the program, its arguments and its compiled code as objects
here — every page the server writes while a forked child shares it is copied.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import resource
import select
import signal
import socket
import struct
import sys
import time
from typing import Any

from motcoder.sandbox import child, kernel

EXITED = struct.Struct("=idq")  # zygote -> server: wait status, CPU seconds, peak RSS (KiB)
FORKED = struct.Struct("=i")    # zygote -> server: the child's pid, or -errno

# Modules solutions commonly import, loaded once here so children do not pay for them. Big
# ones (hashlib pulls in OpenSSL: +3.7 MB) are left out: every MB of server memory costs
# about 0.1 ms per fork on a VM, which every program pays, while a rare import costs only the
# program that makes it.
PRELOAD = (
    "abc", "array", "bisect", "cmath", "collections", "contextlib", "copy", "decimal", "enum",
    "fractions", "functools", "heapq", "itertools", "math", "numbers", "operator", "random",
    "re", "statistics", "string", "struct", "textwrap", "time", "typing",
)
# Never imported here: `threading` (its at-fork hook would run in every child, doubling the
# cost of a fork) and so neither pyseccomp (it imports subprocess, hence threading) — the
# seccomp programs are compiled by the harness and arrive as bytes in the configuration.
STDERR_TAIL = 8192
RESULTS_CAP = 64 << 20
SETUP_FAILED = 121  # exit status of a child whose isolation could not be set up


class Server:
    """State of one fork-server process."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.workdir: str = config["workdir"]
        self.layers: dict[str, str] = {}
        self.in_pid_ns = False
        self.bpf: bytes | None = None
        self.uid_dropped = False
        self.counter = 0
        self.base_vm = 0
        self.warm: tuple[int, list[int], int, str] | None = None
        self.supervisor: socket.socket | None = None
        self.zygote: socket.socket | None = None
        self.seccomp_on = False

    # ---------------------------------------------------------------- set-up
    def enter_namespaces(self) -> None:
        """Enter mount/net/PID/IPC/UTS namespaces once; degrade and report when refused."""
        if not self.config.get("namespaces", True):
            self.layers["namespaces"] = "off (disabled by configuration)"
            return
        base = (kernel.CLONE_NEWNS | kernel.CLONE_NEWNET | kernel.CLONE_NEWPID
                | kernel.CLONE_NEWIPC | kernel.CLONE_NEWUTS)
        uid, gid = os.getuid(), os.getgid()
        attempts = [(base, False)] if uid == 0 else []
        attempts.append((base | kernel.CLONE_NEWUSER, True))
        error = ""
        for flags, user_ns in attempts:
            try:
                kernel.unshare(flags)
            except OSError as exc:
                error = exc.strerror or str(exc)
                continue
            if user_ns:
                kernel.write_id_maps(uid, gid)
            self.layers["namespaces"] = "mount, network, pid, ipc, uts" + (
                " (inside a user namespace)" if user_ns else "")
            self.layers["network"] = "none (empty network namespace)"
            self._become_pid_one()
            self._setup_mounts()
            return
        self.layers["namespaces"] = f"unavailable ({error})"
        self.layers["network"] = "blocked by seccomp only (no network namespace)"

    def _become_pid_one(self) -> None:
        """After unshare(CLONE_NEWPID) the next child is PID 1 of the new namespace: fork it
        and let it be the server. This process stays outside the namespace as its
        supervisor: it answers the zygote's seccomp notifications and relays its exit."""
        outer, inner = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # Set before anything is sent: the supervisor learns the zygote's pid (as it sees
        # it) from the credentials the kernel attaches to the zygote's message.
        outer.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        pid = os.fork()
        if pid:
            inner.close()
            _supervise(outer, pid)  # never returns
        outer.close()
        self.supervisor = inner
        kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
        self.in_pid_ns = os.getpid() == 1

    def _setup_mounts(self) -> None:
        kernel.mount(None, "/", None, kernel.MS_REC | kernel.MS_PRIVATE)
        size = int(self.config.get("tmpfs_mb", 512))
        kernel.mount("tmpfs", self.workdir, "tmpfs", kernel.MS_NOSUID | kernel.MS_NODEV,
                     f"size={size}m,mode=0777")
        hidden = []
        for path in self.config.get("hide", []):
            try:
                if os.path.isdir(path):
                    kernel.mount("tmpfs", path, "tmpfs",
                                 kernel.MS_RDONLY | kernel.MS_NOSUID | kernel.MS_NODEV,
                                 "size=4k,mode=0555")
                elif os.path.exists(path):
                    kernel.mount("/dev/null", path, None, kernel.MS_BIND)
                else:
                    continue
                hidden.append(path)
            except OSError as exc:
                self.layers.setdefault("hide_failures", "")
                self.layers["hide_failures"] += f"{path}: {exc.strerror}; "
        failures = kernel.make_read_only([self.workdir])
        self.layers["filesystem"] = (
            "read-only except a private tmpfs"
            + (f" ({len(failures)} mounts could not be remounted)" if failures else "")
        )
        self.layers["hidden_paths"] = str(len(hidden))
        if self.in_pid_ns:
            try:
                kernel.mount("proc", "/proc", "proc",
                             kernel.MS_NOSUID | kernel.MS_NODEV | kernel.MS_NOEXEC)
                self.layers["proc"] = "private /proc (only this sandbox's processes)"
            except OSError as exc:
                self.layers["proc"] = f"host /proc ({exc.strerror})"

    def prepare(self) -> None:
        for name in PRELOAD:
            try:
                __import__(name)
            except ImportError:
                pass
        # no_new_privs first: needed to install seccomp filters, inherited by every child.
        kernel.prctl(kernel.PR_SET_NO_NEW_PRIVS, 1)
        # Not dumpable (inherited by the zygote and every child): a process of the same user
        # may then not open another's /proc/PID/fd or mem — without it a program could reach
        # the server's pipes to the harness through /proc/1/fd and forge a reply.
        kernel.prctl(kernel.PR_SET_DUMPABLE, 0)
        self.layers["proc_access"] = "none to other processes (not dumpable)"
        self.layers["pid_namespace"] = "yes" if self.in_pid_ns else "no"
        self.layers["rlimits"] = "cpu, address space, file size, open files, core"
        # The server needs no capability once its mounts are in place; children inherit none.
        try:
            kernel.drop_capabilities()
            self.layers["capabilities"] = "none (all dropped), no_new_privs"
        except OSError as exc:
            self.layers["capabilities"] = f"could not drop ({exc.strerror}), no_new_privs"
        child.prepare_stdio()
        # Default dispositions for the children, set here once (each child would otherwise
        # pay for Python's signal wrapper): the server itself is in its own session and
        # ends on any of these anyway.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        self.base_vm = _vm_size()
        gc.collect()
        gc.freeze()

    def _setup_seccomp(self) -> None:
        """In the zygote: install the filter once when a supervisor can approve the zygote's
        own forks (children then inherit it for free); else install it in each child."""
        if not self.config.get("seccomp", True):
            self.layers["seccomp"] = "off (disabled by configuration)"
            return
        what = "no fork/exec, no sockets but AF_UNIX, no ptrace, no signals to other processes"
        programs = {k: bytes.fromhex(v) for k, v in self.config.get("seccomp_bpf", {}).items()}
        if not programs:
            self.layers["seccomp"] = "unavailable (" + self.config.get(
                "seccomp_error", "no filter was compiled") + ")"
            return
        try:
            if self.supervisor is not None:
                listener = kernel.install_seccomp_with_listener(programs["supervised"])
                socket.send_fds(self.supervisor, [b"L"], [listener])
                os.close(listener)
                if self.supervisor.recv(1) != b"K":
                    raise OSError("the seccomp supervisor did not answer")
                self.layers["seccomp"] = f"on ({what}; installed once, forks supervised)"
                return
        except OSError as exc:
            self.layers["seccomp_note"] = f"per-child filters ({exc})"
        self.bpf = programs["per_child"]
        self.layers["seccomp"] = f"on ({what}; installed in each child)"

    # ---------------------------------------------------------------- the zygote
    def start_zygote(self, protocol_fds: tuple[int, ...]) -> None:
        """Fork the zygote, wait for its report on its seccomp set-up."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            ours.close()
            try:
                self._zygote(theirs, protocol_fds)
            finally:
                os._exit(SETUP_FAILED)
        theirs.close()
        self.zygote = ours
        report = self._from_zygote()
        self.layers.update(pickle.loads(report))

    def _zygote(self, sock: socket.socket, protocol_fds: tuple[int, ...]) -> None:
        """The zygote's life: set up, then fork and reap children on the server's word."""
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in protocol_fds:  # the harness's pipes are the server's business only
            os.dup2(devnull, fd)
        os.close(devnull)
        kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
        kernel.prctl(kernel.PR_SET_CHILD_SUBREAPER, 1)  # orphans of a run come here
        self._setup_seccomp()
        # Under the filter no process can start another (fork, vfork, clone and execve are
        # refused), so a run cannot leave one behind: nothing to look for after it.
        self.seccomp_on = self.layers["seccomp"].startswith("on")
        sock.send(dumps(self.layers))
        gc.collect()
        gc.freeze()
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(sock, 4096, 5)
            except OSError:
                return
            if not msg:
                return  # the server is gone
            try:
                pid = os.fork()
            except OSError as exc:
                pid = -(exc.errno or 1)
            if pid == 0:
                self._child(fds[:4], fds[4], msg.decode())  # never returns
            for fd in fds:
                os.close(fd)
            sock.send(FORKED.pack(pid))
            if pid < 0:
                continue
            _, status, usage = os.wait4(pid, 0)
            if not self.seccomp_on:
                self._kill_leftovers(pid)
            sock.send(EXITED.pack(status, usage.ru_utime + usage.ru_stime, usage.ru_maxrss))

    def _from_zygote(self) -> bytes:
        assert self.zygote is not None
        try:
            data = self.zygote.recv(65536)
        except OSError as exc:
            raise ZygoteLost(str(exc)) from exc
        if not data:
            raise ZygoteLost("the zygote ended")
        return data

    # ---------------------------------------------------------------- per run
    def prefork(self) -> None:
        """Have the next child forked ahead of its request: it sets up its isolation while
        the harness is still judging the previous result, then waits on a pipe."""
        assert self.zygote is not None
        self.counter += 1
        rundir = os.path.join(self.workdir, f"run{self.counter}")
        os.mkdir(rundir, 0o700)
        fds = [os.memfd_create(name) for name in ("stdin", "stdout", "stderr", "results")]
        req_r, req_w = os.pipe()
        try:
            socket.send_fds(self.zygote, [rundir.encode()], [*fds, req_r])
        except OSError as exc:
            raise ZygoteLost(str(exc)) from exc
        finally:
            os.close(req_r)
        (pid,) = FORKED.unpack(self._from_zygote())
        if pid < 0:
            os.close(req_w)
            self._cleanup(fds, rundir)
            raise OSError(-pid, f"fork failed: {os.strerror(-pid)}")
        self.warm = (pid, fds, req_w, rundir)

    def try_prefork(self) -> None:
        """Prefork if possible; a failure (no more processes, say) is reported by the run
        that needs the child, which tries again."""
        try:
            self.prefork()
        except OSError:
            pass

    def discard_warm(self) -> None:
        if self.warm is not None:
            pid, fds, req_w, rundir = self.warm
            self.warm = None
            os.close(req_w)
            _kill_group(pid)
            try:
                self._from_zygote()
            except ZygoteLost:
                pass
            self._cleanup(fds, rundir)

    def _cleanup(self, fds: list[int], rundir: str) -> None:
        for fd in fds:
            os.close(fd)
        _rmtree(rundir)

    def run(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.warm is None:
            self.prefork()
        pid, fds, req_w, rundir = self.warm
        self.warm = None
        try:
            stdin = req["stdin"]
            if stdin:
                os.write(fds[0], stdin)
                os.lseek(fds[0], 0, os.SEEK_SET)
            start = time.monotonic()
            try:
                send_bytes(req_w, req["child"])
            except OSError:
                pass  # the child died before its request (it will be reported as such)
            os.close(req_w)
            return self._wait(pid, req, fds, start)
        finally:
            self._cleanup(fds, rundir)

    def _child(self, fds: list[int], req_fd: int, rundir: str) -> None:
        status = SETUP_FAILED
        try:
            os.setsid()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            os.dup2(req_fd, 4)
            os.closerange(5, 65536)
            os.chdir(rundir)
            if not self.in_pid_ns:  # inside one, the namespace dies with its PID 1 anyway
                kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
            if self.bpf is not None:
                kernel.install_seccomp(self.bpf)
            req = recv(4)  # from the trusted server; untrusted code has not run yet
            os.close(4)
            # Limits are set only now (lowering needs no privilege): they are per request.
            cpu = max(1, int(-(-float(req["cpu"]) // 1)))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            mem = self.base_vm + (int(req["mem_mb"]) << 20)
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
            fsize = int(req["out_mb"]) << 20
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except BaseException as exc:  # noqa: BLE001 - the program has not started yet
            os.write(2, f"motcoder sandbox: child set-up failed: {exc}\n".encode())
        else:
            status = child.run(req)
        finally:
            os._exit(status)

    def _wait(self, pid: int, req: dict[str, Any], fds: list[int],
              start: float) -> dict[str, Any]:
        """Wait for the zygote's report on the child, killing the child at the deadline."""
        assert self.zygote is not None
        poller = select.poll()
        poller.register(self.zygote.fileno(), select.POLLIN)
        timed_out = not poller.poll(max(0, int(float(req["wall"]) * 1000)))
        if timed_out:
            _kill_group(pid)
        status, cpu, maxrss = EXITED.unpack(self._from_zygote())
        wall = time.monotonic() - start
        return {
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "timed_out": timed_out,
            "cpu": cpu,
            "maxrss_kb": maxrss,
            "wall": wall,
            "stdout": _read_fd(fds[1], int(req["out_mb"]) << 20),
            "stderr": _read_tail(fds[2], STDERR_TAIL),
            "results": _read_fd(fds[3], RESULTS_CAP),
        }

    def _kill_leftovers(self, pid: int) -> None:
        """In the zygote, without seccomp: no process may outlive its run; kill everything
        the child left behind."""
        if self.in_pid_ns:
            # kill(-1) reaches every process of the namespace but PID 1 (the server) and
            # the caller (the zygote); then reap them all (blocking: SIGKILL cannot be
            # ignored; they are all ours, as orphans come to the subreaper) until none is
            # left.
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                return  # nothing else exists: the common case
            while True:
                try:
                    os.waitpid(-1, 0)
                except ChildProcessError:
                    return
        _kill_group(pid)
        for orphan in _children():  # we are a subreaper: orphans of the run come to us
            try:
                os.kill(orphan, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        while True:
            try:
                reaped, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if reaped == 0:
                if not _children():
                    break
                time.sleep(0.001)

    def info(self) -> dict[str, Any]:
        return {"layers": self.layers, "pid": os.getpid(), "base_vm": self.base_vm}


def _supervise(sock: socket.socket, server_pid: int) -> None:
    """Outside the sandbox: approve the zygote's forks, refuse its children's, and exit
    with the server's status when it ends. The zygote's pid is the one the kernel gives
    with the message that brings the listener (SO_PASSCRED), as this namespace sees it."""
    listener = -1
    zygote_pid = -1
    pidfd = os.pidfd_open(server_pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(sock.fileno(), select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == pidfd:
                _, status = os.waitpid(server_pid, 0)
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
            if fd == listener:
                kernel.answer_notification(listener, zygote_pid)
            elif fd == sock.fileno():
                listener, zygote_pid = _receive_listener(sock)
                poller.unregister(sock.fileno())
                if listener >= 0 and zygote_pid > 0:
                    poller.register(listener, select.POLLIN)
                    sock.send(b"K")


def _receive_listener(sock: socket.socket) -> tuple[int, int]:
    """The seccomp listener fd and the pid of the process that sent it (-1 when absent)."""
    fd_size = struct.calcsize("i")
    cred = struct.Struct("iII")  # struct ucred: pid, uid, gid
    try:
        _, ancillary, _, _ = sock.recvmsg(1, socket.CMSG_SPACE(fd_size)
                                          + socket.CMSG_SPACE(cred.size))
    except OSError:
        return -1, -1
    listener, pid = -1, -1
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS and len(data) >= fd_size:
            listener = struct.unpack("i", data[:fd_size])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS \
                and len(data) >= cred.size:
            pid = cred.unpack(data[:cred.size])[0]
    return listener, pid


def _vm_size() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 256 << 20


def _children() -> list[int]:
    pids = []
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as f:
                pids.extend(int(p) for p in f.read().split())
    except OSError:
        pass
    return pids


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


def _read_fd(fd: int, cap: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, min(size, cap), 0) if size else b""


def _read_tail(fd: int, cap: int) -> bytes:
    size = os.fstat(fd).st_size
    start = max(0, size - cap)
    return os.pread(fd, size - start, start) if size else b""


def _rmtree(path: str) -> None:
    try:
        os.rmdir(path)  # the common case: the program wrote no file
    except OSError:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- protocol
def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv(fd: int) -> Any:
    (length,) = struct.unpack(">I", _read_exact(fd, 4))
    return pickle.loads(_read_exact(fd, length))


class ZygoteLost(RuntimeError):
    """The zygote is gone: the server cannot run anything more and ends."""


def send(fd: int, obj: Any) -> None:
    send_bytes(fd, dumps(obj))


def dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def send_bytes(fd: int, data: bytes) -> None:
    """One message: the length, then ``data`` (already pickled)."""
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def main() -> None:
    config = json.loads(sys.argv[1])
    # Move the protocol pipes off 0/1 so children can never inherit them by accident.
    rfd, wfd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    server = Server(config)
    server.enter_namespaces()
    server.prepare()
    server.start_zygote((rfd, wfd))
    send(wfd, {"ready": True, **server.info()})
    try:
        server.try_prefork()
        while True:
            try:
                req = recv(rfd)
            except EOFError:
                break
            op = req.get("op", "run")
            if op == "exit":
                break
            try:
                reply = server.info() if op == "info" else server.run(req)
            except ZygoteLost:
                raise
            except Exception as exc:  # noqa: BLE001 - report, keep serving
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            send(wfd, reply)
            if op == "run":
                server.try_prefork()
    except ZygoteLost:
        os._exit(1)  # the harness sees the end of the pipe and starts another server
    server.discard_warm()
    os._exit(0)


if __name__ == "__main__":
    main()
