"""`ReflectionSettings` from config files and ``KEY=VALUE`` overrides; unknown keys and bad
values are errors that name them; the shipped example configs load."""

from __future__ import annotations

from pathlib import Path

import pytest

from motcoder.training.reflection_distill import (
    ReflectionSource,
    load_reflection_settings,
    training_arguments,
)
from motcoder.training.settings import TrainingError

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "reflection"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reflection.yaml"
    path.write_text(text)
    return path


def test_yaml_with_nested_lora_data_strings_and_overrides(tmp_path):
    config = write(tmp_path, """
data:
  - path: refl.jsonl
    weight: 2
  - gen.jsonl:0.5
  - hf:SenseLLM/ReflectionSeq-GPT
reflection_ratio: "2:1"
learning_rate: 5e-5
lora: {r: 8, target_modules: [q_proj, v_proj]}
""")
    s = load_reflection_settings(config, ["block_order=cte", "lora.alpha=64", "kl_weight=0.5",
                                          "reflection_ratio=3:1"])
    assert s.data == [ReflectionSource("refl.jsonl", 2.0), ReflectionSource("gen.jsonl", 0.5),
                      ReflectionSource("hf:SenseLLM/ReflectionSeq-GPT", 1.0)]
    assert s.learning_rate == pytest.approx(5e-5) and isinstance(s.learning_rate, float)
    assert s.lora.r == 8 and s.lora.alpha == 64 and s.lora.target_modules == ["q_proj", "v_proj"]
    assert s.block_order == "cte" and s.kl_weight == 0.5 and s.reflection_ratio == "3:1"
    assert s.schedule.order == ("code", "text", "execution")


def test_defaults_are_the_paper_recipe():
    s = load_reflection_settings(None, ["data=x.jsonl"])
    assert (s.learning_rate, s.scheduler, s.warmup_ratio, s.max_length, s.epochs) == \
        (5e-5, "cosine", 0.05, 4096, 2.0)
    assert (s.mask_strategy, s.block_order, s.hide_instruction) == ("block", "tce", True)
    assert (s.teacher_weight, s.student_weight, s.kl_weight) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("overrides, message", [
    (["data=x.jsonl", "block_oder=tce"], "unknown setting 'block_oder'"),
    (["data=x.jsonl", "lora.rank=4"], "unknown setting 'lora.rank'"),
    (["data=x.jsonl", "mask_strategy=blocks"], "mask_strategy must be one of"),
    (["data=x.jsonl", "block_order=tcx"], "block_order must be"),
    (["data=x.jsonl", "attn_implementation=flash_attention_2"], "attn_implementation"),
    (["data=x.jsonl", "kl_weight=-1"], "kl_weight must be >= 0"),
    (["data=x.jsonl", "reflection_ratio=lots"], "REFLECTION:GENERATION"),
    (["data=x.jsonl", "max_length=abc"], "wrong type"),
    (["data=x.jsonl", "nonsense"], "KEY=VALUE"),
    ([], "no training data"),
])
def test_errors_name_the_setting(overrides, message):
    with pytest.raises(TrainingError, match=message):
        load_reflection_settings(None, overrides)


def test_unknown_key_in_a_file(tmp_path):
    with pytest.raises(TrainingError, match="unknown setting 'kl'.*accepted.*kl_weight"):
        load_reflection_settings(write(tmp_path, "data: [x.jsonl]\nkl: 1\n"))
    with pytest.raises(TrainingError, match=r"unknown setting 'data\[0\].wieght'"):
        load_reflection_settings(write(tmp_path, "data: [{path: x.jsonl, wieght: 2}]\n"))


@pytest.mark.parametrize("name", ["embedded_cpu_toy.yaml", "reflectioncoder_paper.yaml"])
def test_example_configs_load(name):
    s = load_reflection_settings(CONFIGS / name, ["data=x.jsonl"])
    assert s.block_order == "tce"


def test_paper_config_is_the_published_recipe():
    s = load_reflection_settings(CONFIGS / "reflectioncoder_paper.yaml")
    assert (s.learning_rate, s.scheduler, s.warmup_ratio, s.max_length, s.epochs) == \
        (5e-5, "cosine", 0.05, 4096, 2.0)
    assert s.precision == "bf16" and s.deepspeed == "configs/deepspeed/zero3.json"
    assert s.finetune == "full" and s.mask_strategy == "block"
    assert (CONFIGS.parents[1] / s.deepspeed).is_file()
    # ReflectionCoder-CL-7B: the base model the original README's train command names
    assert s.model == "hf:meta-llama/CodeLlama-7b-Python-hf"
    assert s.out == "runs/reflectioncoder-cl-7b"


def test_trainer_arguments_follow_the_settings(tmp_path):
    s = load_reflection_settings(CONFIGS / "embedded_cpu_toy.yaml",
                                 ["data=x.jsonl", f"out={tmp_path}", "grad_accum=4"])
    args = training_arguments(s, False, False)
    assert args.gradient_accumulation_steps == 4 and args.max_steps == s.max_steps
    assert args.learning_rate == s.learning_rate and args.remove_unused_columns is False
    assert args.output_dir == str(tmp_path)


def test_the_loss_balance_defaults_to_the_original_and_is_checked():
    assert load_reflection_settings(None, ["data=x.jsonl"]).loss_normalisation == "joint"
    assert load_reflection_settings(CONFIGS / "reflectioncoder_paper.yaml") \
        .loss_normalisation == "joint"
    with pytest.raises(TrainingError, match="loss_normalisation must be one of"):
        load_reflection_settings(None, ["data=x.jsonl", "loss_normalisation=sum"])


def test_a_training_argument_the_installed_transformers_lacks_is_an_error(tmp_path,
                                                                        monkeypatch):
    from motcoder.training import sft

    s = load_reflection_settings(CONFIGS / "embedded_cpu_toy.yaml",
                                 ["data=x.jsonl", f"out={tmp_path}"])
    original = sft.sft_config_kwargs
    monkeypatch.setattr(sft, "sft_config_kwargs", lambda *a, **k: {
        **original(*a, **k), "neftune_noise_alpha_v2": 5.0})
    with pytest.raises(TrainingError, match="does not take the training argument.*"
                                            "neftune_noise_alpha_v2"):
        training_arguments(s, False, False)


def _one_step(tmp_path, rows, batch_size: int, grad_accum: int):
    """The weights before and after one optimizer step (SGD, constant lr) of the reflection
    trainer on a tiny random Llama (the same seed every time)."""
    import torch
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM

    from motcoder.training.reflection_distill import ReflectionCollator, _trainer_class

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=rows[0]["vocab"], hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=4, num_key_value_heads=4, attn_implementation="sdpa"))
    s = load_reflection_settings(CONFIGS / "embedded_cpu_toy.yaml", [
        "data=x.jsonl", f"out={tmp_path}", "max_steps=1", f"batch_size={batch_size}",
        f"grad_accum={grad_accum}", "learning_rate=0.5", "save_steps=100"])
    args = training_arguments(s, False, False)
    args.optim, args.max_grad_norm, args.logging_steps = "sgd", 0.0, 100
    data = [{k: v for k, v in r.items() if k != "vocab"} for r in rows]
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    trainer = _trainer_class()(model=model, args=args, train_dataset=Dataset.from_list(data),
                               data_collator=ReflectionCollator(0), schedule=s.schedule)
    trainer.train()
    return start, {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_gradient_accumulation_gives_the_gradient_of_the_whole_batch(tmp_path):
    """Two identical samples: one batch of 2 and two accumulated batches of 1 must make the
    same step (an accumulation the Trainer forgot to divide would make it twice as long)."""
    import torch
    from transformers import AutoTokenizer

    from motcoder.training.base_model import resolve_base_model
    from motcoder.training.reflection_serialize import (
        ReflectionSerializer,
        add_marker_tokens,
        parse_sample,
    )
    from test_reflection_train_fixtures import TOYS, reflection_record

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("embedded"))
    add_marker_tokens(tokenizer)
    row = ReflectionSerializer(tokenizer).encode(parse_sample(reflection_record(TOYS[0])))
    rows = [{**row.to_row(), "index": i, "vocab": len(tokenizer)} for i in range(2)]
    start, whole = _one_step(tmp_path / "a", rows, 2, 1)
    again, accumulated = _one_step(tmp_path / "b", rows, 1, 2)
    assert all(torch.equal(start[k], again[k]) for k in start)
    assert max((whole[k] - start[k]).abs().max().item() for k in whole) > 1e-4  # it moved
    for name in whole:
        torch.testing.assert_close(accumulated[name], whole[name], atol=1e-6, rtol=1e-5)
