"""Loss only on the responses: which of TRL's two mechanisms a base model's chat template allows.

* ``assistant`` — TRL's ``assistant_only_loss``: whole conversations are tokenised with
  ``return_assistant_tokens_mask``, which needs ``{% generation %}`` markers in the chat
  template. Few shipped templates have them; TRL carries patched "training" templates for some
  families (Qwen2.5 — the paper's base model —, Llama 3, Gemma, Phi, ...) and swaps them in
  itself.
* ``completion`` — TRL's completion-only loss on conversational prompt-completion rows: TRL
  renders the prompt with the generation prompt and prompt + completion with the template, and
  masks the common prefix. It works with any chat template (SmolLM2's has no markers), at the
  price of one row per assistant turn for multi-turn (two-step) samples.

``auto`` picks ``assistant`` when the template supports it, else ``completion``. Either way the
labels of every prompt token are -100 (tests check this on the real tokenizer).
"""

from __future__ import annotations

from typing import Any

from motcoder.training.settings import TrainingError


def chat_template_text(tokenizer: Any) -> str | None:
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default")
    return template or None


def assistant_mask_template(tokenizer: Any) -> str | None:
    """The template TRL's ``assistant_only_loss`` would tokenise with — the tokenizer's own when
    it has generation markers, TRL's patched one when TRL knows the template — or None when
    assistant masks are impossible with this template."""
    template = chat_template_text(tokenizer)
    if template is None:
        return None
    try:
        from trl.chat_template_utils import get_training_chat_template, has_generation_markers
    except ImportError:  # an older TRL without template patching: only native markers count
        return template if "generation" in template and "endgeneration" in template else None
    try:
        patched = get_training_chat_template(tokenizer)
    except ValueError:  # TRL has no patch for this template
        return template if has_generation_markers(template) else None
    return patched or template


def resolve_loss_mask(tokenizer: Any, wanted: str) -> tuple[str, str | None]:
    """``(mode, template)``: the mechanism to use (``assistant`` | ``completion``) and, for
    ``assistant``, the template TRL will tokenise with (None: the tokenizer's own)."""
    if chat_template_text(tokenizer) is None:
        raise TrainingError("the base model's tokenizer has no chat template; train from an "
                            "instruct/chat model (its template is used for the prompts)")
    if wanted == "completion":
        return "completion", None
    template = assistant_mask_template(tokenizer)
    if template is None:
        if wanted == "assistant":
            raise TrainingError("loss_mask 'assistant' needs a chat template with "
                                "{% generation %} markers (or one TRL can patch); this model's "
                                "template has none — use loss_mask 'completion' (or 'auto')")
        return "completion", None
    return "assistant", template
