"""Recordings of assertion scripts: batched ahead of judging, cached on disk, reused."""

from __future__ import annotations

import json

import pytest

from motcoder.problems.humaneval import load_humaneval
from motcoder.problems.samples import Sample
from motcoder.sandbox import codec
from motcoder.sandbox.judge import Judge, _ReplayDiverged, _Replayer, _same
from motcoder.sandbox.recording_cache import RecordingCache


class CountingSandbox:
    """The real sandbox, counting the runs of each mode that go through it."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.workers = sandbox.workers
        self.modes: list[str] = []

    def run(self, request, **limits):
        self.modes.append(request["mode"])
        return self.sandbox.run(request, **limits)


def test_prepare_records_in_batches_and_the_cache_is_reused(sandbox, tmp_path):
    problems = load_humaneval()[:20]
    first = CountingSandbox(sandbox)
    judge = Judge(first, cache=RecordingCache(tmp_path))
    judge.prepare(problems)
    assert 0 < first.modes.count("record") <= 4 * sandbox.workers  # batches, not 20 runs
    assert len(list(tmp_path.glob("*.json"))) == 20

    second = CountingSandbox(sandbox)
    again = Judge(second, cache=RecordingCache(tmp_path))
    again.prepare(problems)
    verdicts = [again.judge(p, Sample(p.id, p.solutions[0])) for p in problems]
    assert second.modes.count("record") == 0
    assert all(v.passed and v.trust == "parent" for v in verdicts)
    for p in problems:
        assert again.recording(p, p.tests[-1]).calls == judge.recording(p, p.tests[-1]).calls


def test_a_damaged_cache_file_is_ignored_and_rewritten(sandbox, tmp_path):
    problem = load_humaneval()[0]
    cache = RecordingCache(tmp_path)
    Judge(sandbox, cache=cache).prepare([problem])
    (path,) = tmp_path.glob("*.json")
    good = path.read_text()
    path.write_text("{not json")
    counting = CountingSandbox(sandbox)
    judge = Judge(counting, cache=cache)
    assert judge.judge(problem, Sample(problem.id, problem.solutions[0])).passed
    assert counting.modes.count("record") == 1
    assert path.read_text() == good


def test_a_cache_entry_that_does_not_decode_is_a_miss(sandbox, tmp_path):
    problem = load_humaneval()[0]
    cache = RecordingCache(tmp_path)
    Judge(sandbox, cache=cache).prepare([problem])
    (path,) = tmp_path.glob("*.json")
    good = path.read_text()
    path.write_text('[[["zz", 1], ["d", []]]]')  # JSON, but no valid encoding
    counting = CountingSandbox(sandbox)
    judge = Judge(counting, cache=cache)
    assert judge.judge(problem, Sample(problem.id, problem.solutions[0])).passed
    assert counting.modes.count("record") == 1
    assert path.read_text() == good


def replayer_for(*calls):
    encoded = [[codec.encode(list(args)), codec.encode({})] for args in calls]
    keys = [json.dumps(call) for call in encoded]
    arguments = [(tuple(args), {}) for args in calls]
    answers = [["ok", codec.encode(f"answer {i}")] for i in range(len(calls))]
    return _Replayer(keys, arguments, answers)


def test_replay_answers_calls_in_any_order_and_each_only_once():
    replayer = replayer_for((1,), (2,), (1,))
    assert replayer(2) == "answer 1"        # out of order: found by its encoding
    assert replayer(1) == "answer 0"
    assert replayer(1) == "answer 2"        # the same arguments again: the next recording
    with pytest.raises(_ReplayDiverged):
        replayer(1)                         # a fourth call was never run
    assert replayer.missing == [[codec.encode([1]), codec.encode({})]]


@pytest.mark.parametrize("recorded,called", [
    ((0.0,), (-0.0,)),                      # equal, but they encode apart
    ((1,), (True,)),                        # bool is not int
    (([1, 2],), ((1, 2),)),                 # a tuple is not a list
    ((2**60,), (2**60 + 1,)),
])
def test_replay_never_takes_a_different_value_for_the_recorded_one(recorded, called):
    replayer = replayer_for(recorded)
    with pytest.raises(_ReplayDiverged):
        replayer(*called)


def test_exact_comparison_of_replayed_arguments():
    assert _same((1, "a", [2.5, None], b"x"), (1, "a", [2.5, None], b"x"))
    assert not _same((float("nan"),), (float("nan"),))      # left to the encoding
    assert not _same(({1},), ({1},))                          # sets: left to the encoding
