"""Training data generation: MoT instruction transformation with execution-checked
assessment, its statistics, and export to training records.

Entry points:

* `transform(problems, model, run, settings, ...)` (`motcoder.datagen.transform`) — a
  teacher model rewrites reference solutions (``settings.style``: ``mot`` or ``clean``),
  each rewrite is assessed and appended to ``run/rewrites.jsonl``; resumable; evolution
  rounds re-ask rejected ones; writes ``summary.json`` (counts, tokens, cost);
* `teacher_messages(problem, reference, style)` (`motcoder.datagen.teacher_prompts`) —
  the one-shot chat sent to the teacher; `load_teacher_prompts(directory)` for overrides;
* `Assessor(judge).assess(problem, answer, style)` and `check_structure(answer, style)`
  (`motcoder.datagen.assess`) — accept a rewrite or reject it with a stable reason code;
* `run_stats(run_dirs)` / `stats_table(stats)` (`motcoder.datagen.stats`) — pre-filter,
  post-filter, passing rate and rejections by reason per source and style;
* `export_rewrites(run_dirs, out, fmt)` and `export_references(problems, out, fmt)`
  (`motcoder.datagen.export`) — chat or Alpaca JSONL for fine-tuning.

Record of one rewrite: `motcoder.datagen.records.Rewrite`.
"""

from motcoder.datagen.assess import REASONS, Assessment, Assessor, check_structure
from motcoder.datagen.export import export_references, export_rewrites
from motcoder.datagen.records import REWRITES, Rewrite, read_rewrites
from motcoder.datagen.stats import rewrite_stats, run_stats, stats_table
from motcoder.datagen.teacher_prompts import load_teacher_prompts, teacher_messages
from motcoder.datagen.transform import DatagenError, TransformSettings, transform

__all__ = [
    "REASONS",
    "REWRITES",
    "Assessment",
    "Assessor",
    "DatagenError",
    "Rewrite",
    "TransformSettings",
    "check_structure",
    "export_references",
    "export_rewrites",
    "load_teacher_prompts",
    "read_rewrites",
    "rewrite_stats",
    "run_stats",
    "stats_table",
    "teacher_messages",
    "transform",
]
