"""The one error type of the problem loaders.

Every message names where the problem is (``file:line``, a dataset on the hub, a field)
and says what to do about it, so a command line can print it as it is, without a traceback.
"""

from __future__ import annotations


class ProblemLoadError(ValueError):
    """Benchmark data that cannot be read or used; the message says where and what to do."""
