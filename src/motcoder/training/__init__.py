"""Training on TRL / transformers / PEFT: MoT instruction tuning (supervised fine-tuning),
ReflectionCoder's reflection self-distillation, μCode's verifier and expert iteration.

Entry points:

* `train_sft(settings) -> Path` — run, resume or just return a fine-tuning run; the result is
  ``OUT/final``, a full checkpoint + tokenizer (``motcoder run --model hf:OUT/final``);
* `load_settings(config=None, overrides=None, **fields) -> SFTSettings` — settings from a
  YAML/JSON file, ``KEY=VALUE`` overrides and keyword fields (unknown keys are errors);
* `SFTSettings`, `DataSource`, `LoraSettings` — the settings themselves; `TrainingError` —
  what every user-fixable problem raises;
* `motcoder.training.data.build_dataset` — data sources → TRL rows + a `DataReport` (mixture,
  two-step layout, over-length samples dropped and counted);
* `motcoder.training.masking.resolve_loss_mask` — which TRL response-only loss the chat
  template allows;
* `motcoder.training.distributed` — precision, DeepSpeed config checks and the
  ``accelerate launch`` command (GPU-only parts imported lazily).

Other methods: `motcoder.training.reflection_distill.train_reflection` (settings:
``reflection_settings``; ``reflection_serialize``, ``reflection_masks``, ``reflection_data``,
``reflection_loss``), `motcoder.training.verifier.train_verifier` / ``load_verifier``, and
`motcoder.training.expert_iteration.train_mucode`.

Modules: ``settings`` (config; `TrainerSettings`, the hyperparameters every method shares),
``data`` (records → rows), ``masking`` (loss on responses), ``base_model`` (model spec →
checkpoint), ``sft`` (trainer + final save), ``checkpoints`` (run directory, resume),
``callbacks`` (loss log), ``distributed`` (DeepSpeed / Accelerate).
"""

import motcoder.models  # noqa: F401 - sets GOMP_SPINCOUNT before torch is first imported
from motcoder.training.settings import (
    DataSource,
    LoraSettings,
    SFTSettings,
    TrainingError,
    load_settings,
)


def train_sft(settings: SFTSettings, **kwargs):  # type: ignore[no-untyped-def]
    """See `motcoder.training.sft.train_sft` (imported on first use: it needs torch + TRL)."""
    from motcoder.training.sft import train_sft as run

    return run(settings, **kwargs)


__all__ = ["DataSource", "LoraSettings", "SFTSettings", "TrainingError", "load_settings",
           "train_sft"]
