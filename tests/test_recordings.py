"""Recordings of assertion scripts: batched ahead of judging, cached on disk, reused."""

from __future__ import annotations

from motcoder.problems.humaneval import load_humaneval
from motcoder.problems.samples import Sample
from motcoder.sandbox.judge import Judge
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
