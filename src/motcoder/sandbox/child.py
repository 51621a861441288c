"""What runs inside a forked, isolated child: execute one untrusted program.

The child never holds an expected output. It runs the program and sends back plain data:
its stdout (the fork-server reads it from a file only the server keeps a handle to) and, for
function calls, one encoded result per call on file descriptor 3. The trusted harness
decides the verdict from those bytes.

Modes:

* ``stdio``  — run the program as ``__main__`` with the test input on stdin;
* ``calls``  — define the program (not as ``__main__``), run the trusted setup code, then call
  the entry point with each ``(args, kwargs)`` pair (plain values, unpickled from the trusted
  request) and send ``["answers", [...]]`` with one ``["ok", value]``, ``["exc", text]`` or
  ``["unenc", type]`` per call;
* ``record`` — trusted: run reference solutions under their assertion scripts (a batch,
  each in its own namespace) and send, per item, the argument lists the script passed to
  the entry point (used to replay the script in the harness against a candidate's answers);
* ``script`` — fallback of lower trust: run an assertion script against the program inside
  the child and report whether it raised.

Programs arrive as source (``code``) and, when the harness could compile it, as a marshalled
code object (``compiled``) too, which is used instead: compiling in the child cost it more
than running most programs. Everything is compiled without inheriting this module's
``__future__`` flags, so programs get the language as it is.
"""

from __future__ import annotations

import io
import json
import marshal
import os
import random
import sys
import traceback
from typing import Any

from motcoder.sandbox import codec

RESULT_FD = 3


_ENCODER = json.JSONEncoder(separators=(",", ":"))  # built once, in the server


def _send(record: Any) -> None:
    """Write one result line: plain JSON whose payloads are already codec-encoded."""
    data = (_ENCODER.encode(record) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(RESULT_FD, view):]


_STDIO: tuple[Any, Any, Any] | None = None


def prepare_stdio() -> None:
    """Build the child's text streams over fds 0-2 once, in the server, before any fork:
    each child then only points `sys` at them (fewer pages written after the fork)."""
    global _STDIO
    _STDIO = (
        io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)),
                         encoding="utf-8", errors="replace"),
        io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
                         encoding="utf-8", errors="replace"),
        io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
                         encoding="utf-8", errors="replace", line_buffering=True),
    )


def _fresh_stdio() -> None:
    if _STDIO is None:
        prepare_stdio()
    sys.stdin, sys.stdout, sys.stderr = _STDIO  # type: ignore[misc]
    sys.argv = ["solution.py"]


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the program may have broken its streams
            pass


def compile_source(source: str, filename: str) -> Any:
    """Compile as the language is: no inherited ``__future__`` flags, and asserts kept
    whatever optimisation level the harness runs with (``PYTHONOPTIMIZE``, ``-O``)."""
    return compile(source, filename, "exec", dont_inherit=True, optimize=0)


def _exec_program(req: dict[str, Any], name: str) -> dict[str, Any]:
    env: dict[str, Any] = {"__name__": name, "__builtins__": __builtins__}
    compiled = req.get("compiled")
    code = marshal.loads(compiled) if compiled else compile_source(req["code"], "solution.py")
    exec(code, env)  # noqa: S102 - this is the sandbox
    return env


def _exec_trusted(source: str, filename: str, env: dict[str, Any]) -> None:
    """Setup code and assertion scripts of the benchmark (trusted, but run here)."""
    exec(compile_source(source, filename), env)  # noqa: S102


def _resolve(env: dict[str, Any], fn_name: str) -> Any:
    """The callable under test: a top-level function, or a method of LeetCode's Solution."""
    solution_cls = env.get("Solution")
    if isinstance(solution_cls, type) and hasattr(solution_cls, fn_name):
        return getattr(solution_cls(), fn_name)
    if fn_name in env:
        return env[fn_name]
    raise NameError(f"the program does not define {fn_name!r}")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _run_stdio(req: dict[str, Any]) -> int:
    try:
        _exec_program(req, "__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code & 0xFF
        print(code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - report any failure of the program
        traceback.print_exc()
        return 1
    return 0


def _call_all(fn: Any, calls: list[Any]) -> None:
    """Call ``fn`` once per ``(args, kwargs)``; send all answers in one line at the end
    (a program killed midway sends none, and is judged from its exit)."""
    answers = []
    for args, kwargs in calls:
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001
            answers.append(["exc", _describe(exc)])
            continue
        try:
            answers.append(["ok", codec.encode(value)])
        except codec.Unencodable as exc:
            answers.append(["unenc", exc.type_name])
    _send(["answers", answers])


def _run_calls(req: dict[str, Any]) -> int:
    try:
        env = _exec_program(req, "__solution__")
        if req.get("setup"):
            _exec_trusted(req["setup"], "setup.py", env)
        fn = _resolve(env, req["fn"])
    except BaseException as exc:  # noqa: BLE001
        _send(["load_error", _describe(exc)])
        traceback.print_exc()
        return 1
    _call_all(fn, req["calls"])
    return 0


class _Recorder:
    """Wraps the reference function; records the arguments of top-level calls only."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.calls: list[Any] = []
        self.depth = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.depth == 0:
            self.calls.append([codec.encode(list(args)), codec.encode(kwargs)])
        self.depth += 1
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.depth -= 1


def _record_one(item: dict[str, Any]) -> list[Any]:
    try:
        env = _exec_program(item, "__solution__")
        if item.get("setup"):
            _exec_trusted(item["setup"], "setup.py", env)
        recorder = _Recorder(_resolve(env, item["fn"]))
        env[item["fn"]] = recorder
        random.seed(item["seed"])
        _exec_trusted(item["script"], "test.py", env)
    except codec.Unencodable as exc:
        return ["unencodable_args", str(exc)]
    except BaseException as exc:  # noqa: BLE001
        return ["reference_failed", _describe(exc)]
    return ["recorded", recorder.calls]  # already codec-encoded argument lists


def _run_record(req: dict[str, Any]) -> int:
    """Trusted reference solutions under their scripts, each in its own namespace; one
    line per item, written as soon as it is known (a batch cut short keeps what it has)."""
    for item in req["items"]:
        _send(_record_one(item))
    return 0


def _run_script(req: dict[str, Any]) -> int:
    try:
        env = _exec_program(req, "__solution__")
        if req.get("setup"):
            _exec_trusted(req["setup"], "setup.py", env)
        env[req["fn"]] = _resolve(env, req["fn"])
        random.seed(req["seed"])
        _exec_trusted(req["script"], "test.py", env)
    except AssertionError as exc:
        _send(["failed", "AssertionError: " + str(exc)[:2000]])
        return 1
    except BaseException as exc:  # noqa: BLE001
        _send(["error", _describe(exc)])
        return 1
    _send(["passed"])
    return 0


_MODES = {"stdio": _run_stdio, "calls": _run_calls, "record": _run_record,
          "script": _run_script}


def run(req: dict[str, Any]) -> int:
    """Run the program of ``req``; return the exit status (never raises)."""
    _fresh_stdio()
    try:
        status = _MODES[req["mode"]](req)
    except BaseException:  # noqa: BLE001
        status = 1
    _flush()
    return status
