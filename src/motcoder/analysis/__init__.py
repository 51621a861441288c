"""Analysis of judged run directories: what the solutions look like and what they cost.

It reads run directories only (never runs code). Modules:

* ``loading``          `load_run` → `RunData`: config, summary, samples, verdicts, the final
                       attempt of every (problem, sample) with its code; unique labels
* ``grouping``         difficulty groups (then ``all``) shared by every analysis
* ``modularity``       functions / classes per solution (ast), accuracy by #functions
* ``resources``        CPU time and peak memory of problems passed by both of two runs
* ``maintainability``  radon's maintainability index, cyclomatic complexity, LOC / SLOC
* ``rounds``           accuracy after each round (self-reflection) or turn (Best-of-N)
* ``analyze``          `analyze_runs` (the JSON-safe analysis), `analysis_markdown`
* ``tables``           the analysis as string tables (Markdown and the CLI's rich tables)
* ``plots``            `analysis_figures`: PNG figures of every section (matplotlib Agg)
* ``report_*``         the HTML / Markdown report of runs (``motcoder report``), built on these
"""
