"""motcoder: train and evaluate code-generation LLMs on hard programming problems.

Kept free of imports so that light processes (the sandbox fork-server) can import
sub-packages without pulling in anything heavy.
"""

__version__ = "0.1.0"
