"""The second wall: what a program can reach around the judge, attack class by attack class.

Each test submits ordinary Python programs, as a sample would, to a real sandbox with every
layer on, and asserts the precise outcome: the attack fails, the host is unchanged, other
samples' verdicts are unchanged, the harness finishes, nothing is left running. The classes:
host reachable (1), one sample changing another's verdict (2), answer keys readable (3),
the harness stopped or degraded from inside (4), memory and kernel interfaces that escape
the limits (7). (Unencodable text and the environment's optimisation level, classes 5 and 6,
are tested with the judge and the CLI.)
"""

from __future__ import annotations

import ast
import os
import signal
import socket
import time

import pytest

from motcoder.problems.model import Problem, Test
from motcoder.problems.samples import Sample
from motcoder.sandbox.judge import Judge
from motcoder.sandbox.limits import Limits
from motcoder.sandbox.pool import Sandbox, SandboxConfig, SandboxError, missing_layers
from motcoder.sandbox.verdict import HARNESS_ERROR, MEMORY_LIMIT, PASSED
from sandbox_helpers import sandbox_pids

LIMITS = Limits(cpu_seconds=2.0, memory_mb=256, output_mb=4, wall_extra=1.0)


@pytest.fixture(scope="module")
def lone():
    """One worker, so every program of a test runs on the same fork-server in turn."""
    with Sandbox(SandboxConfig(workers=1)) as sb:
        yield sb


def output_of(sandbox: Sandbox, code: str, stdin: str = "", cpu: float = 2.0) -> str:
    """Run ``code`` as a stdin/stdout program; its stdout (the program must exit 0)."""
    raw = sandbox.run({"mode": "stdio", "code": code, "stdin": stdin}, cpu=cpu,
                      wall=cpu * 2 + 1, mem_mb=256, out_mb=4)
    assert raw.exit_code == 0, raw.stderr.decode(errors="replace")
    return raw.stdout.decode()


def judge(sandbox: Sandbox, problem: Problem, code: str):
    return Judge(sandbox, LIMITS).judge(problem, Sample(problem.id, code))


# ------------------------------------------------------------------ 1. the host
def test_programs_run_under_an_unprivileged_id_of_their_own(lone):
    out = output_of(lone, "import os\nprint(os.getuid(), os.geteuid(), os.getgid(), "
                          "os.getgroups())\n"
                          "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n")
    ids, caps = out.splitlines()
    uid, euid, gid, groups = ids.split(" ", 3)
    assert int(uid) == int(euid) == int(gid) >= 0x10000000
    assert int(uid) != os.getuid()
    assert groups == "[]"
    assert int(caps, 16) == 0


def test_unix_sockets_on_the_host_cannot_be_reached(lone, tmp_path):
    path = str(tmp_path / "service.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    listener.settimeout(0.3)
    datagram_path = str(tmp_path / "log.sock")
    datagram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    datagram.bind(datagram_path)
    datagram.settimeout(0.3)
    code = (
        "import socket\n"
        "reached = []\n"
        "for family, kind in ((socket.AF_UNIX, socket.SOCK_STREAM),"
        " (socket.AF_UNIX, socket.SOCK_DGRAM)):\n"
        f"    for target in ({path!r}, {datagram_path!r}, '\\0motcoder-abstract'):\n"
        "        try:\n"
        "            s = socket.socket(family, kind)\n"
        "            s.connect(target)\n"
        "            s.send(b'hello')\n"
        "            reached.append(target)\n"
        "        except OSError:\n"
        "            pass\n"
        "a, b = socket.socketpair()\n"  # allowed (asyncio needs it), but goes nowhere
        f"for target in ({path!r}, {datagram_path!r}):\n"
        "    try:\n"
        "        a.sendto(b'hello', target)\n"
        "        reached.append('pair->' + target)\n"
        "    except OSError:\n"
        "        pass\n"
        "print(reached)\n"
    )
    try:
        assert output_of(lone, code).strip() == "[]"
        with pytest.raises(TimeoutError):
            listener.accept()
        with pytest.raises(TimeoutError):
            datagram.recv(100)
    finally:
        listener.close()
        datagram.close()


def test_kernel_and_device_interfaces_are_not_writable(lone):
    with open("/proc/sys/kernel/core_pattern") as f:
        core_pattern = f.read()
    code = (
        "import os\n"
        "opened = []\n"
        "for path in ('/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger', '/dev/kmsg',"
        " '/dev/kvm', '/dev/tty', '/dev/tty0', '/dev/console', '/dev/mem', '/dev/sda',"
        " '/sys/kernel/uevent_helper', '/dev/shm/x', '/proc/self/oom_score_adj'):\n"
        "    try:\n"
        "        fd = os.open(path, os.O_WRONLY | os.O_CREAT)\n"
        "        os.write(fd, b'|/bin/sh')\n"
        "        opened.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "print(sorted(os.listdir('/dev')), opened)\n"
    )
    out = output_of(lone, code)
    assert out.strip() == "['fd', 'full', 'null', 'random', 'stderr', 'stdin', 'stdout', " \
                          "'urandom', 'zero'] []"
    with open("/proc/sys/kernel/core_pattern") as f:
        assert f.read() == core_pattern


# ------------------------------------------------------------------ 2. between samples
HASH_PROBLEM = Problem(
    id="toy/hash", source="file", statement="Print the md5 hex digest of the input line.",
    solutions=["import hashlib\nprint(hashlib.md5(input().encode()).hexdigest())\n"],
    tests=[Test(kind="stdio", visibility="private", input="abc\n",
                output="900150983cd24fb0d6963f7d28e17f72\n")],
)
PLANT = (
    "import os, sys\n"
    "fake = 'def md5(*a, **k):\\n    raise SystemExit(\"poisoned\")\\n'\n"
    "planted = []\n"
    "for folder in ['.', '/tmp', os.environ.get('TMPDIR', '.'), *sys.path]:\n"
    "    for name in ('hashlib.py', 'sitecustomize.py', 'usercustomize.py'):\n"
    "        try:\n"
    "            with open(os.path.join(folder or '.', name), 'w') as f:\n"
    "                f.write(fake)\n"
    "            planted.append(os.path.abspath(os.path.join(folder or '.', name)))\n"
    "        except OSError:\n"
    "            pass\n"
    "open('marker.txt', 'w').write('left behind')\n"
    "print(planted + [os.path.abspath('marker.txt')])\n"
)


def test_a_sample_cannot_change_later_samples_verdicts(lone):
    wrong = "import hashlib\nprint(hashlib.md5(b'other').hexdigest())\n"
    for _ in range(3):
        planted = ast.literal_eval(output_of(lone, PLANT))
        # it could write in its own directory only
        assert {os.path.dirname(p) for p in planted} == {os.path.dirname(planted[-1])}
        assert judge(lone, HASH_PROBLEM, HASH_PROBLEM.solutions[0]).status == PASSED
        assert judge(lone, HASH_PROBLEM, wrong).status != PASSED
        left = output_of(lone, f"import os\nprint([p for p in {planted!r} if os.path.exists(p)],"
                               " os.listdir('.'))\n")
        assert left.strip() == "[] []"


def test_sysv_ipc_memfd_and_io_uring_are_refused(lone):
    code = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.syscall.restype = ctypes.c_long\n"
        "results = {}\n"
        "results['shmget'] = libc.shmget(0x4d43, 1 << 20, 0o1666)\n"  # IPC_CREAT | 0666
        "results['semget'] = libc.semget(0x4d43, 1, 0o1666)\n"
        "results['msgget'] = libc.msgget(0x4d43, 0o1666)\n"
        "params = ctypes.create_string_buffer(120)\n"
        "results['io_uring_setup'] = libc.syscall(425, 8, params)\n"
        "try:\n"
        "    os.memfd_create('hold')\n"
        "    results['memfd'] = 0\n"
        "except OSError:\n"
        "    results['memfd'] = -1\n"
        "print(sorted(results.items()))\n"
    )
    out = output_of(lone, code)
    assert out.strip() == ("[('io_uring_setup', -1), ('memfd', -1), ('msgget', -1), "
                           "('semget', -1), ('shmget', -1)]")


def test_without_seccomp_sysv_objects_do_not_outlive_their_run():
    """Refused under seccomp; with it switched off, the zygote removes them after each run."""
    make = ("import ctypes\nlibc = ctypes.CDLL(None)\n"
            "print(libc.shmget(0x4d43, 4096, 0o1666), libc.semget(0x4d44, 1, 0o1666),"
            " libc.msgget(0x4d45, 0o1666))\n")
    find = ("import ctypes\nlibc = ctypes.CDLL(None)\n"
            "print(libc.shmget(0x4d43, 0, 0), libc.semget(0x4d44, 0, 0),"
            " libc.msgget(0x4d45, 0))\n")
    with Sandbox(SandboxConfig(workers=1, seccomp=False, allow_weaker=True)) as sb:
        made = output_of(sb, make).split()
        assert all(int(ident) >= 0 for ident in made), made
        assert output_of(sb, find).split() == ["-1", "-1", "-1"]


# ------------------------------------------------------------------ 7. limits
FILL_SCRATCH = ("for i in range(100):\n"
                "    open(f'f{i}', 'wb').write(b'x' * (3 << 20))\n"
                "print(5)\n")
HOLD_MEMFD = ("import os\nfd = os.memfd_create('hold')\n"
              "for _ in range(100):\n    os.write(fd, b'x' * (3 << 20))\nprint(5)\n")
FIVE = Problem(id="toy/five", source="file", statement="Print 5.", solutions=["print(5)\n"],
               tests=[Test(kind="stdio", visibility="private", input="", output="5\n")])


def _needs_cgroup(sandbox: Sandbox) -> None:
    if not sandbox.layers["memory"].startswith("cgroup"):
        pytest.skip(f"no memory cgroup on this machine: {sandbox.layers['memory']}")


def test_memory_outside_the_address_space_counts_against_the_limit(lone):
    """Files in the scratch tmpfs are memory the address-space limit does not see."""
    _needs_cgroup(lone)
    limits = Limits(cpu_seconds=5.0, memory_mb=128, output_mb=4)
    verdict = Judge(lone, limits).judge(FIVE, Sample(FIVE.id, FILL_SCRATCH))
    assert verdict.status == MEMORY_LIMIT, verdict
    assert Judge(lone, limits).judge(FIVE, Sample(FIVE.id, "print(5)\n")).passed


def test_memfds_count_when_seccomp_is_off():
    with Sandbox(SandboxConfig(workers=1, seccomp=False, allow_weaker=True)) as sb:
        _needs_cgroup(sb)
        path = sb._servers[0].cgroup[1]
        # a file-size limit above what it writes: only memory may stop it
        limits = Limits(cpu_seconds=5.0, memory_mb=128, output_mb=400)
        verdict = Judge(sb, limits).judge(FIVE, Sample(FIVE.id, HOLD_MEMFD))
        assert verdict.status == MEMORY_LIMIT, verdict
        big = Limits(cpu_seconds=5.0, memory_mb=512, output_mb=400)
        assert Judge(sb, big).judge(FIVE, Sample(FIVE.id, HOLD_MEMFD)).passed
        assert os.path.isdir(path)
    assert not os.path.exists(path)  # the cgroup goes with the sandbox


# ------------------------------------------------------------------ 3. answer keys
def test_answer_keys_on_the_host_are_not_readable(lone, tmp_path):
    data = tmp_path / "apps.jsonl"
    data.write_text('{"outputs": ["the answer is 5"]}\n')
    results = tmp_path / "run" / "results.jsonl"
    results.parent.mkdir()
    results.write_text('{"expected": "the answer is 5"}\n')
    code = (
        "import os\n"
        "found = []\n"
        f"for path in ({str(data)!r}, {str(results)!r}, '/proc/1/cmdline', '/proc/1/environ'):\n"
        "    try:\n"
        "        found.append((path, open(path, 'rb').read()[:40]))\n"
        "    except OSError:\n"
        "        pass\n"
        "for top in ('/', '/root', '/home', '/work', '/usr/lib', '/usr/local/lib'):\n"
        "    for folder, _, files in os.walk(top):\n"
        "        found.extend(os.path.join(folder, f) for f in files\n"
        "                     if f == 'results.jsonl' or f.lower().startswith(('humaneval',"
        " 'mbpp', 'apps')) and f.endswith(('.jsonl', '.gz', '.json', '.parquet')))\n"
        "print(found, sorted(p for p in os.listdir('/proc') if p.isdigit()) == "
        "[str(os.getpid())])\n"
    )
    out = output_of(lone, code, cpu=20.0)
    assert out.strip() == "[] True"


# ------------------------------------------------------------------ 4. the harness
def test_signals_limits_and_priority_of_the_sandbox_cannot_be_touched(lone):
    attacks = (
        "import fcntl, os, resource, signal\n"
        "done = []\n"
        "r, w = os.pipe()\n"
        "def attempt(name, call):\n"
        "    try:\n"
        "        call()\n"
        "        done.append(name)\n"
        "    except OSError:\n"
        "        pass\n"
        "for pid in (1, 2, 3, os.getppid()):\n"
        "    attempt(f'F_SETOWN {pid}', lambda: fcntl.fcntl(w, fcntl.F_SETOWN, pid))\n"
        "    attempt(f'F_SETOWN -{pid}', lambda: fcntl.fcntl(w, fcntl.F_SETOWN, -pid))\n"
        "    attempt(f'prlimit {pid}', lambda: resource.prlimit(pid, resource.RLIMIT_CPU,"
        " (0, 0)))\n"
        "    attempt(f'prlimit-as {pid}', lambda: resource.prlimit(pid, resource.RLIMIT_AS,"
        " (1 << 20, 1 << 20)))\n"
        "    attempt(f'nice {pid}', lambda: os.setpriority(os.PRIO_PROCESS, pid, 19))\n"
        "    attempt(f'pgrp {pid}', lambda: os.setpriority(os.PRIO_PGRP, pid, 19))\n"
        "    attempt(f'affinity {pid}', lambda: os.sched_setaffinity(pid, {0}))\n"
        "    attempt(f'kill {pid}', lambda: os.kill(pid, signal.SIGSTOP))\n"
        "attempt('F_SETSIG', lambda: fcntl.fcntl(w, 10, signal.SIGKILL))\n"
        "attempt('FIOASYNC', lambda: fcntl.ioctl(w, 0x5452, b'\\1\\0\\0\\0'))\n"
        "attempt('user nice', lambda: os.setpriority(os.PRIO_USER, 0, 19))\n"
        "os.write(w, b'x')\n"
        "print(done)\n"
    )
    for _ in range(2):
        assert output_of(lone, attacks).strip() == "[]"
    start = time.monotonic()
    for _ in range(5):
        assert judge(lone, HASH_PROBLEM, HASH_PROBLEM.solutions[0]).status == PASSED
    assert time.monotonic() - start < 10


def test_the_next_run_directory_cannot_be_prepared_or_occupied(lone):
    code = (
        "import os\n"
        "made = []\n"
        "parent = os.path.dirname(os.getcwd())\n"
        "for name in [f'run{i}' for i in range(50)] + ['0' * 16, 'x']:\n"
        "    for folder in (parent, '/tmp'):\n"
        "        try:\n"
        "            os.mkdir(os.path.join(folder, name))\n"
        "            made.append(name)\n"
        "        except OSError:\n"
        "            pass\n"
        "print(made, os.getcwd() != os.path.join(parent, 'run1'))\n"
    )
    assert output_of(lone, code).strip() == "[] True"
    assert judge(lone, HASH_PROBLEM, HASH_PROBLEM.solutions[0]).status == PASSED


def test_a_stopped_or_killed_server_is_replaced_and_the_harness_finishes(monkeypatch):
    config = SandboxConfig(workers=1, reply_grace=1.0)
    with Sandbox(config) as sb:
        first = set(sandbox_pids(sb))
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in sandbox_pids(sb):
                os.kill(pid, sig)
            start = time.monotonic()
            assert judge(sb, HASH_PROBLEM, HASH_PROBLEM.solutions[0]).status == PASSED
            assert time.monotonic() - start < 15
        assert not first & set(sandbox_pids(sb))  # new servers

        # A neighbour that stops every server as soon as it is ready: the run is tried on
        # two servers, then judged harness_error, and the harness goes on.
        new_server = Sandbox._new_server

        def stopped_at_once(self):
            server = new_server(self)
            for pid in sandbox_pids(self):
                os.kill(pid, signal.SIGSTOP)
            return server

        for pid in sandbox_pids(sb):
            os.kill(pid, signal.SIGSTOP)
        monkeypatch.setattr(Sandbox, "_new_server", stopped_at_once)
        verdict = judge(sb, HASH_PROBLEM, HASH_PROBLEM.solutions[0])
        assert verdict.status == HARNESS_ERROR and not verdict.passed
        assert "lost twice" in verdict.tests[0].message
        monkeypatch.setattr(Sandbox, "_new_server", new_server)
        assert judge(sb, HASH_PROBLEM, HASH_PROBLEM.solutions[0]).status == PASSED
    time.sleep(0.2)
    assert sandbox_pids(sb) == []


# ------------------------------------------------------------------ layers
def test_every_layer_is_on_and_a_missing_one_is_refused(lone):
    assert missing_layers(lone.config, lone.layers) == {}
    weak = SandboxConfig(workers=1)
    layers = dict(lone.layers, user="unavailable (not root)")
    assert list(missing_layers(weak, layers)) == ["user"]
    assert missing_layers(SandboxConfig(workers=1, own_uid=False), layers) == {}


def test_a_sandbox_without_a_layer_it_asks_for_does_not_start(monkeypatch):
    """Simulated by a server configuration the kernel refuses: no seccomp programs."""
    from motcoder.sandbox import pool

    def broken():
        raise OSError("libseccomp is not installed")

    monkeypatch.setattr(pool, "seccomp_programs", broken)
    with pytest.raises(SandboxError, match="--allow-weaker-sandbox"):
        Sandbox(SandboxConfig(workers=1, allow_weaker=False))
    with Sandbox(SandboxConfig(workers=1, allow_weaker=True)) as sb:
        assert sb.layers["seccomp"].startswith("MISSING: unavailable")
        assert output_of(sb, "print(6 * 7)\n").strip() == "42"


# ------------------------------------------------------------------ what programs may do
def test_ordinary_programs_keep_working_under_the_allow_list(lone):
    code = (
        "import asyncio, datetime, decimal, hashlib, json, os, random, sys, tempfile\n"
        "import threading, time, fractions, heapq, collections, itertools\n"
        "import numpy\n"
        "again = open('/dev/stdin').read()\n"  # a file of its own, from the start
        "data = sys.stdin.read().split()\n"
        "results = []\n"
        "t = threading.Thread(target=lambda: results.append(sum(map(int, data))))\n"
        "t.start(); t.join()\n"
        "async def main():\n"
        "    await asyncio.sleep(0.01)\n"
        "    return 'async'\n"
        "results.append(asyncio.run(main()))\n"
        "with tempfile.NamedTemporaryFile('w+') as f:\n"
        "    f.write('temp'); f.flush(); f.seek(0); results.append(f.read())\n"
        "time.sleep(0.01)\n"
        "results.append(int(numpy.arange(5).sum()))\n"
        "results.append(hashlib.sha256(b'x').hexdigest()[:6])\n"
        "results.append(datetime.datetime.now().year > 2000)\n"
        "results.append(os.cpu_count() >= 1 and random.random() < 1)\n"
        "sys.setrecursionlimit(10 ** 6)\n"
        "print(results, again.split() == data)\n"
    )
    out = output_of(lone, code, stdin="1 2 3\n", cpu=10.0)
    assert out.strip() == "[6, 'async', 'temp', 10, '2d7116', True, True] True"


def test_an_environment_under_tmp_keeps_its_files_and_the_runs_their_scratch(tmp_path):
    """An allowed path under /tmp (a checkout or virtualenv there, as in a CI clone): the
    scratch tmpfs goes elsewhere instead of covering it."""
    shared = tmp_path / "lib"
    shared.mkdir()
    (shared / "helper_module.py").write_text("VALUE = 41\n")
    assert str(tmp_path).startswith("/tmp/")
    code = (f"import os, sys\nsys.path.insert(0, {str(shared)!r})\nimport helper_module\n"
            "open('mine.txt', 'w').write('x')\n"
            "print(helper_module.VALUE + 1, os.path.dirname(os.getcwd()))\n")
    with Sandbox(SandboxConfig(workers=1, allow=[str(shared)])) as sb:
        value, scratch = output_of(sb, code).split()
    assert value == "42" and scratch == "/.scratch"
