"""The judge: run a program on a problem's tests in the sandbox and decide, in the harness.

Every decision is taken here, in the trusted process, from plain data the child sent back:

* ``stdio`` tests — the captured stdout bytes are compared with the expected output;
* ``call`` tests — the child sends the encoded return value; it is decoded into builtin
  types and compared with type checks;
* ``assert`` tests (HumanEval's ``check(candidate)``, MBPP asserts) — the official script is
  kept but moved out of the child. Once per problem, the *reference* solution runs under the
  script in the sandbox and the argument lists the script passes to the entry point are
  recorded. The candidate is then called with exactly those arguments in the sandbox, and
  the script is replayed here in the harness against a stand-in function that returns the
  candidate's decoded results. The candidate's objects never reach the harness, so no
  ``__eq__`` or frame trick can touch the verdict. When the script asks for a call that was
  not run (the candidate's answers led it elsewhere, or an assertion message calls the
  candidate again), the candidate is run once more with that call added, up to
  ``MAX_REPLAY_ROUNDS`` times; the verdict never moves into the child because of what a
  candidate did. Only when no recording is possible at all (no reference solution,
  arguments that cannot be encoded) does the script run inside the child, and the verdict
  then says ``trust: in-child``.
"""

from __future__ import annotations

import builtins
import functools
import json
import random
import signal
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from motcoder.problems.model import Problem, Test
from motcoder.problems.samples import Sample
from motcoder.sandbox import codec
from motcoder.sandbox.compare import compare_call_result, compare_stdout
from motcoder.sandbox.forkserver import SETUP_FAILED
from motcoder.sandbox.limits import Limits
from motcoder.sandbox.pool import RawResult, Sandbox
from motcoder.sandbox.recording_cache import RecordingCache
from motcoder.sandbox.verdict import (
    HARNESS_ERROR,
    MEMORY_LIMIT,
    NO_CODE,
    NOT_RUN,
    OUTPUT_LIMIT,
    PASSED,
    RUNTIME_ERROR,
    TIMEOUT,
    TRUST_IN_CHILD,
    TRUST_PARENT,
    WRONG_ANSWER,
    TestOutcome,
    Verdict,
)

REPLAY_SEED = 20240601
MAX_REPLAY_ROUNDS = 6
MESSAGE_CHARS = 1000
_REPLAY_LOCK = threading.Lock()  # replays touch the global `random` state


class NoTestsError(ValueError):
    """A problem without tests for the verdict: judging it would be a silent success."""


@dataclass
class Recording:
    """The calls an assertion script made to the reference solution, or why none exist."""

    calls: list[Any] | None
    problem: str = ""  # why recording failed, when calls is None

    @functools.cached_property
    def arguments(self) -> list[tuple[Any, Any]]:
        """The recorded calls decoded once into ``(args, kwargs)``, as the child takes them."""
        return [_decoded(call) for call in self.calls or []]

    @functools.cached_property
    def keys(self) -> list[str]:
        """Each recorded call as the text a replay looks it up by (computed once, not per
        judged sample)."""
        return [_call_key(call) for call in self.calls or []]


def _call_key(call: Any) -> str:
    return json.dumps(call)


def _decoded(call: Any) -> tuple[Any, Any]:
    encoded_args, encoded_kwargs = call
    return tuple(codec.decode(encoded_args)), codec.decode(encoded_kwargs)


def _clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


def _stderr_tail(raw: RawResult) -> str:
    return _clip(raw.stderr.decode("utf-8", "replace").strip()[-MESSAGE_CHARS:])


def process_failure(raw: RawResult, cpu_limit: float, out_mb: int) -> tuple[str, str] | None:
    """Status and message when the process itself failed (limits, crash), else None."""
    if raw.harness_error:
        return HARNESS_ERROR, raw.harness_error
    if raw.oom_killed:
        return MEMORY_LIMIT, "memory limit exceeded (killed at the memory cgroup's limit)"
    if raw.exit_code == SETUP_FAILED and b"motcoder sandbox: child set-up failed" in raw.stderr:
        return HARNESS_ERROR, _stderr_tail(raw)
    if raw.timed_out or raw.signal in (signal.SIGXCPU, signal.SIGKILL) or raw.cpu > cpu_limit:
        return TIMEOUT, f"time limit exceeded ({cpu_limit:g} s CPU)"
    if raw.signal == signal.SIGXFSZ or len(raw.stdout) >= out_mb << 20:
        return OUTPUT_LIMIT, f"output limit exceeded ({out_mb} MB)"
    if b"MemoryError" in raw.stderr[-2000:]:
        return MEMORY_LIMIT, "memory limit exceeded"
    if raw.signal is not None:
        return RUNTIME_ERROR, f"killed by signal {signal.Signals(raw.signal).name}"
    if raw.exit_code not in (0, None):
        return RUNTIME_ERROR, _stderr_tail(raw) or f"exit status {raw.exit_code}"
    return None


def read_message(raw: RawResult) -> list[Any]:
    """The runner's message: the last line of the results channel, as plain JSON.

    The runner writes it last, just before exiting; anything the program itself wrote to the
    channel comes before it. It is ``[tag, payload...]``; payload values inside are still
    codec-encoded and are decoded only where used. Anything malformed reads as no message.
    """
    lines = raw.results.rstrip(b"\n").rsplit(b"\n", 1)
    try:
        message = json.loads(lines[-1]) if lines[-1] else None
    except (ValueError, RecursionError):
        return []
    if isinstance(message, list) and message and isinstance(message[0], str):
        return message
    return []


def _answers(message: list[Any]) -> list[Any]:
    """The per-call answers of an ``answers`` message (each ``[kind, payload]``)."""
    if message[:1] != ["answers"] or len(message) != 2 or not isinstance(message[1], list):
        return []
    return [a for a in message[1] if isinstance(a, list) and a and isinstance(a[0], str)]


class _ReplayDiverged(BaseException):
    """The script asked for a call that was not recorded (BaseException: not catchable by
    the script's own ``except Exception``)."""


class _MissingResult(BaseException):
    """The candidate produced no result for a recorded call (crash, limit)."""


def _rebuild_exception(text: str) -> BaseException:
    name, _, message = text.partition(": ")
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:  # noqa: BLE001 - odd constructor signatures
            pass
    return RuntimeError(text)


class _Replayer:
    """Stand-in for the candidate function during a replay in the harness.

    It answers each call with the candidate's answer for the same arguments, in order. A
    call that was not run (other arguments, or the same ones once more — e.g. an assertion
    message that calls the candidate again) is noted in ``missing`` and ends the replay, so
    the judge can run the candidate once more with it.

    Calls are matched by their wire encoding. The usual case — the script calls again with
    exactly the recorded arguments, in the recorded order — is recognised by comparing the
    values themselves (`_same`: equal values of the very same types, which encode alike),
    without encoding them.
    """

    def __init__(self, keys: list[str], arguments: list[tuple[Any, Any]],
                 answers: list[Any]) -> None:
        self.keys = keys
        self.arguments = arguments
        self.answers = answers
        self.used = [False] * len(keys)
        self.next = 0  # no recorded call before this one is still unused
        self.queues: dict[str, list[int]] | None = None  # built on the first other call
        self.missing: list[Any] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        while self.next < len(self.used) and self.used[self.next]:
            self.next += 1
        index = self.next
        if not (index < len(self.arguments) and _same(args, self.arguments[index][0])
                and _same(kwargs, self.arguments[index][1])):
            index = self._lookup(args, kwargs)
        self.used[index] = True
        if index >= len(self.answers):
            raise _MissingResult
        kind, *payload = self.answers[index]
        if kind == "ok":
            return codec.decode(payload[0])
        if kind == "unenc":
            return codec.Opaque(str(payload[0]))
        raise _rebuild_exception(str(payload[0]))

    def _lookup(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        """The first unused recorded call with the same encoding, else a divergence."""
        try:
            call = [codec.encode(list(args)), codec.encode(kwargs)]
        except codec.Unencodable as exc:
            raise _ReplayDiverged(
                f"the check passed an argument that cannot be sent: {exc}") from None
        if self.queues is None:
            self.queues = {}
            for i, key in enumerate(self.keys):
                self.queues.setdefault(key, []).append(i)
        queue = self.queues.get(_call_key(call), [])
        while queue and self.used[queue[0]]:
            queue.pop(0)
        if not queue:
            self.missing.append(call)
            raise _ReplayDiverged("the check made a call that was not run")
        return queue.pop(0)


_EXACT = (type(None), bool, int, str, bytes)


def _same(a: Any, b: Any) -> bool:
    """True only when ``a`` and ``b`` are equal values of the very same builtin types (so
    their encodings are equal); anything else — sets, dicts, subclasses, NaN, very deep
    values — answers False and is compared by encoding instead."""
    t = type(a)
    if t is not type(b):
        return False
    if t in _EXACT:
        return a == b
    if t is float:
        return a == b and (a != 0.0 or repr(a) == repr(b))  # 0.0 and -0.0 encode apart
    if t is list or t is tuple:
        try:
            return len(a) == len(b) and all(map(_same, a, b))
        except RecursionError:
            return False
    if t is dict and not a and not b:
        return True  # no keyword arguments: the usual case
    return False


def _failing_line(script: str, exc: BaseException) -> str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == "<test>" and frame.lineno:
            lines = script.splitlines()
            if 0 < frame.lineno <= len(lines):
                return lines[frame.lineno - 1].strip()
    return ""


@functools.lru_cache(maxsize=4096)
def _compiled(source: str, filename: str) -> Any:
    """Trusted benchmark code (references, setup, scripts) is compiled once — with its
    asserts, whatever the harness's own optimize level (``-O``, ``PYTHONOPTIMIZE``): a check
    compiled without them would pass any program."""
    return compile(source, filename, "exec", dont_inherit=True, optimize=0)


class Judge:
    """Judges samples of problems with one `Sandbox`. Thread-safe."""

    def __init__(
        self,
        sandbox: Sandbox,
        limits: Limits | None = None,
        *,
        stdout_mode: str = "tokens",
        float_tol: float = 1e-6,
        early_stop: bool = True,
        judge: list[str] | None = None,
        cache: RecordingCache | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.cache = cache
        self.limits = limits or Limits()
        self.stdout_mode = stdout_mode
        self.float_tol = float_tol
        self.early_stop = early_stop
        self.judge_override = judge
        self._recordings: dict[tuple[str, int], Recording] = {}
        self._reference_cpu: dict[str, list[float | None]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public
    def judge(self, problem: Problem, sample: Sample) -> Verdict:
        tests = problem.judged_tests(self.judge_override)
        if not tests:
            raise NoTestsError(
                f"problem {problem.id!r} has no tests for the verdict "
                f"(judged visibilities: {self.judge_override or problem.judge})"
            )
        verdict = Verdict(task_id=sample.task_id, sample_index=sample.sample_index,
                          passed=False, status=NO_CODE, difficulty=problem.difficulty,
                          round=sample.round)
        if not sample.code.strip():
            verdict.reason = "the sample has no code"
            verdict.tests = [TestOutcome(i, t.visibility, NO_CODE) for i, t in enumerate(tests)]
            return verdict
        outcomes, trust = self.run_tests(problem, sample.code, tests,
                                         early_stop=self.early_stop)
        verdict.tests = outcomes
        verdict.trust = trust
        failing = next((o for o in outcomes if not o.passed), None)
        verdict.passed = failing is None
        verdict.status = PASSED if failing is None else failing.status
        if failing is not None:
            verdict.reason = f"test {failing.index} ({failing.visibility}): {failing.status}"
        return verdict

    def run_tests(
        self, problem: Problem, code: str, tests: list[Test], *, early_stop: bool = True
    ) -> tuple[list[TestOutcome], str]:
        """Run ``code`` on ``tests`` in order; return the outcomes and the trust level."""
        reference = self.reference_cpu(problem) if self.limits.scale_from_reference else None
        outcomes: list[TestOutcome] = []
        trust = TRUST_PARENT
        stopped = False
        for i, test in enumerate(tests):
            if stopped:
                outcomes.append(TestOutcome(i, test.visibility, NOT_RUN))
                continue
            ref_cpu = None
            if reference is not None:
                index = problem.tests.index(test)
                ref_cpu = reference[index] if index < len(reference) else None
            outcome, test_trust = self._run_one(problem, code, test, i, ref_cpu)
            if test_trust == TRUST_IN_CHILD:
                trust = TRUST_IN_CHILD
            outcomes.append(outcome)
            if early_stop and not outcome.passed:
                stopped = True
        return outcomes, trust

    # ------------------------------------------------------------------ per kind
    def _run_one(self, problem: Problem, code: str, test: Test, index: int,
                 ref_cpu: float | None) -> tuple[TestOutcome, str]:
        cpu = self.limits.cpu_for(problem, ref_cpu)
        if test.kind == "stdio":
            return self._stdio(problem, code, test, index, cpu), TRUST_PARENT
        if test.kind == "call":
            return self._call(problem, code, test, index, cpu), TRUST_PARENT
        return self._assert(problem, code, test, index, cpu)

    def _execute(self, problem: Problem, request: dict[str, Any], cpu: float) -> RawResult:
        return self.sandbox.run(
            request,
            cpu=cpu,
            wall=self.limits.wall_for(cpu),
            mem_mb=self.limits.memory_for(problem),
            out_mb=self.limits.output_mb,
        )

    def _outcome(self, index: int, test: Test, raw: RawResult, status: str,
                 message: str = "") -> TestOutcome:
        return TestOutcome(index, test.visibility, status, cpu_time=raw.cpu,
                           wall_time=raw.wall, peak_memory_mb=raw.peak_memory_mb,
                           message=_clip(message))

    def _stdio(self, problem: Problem, code: str, test: Test, index: int,
               cpu: float) -> TestOutcome:
        raw = self._execute(problem, {"mode": "stdio", "code": code, "stdin": test.input}, cpu)
        failure = process_failure(raw, cpu, self.limits.output_mb)
        if failure:
            return self._outcome(index, test, raw, *failure)
        ok, message = compare_stdout(raw.stdout, test.output, mode=self.stdout_mode,
                                     float_tol=self.float_tol)
        return self._outcome(index, test, raw, PASSED if ok else WRONG_ANSWER, message)

    def _call(self, problem: Problem, code: str, test: Test, index: int,
              cpu: float) -> TestOutcome:
        call = _decoded([codec.encode(list(test.args)), codec.encode({})])
        raw = self._execute(problem, {"mode": "calls", "code": code, "fn": problem.entry_point,
                                      "calls": [call], "setup": problem.setup_code}, cpu)
        message = read_message(raw)
        failure = process_failure(raw, cpu, self.limits.output_mb)
        if failure and failure[0] != RUNTIME_ERROR:
            return self._outcome(index, test, raw, *failure)
        if message[:1] == ["load_error"]:
            return self._outcome(index, test, raw, RUNTIME_ERROR, str(message[1:2]))
        answers = _answers(message)
        if not answers:
            text = failure[1] if failure else "the program returned no result"
            return self._outcome(index, test, raw, RUNTIME_ERROR, text)
        kind, *payload = answers[0]
        if kind == "ok":
            try:
                value = codec.decode(payload[0])
            except codec.CodecError as exc:
                return self._outcome(index, test, raw, WRONG_ANSWER, f"bad result: {exc}")
            ok, message = compare_call_result(value, test.expected, float_tol=self.float_tol)
            return self._outcome(index, test, raw, PASSED if ok else WRONG_ANSWER, message)
        if kind == "unenc":
            return self._outcome(index, test, raw, WRONG_ANSWER,
                                 f"returned a value that cannot be compared ({payload[0]})")
        return self._outcome(index, test, raw, RUNTIME_ERROR, str(payload[0]) if payload else "")

    def _assert(self, problem: Problem, code: str, test: Test, index: int,
                cpu: float) -> tuple[TestOutcome, str]:
        recording = self.recording(problem, test)
        if recording.calls is None:
            # No reference to record against: the only case judged inside the child.
            return self._assert_in_child(problem, code, test, index, cpu), TRUST_IN_CHILD
        arguments, keys = list(recording.arguments), list(recording.keys)
        for _ in range(MAX_REPLAY_ROUNDS):
            raw = self._execute(problem, {"mode": "calls", "code": code,
                                          "fn": problem.entry_point, "calls": arguments,
                                          "setup": problem.setup_code}, cpu)
            message = read_message(raw)
            if message[:1] == ["load_error"]:
                return self._outcome(index, test, raw, RUNTIME_ERROR,
                                     str(message[1:2])), TRUST_PARENT
            failure = process_failure(raw, cpu, self.limits.output_mb)
            if failure and failure[0] != RUNTIME_ERROR:
                return self._outcome(index, test, raw, *failure), TRUST_PARENT
            replayer = _Replayer(keys, arguments, _answers(message))
            try:
                status, text = self._replay(problem, test, replayer)
            except _MissingResult:
                text = failure[1] if failure else "the program stopped before answering"
                return self._outcome(index, test, raw, RUNTIME_ERROR, text), TRUST_PARENT
            except _ReplayDiverged as exc:
                if not replayer.missing:  # arguments that cannot even be sent
                    return self._outcome(index, test, raw, WRONG_ANSWER, str(exc)), TRUST_PARENT
                # Run the candidate again, with those calls too.
                arguments += [_decoded(call) for call in replayer.missing]
                keys += [_call_key(call) for call in replayer.missing]
                continue
            return self._outcome(index, test, raw, status, text), TRUST_PARENT
        # The check kept asking for calls the candidate's own answers led to. Never guessed,
        # never handed to the child: a failure, with the reason.
        return self._outcome(
            index, test, raw, WRONG_ANSWER,
            f"the check still asked for new calls after {MAX_REPLAY_ROUNDS} rounds (the "
            "candidate's answers lead it away from the reference's calls)"), TRUST_PARENT

    def _replay(self, problem: Problem, test: Test,
                replayer: _Replayer) -> tuple[str, str]:
        """Run the assertion script here, against the candidate's answers."""
        env: dict[str, Any] = {"__name__": "__replay__"}
        reference = _compiled(problem.solutions[0], "<reference>")
        setup = _compiled(problem.setup_code, "<setup>")
        script = _compiled(test.script, "<test>")
        with _REPLAY_LOCK:
            state = random.getstate()
            try:
                exec(reference, env)  # noqa: S102 - trusted benchmark code
                exec(setup, env)  # noqa: S102
                env[problem.entry_point] = replayer
                random.seed(REPLAY_SEED)
                exec(script, env)  # noqa: S102
            except (_ReplayDiverged, _MissingResult):
                raise
            except AssertionError as exc:
                line = _failing_line(test.script, exc)
                return WRONG_ANSWER, "assertion failed" + (f": {line}" if line else "")
            except Exception as exc:  # noqa: BLE001 - candidate answers broke the script
                line = _failing_line(test.script, exc)
                return WRONG_ANSWER, f"{type(exc).__name__}: {exc}" + (
                    f" at: {line}" if line else "")
            finally:
                random.setstate(state)
        return PASSED, ""

    def _assert_in_child(self, problem: Problem, code: str, test: Test, index: int,
                         cpu: float) -> TestOutcome:
        raw = self._execute(problem, {"mode": "script", "code": code, "fn": problem.entry_point,
                                      "setup": problem.setup_code, "script": test.script,
                                      "seed": REPLAY_SEED}, cpu)
        message = read_message(raw)
        failure = process_failure(raw, cpu, self.limits.output_mb)
        if message == ["passed"] and failure is None:
            return self._outcome(index, test, raw, PASSED)
        if failure and failure[0] != RUNTIME_ERROR:
            return self._outcome(index, test, raw, *failure)
        if message[:1] == ["failed"] and len(message) > 1:
            return self._outcome(index, test, raw, WRONG_ANSWER, str(message[1]))
        if len(message) > 1:
            return self._outcome(index, test, raw, RUNTIME_ERROR, str(message[1]))
        return self._outcome(index, test, raw, RUNTIME_ERROR,
                             failure[1] if failure else "the program stopped before the check")

    # ------------------------------------------------------------------ references
    def recording(self, problem: Problem, test: Test) -> Recording:
        """The calls ``test.script`` makes against the reference solution (cached)."""
        key = (problem.id, problem.tests.index(test))
        with self._lock:
            if key in self._recordings:
                return self._recordings[key]
        cached = self._cached(problem, test)
        recording = cached or self._record([(problem, test)])[0]
        self._remember(problem, test, recording, save=cached is None)
        return recording

    def prepare(self, problems: list[Problem]) -> None:
        """Record every assertion script of ``problems`` ahead of judging: from the on-disk
        cache when there, else in small batches (one process per batch, not per problem)
        spread over the workers. Whatever a batch did not finish is recorded on its own
        later, when first needed."""
        todo = []
        for problem in problems:
            for test in problem.judged_tests(self.judge_override):
                if test.kind != "assert" or not problem.solutions or not problem.entry_point:
                    continue
                if (problem.id, problem.tests.index(test)) in self._recordings:
                    continue
                cached = self._cached(problem, test)
                if cached:
                    self._remember(problem, test, cached, save=False)
                else:
                    todo.append((problem, test))
        if not todo:
            return
        count = min(len(todo), 4 * self.sandbox.workers)
        batches = [todo[i::count] for i in range(count)]
        with ThreadPoolExecutor(max_workers=self.sandbox.workers) as pool:
            for batch, recordings in zip(batches, pool.map(self._record, batches),
                                         strict=True):
                for (problem, test), recording in zip(batch, recordings, strict=True):
                    if recording.calls is not None:
                        self._remember(problem, test, recording)

    def _cache_key(self, problem: Problem, test: Test) -> str:
        return RecordingCache.key(problem.solutions[0], problem.setup_code, test.script,
                                  problem.entry_point or "", REPLAY_SEED)

    def _cached(self, problem: Problem, test: Test) -> Recording | None:
        if self.cache is None or not problem.solutions:
            return None
        calls = self.cache.get(self._cache_key(problem, test))
        if calls is None:
            return None
        recording = Recording(calls)
        try:
            recording.arguments  # noqa: B018 - a damaged entry is a miss, not a crash
        except (codec.CodecError, TypeError, ValueError):
            return None
        return recording

    def _remember(self, problem: Problem, test: Test, recording: Recording,
                  save: bool = True) -> None:
        with self._lock:
            self._recordings[(problem.id, problem.tests.index(test))] = recording
        if save and self.cache is not None and recording.calls is not None:
            self.cache.put(self._cache_key(problem, test), recording.calls)

    def _record(self, items: list[tuple[Problem, Test]]) -> list[Recording]:
        if not items:
            return []
        recordings = []
        for problem, _ in items:
            if not problem.solutions or not problem.entry_point:
                recordings.append(Recording(None, "no reference solution to record calls"))
        if recordings:
            return recordings if len(items) == 1 else [self._record([i])[0] for i in items]
        problem = items[0][0]
        cpu = max(self.limits.cpu_seconds, 10.0) * len(items)
        raw = self._execute(problem, {"mode": "record", "items": [
            {"code": p.solutions[0], "fn": p.entry_point, "setup": p.setup_code,
             "script": t.script, "seed": REPLAY_SEED} for p, t in items]}, cpu)
        for line in raw.results.splitlines()[:len(items)]:
            try:
                message = json.loads(line)
            except (ValueError, RecursionError):
                message = []
            if message[:1] == ["recorded"] and len(message) == 2 \
                    and isinstance(message[1], list):
                recordings.append(Recording(message[1]))
            else:
                why = str(message[1]) if len(message) > 1 else "no answer"
                recordings.append(Recording(None, f"recording against the reference failed: "
                                                  f"{why}"))
        while len(recordings) < len(items):
            recordings.append(Recording(
                None, "recording against the reference failed: " + (_stderr_tail(raw)
                                                                     or "it stopped early")))
        return recordings

    def reference_cpu(self, problem: Problem) -> list[float | None]:
        """CPU seconds of the reference solution on each test (for scaled limits)."""
        with self._lock:
            if problem.id in self._reference_cpu:
                return self._reference_cpu[problem.id]
        times: list[float | None] = []
        if problem.solutions:
            generous = Limits(cpu_seconds=max(self.limits.cpu_seconds, 10.0),
                              memory_mb=self.limits.memory_mb, output_mb=self.limits.output_mb,
                              use_problem_limits=False)
            probe = Judge(self.sandbox, generous, stdout_mode=self.stdout_mode,
                          float_tol=self.float_tol)
            probe._recordings = self._recordings
            for i, test in enumerate(problem.tests):
                outcome, _ = probe._run_one(problem, problem.solutions[0], test, i, None)
                times.append(outcome.cpu_time if outcome.passed else None)
        else:
            times = [None] * len(problem.tests)
        with self._lock:
            self._reference_cpu[problem.id] = times
        return times
