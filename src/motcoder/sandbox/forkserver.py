"""The fork-server: a small warm process that forks one isolated child per program run.

Started by exec (``python -s -P -m motcoder.sandbox.forkserver``, its configuration sent as
the first message on its stdin), never forked from the big harness process. At start it
enters its namespaces once (mount, network, PID, IPC, UTS; a user namespace first when not
root), builds the programs' filesystem from an allow-list and makes it the root (see
`Server._setup_mounts`), hides the paths it is told to inside it, preloads common modules
and freezes the GC. Then it forks its *zygote*: a copy of itself
that installs the seccomp filter and from then on only forks children and reaps them.

Why two processes: a fork shares every page of the forking process with the child until
one of them writes it, and each page written is then copied, at a cost of microseconds.
The server's own work per run (reading requests, writing replies) writes a few hundred
pages; done in the process that forks, while a child is alive, it paid a copy for each.
The zygote's loop writes only a handful.

Per request:

1. the server makes the run's files (stdin/stdout/stderr/results memfds, a request pipe, a
   fresh directory with a random name, owned by the run's id) and hands them to the zygote,
   which forks the child ahead of its request: the child enters its own session, takes the
   files as fds 0-4, waits for its request, gets rlimits (CPU, address space, file size,
   open files, no core), takes its own unprivileged id (which drops every capability), and
   runs the program (`motcoder.sandbox.child`) under the zygote's seccomp allow-list;
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
import os
import pickle
import resource
import secrets
import select
import signal
import socket
import struct
import sys
import time
from typing import Any

from motcoder.sandbox import child, kernel
from motcoder.sandbox.cgroup import MemoryCgroup

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
CGROUP_MARGIN_MB = 32
RESULTS_CAP = 64 << 20
SETUP_FAILED = 121  # exit status of a child whose isolation could not be set up


class Server:
    """State of one fork-server process."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.workdir: str = config["workdir"]
        self.scratch: str = self.workdir  # where runs' directories go (/tmp once isolated)
        self.run_uid: int | None = None   # base of the programs' own ids (None: not used)
        self.cgroup: MemoryCgroup | None = None
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
    def open_cgroup(self) -> None:
        """Open the server's memory cgroup (made by the harness) while the host's
        filesystem is still there."""
        made = self.config.get("cgroup")
        tmpfs = int(self.config.get("tmpfs_mb", 512))
        if isinstance(made, list):
            try:
                self.cgroup = MemoryCgroup.open(*made)
                self.layers["memory"] = (
                    f"cgroup v{made[0]} per server, no swap: a run's memory, files in its "
                    "scratch, memfds, shared memory and page cache count against its limit; "
                    "address-space limit too")
                return
            except OSError as exc:
                made = f"cgroup v{made[0]}: {exc.strerror}"
        self.layers["memory"] = (
            f"no cgroup ({made}): address-space limit only; memfd, SysV and POSIX shared "
            f"memory refused; scratch files count against a {tmpfs} MB tmpfs")

    def enter_namespaces(self) -> None:
        """Enter mount/net/PID/IPC/UTS namespaces once; degrade and report when refused."""
        if not self.config.get("namespaces", True):
            self.layers["namespaces"] = "off (disabled by configuration)"
            self._choose_ids(os.getuid() != 0)
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
            self._choose_ids(user_ns)
            self.layers["network"] = "none (empty network namespace)"
            self._become_pid_one()
            self._setup_mounts()
            return
        self.layers["namespaces"] = f"unavailable ({error})"
        self.layers["network"] = "blocked by seccomp only (no network namespace)"
        self._choose_ids(os.getuid() != 0)

    def _choose_ids(self, user_ns: bool) -> None:
        """Programs run under ids of their own (two per server, alternating, so a program
        never shares its id with the next run's child that waits beside it), never the
        harness's: signals, limits, priority and tracing of the sandbox's processes then
        fail by permission. A user namespace entered without privilege maps only one id,
        so this needs the harness to run as root."""
        base = self.config.get("uid_base")
        if not self.config.get("own_uid", True):
            self.layers["user"] = "off (disabled by configuration)"
        elif user_ns or base is None:
            self.layers["user"] = ("unavailable (not root: an unprivileged user namespace "
                                   "maps only the harness's own id)")
        else:
            self.run_uid = int(base)
            # the ids themselves are not reported: they differ per server and run
            self.layers["user"] = ("two unprivileged ids of its own (at random, >= 2^28), "
                                   "no capabilities")

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
        """Build the programs' whole filesystem and make it the root (pivot_root): only the
        allowed paths (interpreter, standard library, packages, system libraries),
        read-only; a private /dev (null, zero, full, random, urandom); a read-only /proc of
        this PID namespace in which processes of other users are invisible; /tmp (or
        /.scratch when an allowed path lies under /tmp), a private tmpfs that holds each
        run's scratch directory. Nothing else of the host —
        its /tmp, /run, sockets, home, datasets, run directories — exists in it.

        Done by hand with mount(2) rather than by starting bubblewrap: the server must keep
        running after the root is built (it forks every child from it), while bwrap would
        exec a fresh interpreter inside, which is what a fork-server exists to avoid, and it
        would add a dependency many machines lack. The steps are the ones bwrap takes.
        """
        kernel.mount(None, "/", None, kernel.MS_REC | kernel.MS_PRIVATE)
        root = self.workdir
        kernel.mount("tmpfs", root, "tmpfs", kernel.MS_NOSUID | kernel.MS_NODEV,
                     "size=1m,mode=0755")
        allowed = []
        for path in _outermost([*python_paths(), *SYSTEM_PATHS, *self.config.get("allow", [])]):
            try:
                if _mirror(path, root):
                    allowed.append(path)
            except OSError as exc:
                self._note("allow_failures", f"{path}: {exc.strerror}")
        _make_dev(root)
        # /tmp holds the scratch — unless an allowed path lies there (an environment or a
        # checkout under /tmp), which the scratch tmpfs would cover.
        scratch = "/tmp" if not os.path.lexists(os.path.join(root, "tmp")) else "/.scratch"
        os.mkdir(root + scratch, 0o755)
        size = int(self.config.get("tmpfs_mb", 512))
        kernel.mount("tmpfs", root + scratch, "tmpfs",
                     kernel.MS_NOSUID | kernel.MS_NODEV, f"size={size}m,mode=0711")
        hidden = 0
        for path in [*self.config.get("hide", []), *foreign_site_packages(allowed)]:
            target = root + os.path.abspath(path)
            try:
                if os.path.isdir(target):
                    kernel.mount("tmpfs", target, "tmpfs",
                                 kernel.MS_RDONLY | kernel.MS_NOSUID | kernel.MS_NODEV,
                                 "size=4k,mode=0555")
                elif os.path.lexists(target):
                    kernel.mount("/dev/null", target, None, kernel.MS_BIND)
                else:
                    continue
                hidden += 1
            except OSError as exc:
                self._note("hide_failures", f"{path}: {exc.strerror}")
        os.mkdir(os.path.join(root, "proc"), 0o555)
        self.layers["proc"] = _mount_proc(os.path.join(root, "proc"))
        old = os.path.join(root, ".old")
        os.mkdir(old)
        kernel.pivot_root(root, old)
        os.chdir("/")
        kernel.umount("/.old")
        os.rmdir("/.old")
        kernel.mount(None, "/", None, kernel.MS_BIND | kernel.MS_REMOUNT | kernel.MS_RDONLY
                     | kernel.MS_NOSUID | kernel.MS_NODEV)
        self.scratch = scratch
        self.layers["filesystem"] = (
            f"allow-list: {len(allowed)} read-only paths, private /dev, scratch tmpfs "
            "(nothing else of the host)")
        self.layers["hidden_paths"] = str(hidden)

    def _note(self, key: str, text: str) -> None:
        self.layers[key] = self.layers.get(key, "") + text + "; "

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
        self.layers["scratch"] = ("a fresh private directory per run, removed after it, "
                                  "not on the import path")
        # The server needs no capability once its mounts are in place; children inherit none.
        try:
            if self.run_uid is None:
                kernel.drop_capabilities()
                self.layers["capabilities"] = "none (all dropped), no_new_privs"
            else:
                kernel.drop_capabilities(kernel.SERVER_CAPABILITIES)
                self.layers["capabilities"] = (
                    "programs: none, no_new_privs; server: only chown, file override, kill, "
                    "set ids")
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
        what = ("allow-list; no fork/exec, no sockets but a connected AF_UNIX pair, no SysV "
                "IPC, io_uring or memfd, no ptrace, no signals, limits or priority of other "
                "processes")
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
            uid_text, rundir = msg.decode().split(" ", 1)
            uid = int(uid_text)
            try:
                pid = os.fork()
            except OSError as exc:
                pid = -(exc.errno or 1)
            if pid == 0:
                self._child(fds[:4], fds[4], rundir, uid)  # never returns
            for fd in fds:
                os.close(fd)
            sock.send(FORKED.pack(pid))
            if pid < 0:
                continue
            _, status, usage = os.wait4(pid, 0)
            if not self.seccomp_on:  # with it, no process and no IPC object can be made
                self._kill_leftovers(pid)
                if self.in_pid_ns:  # the IPC namespace is this server's own
                    kernel.remove_sysv_objects(uid)
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
        uid = -1 if self.run_uid is None else self.run_uid + (self.counter & 1)
        rundir = self._make_rundir(uid)
        fds = [os.memfd_create(name) for name in ("stdin", "stdout", "stderr", "results")]
        req_r, req_w = os.pipe()
        try:
            socket.send_fds(self.zygote, [f"{uid} {rundir}".encode()], [*fds, req_r])
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

    def _make_rundir(self, uid: int) -> str:
        """A new directory for one run, named at random in a directory programs cannot
        write, so no program can prepare or occupy the next run's; owned by the run's id
        ``uid`` (when not -1)."""
        while True:
            rundir = os.path.join(self.scratch, secrets.token_hex(8))
            try:
                os.mkdir(rundir, 0o700)
            except FileExistsError:
                continue
            if uid >= 0:
                os.chown(rundir, uid, uid)
            return rundir

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
            if self.cgroup is not None:
                self._limit_memory(int(req["mem_mb"]))
            start = time.monotonic()
            try:
                send_bytes(req_w, req["child"])
            except OSError:
                pass  # the child died before its request (it will be reported as such)
            os.close(req_w)
            return self._wait(pid, req, fds, start)
        finally:
            self._cleanup(fds, rundir)

    def _limit_memory(self, mb: int) -> None:
        """The cgroup limit of the next run: its memory limit and a margin for what the
        child copies of the server's pages, so the address-space limit (a MemoryError the
        program sees) usually comes first and the cgroup catches what it does not count."""
        assert self.cgroup is not None
        try:
            self.cgroup.set_limit(mb + CGROUP_MARGIN_MB)
        except OSError as exc:  # usage above the new limit, not reclaimable: keep the old
            self._note("cgroup_errors", f"limit {mb} MB: {exc.strerror}")

    def _child(self, fds: list[int], req_fd: int, rundir: str, uid: int) -> None:
        status = SETUP_FAILED
        try:
            os.setsid()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            os.dup2(req_fd, 4)
            if self.cgroup is not None:  # into the server's memory cgroup (not the zygote)
                os.write(self.cgroup.procs, b"0")
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
            os.environ["TMPDIR"] = rundir
            if uid >= 0:  # last: the capabilities needed above go with root's id
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
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
        oom = self.cgroup is not None and self.cgroup.killed_since_last()
        return {
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "timed_out": timed_out,
            "cpu": cpu,
            "maxrss_kb": maxrss,
            "wall": wall,
            "oom_killed": oom,
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


# What programs may read besides Python: shared libraries (for extension modules loaded
# later; those of the interpreter are mapped already), the loader's cache, time zones.
SYSTEM_PATHS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32",
                "/usr/local/lib", "/etc/ld.so.cache", "/etc/localtime", "/usr/share/zoneinfo")


def python_paths() -> list[str]:
    """This interpreter, its standard library and the environment's packages (as this
    server, started with -s -P, imports them), and motcoder's own package — not the rest of
    a source checkout an editable install points at (tests, fixtures, runs)."""
    import sysconfig

    import motcoder

    paths = [os.path.realpath(sys.executable), *motcoder.__path__]
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.append(sysconfig.get_path(key))
    paths.extend(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return [p for p in paths if p]


def foreign_site_packages(allowed: list[str]) -> list[str]:
    """Package directories inside the allowed trees that this interpreter does not import
    from (another Python's site-packages, Debian's dist-packages): hidden, since an
    installed copy of a benchmark package there holds its answer keys."""
    import glob

    ours = {os.path.realpath(p) for p in sys.path if p}
    found = []
    for top in allowed:
        if os.path.isdir(top) and not os.path.islink(top):
            for pattern in ("site-packages", "dist-packages", "python3*/site-packages",
                            "python3*/dist-packages", "lib/python3*/site-packages"):
                found.extend(glob.glob(os.path.join(top, pattern)))
    return [p for p in found if os.path.realpath(p) not in ours]


def _outermost(paths: list[str]) -> list[str]:
    """Absolute ``paths`` in order, without those inside another one of them."""
    result: list[str] = []
    for path in sorted({os.path.abspath(p) for p in paths}):
        if not any(path == p or path.startswith(p.rstrip("/") + "/") for p in result):
            result.append(path)
    return result


def _mirror(path: str, root: str) -> bool:
    """Make ``path`` of the host appear, read-only, at the same place under ``root``: a
    symbolic link is copied as a link (its target must be allowed too), a directory or a
    file is bind-mounted. False when the host has no such path."""
    if not os.path.lexists(path):
        return False
    target = root + path
    os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
    if os.path.islink(path):
        os.symlink(os.readlink(path), target)
        return True
    if os.path.isdir(path):
        os.makedirs(target, 0o755, exist_ok=True)
    else:
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    kernel.bind_read_only(path, target)
    return True


DEVICES = ("null", "zero", "full", "random", "urandom")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
             "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}


def _make_dev(root: str) -> None:
    """A private /dev: the harmless devices, bound from the host, and the usual links."""
    dev = os.path.join(root, "dev")
    os.mkdir(dev, 0o755)
    for name in DEVICES:
        target = os.path.join(dev, name)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o666))
        kernel.bind_read_only(f"/dev/{name}", target, kernel.MS_NOSUID | kernel.MS_NOEXEC)
    for name, link in DEV_LINKS.items():
        os.symlink(link, os.path.join(dev, name))


def _mount_proc(target: str) -> str:
    """Mount this PID namespace's /proc read-only, with processes of other users invisible
    and only the process directories when the kernel supports that; say what was done."""
    flags = kernel.MS_NOSUID | kernel.MS_NODEV | kernel.MS_NOEXEC | kernel.MS_RDONLY
    for options, what in (("hidepid=invisible,subset=pid",
                           "only this sandbox's own processes, other users' invisible, "
                           "no system files"),
                          ("hidepid=2", "only this sandbox's own processes, other users' "
                                        "invisible"),
                          (None, "only this sandbox's processes")):
        try:
            kernel.mount("proc", target, "proc", flags, options)
            return f"private read-only /proc ({what})"
        except OSError as exc:
            error = exc.strerror
    return f"none ({error})"


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
    # Move the protocol pipes off 0/1 so children can never inherit them by accident.
    rfd, wfd = os.dup(0), os.dup(1)
    # The configuration comes as the first message, not on the command line (which any
    # process that sees this one could read).
    config = recv(rfd)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    server = Server(config)
    server.open_cgroup()
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
