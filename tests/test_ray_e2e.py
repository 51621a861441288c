"""Scale-out on Ray, end to end: a real local Ray instance, the real sandbox, the real model.

* ``RaySandbox``: the verdicts of samples judged over Ray actors equal, field for field, the
  verdicts of the local fork-server pool — HumanEval canonical and wrong completions, and
  stdio / call / assert problems with wrong answers, crashes, early exits, forged equality
  and timeouts — and they are the right verdicts;
* ``motcoder evaluate --executor ray`` gives the local command's verdicts, keeps the
  executor out of config.json, and such a run resumes with the local executor;
* ``motcoder run --generator ray --replicas 2 --executor ray`` on the embedded model
  (greedy) writes the samples and verdicts of the local run;
* without Ray, choosing it fails with one message naming the extra, before anything is
  written (the import failure is Python's own: ``ray`` set to None in ``sys.modules``).

One Ray instance (2 CPUs, no dashboard) serves every test of the session and is stopped at
the end. Tests that need Ray are skipped when it is not installed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from evaluate_helpers import evaluate, outcome, run_cli, verdicts, write_jsonl
from motcoder.problems.model import Problem
from motcoder.problems.registry import load_problems
from motcoder.problems.samples import Sample
from motcoder.sandbox.judge import Judge
from motcoder.sandbox.limits import Limits
from motcoder.sandbox.pool import SandboxConfig
from motcoder.sandbox.verdict import PASSED, RUNTIME_ERROR, TIMEOUT, WRONG_ANSWER
from motcoder.scoring.evaluate import judge_samples
from test_evaluate_e2e import PERTURB

pytestmark = pytest.mark.e2e

HUMANEVAL_IDS = [f"HumanEval/{i}" for i in (0, 2, 4, 12, 23, 31, 53, 101)]
LIMITS = Limits(cpu_seconds=1.0, memory_mb=256, output_mb=4, wall_extra=0.5)


@pytest.fixture(scope="session")
def ray_session(private_cache):
    """One local Ray instance for every Ray test; its workers see the session's cache."""
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install "
                                            "'motcoder[ray]')")
    # "local": a new instance even when /tmp/ray names a cluster that is gone
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR",
             runtime_env={"env_vars": {"MOTCODER_CACHE": os.environ["MOTCODER_CACHE"]}})
    yield ray
    ray.shutdown()


# ----------------------------------------------------------------------------- the samples
def _humaneval_samples(problems: list[Problem]) -> list[Sample]:
    samples = []
    for p in problems:
        canonical = p.solutions[0][len(p.statement):]
        codes = [canonical, "    return None\n", canonical + PERTURB.format(ep=p.entry_point)]
        samples += [Sample(p.id, p.statement + c, i) for i, c in enumerate(codes)]
    # a program that never ends: the CPU limit stops it, wherever it runs
    samples.append(Sample(problems[0].id, problems[0].statement + "    while True:\n"
                                                                  "        pass\n", 3))
    return samples


EARLY_EXIT = "import os\nos._exit(0)\n"
ALWAYS_EQUAL = ("class Anything:\n    def __eq__(self, other):\n        return True\n"
                "def add(a, b):\n    return Anything()\n")
SPIN = "while True:\n    pass\n"
TOY_CODES = {
    "toy/add-call": ["def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a - b\n",
                     "def add(a, b):\n    raise KeyError(a)\n", EARLY_EXIT, ALWAYS_EQUAL,
                     "def add(a, b):\n" + "".join("    " + line + "\n"
                                                  for line in SPIN.splitlines())],
    "toy/add-assert": ["def add(a, b):\n    return a + b\n",
                       "def add(a, b):\n    return a * b\n", EARLY_EXIT, ALWAYS_EQUAL, SPIN],
    "toy/sum-stdio": ["a, b = map(int, input().split())\nprint(a + b)\n",
                      "a, b = map(int, input().split())\nprint(a - b)\n",
                      "print(undefined_name)\n", EARLY_EXIT, SPIN],
}


@pytest.fixture
def mixed(add_call_problem, add_assert_problem, sum_stdio_problem):
    """HumanEval problems and the toy stdio / call / assert problems, with their samples."""
    problems = load_problems("humaneval", ids=HUMANEVAL_IDS)
    samples = _humaneval_samples(problems)
    problems += [add_call_problem, add_assert_problem, sum_stdio_problem]
    for task_id, codes in TOY_CODES.items():
        samples += [Sample(task_id, code, i) for i, code in enumerate(codes)]
    return {p.id: p for p in problems}, samples


def _decided(verdict) -> tuple:
    """Everything a verdict decided (no measurements)."""
    return (verdict.passed, verdict.status, verdict.trust, verdict.reason,
            tuple((t.index, t.visibility, t.status, t.message) for t in verdict.tests))


def _judge_all(sandbox, problems, samples) -> dict[tuple[str, int], object]:
    judge = Judge(sandbox, LIMITS)
    judge.prepare(list(problems.values()))
    found = {}
    judge_samples(judge, problems, samples, lambda v: found.__setitem__(
        (v.task_id, v.sample_index), v), threads=2 * sandbox.workers)
    return found


# ----------------------------------------------------------------------------- executor
def test_ray_executor_gives_the_local_verdicts(ray_session, sandbox, mixed):
    from motcoder.sandbox.ray_executor import RaySandbox

    problems, samples = mixed
    local = _judge_all(sandbox, problems, samples)
    with RaySandbox(SandboxConfig()) as remote_sandbox:
        assert remote_sandbox.nodes == 1 and remote_sandbox.workers == 2
        layers = remote_sandbox.layers
        remote = _judge_all(remote_sandbox, problems, samples)
    assert set(remote) == set(local) == {(s.task_id, s.sample_index) for s in samples}
    differ = [k for k in local if _decided(local[k]) != _decided(remote[k])]
    assert not differ, [(k, _decided(local[k]), _decided(remote[k])) for k in differ]
    # ... and they are the right verdicts, not the same mistake twice
    for (task_id, index), verdict in remote.items():
        if task_id.startswith("HumanEval/"):
            assert verdict.passed == (index == 0), (task_id, index, verdict.reason)
            assert verdict.trust == "parent"
        else:
            assert verdict.passed == (index == 0), (task_id, index, verdict.reason)
    statuses = {remote[(t, i)].status for t in TOY_CODES for i in range(1, len(TOY_CODES[t]))}
    assert {WRONG_ANSWER, RUNTIME_ERROR, TIMEOUT} <= statuses
    assert remote[(HUMANEVAL_IDS[0], 3)].status == TIMEOUT
    assert remote[("toy/add-assert", 3)].status != PASSED  # forged equality
    # every isolation layer is on in the actor's fork-servers, Ray's directory hidden
    assert "pid_namespace" in layers and layers["seccomp"].startswith("on")
    assert int(layers["hidden_paths"]) >= 1


def test_ray_workers_places_one_server_actors(ray_session, add_call_problem):
    from motcoder.sandbox.ray_executor import RaySandbox

    sample = Sample("toy/add-call", "def add(a, b):\n    return a + b\n")
    with RaySandbox(SandboxConfig(), actors=3) as spread:
        assert spread.workers == 3 and len(spread._actors) == 3
        verdict = Judge(spread, LIMITS).judge(add_call_problem, sample)
    assert verdict.passed
    with pytest.raises(Exception, match="closed"):
        spread.run({"mode": "stdio", "code": "", "stdin": ""}, cpu=1, wall=1, mem_mb=64,
                   out_mb=1)


@pytest.fixture(scope="module")
def humaneval_file(tmp_path_factory) -> Path:
    problems = load_problems("humaneval", ids=HUMANEVAL_IDS)
    records = []
    for p in problems:
        canonical = p.solutions[0][len(p.statement):]
        for i, completion in enumerate([canonical, "    return None\n",
                                        canonical + PERTURB.format(ep=p.entry_point)]):
            records.append({"task_id": p.id, "completion": completion, "sample_index": i})
    return write_jsonl(tmp_path_factory.mktemp("ray-samples") / "samples.jsonl", records)


def test_evaluate_cli_with_the_ray_executor(ray_session, humaneval_file, tmp_path):
    ids = ",".join(HUMANEVAL_IDS)
    on_ray, local = tmp_path / "ray", tmp_path / "local"
    result = evaluate(humaneval_file, on_ray, "--ids", ids, "--executor", "ray")
    evaluate(humaneval_file, local, "--ids", ids, "--workers", "2")
    remote_verdicts, local_verdicts = verdicts(on_ray), verdicts(local)
    assert len(remote_verdicts) == 3 * len(HUMANEVAL_IDS)
    assert {k: outcome(v) for k, v in remote_verdicts.items()} == \
        {k: outcome(v) for k, v in local_verdicts.items()}
    assert sorted(k for k, v in remote_verdicts.items() if v["passed"]) == \
        [(i, 0) for i in sorted(HUMANEVAL_IDS)]
    assert "pass@1" in result.output
    summary = json.loads((on_ray / "summary.json").read_text())
    assert summary["isolation"]["seccomp"].startswith("on")
    config = json.loads((on_ray / "config.json").read_text())
    assert "executor" not in json.dumps(config)  # a runtime choice, not a setting
    # the same run continues on the local executor: nothing is judged twice
    evaluate(humaneval_file, on_ray, "--ids", ids, "--resume")
    assert verdicts(on_ray).keys() == remote_verdicts.keys()


# ----------------------------------------------------------------------------- generator
@pytest.fixture(scope="module")
def embedded_converted(request):
    """The embedded model's conversion, made once and kept in pytest's cache (as the
    reflection tests do), linked into this session's cache: loads in the test process and
    in the replicas then take seconds, not a fresh dequantisation each."""
    from motcoder.models.embedded import embedded_gguf_path
    from motcoder.models.gguf_cache import cached_conversion, conversion_dir
    from motcoder.models.registry import load_model

    kept = Path(request.config.cache.mkdir("motcoder-gguf"))
    gguf = embedded_gguf_path()
    if cached_conversion(gguf, kept) is None:
        load_model("embedded", device="cpu", cache_dir=str(kept)).close()
    link = conversion_dir(gguf)
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(conversion_dir(gguf, kept), target_is_directory=True)
    return link


def test_run_with_ray_generator_and_executor_equals_local(ray_session, embedded_converted,
                                                          tmp_path):
    small = ["--limit", "3", "--max-new-tokens", "24", "--no-progress", "--workers", "2",
             "--device", "cpu"]
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    first = run_cli("run", "--out", local, *small)
    assert first.exit_code == 0, first.output
    second = run_cli("run", "--out", on_ray, *small, "--generator", "ray", "--replicas", "2",
                     "--executor", "ray")
    assert second.exit_code == 0, second.output

    def completions(out: Path) -> dict:
        rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
        return {(r["task_id"], r["sample_index"]): r["completion"] for r in rows}

    assert len(completions(local)) == 3
    assert completions(on_ray) == completions(local)  # greedy: the same text, token for token
    assert {k: outcome(v) for k, v in verdicts(on_ray).items()} == \
        {k: outcome(v) for k, v in verdicts(local).items()}
    assert json.loads((on_ray / "config.json").read_text()) == \
        json.loads((local / "config.json").read_text())


def test_ray_model_splits_batches_in_order():
    from motcoder.models.ray_backend import chunks

    assert chunks(5, 2) == [range(0, 3), range(3, 5)]
    assert chunks(2, 4) == [range(0, 1), range(1, 2)]
    assert [i for piece in chunks(17, 3) for i in piece] == list(range(17))


def test_generator_ray_refuses_a_server_model(ray_session, tmp_path):
    result = run_cli("run", "--out", tmp_path / "run", "--model",
                     "openai:http://127.0.0.1:9/v1#m", "--generator", "ray", "--no-progress")
    assert result.exit_code == 2
    assert "--generator ray runs local models" in result.output


# ----------------------------------------------------------------------------- without Ray
def test_choosing_ray_without_ray_installed_fails_clearly(monkeypatch, humaneval_file,
                                                          tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    out = tmp_path / "out"
    result = evaluate(humaneval_file, out, "--executor", "ray", code=2)
    assert 'Ray is not installed' in result.output
    assert 'pip install "motcoder[ray]"' in result.output
    assert not out.exists()  # nothing written before the error
    result = run_cli("run", "--out", out, "--generator", "ray", "--no-progress")
    assert result.exit_code == 2 and 'pip install "motcoder[ray]"' in result.output
    assert not out.exists()
    result = run_cli("evaluate", "--samples", humaneval_file, "--out", out, "--ray-workers",
                     "2", "--no-progress")
    assert result.exit_code == 2 and "--ray-workers is for --executor ray" in result.output
