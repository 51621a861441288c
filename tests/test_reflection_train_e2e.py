"""A real reflection-distillation run on the CPU: the embedded SmolLM2-135M with LoRA on a mixed
reflection + generation data set written by the test. The loss falls, the block mask goes
through its three stages at 0, 1/3 and 2/3 of the optimizer steps (read from the run's logs),
the merged final model loads and generates through ``load_model("hf:DIR")`` and runs in
``motcoder run``, and a run killed after a checkpoint resumes from it without duplicating log
records. The first run goes through the command line (``motcoder train reflection``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from motcoder.problems.model import Problem, Test
from motcoder.problems.registry import write_problems
from motcoder.prompts.extract import extract_code
from motcoder.prompts.reflection_markup import to_markdown
from motcoder.training import checkpoints as ck
from motcoder.training.reflection_distill import (
    load_reflection_settings,
    read_mask_log,
    train_reflection,
)
from motcoder.training.reflection_serialize import END_MESSAGE, SPECIAL_TOKENS
from test_reflection_train_fixtures import REANSWER_INSTRUCTION, TOYS, write_reflection_fixture


def toy_problem(toy) -> Problem:
    """A toy as a function-call problem judged by its assertion."""
    return Problem(id=f"toy/{toy.name}", source="file", statement=toy.statement,
                   entry_point=toy.name, solutions=[toy.fixed],
                   tests=[Test(kind="assert", visibility="private", script=toy.tests)])


def cli(*args: object):
    from typer.testing import CliRunner

    from motcoder.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


CONFIG = Path(__file__).resolve().parents[1] / "configs" / "reflection" / "embedded_cpu_toy.yaml"
STEPS = 18   # stages start at optimizer steps 0, 6 and 12


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


@pytest.mark.e2e
def test_reflection_distillation_run(tmp_path):
    reflection, generation = write_reflection_fixture(tmp_path / "data")
    out = tmp_path / "run"
    overrides = [f"data=[{reflection},{generation}]", f"out={out}", f"max_steps={STEPS}",
                 "save_steps=8", "logging_steps=1", "batch_size=2"]
    settings = load_reflection_settings(CONFIG, overrides)
    sets = [arg for item in overrides for arg in ("--set", item)]
    trained = cli("train", "reflection", "--config", CONFIG, *sets)
    assert trained.exit_code == 0, trained.output
    assert "mask stage 2" in trained.output
    final = out / "final"
    assert (final / ck.DONE_MARKER).is_file()

    # --- the data: both kinds, nothing dropped
    report = json.loads((out / ck.DATA_REPORT).read_text())
    assert report["trained"] == {"reflection": len(TOYS), "generation": len(TOYS)}
    assert sum(report["dropped_overlength"].values()) == 0

    # --- the loss falls; distillation terms are logged
    records = [r for r in ck.read_loss_log(out) if "loss" in r]
    assert [r["step"] for r in records] == list(range(1, STEPS + 1))
    teacher = [r["ce_teacher"] for r in records]
    assert mean(teacher[-4:]) < 0.6 * mean(teacher[:4]), teacher
    assert mean([r["loss"] for r in records[-4:]]) < mean([r["loss"] for r in records[:4]])
    distilled = [r for r in records if "kl" in r]
    assert len(distilled) >= STEPS // 2 and all(r["kl"] >= 0 for r in distilled)

    # --- the mask schedule: three stages, each entered once, at the right optimizer step
    stages = read_mask_log(out)
    assert [(s["step"], s["stage"], s["hidden_types"]) for s in stages] == [
        (0, 0, ["text"]), (6, 1, ["text", "code"]), (12, 2, ["text", "code", "execution"])]
    assert all(s["max_steps"] == STEPS for s in stages)
    by_step = {r["step"]: r["mask_stage"] for r in records}   # logged after step N's update
    assert by_step[6] == 1 and by_step[5] == 0 and by_step[12] == 2 and by_step[11] == 1

    # --- the final model: markers, chat template, end-of-turn token; loads and generates
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(final)
    assert all(t in tokenizer.get_vocab() for t in SPECIAL_TOKENS)
    assert "<|assistant|>" in tokenizer.chat_template
    assert tokenizer.convert_tokens_to_ids(END_MESSAGE) in \
        GenerationConfig.from_pretrained(final).eos_token_id
    assert not (out / "base").exists() and not (out / "adapter").exists()

    from motcoder.models.base import GenerationRequest
    from motcoder.models.registry import load_model

    model = load_model(f"hf:{final}")
    [completion] = model.generate([GenerationRequest(
        messages=[{"role": "user", "content": REANSWER_INSTRUCTION + TOYS[0].statement}],
        max_new_tokens=40)])
    text = completion.outputs[0].text
    print("trained model's answer:", repr(text))
    assert "<|code|>" in text, text               # decoded with its block structure
    assert extract_code(text, entry_point="add").startswith("def add(a, b):"), text
    model.close()

    # --- and the checkpoint runs in `motcoder run` (its chat template = the training format):
    # the answers it writes as code blocks are extracted
    problems = tmp_path / "toys.jsonl"
    write_problems([toy_problem(t) for t in TOYS], problems)
    run = cli("run", "--model", f"hf:{final}", "--benchmark", problems, "--max-new-tokens", 48,
              "--out", tmp_path / "eval", "--no-progress")
    assert run.exit_code == 0, run.output
    samples = [json.loads(line)
               for line in (tmp_path / "eval" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == len(TOYS)
    extracted = [s for s in samples if s["code"].lstrip().startswith("def ")]
    print("extracted:", len(extracted), [s["completion"] for s in samples])
    assert len(extracted) >= len(TOYS) - 1, samples
    assert (tmp_path / "eval" / "summary.json").is_file()

    # --- the original's evaluation protocol runs on it (raw prompt, forced fenced answer,
    # marker stop strings, post-processing, prompt + completion)
    run = cli("run", "--model", f"hf:{final}", "--benchmark", "humaneval", "--limit", 2,
              "--style", "reflectioncoder", "--max-new-tokens", 48, "--out", tmp_path / "rc",
              "--no-progress")
    assert run.exit_code == 0, run.output
    from motcoder.problems.registry import load_problems
    from motcoder.prompts import reflectioncoder

    humaneval = {p.id: p for p in load_problems("humaneval")}
    for line in (tmp_path / "rc" / "samples.jsonl").read_text().splitlines():
        sample = json.loads(line)
        problem = humaneval[sample["task_id"]]
        assert sample["messages"] == [{"role": "user",
                                       "content": reflectioncoder.prompt(problem)}]
        assert not any(s in sample["completion"] for s in reflectioncoder.STOP)
        completion = reflectioncoder.post_process(sample["completion"])
        assert sample["metadata"]["completion"] == completion
        assert sample["code"] == reflectioncoder.program(problem, completion)

    # --- a finished run is returned as it is; a run killed after step 16 (its last
    # checkpoint) resumes from there, and the loss records logged after it are not repeated
    assert train_reflection(settings) == final
    shutil.rmtree(final)
    shutil.rmtree(out / f"checkpoint-{STEPS}", ignore_errors=True)
    again = train_reflection(load_reflection_settings(CONFIG, overrides))
    assert (again / ck.DONE_MARKER).is_file()
    summary = json.loads((again / ck.DONE_MARKER).read_text())
    assert summary["resumed_from"].endswith("checkpoint-16") and summary["global_step"] == STEPS
    steps = [r["step"] for r in ck.read_loss_log(out) if "loss" in r]
    assert steps == list(range(1, STEPS + 1))                      # nothing duplicated
    assert [s["stage"] for s in read_mask_log(out)] == [0, 1, 2]


CHAIN_ROWS = [
    {"task_id": 601 + i, "text": f"Write a function {name} that {what}.", "code": code,
     "test_list": tests, "test_setup_code": "", "challenge_test_list": []}
    for i, (name, what, code, tests) in enumerate([
        ("add", "adds two numbers", "def add(a, b):\n    return a + b\n",
         ["assert add(2, 3) == 5", "assert add(0, 0) == 0"]),
        ("largest", "returns the largest item of a list",
         "def largest(xs):\n    return max(xs)\n", ["assert largest([1, 5]) == 5"]),
        ("reverse", "reverses a string", "def reverse(s):\n    return s[::-1]\n",
         ["assert reverse('ab') == 'ba'"]),
        ("square", "squares a number", "def square(x):\n    return x * x\n",
         ["assert square(3) == 9"]),
    ])]


@pytest.mark.e2e
def test_data_reflect_then_train_then_run_extracts_the_code_blocks(tmp_path):
    """The whole chain on the embedded model: `data reflect` stores final answers as a text
    block and an unfenced code block; a model trained on that answers the same way; `motcoder
    run` on it must still find the programs."""
    data = tmp_path / "mbpp.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in CHAIN_ROWS))
    reflect = cli("data", "reflect", "--benchmark", "mbpp", "--data", data, "--model",
                  "embedded", "--out", tmp_path / "reflect", "--keep-failed", "--max-rounds", 1,
                  "--max-new-tokens", 64, "--workers", 2, "--no-progress")
    assert reflect.exit_code == 0, reflect.output
    samples = [json.loads(line) for line in
               (tmp_path / "reflect" / "reflection.jsonl").read_text().splitlines()]
    finals = [s["messages"][-1]["content"] for s in samples]
    assert any(b["type"] == "code" for final in finals for b in final), finals

    out = tmp_path / "train"
    trained = cli("train", "reflection", "--config", CONFIG, "--set",
                  f"data=[{tmp_path / 'reflect' / 'reflection.jsonl'}]", "--set", f"out={out}",
                  "--set", "max_steps=12", "--set", "save_steps=100", "--set",
                  "reflection_ratio=null")
    assert trained.exit_code == 0, trained.output

    run = cli("run", "--model", f"hf:{out / 'final'}", "--benchmark", "mbpp", "--data", data,
              "--max-new-tokens", 96, "--out", tmp_path / "eval", "--no-progress")
    assert run.exit_code == 0, run.output
    answers = [json.loads(line)
               for line in (tmp_path / "eval" / "samples.jsonl").read_text().splitlines()]
    with_code = [a for a in answers if "<|code|>" in a["completion"]]
    print("answers:", [a["completion"][:160] for a in answers])
    assert with_code, answers                 # it answers in blocks, as it was trained to
    for answer in with_code:
        blocks = to_markdown(answer["completion"])
        if extract_code(blocks):
            assert answer["code"].strip(), answer   # the program in the block is found
    assert sum(bool(a["code"].strip()) for a in with_code) >= len(with_code) // 2 + 1
