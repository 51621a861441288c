"""μCode's learned verifier: a one-score sequence classifier trained on (passing, failing) pairs.

* **Model.** ``AutoModelForSequenceClassification`` with ``num_labels=1`` on the base model
  (a motcoder spec: ``embedded``, ``hf:ID_OR_DIR``, ``gguf:FILE``). The input is the problem
  message (the first user turn, no history) and one candidate response, rendered with the base
  model's chat template and cut after the end-of-turn token (`render_input`), so the score is
  read at that token — the last real token.
* **Padding.** Right padding. The pad token must differ from every end-of-turn/EOS token
  (many chat models reuse EOS as pad, e.g. SmolLM2: ``<|im_end|>``); `ensure_pad_token` adds
  ``<|pad|>`` when needed, the embeddings are resized (new rows set to the mean of the old
  ones — deterministic, so a LoRA adapter merges into a fresh copy exactly) and
  ``config.pad_token_id`` is set. The classifier pools at the rightmost non-pad token, so a
  sequence scores the same padded or not (tests check it).
* **Loss** (`VerifierTrainer`, a transformers `Trainer` whose ``compute_loss`` is overridden):
  ``bt`` — Bradley–Terry on pairs, ``−log σ(s⁺ − s⁻)`` averaged over the pairs of the batch,
  plus ``l2 · mean(s²)`` over every score of the batch; ``bce`` — binary cross-entropy of
  ``σ(s)`` against pass/fail per candidate, plus the same L2 term.
* **Pairs** (`sample_pairs`): per problem, every (passing, failing) combination, or a seeded
  random ``pairs_per_problem`` of them; problems with only passing or only failing candidates
  give no pair.
* **Data** (`read_candidates`): JSONL files of candidates ``{task_id, prompt, response,
  passed}`` (what rollouts write), or a ``motcoder run`` directory: its ``samples.jsonl``
  joined with ``results.jsonl`` on (task_id, sample_index, round).
* **Output** (`train_verifier`): ``OUT/final`` — the full classifier + tokenizer (LoRA merged),
  written last; ``OUT/loss.jsonl``, ``OUT/data_report.json``, checkpoints; a finished run is
  returned as it is, an interrupted one resumes from its last checkpoint.
* **Scoring** (`load_verifier(path)` → `Verifier`): ``score(prompts, responses)`` batched
  (lists → list of floats; one prompt and one response → one float); ``score_batch(pairs)``
  for ``(problem_message, response)`` pairs (what multi-turn Best-of-N calls).
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motcoder.training.settings import (
    TrainerSettings,
    TrainingError,
    apply_dotted,
    build_settings,
    one_of,
    read_config_file,
)

LOSSES = ("bt", "bce")
PAD_TOKEN = "<|pad|>"
VERIFIER_MARKER = "motcoder-verifier.json"


# ============================================================================ settings


@dataclass
class VerifierSettings(TrainerSettings):
    """One verifier training run (see ``configs/mucode/*.yaml``).

    ``model`` base model spec; ``data`` candidate JSONL files and/or run directories;
    ``loss`` ``bt`` | ``bce``; ``l2`` coefficient of ``mean(score²)``; ``pairs_per_problem``
    (BT) most pairs drawn per problem; ``max_length`` longest input in tokens (longer
    candidates are dropped and counted, never truncated — truncation would cut the scored
    token). The rest as in `TrainerSettings`.
    """

    data: list[str] = field(default_factory=list)
    loss: str = "bt"
    l2: float = 0.01
    pairs_per_problem: int = 32
    learning_rate: float = 1e-5
    epochs: float = 2.0
    batch_size: int = 4
    out: str = "runs/verifier"

    @classmethod
    def convert_values(cls, values: dict[str, Any]) -> dict[str, Any]:
        if isinstance(values.get("data"), str):
            values["data"] = [values["data"]]
        return values

    def validate(self, need_data: bool = True) -> VerifierSettings:
        """Check values; raise `TrainingError` naming the first bad setting."""
        one_of("loss", self.loss, LOSSES)
        if need_data and not self.data:
            raise TrainingError("no verifier training data: give candidate JSONL files or run "
                                "directories (data: in the config, or --data)")
        if self.pairs_per_problem < 1:
            raise TrainingError(f"pairs_per_problem must be at least 1, got "
                                f"{self.pairs_per_problem}")
        if self.l2 < 0:
            raise TrainingError(f"l2 must be >= 0, got {self.l2}")
        self.check_training()
        return self


def load_verifier_settings(config: str | Path | None = None,
                           overrides: Iterable[str] = (), **fields: Any) -> VerifierSettings:
    """Settings from a YAML/JSON file, ``KEY=VALUE`` overrides, then keyword fields."""
    values = read_config_file(config) if config is not None else {}
    values = apply_dotted(values, overrides)
    values.update({k: v for k, v in fields.items() if v is not None})
    return build_settings(VerifierSettings, values).validate()


# ============================================================================ data


@dataclass
class Candidate:
    """One response to one problem, with its verdict when known."""

    task_id: str
    prompt: str                  # the problem message
    response: str
    passed: bool | None = None
    sample_index: int | None = None
    round: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _first_user(messages: list[dict[str, str]], where: str) -> str:
    for message in messages:
        if message.get("role") == "user":
            return str(message.get("content", ""))
    raise TrainingError(f"{where}: the sample's chat has no user message")


def read_run_candidates(run_dir: str | Path, require_verdicts: bool = True
                        ) -> list[Candidate]:
    """Candidates of a ``motcoder run`` directory: ``samples.jsonl`` joined with
    ``results.jsonl`` on (task_id, sample_index, round). Without verdicts (``require_verdicts``
    False) every sample is returned with ``passed`` None."""
    from motcoder.runs import read_jsonl

    run_dir = Path(run_dir)
    samples_path, results_path = run_dir / "samples.jsonl", run_dir / "results.jsonl"
    if not samples_path.is_file():
        raise TrainingError(f"{run_dir}: no samples.jsonl (not a motcoder run directory)")
    verdicts: dict[tuple[str, int, int], bool] = {}
    if results_path.is_file():
        for record in read_jsonl(results_path):
            key = (str(record["task_id"]), int(record["sample_index"]),
                   int(record.get("round", 0)))
            verdicts[key] = bool(record["passed"])
    elif require_verdicts:
        raise TrainingError(f"{run_dir}: no results.jsonl — judge the samples first "
                            f"(motcoder evaluate {run_dir})")
    out: list[Candidate] = []
    for line, record in enumerate(read_jsonl(samples_path), 1):
        key = (str(record["task_id"]), int(record["sample_index"]),
               int(record.get("round", 0)))
        if require_verdicts and key not in verdicts:
            continue
        out.append(Candidate(key[0], _first_user(record["messages"], f"{samples_path}:{line}"),
                             str(record["completion"]), verdicts.get(key), key[1], key[2]))
    return out


def read_candidate_file(path: str | Path) -> list[Candidate]:
    """Candidates of a JSONL file ``{task_id, prompt, response, passed}`` per line."""
    from motcoder.runs import read_jsonl

    out: list[Candidate] = []
    for line, record in enumerate(read_jsonl(path), 1):
        missing = [k for k in ("task_id", "prompt", "response") if k not in record]
        if missing:
            raise TrainingError(f"{path}:{line}: a candidate needs task_id, prompt, response "
                                f"(and passed); missing {', '.join(missing)}")
        passed = record.get("passed")
        out.append(Candidate(str(record["task_id"]), str(record["prompt"]),
                             str(record["response"]), None if passed is None else bool(passed),
                             record.get("sample_index"), record.get("round")))
    return out


def read_candidates(paths: Iterable[str | Path], require_verdicts: bool = True
                    ) -> list[Candidate]:
    """Candidates of every file / run directory in ``paths``."""
    out: list[Candidate] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            out.extend(read_run_candidates(path, require_verdicts))
        elif path.is_file():
            out.extend(read_candidate_file(path))
        else:
            raise TrainingError(f"{path}: no such candidate file or run directory")
    return out


def sample_pairs(candidates: Sequence[Candidate], per_problem: int, seed: int = 0
                 ) -> list[tuple[Candidate, Candidate]]:
    """(passing, failing) pairs per problem (problems in sorted order): all combinations when
    there are at most ``per_problem``, else a random ``per_problem`` of them (seeded)."""
    rng = random.Random(seed)
    groups: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.task_id, []).append(candidate)
    pairs: list[tuple[Candidate, Candidate]] = []
    for task_id in sorted(groups):
        good = [c for c in groups[task_id] if c.passed]
        bad = [c for c in groups[task_id] if c.passed is False]
        combos = [(g, b) for g in good for b in bad]
        if len(combos) > per_problem:
            combos = rng.sample(combos, per_problem)
        pairs.extend(combos)
    return pairs


# ============================================================================ tokens


def render_input(tokenizer: Any, prompt: str, response: str) -> str:
    """Problem message + response in the chat template, ending at the end-of-turn token."""
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}],
        tokenize=False)
    return text.rstrip()


def end_of_turn_ids(tokenizer: Any) -> set[int]:
    """The EOS token(s) and the token the chat template closes an assistant turn with."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    encoded = tokenizer(render_input(tokenizer, "x", "y"), add_special_tokens=False)
    ids.add(encoded["input_ids"][-1])
    return ids


def ensure_pad_token(tokenizer: Any) -> bool:
    """Give the tokenizer a pad token distinct from EOS / end-of-turn; pad on the right.
    Returns True when a token was added to the vocabulary."""
    tokenizer.padding_side = "right"
    if tokenizer.pad_token_id is not None and \
            tokenizer.pad_token_id not in end_of_turn_ids(tokenizer):
        return False
    before = len(tokenizer)
    tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return len(tokenizer) > before


def encode(tokenizer: Any, prompt: str, response: str) -> list[int]:
    return list(tokenizer(render_input(tokenizer, prompt, response),
                          add_special_tokens=False)["input_ids"])


def pad_batch(tokenizer: Any, sequences: list[list[int]]) -> dict[str, Any]:
    """Right-padded ``input_ids`` + ``attention_mask`` tensors."""
    import torch

    longest = max(len(s) for s in sequences)
    pad = tokenizer.pad_token_id
    ids = torch.full((len(sequences), longest), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, :len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        mask[row, :len(sequence)] = 1
    return {"input_ids": ids, "attention_mask": mask}


@dataclass
class PairCollator:
    """Pairs → one batch: the B chosen sequences first, then the B rejected ones."""

    tokenizer: Any

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        chosen = [f["chosen_ids"] for f in features]
        rejected = [f["rejected_ids"] for f in features]
        return pad_batch(self.tokenizer, chosen + rejected)


@dataclass
class LabelCollator:
    """Single candidates with pass/fail labels (BCE)."""

    tokenizer: Any

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        batch = pad_batch(self.tokenizer, [f["input_ids"] for f in features])
        batch["labels"] = torch.tensor([float(f["label"]) for f in features])
        return batch


# ============================================================================ losses


def bradley_terry_loss(chosen: Any, rejected: Any, l2: float = 0.0) -> Any:
    """``mean(−log σ(s⁺ − s⁻)) + l2 · mean(s²)`` over both sides."""
    import torch
    import torch.nn.functional as F

    loss = -F.logsigmoid(chosen - rejected).mean()
    if l2:
        loss = loss + l2 * torch.cat([chosen, rejected]).pow(2).mean()
    return loss


def bce_loss(scores: Any, labels: Any, l2: float = 0.0) -> Any:
    """``BCE(σ(s), y) + l2 · mean(s²)``."""
    import torch.nn.functional as F

    loss = F.binary_cross_entropy_with_logits(scores, labels.to(scores.dtype))
    if l2:
        loss = loss + l2 * scores.pow(2).mean()
    return loss


def _trainer_class() -> type:
    from transformers import Trainer

    class VerifierTrainer(Trainer):
        """`Trainer` with the verifier's loss (``bt`` on pair batches, ``bce`` on labelled
        candidates); everything else — loop, checkpoints, DeepSpeed — is the Trainer's."""

        def __init__(self, *args: Any, loss_kind: str = "bt", l2: float = 0.0,
                     **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.loss_kind = loss_kind
            self.l2 = l2

        def compute_loss(self, model: Any, inputs: dict[str, Any],
                         return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
            labels = inputs.pop("labels", None)
            outputs = model(input_ids=inputs["input_ids"],
                            attention_mask=inputs["attention_mask"])
            scores = outputs.logits.squeeze(-1).float()
            if self.loss_kind == "bt":
                half = scores.shape[0] // 2
                loss = bradley_terry_loss(scores[:half], scores[half:], self.l2)
            else:
                loss = bce_loss(scores, labels, self.l2)
            return (loss, outputs) if return_outputs else loss

    return VerifierTrainer


def __getattr__(name: str) -> Any:  # VerifierTrainer without importing torch at import time
    if name == "VerifierTrainer":
        return _trainer_class()
    raise AttributeError(name)


# ============================================================================ model


def load_scoring_model(base: str, tokenizer: Any, dtype: str = "float32",
                       trust_remote_code: bool = False) -> Any:
    """The one-score classifier on ``base``, its embeddings sized to ``tokenizer`` (added rows
    = mean of the old ones) and ``config.pad_token_id`` set."""
    import torch
    from transformers import AutoModelForSequenceClassification

    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=1, dtype=getattr(torch, dtype),
            trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise TrainingError(f"cannot load the base model {base!r}: {exc}") from None
    embeddings = model.get_input_embeddings()
    old = embeddings.weight.shape[0]
    if len(tokenizer) > old:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        with torch.no_grad():
            weight = model.get_input_embeddings().weight
            weight[old:] = weight[:old].mean(dim=0, keepdim=True)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def load_base_tokenizer(base: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise TrainingError(f"cannot load the tokenizer of {base!r}: {exc}") from None
    if not getattr(tokenizer, "chat_template", None):
        raise TrainingError(f"{base}: the tokenizer has no chat template; the verifier renders "
                            "problem + response with it (use an instruct/chat model)")
    ensure_pad_token(tokenizer)
    return tokenizer


# ============================================================================ training


@dataclass
class VerifierData:
    """The trainer's rows and what happened to the candidates."""

    rows: list[dict[str, Any]]
    report: dict[str, Any]


def build_rows(settings: VerifierSettings, tokenizer: Any,
               candidates: list[Candidate] | None = None) -> VerifierData:
    """Candidates → tokenised pairs (``bt``) or labelled candidates (``bce``); inputs longer
    than ``max_length`` are dropped and counted."""
    candidates = read_candidates(settings.data) if candidates is None else candidates
    judged = [c for c in candidates if c.passed is not None]
    cache: dict[int, list[int]] = {}

    def ids(c: Candidate) -> list[int]:
        if id(c) not in cache:
            cache[id(c)] = encode(tokenizer, c.prompt, c.response)
        return cache[id(c)]

    too_long = 0
    rows: list[dict[str, Any]] = []
    if settings.loss == "bt":
        for good, bad in sample_pairs(judged, settings.pairs_per_problem, settings.seed):
            a, b = ids(good), ids(bad)
            if max(len(a), len(b)) > settings.max_length:
                too_long += 1
                continue
            rows.append({"chosen_ids": a, "rejected_ids": b})
    else:
        for c in judged:
            if len(ids(c)) > settings.max_length:
                too_long += 1
                continue
            rows.append({"input_ids": ids(c), "label": int(bool(c.passed))})
    problems = {c.task_id for c in judged}
    report = {"candidates": len(candidates), "judged": len(judged),
              "passed": sum(bool(c.passed) for c in judged), "problems": len(problems),
              "loss": settings.loss, "rows": len(rows), "dropped_too_long": too_long,
              "max_length": settings.max_length}
    if not rows:
        raise TrainingError("no verifier training rows: the BT loss needs problems with both "
                            "passing and failing candidates" if settings.loss == "bt" else
                            "no judged candidates to train the verifier on")
    return VerifierData(rows, report)


def training_arguments(settings: VerifierSettings, *, bf16: bool, fp16: bool) -> Any:
    from transformers import TrainingArguments

    from motcoder.training.sft import installed_names

    kwargs: dict[str, Any] = {
        "output_dir": str(settings.out), "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps if settings.max_steps > 0 else -1,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "learning_rate": settings.learning_rate, "lr_scheduler_type": settings.scheduler,
        "warmup_steps": float(settings.warmup_ratio) if settings.warmup_ratio else 0,
        "weight_decay": settings.weight_decay, "max_grad_norm": settings.max_grad_norm,
        "activation_checkpointing": settings.gradient_checkpointing,
        "bf16": bf16, "fp16": fp16, "seed": settings.seed, "data_seed": settings.seed,
        "logging_steps": settings.logging_steps, "logging_first_step": True,
        "save_strategy": "steps", "save_steps": settings.save_steps,
        "save_total_limit": settings.save_total_limit, "report_to": "none",
        "remove_unused_columns": False, "dataloader_num_workers": 0,
    }
    if settings.deepspeed:
        kwargs["deepspeed"] = str(settings.deepspeed)
    return TrainingArguments(**installed_names(kwargs, TrainingArguments))


def _lora_config(settings: VerifierSettings) -> Any:
    from peft import LoraConfig

    lora = settings.lora
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, task_type="SEQ_CLS", bias="none")


def _save_final(trainer: Any, settings: VerifierSettings, base: str, tokenizer: Any,
                out: Path) -> Path:
    import shutil

    from motcoder.models.gguf_cache import atomic_directory
    from motcoder.training import checkpoints as ck

    final = ck.final_dir(out)
    if settings.finetune == "lora":
        from peft import PeftModel

        adapter = out / ck.ADAPTER
        # The resized embedding rows (the pad token) are re-made identically by
        # `load_scoring_model` and never trained under LoRA: no need to save the embeddings.
        if trainer.is_world_process_zero():
            trainer.model.save_pretrained(str(adapter), save_embedding_layers=False)
        else:
            trainer.save_model(str(adapter))
            return final
        if final.exists():
            shutil.rmtree(final)
        with atomic_directory(final) as tmp:
            fresh = load_scoring_model(base, tokenizer, "float32", settings.trust_remote_code)
            merged = PeftModel.from_pretrained(fresh, str(adapter)).merge_and_unload()
            merged.config.pad_token_id = tokenizer.pad_token_id
            merged.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        if not settings.keep_adapter:
            shutil.rmtree(adapter, ignore_errors=True)
    else:
        partial = out / ".final-partial"
        trainer.save_model(str(partial))
        if not trainer.is_world_process_zero():
            return final
        tokenizer.save_pretrained(partial)
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
    return final


def train_verifier(settings: VerifierSettings,
                   on_log: Callable[[dict[str, Any]], None] | None = None,
                   candidates: list[Candidate] | None = None) -> Path:
    """Train (or resume, or just return) the verifier of ``settings``; returns ``OUT/final``.
    ``candidates`` replaces reading ``settings.data`` (expert iteration passes its own)."""
    from motcoder.training import checkpoints as ck
    from motcoder.training.base_model import resolve_base_model
    from motcoder.training.callbacks import LossLogger
    from motcoder.training.distributed import run_precision

    settings.validate(need_data=candidates is None)
    started = time.time()
    state = ck.prepare_run_dir(settings, record=False)  # type: ignore[arg-type]
    if state.finished is not None:
        return state.finished
    out = state.out
    bf16, fp16 = run_precision(settings)
    base = resolve_base_model(settings.model)
    tokenizer = load_base_tokenizer(base, settings.trust_remote_code)
    data = build_rows(settings, tokenizer, candidates)
    ck.record_settings(settings)  # type: ignore[arg-type]
    if ck.is_main_process():
        (out / ck.DATA_REPORT).write_text(json.dumps(data.report, indent=2) + "\n")
    if state.checkpoint is not None:
        ck.trim_loss_log(out, state.checkpoint_step)
    args = training_arguments(settings, bf16=bf16, fp16=fp16)  # before the model (ZeRO-3)
    from transformers import set_seed

    set_seed(settings.seed)   # the new score head's initial weights
    model = load_scoring_model(base, tokenizer, settings.model_dtype,
                               settings.trust_remote_code)
    if settings.finetune == "lora":
        from peft import get_peft_model

        model = get_peft_model(model, _lora_config(settings))
    from datasets import Dataset

    collator = PairCollator(tokenizer) if settings.loss == "bt" else LabelCollator(tokenizer)
    trainer = _trainer_class()(
        model=model, args=args, train_dataset=Dataset.from_list(data.rows),
        data_collator=collator, processing_class=tokenizer,
        callbacks=[LossLogger(out / ck.LOSS_LOG, on_log)],
        loss_kind=settings.loss, l2=settings.l2)
    trainer.train(resume_from_checkpoint=str(state.checkpoint) if state.checkpoint else None)
    final = _save_final(trainer, settings, base, tokenizer, out)
    if trainer.is_world_process_zero():
        losses = [r["loss"] for r in ck.read_loss_log(out) if "loss" in r]
        summary = {"final": str(final), "base": base, "kind": "verifier",
                   "global_step": trainer.state.global_step,
                   "first_loss": losses[0] if losses else None,
                   "last_loss": losses[-1] if losses else None,
                   "seconds": round(time.time() - started, 1), "data": data.report}
        (final / VERIFIER_MARKER).write_text(json.dumps(summary, indent=2) + "\n")
        (final / ck.DONE_MARKER).write_text(json.dumps(summary, indent=2) + "\n")
    return final


# ============================================================================ scoring


class Verifier:
    """A trained verifier: ``score(prompt, response)`` → float, or lists → list of floats."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 8,
                 max_length: int | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = next(model.parameters()).device

    def score(self, prompts: str | Sequence[str], responses: str | Sequence[str]
              ) -> float | list[float]:
        """One prompt + one response → one float; two equal-length lists → a list."""
        if isinstance(prompts, str) and isinstance(responses, str):
            return self.score_many([prompts], [responses])[0]
        if isinstance(prompts, str) or isinstance(responses, str):
            raise TypeError("score: give one prompt and one response, or two lists")
        return self.score_many(list(prompts), list(responses))

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Scores of ``(problem_message, response)`` pairs (the Best-of-N scorer protocol)."""
        return self.score_many([p for p, _ in pairs], [r for _, r in pairs])

    def score_many(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        """Scores of ``(prompts[i], responses[i])``, batched by length."""
        import torch

        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        encoded = [encode(self.tokenizer, p, r) for p, r in zip(prompts, responses,
                                                                 strict=True)]
        if self.max_length is not None:  # keep the end: the scored token is the last one
            encoded = [e[-self.max_length:] for e in encoded]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        scores = [0.0] * len(encoded)
        with torch.no_grad():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start:start + self.batch_size]
                batch = pad_batch(self.tokenizer, [encoded[i] for i in chunk])
                batch = {k: v.to(self.device) for k, v in batch.items()}
                logits = self.model(**batch).logits.squeeze(-1).float().cpu().tolist()
                for i, value in zip(chunk, logits, strict=True):
                    scores[i] = float(value)
        return scores

    __call__ = score


def load_verifier(path: str | Path, *, device: str = "auto", batch_size: int = 8,
                  max_length: int | None = None) -> Verifier:
    """A trained verifier from ``OUT/final`` (or its run directory ``OUT``)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    if (path / "final").is_dir():
        path = path / "final"
    if not (path / "config.json").is_file():
        raise TrainingError(f"{path}: not a trained verifier (no config.json; train one with "
                            "motcoder train verifier)")
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "right"
    model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32)
    if model.config.num_labels != 1 or model.config.pad_token_id is None:
        raise TrainingError(f"{path}: not a one-score verifier (num_labels "
                            f"{model.config.num_labels}, pad_token_id "
                            f"{model.config.pad_token_id})")
    if tokenizer.pad_token_id != model.config.pad_token_id:
        raise TrainingError(f"{path}: the tokenizer's pad token differs from the model's")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()
    return Verifier(model, tokenizer, batch_size, max_length)
