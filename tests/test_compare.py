"""Tests of the comparators the trusted harness judges with."""

from __future__ import annotations

import math
from typing import Any

import pytest

from motcoder.sandbox.codec import Opaque, dumps, loads
from motcoder.sandbox.compare import compare_call_result, compare_stdout, compare_value

BIG = 10**5000 + 7  # beyond the int-to-str digit limit


def case_id(value: Any) -> str:
    """A short, deterministic test id (repr fails on ints beyond the digit limit)."""
    if type(value).__module__ != "builtins":
        return type(value).__name__
    try:
        return repr(value)[:30]
    except ValueError:
        return "big-" + type(value).__name__

# --------------------------------------------------------------------------- stdout: tokens

TOKEN_CASES = [
    # (got, expected, passes)
    ("YES NO", "NO YES", False),           # token sequences, never token sets
    ("1 2 3", "3 2 1", False),
    ("1 1 2", "1 2 2", False),              # same set, different multiset
    ("1000001", "1000000", False),          # integers compared exactly
    ("1000000", "1000000", True),
    ("12345678901234567890123456789", "12345678901234567890123456788", False),
    ("1" * 5000 + "2", "1" * 5000 + "3", False),  # big ints differing in the last digit
    ("1" * 5000, "1" * 5000, True),
    ("0.30000000000000004", "0.3", True),   # float tolerance, both directions
    ("0.3", "0.30000000000000004", True),
    ("0.3000001", "0.3", True),
    ("0.30001", "0.3", False),
    ("0.3", "0.30001", False),
    ("1e-7", "0.0", True),                  # absolute tolerance
    ("1000000.5", "1000000.0", True),       # relative tolerance (5e-7)
    ("1000002.0", "1000000.0", False),      # relative difference 2e-6
    ("3", "3.0", True),                     # expected is a decimal: any number may match
    ("3.0000001", "3", False),              # expected is an integer: exact
    ("3.0", "3", False),
    ("03", "3", False),
    ("+3", "3", False),
    ("-0", "0", False),
    ("1.5E+3", "1500.0", True),             # exponent forms on either side
    ("1500", "1.5e3", True),
    ("1.5e3", "1.5e3", True),
    (".5", "0.5", True),
    ("5.", "5.0", True),
    ("abc", "1.5", False),                  # a word never matches a decimal
    ("nan", "1.5", False),
    ("inf", "1e308", False),
    ("1_5.0", "15.0", False),               # float() syntax the regex refuses
    ("0x10", "16.0", False),
    ("nan", "nan", True),                   # nan / inf are words: exact compare
    ("NaN", "nan", False),
    ("inf", "inf", True),
    ("Infinity", "inf", False),
    ("1.5", "nan", False),
    ("1.0", "1.0.0", False),                # not a decimal: exact
    ("1.0.0", "1.0.0", True),
    ("١.٥", "1.5", False),                  # non-ASCII digits are not numbers
    ("yes", "YES", False),                  # case-sensitive unless asked
    ("", "", True),                         # empty outputs
    ("  \n\t ", "", True),
    ("", "   \n", True),
    ("", "0", False),
    ("0", "", False),
    ("1 2", "1 2 3", False),                # token counts must agree
    ("1 2 3", "1 2", False),
    ("1 2 ", "1 2", True),                  # whitespace is normalised
    ("  1\t\t2\n\n\n", "1 2\n", True),
    ("1\r\n2\r\n", "1\n2\n", True),         # CRLF
    ("1\n2", "1 2", True),                  # line structure is not significant in tokens mode
    ("a b", "ab", False),
    ("0.1 0.2 0.30000000000000004", "0.1 0.2 0.3", True),
    ("0.1 0.2 0.4", "0.1 0.2 0.3", False),
    ("2 0.5", "2 0.5000000001", True),
    ("3 0.5", "2 0.5000000001", False),
]


@pytest.mark.parametrize(("got", "expected", "passes"), TOKEN_CASES, ids=case_id)
def test_tokens_mode(got: str, expected: str, passes: bool) -> None:
    ok, message = compare_stdout(got, expected)
    assert ok is passes
    assert (message == "") is passes
    assert compare_stdout(got.encode(), expected)[0] is passes  # bytes work the same


@pytest.mark.parametrize(("got", "expected", "passes"), [
    ("yes", "YES", True),
    ("Yes nO", "YES NO", True),
    ("NO YES", "yes no", False),
    ("1.0E5", "100000.0", True),
])
def test_case_insensitive_only_when_asked(got: str, expected: str, passes: bool) -> None:
    assert compare_stdout(got, expected, case_insensitive=True)[0] is passes
    if got.lower() != expected.lower() or got == expected:
        return
    assert compare_stdout(got, expected)[0] is False


@pytest.mark.parametrize(("got", "expected", "tol", "passes"), [
    ("0.30000000000000004", "0.3", 0.0, False),
    ("0.50", "0.5", 0.0, True),             # same number, different spelling
    ("0.31", "0.3", 0.1, True),
    ("0.45", "0.3", 0.1, False),
    ("11", "10", 0.5, False),               # integers stay exact whatever the tolerance
])
def test_float_tolerance_setting(got: str, expected: str, tol: float, passes: bool) -> None:
    assert compare_stdout(got, expected, float_tol=tol)[0] is passes


def test_token_messages() -> None:
    ok, message = compare_stdout("YES NO", "NO YES")
    assert not ok
    assert "token 1" in message and "'NO'" in message and "'YES'" in message
    ok, message = compare_stdout("1\n2\n5\n", "1\n2\n3\n")
    assert "token 3" in message and "line 3" in message
    assert "ends early" in compare_stdout("1", "1 2")[1]
    assert "extra" in compare_stdout("1 2", "1")[1]
    ok, message = compare_stdout("x" * 10_000, "y" * 10_000)
    assert len(message) < 300  # long tokens are truncated


def test_undecodable_bytes_are_replaced() -> None:
    assert compare_stdout(b"\xff\xfe 1", "\ufffd\ufffd 1") == (True, "")
    assert compare_stdout(b"\xff", "x")[0] is False


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        compare_stdout("1", "1", mode="sets")
    with pytest.raises(ValueError):
        compare_stdout("1", "1", float_tol=-1)
    with pytest.raises(ValueError):
        compare_value(1, 1, float_tol=-1)


# --------------------------------------------------------------------------- stdout: lines / exact

LINE_CASES = [
    ("a b\nc\n", "a b\nc\n", True),
    ("a b  \nc\t\n", "a b\nc", True),       # trailing whitespace ignored
    ("a b\r\nc\r\n", "a b\nc\n", True),     # CRLF
    ("a b\nc\n\n\n", "a b\nc", True),       # trailing empty lines ignored
    ("a b\nc", "a b\nc\n\n  \n", True),
    ("a  b\nc", "a b\nc", False),           # inner whitespace matters
    (" a b\nc", "a b\nc", False),           # leading whitespace matters
    ("a b c", "a b\nc", False),             # line structure matters
    ("a b\n\nc", "a b\nc", False),          # inner empty lines matter
    ("0.30000000000000004", "0.3", False),  # no float tolerance in lines mode
    ("", "", True),
    ("\n\n", "", True),
    ("", "x", False),
    ("NO\nYES", "YES\nNO", False),
]


@pytest.mark.parametrize(("got", "expected", "passes"), LINE_CASES)
def test_lines_mode(got: str, expected: str, passes: bool) -> None:
    ok, message = compare_stdout(got, expected, mode="lines")
    assert ok is passes
    assert (message == "") is passes


def test_lines_messages() -> None:
    ok, message = compare_stdout("a\nbx\n", "a\nby\n", mode="lines")
    assert "line 2" in message and "'y'" in message and "'x'" in message
    assert "ends early" in compare_stdout("a", "a\nb", mode="lines")[1]
    assert "extra" in compare_stdout("a\nb", "a", mode="lines")[1]
    assert compare_stdout("A\nB", "a\nb", mode="lines", case_insensitive=True)[0]


EXACT_CASES = [
    ("abc\n", "abc\n", True),
    ("abc", "abc\n", False),
    ("abc \n", "abc\n", False),
    ("abc\r\n", "abc\n", False),
    ("", "", True),
    ("", " ", False),
    ("1.0", "1", False),
    ("0.30000000000000004", "0.3", False),
]


@pytest.mark.parametrize(("got", "expected", "passes"), EXACT_CASES)
def test_exact_mode(got: str, expected: str, passes: bool) -> None:
    ok, message = compare_stdout(got, expected, mode="exact")
    assert ok is passes
    assert (message == "") is passes


def test_exact_messages() -> None:
    ok, message = compare_stdout("ab\ncd", "ab\ncx", mode="exact")
    assert "line 2, column 2" in message
    ok, message = compare_stdout("ab", "abc", mode="exact")
    assert "end of output" in message
    assert compare_stdout(b"ABC", "abc", mode="exact", case_insensitive=True)[0]


def test_ten_megabyte_outputs() -> None:
    """Large outputs: linear-time comparison in every mode (not timed here; see benchmarks)."""
    numbers = [str(i * 7919 % 1_000_003) for i in range(1_400_000)]
    expected = "\n".join(numbers) + "\n"
    assert len(expected) > 9_000_000
    got = expected.encode()
    for mode in ("tokens", "lines", "exact"):
        assert compare_stdout(got, expected, mode=mode) == (True, "")
    wrong = (expected[:-3] + "9\n").encode()
    for mode in ("tokens", "lines", "exact"):
        assert compare_stdout(wrong, expected, mode=mode)[0] is False
    # Every token differs from the expected one but is within the tolerance.
    floats = "0.1234567890 " * 900_000
    got_floats = "0.12345678901 " * 900_000
    assert len(floats) > 10_000_000
    assert compare_stdout(got_floats, floats) == (True, "")
    assert compare_stdout(got_floats + " 1", floats)[0] is False
    tokens = got_floats.split()
    tokens[600_000] = "0.2"
    ok, message = compare_stdout(" ".join(tokens), floats)
    assert not ok and message.startswith("token 600001 ")


# --------------------------------------------------------------------------- values


class EqualsEverything:
    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


class SneakyInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


nan = math.nan

VALUE_CASES: list[tuple[Any, Any, bool]] = [
    # bool only equals bool
    (True, True, True),
    (False, False, True),
    (True, 1, False),
    (1, True, False),
    (False, 0, False),
    (0.0, False, False),
    (True, 1.0, False),
    # ints exact
    (1, 1, True),
    (1, 2, False),
    (BIG, BIG, True),
    (BIG + 1, BIG, False),
    (-(2**70), -(2**70), True),
    # floats with tolerance (either side a float)
    (0.1 + 0.2, 0.3, True),
    (0.3, 0.1 + 0.2, True),
    (1.0000001, 1.0, True),
    (1.01, 1.0, False),
    (3, 3.0, True),
    (3.0, 3, True),
    (3.0000001, 3, True),
    (3.1, 3, False),
    (1e20, 1.00000001e20, True),
    (1e-9, 0.0, True),
    (BIG, 1.0, False),                      # too large for a float: not close
    (1.0, BIG, False),
    (nan, nan, True),
    (nan, 1.0, False),
    (1.0, nan, False),
    (math.inf, math.inf, True),
    (math.inf, -math.inf, False),
    (1e308, math.inf, False),
    (-0.0, 0.0, True),
    # strings and bytes
    ("abc", "abc", True),
    ("abc", "abd", False),
    ("1", 1, False),
    (1, "1", False),
    ("1.0", 1.0, False),
    (b"ab", b"ab", True),
    (b"ab", "ab", False),
    ("ab", b"ab", False),
    # None
    (None, None, True),
    (None, 0, False),
    (0, None, False),
    (None, [], False),
    ("None", None, False),
    # lists and tuples alike
    ([1, 2], [1, 2], True),
    ((1, 2), [1, 2], True),
    ([1, 2], (1, 2), True),
    ([[1, 2], (3,)], ([1, 2], [3]), True),
    ([1, 2], [2, 1], False),
    ([1, 2], [1, 2, 3], False),
    ([], [], True),
    ([], (), True),
    ([True], [1], False),
    ([1.0000001, "a"], (1, "a"), True),
    ([1, 2], {1, 2}, False),
    ([1, 2], {0: 1, 1: 2}, False),
    ("ab", ["a", "b"], False),
    # dicts
    ({"a": 1, "b": [2]}, {"b": (2,), "a": 1}, True),
    ({"a": 1}, {"a": 2}, False),
    ({"a": 1}, {"b": 1}, False),
    ({"a": 1}, {"a": 1, "b": 2}, False),
    ({"a": 1, "b": 2}, {"a": 1}, False),
    ({1: "x"}, {"1": "x"}, False),
    ({True: "x"}, {1: "x"}, False),
    ({1: "x"}, {1.0: "x"}, True),           # numeric keys compare by value
    ({(1, 2): "x"}, {(1, 2): "x"}, True),
    ({"k": 1.0000001}, {"k": 1}, True),
    ({}, {}, True),
    ({}, [], False),
    ({"a": 1}, [("a", 1)], False),
    # sets
    ({1, 2}, {2, 1}, True),
    (frozenset({1, 2}), {1, 2}, True),
    ({1, 2}, frozenset({1, 2}), True),
    ({1, 2}, {1, 3}, False),
    ({1, 2}, {1, 2, 3}, False),
    ({1, 2}, [1, 2], False),
    ([1, 2], {1, 2}, False),
    ({True}, {1}, False),
    ({1}, {True}, False),
    ({(1, "a"), (2, "b")}, {(2, "b"), (1, "a")}, True),
    ({0.1 + 0.2, 1.0}, {0.3, 1}, True),     # numbers-only sets: sorted, with tolerance
    ({0.5, 1.0}, {0.3, 1}, False),
    (set(), set(), True),
    (set(), frozenset(), True),
    (set(), [], False),
    ({frozenset({1})}, {frozenset({1})}, True),
    # untrusted / unsupported types never pass
    (Opaque("Foo"), 1, False),
    (Opaque("Foo"), None, False),
    ([Opaque("Foo")], [1], False),
    (EqualsEverything(), 1, False),
    (EqualsEverything(), "x", False),
    (1, EqualsEverything(), False),
    ([EqualsEverything()], [[1, 2]], False),
    ({"a": EqualsEverything()}, {"a": 1}, False),
    (SneakyInt(5), 6, False),
    (SneakyInt(5), 5, False),               # only exact builtin types are trusted
    ({EqualsEverything()}, {1}, False),
    ({SneakyInt(1): 2}, {1: 2}, False),
    (1 + 0j, 1, False),
    (bytearray(b"a"), b"a", False),
]


@pytest.mark.parametrize(("got", "expected", "passes"), VALUE_CASES, ids=case_id)
def test_compare_value(got: Any, expected: Any, passes: bool) -> None:
    ok, message = compare_value(got, expected)
    assert ok is passes
    assert (message == "") is passes


def test_compare_value_after_decoding() -> None:
    """The usual flow: the child's result goes through the codec, then is compared."""
    result = loads(dumps({"xs": (1, 2.0000000001), "flag": True, "big": BIG}))
    assert compare_value(result, {"xs": [1, 2], "flag": True, "big": BIG})[0]
    assert not compare_value(result, {"xs": [1, 2], "flag": 1, "big": BIG})[0]
    assert not compare_value(result, {"xs": [1, 2], "flag": True, "big": BIG - 1})[0]


def test_compare_value_tolerance_setting() -> None:
    assert compare_value(0.1 + 0.2, 0.3, float_tol=0.0)[0] is False
    assert compare_value(1.05, 1.0, float_tol=0.1)[0] is True
    assert compare_value(11, 10, float_tol=0.5)[0] is False  # int vs int stays exact


def test_compare_value_messages() -> None:
    assert compare_value([1, True], [1, 1]) == (False, "at [1]: expected int 1, got bool True")
    message = compare_value({"a": [1, 2, 3]}, {"a": [1, 2]})[1]
    assert "['a']" in message and "length 2" in message and "length 3" in message
    assert "missing key 'b'" in compare_value({"a": 1}, {"b": 1})[1]
    assert "unexpected key" in compare_value({"a": 1, "c": 2}, {"a": 1})[1]
    message = compare_value({1, 2}, {1, 3})[1]
    assert "missing 3" in message and "unexpected 2" in message
    message = compare_value(BIG + 1, BIG)[1]
    assert "...000000000008" in message and "...000000000007" in message
    assert len(message) < 300
    assert "<unencodable Foo>" in compare_value(Opaque("Foo"), 1)[1]
    assert len(compare_value(list(range(100_000)), [])[1]) < 300
    assert len(compare_value("x" * 100_000, "y")[1]) < 300


def test_compare_value_deep_nesting() -> None:
    a: Any = 1
    b: Any = 1
    for _ in range(5000):
        a, b = [a], [b]
    ok, message = compare_value(a, b)
    assert not ok and "deep" in message


# --------------------------------------------------------------------------- APPS call results

CALL_CASES: list[tuple[Any, Any, bool]] = [
    ([1, 2], [1, 2], True),
    (5, [5], True),                         # APPS wraps call-based outputs in a list
    ([1, 2], [[1, 2]], True),
    ((1, 2), [[1, 2]], True),
    ("abc", ["abc"], True),
    (True, [True], True),
    (1, [True], False),                     # the unwrapped comparison keeps its types
    (True, [1], False),
    (6, [5], False),
    (None, [], False),                      # empty list: no unwrapping
    ([], [], True),
    (5, (5,), False),                       # only lists are unwrapped
    (5, [5, 6], True),                      # as in the official harness: first item
    (6, [5, 6], False),
    (Opaque("X"), [Opaque("X")], False),
    (EqualsEverything(), [1], False),
]


@pytest.mark.parametrize(("got", "expected", "passes"), CALL_CASES, ids=case_id)
def test_compare_call_result(got: Any, expected: Any, passes: bool) -> None:
    ok, message = compare_call_result(got, expected)
    assert ok is passes
    assert (message == "") is passes
