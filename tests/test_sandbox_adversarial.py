"""Programs that try to fool the harness or harm the host must fail, and change nothing.

Each attack is judged by the real sandbox (every isolation layer on). For each we check the
verdict is a failure, and, where the attack aims at the host, that the host is unchanged.
"""

from __future__ import annotations

import os
import socket
import time

import pytest

from motcoder.problems.model import Problem
from motcoder.problems.samples import Sample
from motcoder.sandbox.judge import Judge
from motcoder.sandbox.limits import Limits
from motcoder.sandbox.pool import Sandbox, SandboxConfig
from motcoder.sandbox.verdict import OUTPUT_LIMIT, PASSED, TIMEOUT
from sandbox_helpers import sandbox_pids


def run(judge: Judge, problem: Problem, code: str):
    return judge.judge(problem, Sample(problem.id, code))


def assert_fails(verdict, status: str | None = None) -> None:
    assert not verdict.passed, verdict
    assert verdict.status != PASSED
    if status:
        assert verdict.status == status, verdict


def processes_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                pass
    return found


# ------------------------------------------------------------------ forged verdicts
EARLY_EXITS = {
    "os._exit(0)": "import os\nos._exit(0)\n",
    "sys.exit(0)": "import sys\nsys.exit(0)\n",
    "exit in function": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "SystemExit in function": "def add(a, b):\n    raise SystemExit(0)\n",
}


@pytest.mark.parametrize("code", EARLY_EXITS.values(), ids=EARLY_EXITS.keys())
def test_early_exit_fails_every_test_kind(judge, add_assert_problem, add_call_problem,
                                          sum_stdio_problem, code):
    for problem in (add_assert_problem, add_call_problem, sum_stdio_problem):
        assert_fails(run(judge, problem, code))


ALWAYS_EQUAL = {
    "object with __eq__": (
        "class Anything:\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n"
        "    def __hash__(self): return 0\n"
        "def add(a, b):\n    return Anything()\n"
    ),
    "int subclass with __eq__": (
        "class Int(int):\n"
        "    def __eq__(self, other): return True\n"
        "def add(a, b):\n    return Int(0)\n"
    ),
    "str subclass with __eq__": (
        "class S(str):\n"
        "    def __eq__(self, other): return True\n"
        "def add(a, b):\n    return S('x')\n"
    ),
}


@pytest.mark.parametrize("code", ALWAYS_EQUAL.values(), ids=ALWAYS_EQUAL.keys())
def test_always_equal_results_fail(judge, add_assert_problem, add_call_problem, code):
    for problem in (add_assert_problem, add_call_problem):
        verdict = run(judge, problem, code)
        assert_fails(verdict)
        assert verdict.trust == "parent"


FRAME_WALKERS = {
    "read caller frames": (
        "import sys, gc\n"
        "def add(a, b):\n"
        "    f = sys._getframe(1)\n"
        "    while f is not None:\n"
        "        for k, v in list(f.f_locals.items()):\n"
        "            if k in ('expected', 'output', 'result', 'results'):\n"
        "                return v\n"
        "        f = f.f_back\n"
        "    return None\n"
    ),
    "write caller frames": (
        "import sys\n"
        "def add(a, b):\n"
        "    f = sys._getframe(1)\n"
        "    while f is not None:\n"
        "        for k in ('passed', 'ok', 'status', 'result'):\n"
        "            f.f_globals[k] = True\n"
        "        f = f.f_back\n"
        "    return -1\n"
    ),
    "scan the heap": (
        "import gc\n"
        "def add(a, b):\n"
        "    for o in gc.get_objects():\n"
        "        if isinstance(o, dict) and 'expected' in o:\n"
        "            return o['expected']\n"
        "    return -1\n"
    ),
    "patch builtins": (
        "import builtins\n"
        "builtins.AssertionError = type('Never', (BaseException,), {})\n"
        "def add(a, b):\n    return -1\n"
    ),
}


@pytest.mark.parametrize("code", FRAME_WALKERS.values(), ids=FRAME_WALKERS.keys())
def test_frame_and_heap_tricks_fail(judge, add_assert_problem, add_call_problem, code):
    for problem in (add_assert_problem, add_call_problem):
        assert_fails(run(judge, problem, code))


RUNNER_DETECTOR = (
    "import os, sys\n"
    "def {fn}(*args, **kwargs):\n"
    "    frame = sys._getframe(0)\n"
    "    while frame:\n"
    "        if 'script' in frame.f_code.co_name:\n"  # judged inside the child? forge it
    "            os.write(3, b'[\"passed\"]\\n')\n"
    "            os._exit(0)\n"
    "        frame = frame.f_back\n"
    "    return 'nope'\n"
)


@pytest.mark.parametrize("task_id", ["HumanEval/77", "HumanEval/95", "HumanEval/148"])
def test_checks_that_call_the_candidate_again_stay_in_the_parent(judge, task_id):
    """These checks call the candidate again in their assertion message, a call the
    reference never made; the judge must run it too rather than judge inside the child."""
    from motcoder.problems.humaneval import load_humaneval

    problem = next(p for p in load_humaneval() if p.id == task_id)
    verdict = run(judge, problem, RUNNER_DETECTOR.replace("{fn}", problem.entry_point))
    assert_fails(verdict)
    assert verdict.trust == "parent"
    assert "First test error" in verdict.tests[0].message


def test_printing_to_results_channel_does_not_forge(judge, add_assert_problem):
    code = (
        "import os\n"
        "os.write(3, b'[\"l\", [\"ok\", 5]]\\n' * 10)\n"
        "def add(a, b):\n    return -1\n"
    )
    assert_fails(run(judge, add_assert_problem, code))


# ------------------------------------------------------------------ limits
def test_catching_timeout_signals_still_times_out(judge, sum_stdio_problem):
    code = (
        "import signal\n"
        "for s in (signal.SIGALRM, signal.SIGXCPU, signal.SIGTERM, signal.SIGINT):\n"
        "    signal.signal(s, signal.SIG_IGN)\n"
        "while True:\n    pass\n"
    )
    start = time.monotonic()
    assert_fails(run(judge, sum_stdio_problem, code), TIMEOUT)
    assert time.monotonic() - start < 10


def test_infinite_loop_times_out(judge, add_assert_problem):
    assert_fails(run(judge, add_assert_problem, "def add(a, b):\n    while True: pass\n"),
                 TIMEOUT)


def test_sleeping_program_is_stopped_by_wall_clock(judge, sum_stdio_problem):
    assert_fails(run(judge, sum_stdio_problem, "import time\ntime.sleep(60)\n"), TIMEOUT)


def test_memory_bomb_fails(judge, sum_stdio_problem):
    code = "blocks = []\nwhile True:\n    blocks.append(bytearray(50 << 20))\n"
    assert_fails(run(judge, sum_stdio_problem, code))


def test_huge_output_is_capped(judge, sum_stdio_problem):
    code = ("import sys\nchunk = 'x' * (1 << 20)\n"
            "for _ in range(1024):\n    sys.stdout.write(chunk)\n")
    assert_fails(run(judge, sum_stdio_problem, code), OUTPUT_LIMIT)


def test_fork_bomb_fails_and_leaves_nothing(judge, sum_stdio_problem):
    code = "import os\nwhile True:\n    os.fork()\n"
    assert_fails(run(judge, sum_stdio_problem, code))
    # per server: its supervisor, the server, its zygote, and at most one warm child
    assert len(sandbox_pids(judge.sandbox)) <= 4 * judge.sandbox.workers


def test_subprocesses_cannot_be_started(judge, sum_stdio_problem):
    code = "import subprocess\nprint(subprocess.check_output(['echo', '5']).decode())\n"
    assert_fails(run(judge, sum_stdio_problem, code))


ORPHAN = (
    "import ctypes, os, time\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        ctypes.CDLL('libc.so.6').prctl(15, b'{name}', 0, 0, 0)\n"  # PR_SET_NAME
    "        time.sleep(30)\n"
    "    os._exit(0)\n"
    "print(5)\n"
)


@pytest.mark.parametrize("seccomp", [True, False], ids=["seccomp", "namespaces-only"])
def test_setsid_grandchild_does_not_outlive_the_run(sum_stdio_problem, seccomp):
    """With seccomp the fork is refused; without it, the PID namespace cleanup kills it."""
    name = f"mc-orphan-{int(seccomp)}"
    with Sandbox(SandboxConfig(workers=1, seccomp=seccomp)) as sb:
        judge = Judge(sb, Limits(cpu_seconds=1.0))
        start = time.monotonic()
        run(judge, sum_stdio_problem, ORPHAN.replace("{name}", name))
        assert time.monotonic() - start < 10  # the run did not wait for the orphan either
        time.sleep(0.2)
        assert processes_named(name) == []
        # the server is intact and still judges correctly
        good = run(judge, sum_stdio_problem, sum_stdio_problem.solutions[0])
        assert good.passed


# ------------------------------------------------------------------ the host
def test_files_outside_the_temp_dir_are_untouchable(judge, sum_stdio_problem, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    created = tmp_path / "created.txt"
    home_file = os.path.expanduser("~/motcoder-sandbox-escape.txt")
    code = (
        "import os\n"
        f"for action in (lambda: os.remove({str(victim)!r}),\n"
        f"               lambda: open({str(victim)!r}, 'w').write('gone'),\n"
        f"               lambda: open({str(created)!r}, 'w').write('x'),\n"
        f"               lambda: open({home_file!r}, 'w').write('x'),\n"
        "               lambda: open('/tmp/motcoder-escape', 'w').write('x')):\n"
        "    try:\n        action()\n    except OSError:\n        pass\n"
        "open('local.txt', 'w').write('fine')\n"  # its own temp dir is writable
        "print(open('local.txt').read())\n"
    )
    verdict = run(judge, sum_stdio_problem, code)
    assert_fails(verdict)
    assert victim.read_text() == "keep me"
    assert not created.exists()
    assert not os.path.exists(home_file)
    assert not os.path.exists("/tmp/motcoder-escape")
    assert "fine" in verdict.tests[0].message  # the program ran and wrote its own file


def test_network_is_unreachable(judge, sum_stdio_problem):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    code = (
        "import socket\n"
        f"s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "s.sendall(b'leak')\nprint(5)\n"
    )
    try:
        assert_fails(run(judge, sum_stdio_problem, code))
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_test_data_and_harness_memory_are_unreadable(sum_stdio_problem, tmp_path):
    """The problem file is hidden, the harness is outside the PID namespace."""
    data = tmp_path / "problems.jsonl"
    data.write_text('{"secret": "the answer is 5"}\n')
    code = (
        "import os\n"
        "found = ''\n"
        f"try:\n    found += open({str(data)!r}).read()\nexcept OSError:\n    pass\n"
        f"for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit():\n"
        "        try:\n"
        "            found += open(f'/proc/{pid}/cmdline', 'rb').read().decode('latin1')\n"
        "        except OSError:\n"
        "            pass\n"
        f"print('5' if 'the answer is 5' in found or {str(os.getpid())!r} in os.listdir('/proc')"
        " else 'blind')\n"
    )
    with Sandbox(SandboxConfig(workers=1, hide=[str(data)])) as sb:
        verdict = run(Judge(sb, Limits(cpu_seconds=2.0)), sum_stdio_problem, code)
    assert_fails(verdict)
    assert "blind" in verdict.tests[0].message


def test_other_processes_files_are_out_of_reach(judge, sum_stdio_problem):
    """The fork-server (PID 1) holds the pipes to the harness: a program that could open
    /proc/1/fd/* could write a forged reply. No other process's fds or memory may open."""
    code = (
        "import os\n"
        "opened = []\n"
        "for pid in os.listdir('/proc'):\n"
        "    if not pid.isdigit() or int(pid) == os.getpid():\n"
        "        continue\n"
        "    for name in ['mem'] + [f'fd/{fd}' for fd in range(32)]:\n"
        "        try:\n"
        "            os.close(os.open(f'/proc/{pid}/{name}', os.O_RDONLY))\n"
        "            opened.append(f'{pid}/{name}')\n"
        "        except OSError:\n"
        "            pass\n"
        "print(5 if opened else 'blind', opened)\n"
    )
    verdict = run(judge, sum_stdio_problem, code)
    assert_fails(verdict)
    assert "blind" in verdict.tests[0].message, verdict


def test_hanging_finalizers_do_not_hang_the_harness(judge, sum_stdio_problem):
    atexit_code = "import atexit\natexit.register(lambda: [None for _ in iter(int, 1)])\nprint(4)\n"
    start = time.monotonic()
    assert_fails(run(judge, sum_stdio_problem, atexit_code))
    del_code = (
        "class Forever:\n"
        "    def __del__(self):\n"
        "        while True:\n            pass\n"
        "x = Forever()\nprint(4)\ndel x\n"
    )
    assert_fails(run(judge, sum_stdio_problem, del_code), TIMEOUT)
    assert time.monotonic() - start < 10


def test_killing_other_processes_is_impossible(judge, sum_stdio_problem):
    code = (
        "import os, signal\n"
        "for pid in (-1, 1, os.getppid()):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
        "print(4)\n"
    )
    assert_fails(run(judge, sum_stdio_problem, code))
    assert run(judge, sum_stdio_problem, sum_stdio_problem.solutions[0]).passed


def test_no_stray_process_after_the_suite(sum_stdio_problem):
    """Run the nastiest programs, close the sandbox: nothing of it may remain."""
    with Sandbox(SandboxConfig(workers=2)) as sb:
        judge = Judge(sb, Limits(cpu_seconds=0.5))
        for code in ("import os\nwhile True: os.fork()\n",
                     ORPHAN.replace("{name}", "mc-orphan-x"),
                     "while True: pass\n"):
            assert_fails(run(judge, sum_stdio_problem, code))
        assert sandbox_pids(sb)  # the servers were running
    time.sleep(0.1)
    assert sandbox_pids(sb) == []
    assert processes_named("mc-orphan-x") == []
