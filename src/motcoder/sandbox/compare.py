"""Comparators: the trusted harness's pass/fail decision on what a program sent back.

Pure, fast functions on plain data. Each returns ``(passed, message)``: ``message`` is ""
when the output passes, otherwise a short human-readable account of the first difference
(position, expected vs got, truncated).

* :func:`compare_stdout` judges captured standard output against the expected text. The
  default ``"tokens"`` mode compares whitespace-separated token *sequences* in order (never
  sets); a float tolerance applies only where the *expected* token is a decimal number
  (has a ``.`` or an exponent), and integer-looking tokens are compared exactly as strings,
  however large. ``"lines"`` compares right-stripped lines; ``"exact"`` the whole text.
* :func:`compare_value` judges a function's (decoded) return value against the expected one,
  with types: ``True`` is not ``1``, strings are not numbers, floats are compared with a
  tolerance. It never calls ``__eq__`` of anything but builtin scalars, so objects the
  untrusted program made (or an :class:`~motcoder.sandbox.codec.Opaque` stand-in) never pass.
* :func:`compare_call_result` adds the APPS call-based quirk on top of :func:`compare_value`.
"""

from __future__ import annotations

import math
import operator
import re
from itertools import compress, count, islice, repeat
from typing import Any

from .codec import Opaque

__all__ = ["compare_call_result", "compare_stdout", "compare_value"]

STDOUT_MODES = ("tokens", "lines", "exact")

# An expected token gets the float tolerance only if it is a decimal number: digits with a
# decimal point and/or an exponent. ASCII digits only; "nan", "inf", "1_0.5" are not decimals.
_DECIMAL_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)"
)
# What the program may print in place of a decimal: any plain number (integer or decimal).
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TOKEN_RE = re.compile(r"\S+")
_NUMBER_CHARS = str.maketrans("", "", "0123456789+-.eE")  # deletes them
_CHUNK = 4096

_SHOW = 60          # longest token / snippet shown in a message
_MAX_DEPTH = 500    # deepest nesting compare_value walks


# --------------------------------------------------------------------------- stdout


def compare_stdout(
    got: bytes | str,
    expected: str,
    *,
    mode: str = "tokens",
    float_tol: float = 1e-6,
    case_insensitive: bool = False,
) -> tuple[bool, str]:
    """Judge a program's standard output ``got`` against ``expected``.

    ``got`` bytes are decoded as UTF-8 with replacement characters. Modes:

    * ``"tokens"`` (default): both texts are split on whitespace and the token sequences must
      have the same length and agree position by position. Where the expected token is a
      decimal number (contains ``.`` or an exponent), any number the program printed that is
      within ``float_tol`` (absolute or relative) passes; every other token must match exactly.
    * ``"lines"``: lines (``\\n`` or ``\\r\\n`` separated) must match after stripping trailing
      whitespace; trailing empty lines are ignored. No float tolerance.
    * ``"exact"``: the decoded texts must be identical.

    ``case_insensitive`` lower-cases both texts first (in every mode).
    """
    if mode not in STDOUT_MODES:
        raise ValueError(f"unknown stdout comparison mode {mode!r}; use one of {STDOUT_MODES}")
    if float_tol < 0:
        raise ValueError("float_tol must be >= 0")
    got_text = _as_text(got)
    expected_text = _as_text(expected)
    if case_insensitive:
        got_text = got_text.lower()
        expected_text = expected_text.lower()
    if mode == "tokens":
        return _compare_tokens(got_text, expected_text, float_tol)
    if mode == "lines":
        return _compare_lines(got_text, expected_text)
    return _compare_exact(got_text, expected_text)


def _as_text(data: bytes | bytearray | memoryview | str) -> str:
    if isinstance(data, str):
        return data
    return bytes(data).decode("utf-8", errors="replace")


def _compare_tokens(got: str, expected: str, float_tol: float) -> tuple[bool, str]:
    got_tokens = got.split()
    exp_tokens = expected.split()
    if got_tokens == exp_tokens:  # the common case, done in C
        return True, ""
    i = _first_mismatch(got_tokens, exp_tokens, float_tol)
    if i is not None:
        return False, (
            f"token {i + 1} (line {_line_of_token(expected, i)} of expected): "
            f"expected {_short(exp_tokens[i])}, got {_short(got_tokens[i])}"
        )
    n_got, n_exp = len(got_tokens), len(exp_tokens)
    if n_got == n_exp:  # every difference was within the float tolerance
        return True, ""
    if n_got < n_exp:
        return False, (
            f"output ends early: expected {n_exp} tokens, got {n_got}; "
            f"next expected token {_short(exp_tokens[n_got])}"
        )
    return False, (
        f"extra output: expected {n_exp} tokens, got {n_got}; "
        f"first extra token {_short(got_tokens[n_exp])}"
    )


def _first_mismatch(got: list[str], expected: list[str], float_tol: float) -> int | None:
    """Index of the first token pair (within the common length) that does not match.

    Linear time with the per-token work in C: differing positions are found with ``map``;
    they are then checked in chunks by :func:`_all_close`, and only a chunk it cannot clear
    is walked token by token with :func:`_tokens_match` (the rule itself).
    """
    differing = _differing_indices(got, expected)
    for start in range(0, len(differing), _CHUNK):
        chunk = differing[start:start + _CHUNK]
        if _all_close([got[i] for i in chunk], [expected[i] for i in chunk], float_tol):
            continue
        for i in chunk:
            if not _tokens_match(got[i], expected[i], float_tol):
                return i
    return None


def _differing_indices(a: list[str], b: list[str]) -> list[int]:
    """Positions (within the common length) where ``a`` and ``b`` differ; the loop runs in C."""
    return list(compress(count(), map(operator.ne, a, b)))


def _tokens_match(got: str, expected: str, float_tol: float) -> bool:
    """Non-identical tokens match only as numbers, and only if ``expected`` is a decimal."""
    if not _DECIMAL_RE.fullmatch(expected) or not _NUMBER_RE.fullmatch(got):
        return False
    g, e = float(got), float(expected)
    return math.isclose(g, e, rel_tol=float_tol, abs_tol=float_tol)


def _all_close(got: list[str], expected: list[str], tol: float) -> bool:
    """A fast, conservative form of ``all(map(_tokens_match, got, expected))``.

    True only if every pair passes :func:`_tokens_match`; False may also mean "not sure"
    (then the caller checks pair by pair). Over the characters ``0-9 + - . e E``, ``float()``
    accepts exactly the strings ``_NUMBER_RE`` matches, and such a string with a ``.`` or an
    exponent (i.e. not all digits after its sign) matches ``_DECIMAL_RE``. The bound
    ``tol * max(1, |g|, |e|)`` is ``math.isclose`` with ``rel_tol = abs_tol = tol``.
    """
    if "".join(got).translate(_NUMBER_CHARS) or "".join(expected).translate(_NUMBER_CHARS):
        return False  # some character that cannot be part of a number
    if any(map(str.isdigit, map(str.lstrip, expected, repeat("+-")))):
        return False  # an expected integer: compared exactly, so not close
    try:
        g = list(map(float, got))
        e = list(map(float, expected))
    except ValueError:
        return False
    diffs = list(map(abs, map(operator.sub, g, e)))
    if all(map(operator.le, diffs, repeat(tol))):
        return True
    bounds = map(operator.mul, repeat(tol), map(max, repeat(1.0), map(abs, g), map(abs, e)))
    return all(map(operator.le, diffs, bounds))


def _line_of_token(text: str, index: int) -> int:
    match = next(islice(_TOKEN_RE.finditer(text), index, None), None)
    return text.count("\n", 0, match.start()) + 1 if match else 0


def _compare_lines(got: str, expected: str) -> tuple[bool, str]:
    got_lines = _lines(got)
    exp_lines = _lines(expected)
    if got_lines == exp_lines:
        return True, ""
    differing = _differing_indices(got_lines, exp_lines)
    if differing:
        i = differing[0]
        g, e = got_lines[i], exp_lines[i]
        col = _first_difference(g, e)
        return False, (
            f"line {i + 1}, column {col + 1}: expected {_short(e, col)}, got {_short(g, col)}"
        )
    n_got, n_exp = len(got_lines), len(exp_lines)
    if n_got < n_exp:
        return False, (
            f"output ends early: expected {n_exp} lines, got {n_got}; "
            f"next expected line {_short(exp_lines[n_got])}"
        )
    return False, (
        f"extra output: expected {n_exp} lines, got {n_got}; "
        f"first extra line {_short(got_lines[n_exp])}"
    )


def _lines(text: str) -> list[str]:
    lines = list(map(str.rstrip, text.split("\n")))
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _compare_exact(got: str, expected: str) -> tuple[bool, str]:
    if got == expected:
        return True, ""
    pos = _first_difference(got, expected)
    line = expected.count("\n", 0, pos) + 1
    col = pos - (expected.rfind("\n", 0, pos) + 1) + 1
    return False, (
        f"first difference at character {pos + 1} (line {line}, column {col}): "
        f"expected {_short(expected, pos)}, got {_short(got, pos)}"
    )


def _first_difference(a: str, b: str) -> int:
    """Index of the first character where ``a`` and ``b`` differ (linear time, mostly in C)."""
    n = min(len(a), len(b))
    i = 0
    step = 4096
    while i < n and a[i:i + step] == b[i:i + step]:
        i += step
    end = min(i + step, n)
    while i < end and a[i] == b[i]:
        i += 1
    return i


def _short(text: str, start: int = 0) -> str:
    """repr of ``text[start:]``, cut to a readable length; "end of output" if empty."""
    piece = text[start:start + _SHOW + 1]
    if not piece:
        return "<end of output>" if start else "''"
    if len(piece) > _SHOW:
        return repr(piece[:_SHOW]) + "..."
    return repr(piece)


# --------------------------------------------------------------------------- values


def compare_value(got: Any, expected: Any, *, float_tol: float = 1e-6) -> tuple[bool, str]:
    """Judge a decoded return value ``got`` against ``expected``, with types.

    * ``None`` equals only ``None``; ``bool`` only ``bool`` (``True`` is not ``1``).
    * ``int`` vs ``int``: exact, however large.
    * If either side is a ``float`` (and the other an ``int`` or ``float``): equal when
      ``math.isclose(got, expected, rel_tol=float_tol, abs_tol=float_tol)``; NaN equals NaN.
    * ``str`` and ``bytes``: exact, and only to the same type.
    * ``list`` and ``tuple`` are treated alike (expected values often come from JSON, which
      has no tuples): same length, items compared in order.
    * ``dict``: same keys (compared exactly, with types), values compared recursively.
    * ``set`` / ``frozenset``: equal only to a set or frozenset with the same elements
      (exactly, with types; sets holding only numbers fall back to sorted comparison with
      the tolerance).
    * Anything else (an ``Opaque`` stand-in, any non-builtin type) is never equal.

    Only exact builtin types are trusted: ``__eq__`` of other objects is never called.
    """
    if float_tol < 0:
        raise ValueError("float_tol must be >= 0")
    try:
        message = _diff(got, expected, float_tol, "", 0)
    except RecursionError:
        message = "value nested too deeply to compare"
    return message is None, message or ""


def compare_call_result(
    got: Any, expected: Any, *, float_tol: float = 1e-6
) -> tuple[bool, str]:
    """:func:`compare_value`, plus the APPS call-based quirk.

    APPS stores the expected output of a call-based test wrapped in a list (``[result]``),
    and the official APPS harness accepts the result either as stored or unwrapped. So when
    ``expected`` is a non-empty list and the plain comparison fails, ``got`` also passes if it
    equals ``expected[0]``. The message on failure is that of the plain comparison.
    """
    passed, message = compare_value(got, expected, float_tol=float_tol)
    if passed:
        return True, ""
    if type(expected) is list and expected:
        if compare_value(got, expected[0], float_tol=float_tol)[0]:
            return True, ""
    return False, message


_SCALARS = (type(None), bool, int, float, str, bytes)
_SEQUENCES = (list, tuple)
_SETS = (set, frozenset)
_NUMBERS = (int, float)


def _diff(got: Any, expected: Any, tol: float, path: str, depth: int) -> str | None:
    """None if equal, else a message naming where and how ``got`` differs from ``expected``."""
    tg, te = type(got), type(expected)
    where = f"at {path}: " if path else ""
    if depth > _MAX_DEPTH:
        return f"{where}value nested too deeply to compare"
    # Types are matched by identity: bool is not in _NUMBERS, so True only equals True.
    if te in _NUMBERS and tg in _NUMBERS:
        if te is int and tg is int:
            if got == expected:
                return None
        elif _close(got, expected, tol):
            return None
    elif te in _SCALARS:
        if tg is te and got == expected:
            return None
    elif te in _SEQUENCES and tg in _SEQUENCES:
        if len(got) != len(expected):
            return (
                f"{where}expected {_kind(expected)} of length {len(expected)}, "
                f"got {_kind(got)} of length {len(got)}: {_show(got)}"
            )
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            message = _diff(g, e, tol, f"{path}[{i}]", depth + 1)
            if message is not None:
                return message
        return None
    elif te is dict and tg is dict:
        return _diff_dict(got, expected, tol, path, depth)
    elif te in _SETS and tg in _SETS:
        return _diff_set(got, expected, tol, where)
    if tg is not te:
        return f"{where}expected {_kind(expected)} {_show(expected)}, got {_kind(got)} {_show(got)}"
    return f"{where}expected {_show(expected)}, got {_show(got)}"


def _close(a: int | float, b: int | float, tol: float) -> bool:
    try:
        fa, fb = float(a), float(b)
    except OverflowError:  # an int too large for a float is not close to any float
        return False
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return math.isclose(fa, fb, rel_tol=tol, abs_tol=tol)


def _diff_dict(got: dict, expected: dict, tol: float, path: str, depth: int) -> str | None:
    where = f"at {path}: " if path else ""
    try:
        got_keys = {_key(k): k for k in got}
        exp_keys = {_key(k): k for k in expected}
    except _Unsupported as exc:
        return f"{where}unsupported dict key type {exc}"
    if len(got_keys) != len(got) or len(exp_keys) != len(expected):
        return f"{where}dict keys not comparable"
    missing = [k for k in exp_keys if k not in got_keys]
    if missing:
        return (
            f"{where}missing key {_show(exp_keys[missing[0]])} ({len(missing)} missing in all)"
        )
    extra = [k for k in got_keys if k not in exp_keys]
    if extra:
        return f"{where}unexpected key {_show(got_keys[extra[0]])} ({len(extra)} extra in all)"
    for k, ek in exp_keys.items():
        message = _diff(got[got_keys[k]], expected[ek], tol, f"{path}[{_show(ek)}]", depth + 1)
        if message is not None:
            return message
    return None


def _diff_set(got: set | frozenset, expected: set | frozenset, tol: float,
              where: str) -> str | None:
    try:
        got_keys = {_key(x): x for x in got}
        exp_keys = {_key(x): x for x in expected}
    except _Unsupported as exc:
        return f"{where}unsupported set element type {exc}"
    if len(got) == len(expected) and got_keys.keys() == exp_keys.keys():
        return None
    if len(got) == len(expected) and _numbers_close(got, expected, tol):
        return None
    missing = [v for k, v in exp_keys.items() if k not in got_keys]
    extra = [v for k, v in got_keys.items() if k not in exp_keys]
    parts = [f"sets differ (expected {len(expected)} elements, got {len(got)})"]
    if missing:
        parts.append(f"missing {_show(missing[0])} ({len(missing)} in all)")
    if extra:
        parts.append(f"unexpected {_show(extra[0])} ({len(extra)} in all)")
    return where + "; ".join(parts)


def _numbers_close(got: set | frozenset, expected: set | frozenset, tol: float) -> bool:
    """Sets of plain numbers (no NaN): sorted, then compared pairwise with the tolerance."""
    if tol == 0:
        return False
    for s in (got, expected):
        if any(type(x) not in _NUMBERS or (type(x) is float and math.isnan(x)) for x in s):
            return False
    return all(_close(g, e, tol) for g, e in zip(sorted(got), sorted(expected), strict=True))


class _Unsupported(Exception):
    """A value whose type compare_value does not trust (the message is the type name)."""


def _key(x: Any) -> Any:
    """A hashable, type-tagged stand-in: equal keys means equal values, with types.

    ``True`` and ``1`` get different keys; ``1`` and ``1.0`` the same (numbers compare by
    value); lists and tuples alike, sets and frozensets alike. Built from trusted types only.
    """
    t = type(x)
    if x is None:
        return ("none",)
    if t is bool:
        return ("bool", x)
    if t is int:
        return ("num", x)
    if t is float:
        return ("nan",) if math.isnan(x) else ("num", x)
    if t is str:
        return ("str", x)
    if t is bytes:
        return ("bytes", x)
    if t in _SEQUENCES:
        return ("seq", tuple(_key(item) for item in x))
    if t in _SETS:
        return ("set", frozenset(_key(item) for item in x))
    raise _Unsupported(t.__name__)


def _kind(x: Any) -> str:
    return type(x).__name__


def _show(x: Any, limit: int = _SHOW) -> str:
    """A bounded-length description of a value, safe for huge ints and untrusted types."""
    out: list[str] = []
    _render(x, out, [limit], 0)
    text = "".join(out)
    return text if len(text) <= limit else text[:limit] + "..."


def _render(x: Any, out: list[str], budget: list[int], depth: int) -> None:
    if budget[0] <= 0:
        out.append("...")
        return
    t = type(x)
    if t is int and x.bit_length() > 128:
        digits = int(x.bit_length() * math.log10(2)) + 1
        piece = f"<int of ~{digits} digits ending ...{abs(x) % 10**12:012d}>"
    elif t in _SCALARS:
        piece = repr(x[:budget[0] + 1] if t in (str, bytes) else x)
    elif t in _SETS and not x:
        piece = f"{t.__name__}()"
    elif depth < 10 and t in (list, tuple, set, frozenset, dict):
        opening, closing = {list: "[]", tuple: "()", dict: "{}"}.get(t, "{}")
        if t is frozenset:
            opening, closing = "frozenset({", "})"
        out.append(opening)
        budget[0] -= len(opening)
        items = x.items() if t is dict else x
        for i, item in enumerate(items):
            if budget[0] <= 0:
                out.append("...")
                break
            if i:
                out.append(", ")
            if t is dict:
                _render(item[0], out, budget, depth + 1)
                out.append(": ")
                _render(item[1], out, budget, depth + 1)
            else:
                _render(item, out, budget, depth + 1)
        if t is tuple and len(x) == 1:
            out.append(",")
        out.append(closing)
        return
    elif t is Opaque:
        piece = f"<unencodable {str(x.type_name)[:40]}>"
    else:
        piece = f"<{t.__name__} object>"
    out.append(piece)
    budget[0] -= len(piece)
