"""Time per optimizer step: two-view reflection distillation vs plain SFT on the same batch.

The embedded SmolLM2-135M-Instruct with LoRA on the CPU. One batch of reflection samples
(ReflectionSeq schema); the same `ReflectionDistillTrainer` does both:

* distillation — teacher rows + student rows (block mask at the middle stage) in one forward
  pass, teacher CE + student CE + KL;
* plain SFT — the same rows marked as generation samples: the teacher CE alone.

Each timed step is ``trainer.training_step`` (forward + backward) plus ``optimizer.step()``;
the two modes alternate so machine load hits both alike. Prints the median seconds per step of
each and their ratio (target: distillation <= 2.5x SFT).

    .venv/bin/python benchmarks/reflection_train_step.py [--steps 5] [--batch 2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def sample(i: int, repeat: int) -> dict:
    body = "".join(f"    total += x{j} * {i + j}\n" for j in range(3 * repeat))
    code = f"def f{i}(x):\n    total = 0\n{body}    return total\n\nassert f{i}(1) == 0\n"
    block = lambda kind, text: {"type": kind, "content": text}  # noqa: E731
    return {"type": "reflection", "messages": [
        {"role": "user", "content": [block("text", f"Write f{i} and test it with asserts.")]},
        {"role": "assistant", "content": [
            block("text", f"I will write f{i} step by step and check it. " * repeat),
            block("code", code),
            block("execution", "Traceback (most recent call last):\nNameError: name 'x0' "
                               "is not defined\n" * repeat),
            block("text", "The loop uses undefined names; I will use the argument. " * repeat),
            block("code", code.replace("x", "v").replace("def f", "def g")),
            block("execution", "All tests passed."),
        ]},
        {"role": "user", "content": [block("text", f"Now give only the final f{i}.")]},
        {"role": "assistant", "content": [block("text", "```python\n" + code + "```")]},
    ]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per mode")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="sample length multiplier")
    options = parser.parse_args()

    import torch

    from motcoder.training.base_model import resolve_base_model
    from motcoder.training.reflection_distill import (
        ReflectionCollator,
        ReflectionDistillTrainer,
        ReflectionSettings,
        ReflectionSource,
        load_training_model,
        prepare_base,
        training_arguments,
    )
    from motcoder.training.reflection_serialize import ReflectionSerializer, parse_sample
    from motcoder.training.sft import load_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        settings = ReflectionSettings(data=[ReflectionSource("unused.jsonl")], out=tmp,
                                      max_steps=100, learning_rate=1e-4, warmup_ratio=0.0,
                                      scheduler="constant").validate()
        base_dir = prepare_base(resolve_base_model("embedded"), Path(tmp) / "base", settings)
        tokenizer = load_tokenizer(str(base_dir))
        serializer = ReflectionSerializer(tokenizer)
        rows = [{**serializer.encode(parse_sample(sample(i, options.repeat))).to_row(),
                 "index": i} for i in range(options.batch)]
        batch = ReflectionCollator(tokenizer.pad_token_id)(rows)
        sft_batch = {**batch, "is_reflection": torch.zeros_like(batch["is_reflection"])}
        trainer = ReflectionDistillTrainer(
            model=load_training_model(base_dir, settings),
            args=training_arguments(settings, False, False), data_collator=None,
            processing_class=tokenizer, schedule=settings.schedule)
        trainer.create_optimizer_and_scheduler(num_training_steps=100)
        trainer.state.max_steps, trainer.state.global_step = 100, 50   # middle stage
        trainer.current_gradient_accumulation_steps = 1   # set by train() otherwise
        trainer.model.train()

        def step(inputs: dict) -> float:
            started = time.perf_counter()
            trainer.training_step(trainer.model, inputs)
            trainer.optimizer.step()
            trainer.optimizer.zero_grad()
            return time.perf_counter() - started

        step(batch), step(sft_batch)   # warm-up
        times: dict[str, list[float]] = {"distill": [], "sft": []}
        for _ in range(options.steps):
            times["distill"].append(step(batch))
            times["sft"].append(step(sft_batch))
    distill, sft = statistics.median(times["distill"]), statistics.median(times["sft"])
    length = batch["input_ids"].shape[1]
    print(f"batch: {options.batch} reflection samples x {length} tokens, "
          f"torch threads {torch.get_num_threads()}")
    print(f"plain SFT (teacher CE only)    : {sft:.3f} s/step")
    print(f"two-view distillation (CE+CE+KL): {distill:.3f} s/step")
    print(f"ratio distillation / SFT       : {distill / sft:.2f}x (target <= 2.5x)")


if __name__ == "__main__":
    main()
