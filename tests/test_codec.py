"""Tests of the sandbox wire format: round trips with types, and hostile input."""

from __future__ import annotations

import collections
import enum
import json
import math
import random
from typing import Any

import pytest

from motcoder.sandbox import codec
from motcoder.sandbox.codec import CodecError, Opaque, Unencodable, decode, dumps, encode, loads


def same(a: Any, b: Any) -> bool:
    """Equality that also checks exact types, NaN, and the sign of zero, recursively."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        if len(a) != len(b):
            return False
        bk = list(b)
        for k, v in a.items():
            match = [x for x in bk if same(x, k)]
            if len(match) != 1 or not same(v, b[match[0]]):
                return False
        return True
    if type(a) in (set, frozenset):
        return len(a) == len(b) and all(any(same(x, y) for y in b) for x in a)
    return a == b


BIG = 7 * (10**5000 - 1) // 9  # 5000 sevens (int("7" * 5000) would hit the digit limit)

ROUND_TRIP = [
    None, True, False, 0, 1, -1, 2**53, -(2**53), 2**53 + 1, -(2**53) - 1, 2**64, -(2**100),
    BIG, -BIG, BIG + 1, 0.0, -0.0, 1.5, -2.25e-300, 1e16, 1e308, 5e-324, math.nan, math.inf,
    -math.inf, "", "hello", "ünïcödé ☃", "lone \ud800 surrogate", "\x00\n\"\\", b"", b"\x00\xff",
    bytes(range(256)), [], (), set(), frozenset(), {}, [1, [2, [3, []]]], (1,), ((1, 2), (3,)),
    {1, 2, 3}, frozenset({"a", (1, 2)}), {"a": 1, "b": [True, None]},
    {1: "int", True if False else 2: "two", (1, (2, "x")): {"nested": (3,)}},
    {frozenset({1, 2}): 1, b"k": 2, None: 3, 1.5: 4, (): 5}, {(1, (2, (3, "deep"))): [BIG]},
    [True, 1, 1.0, "1", b"1"], {True: "bool key"}, {"a": {"b": {"c": {}}}},
    [math.nan, -0.0, (math.inf, -math.inf)], {-0.0: "neg zero key"},
]


def value_id(value: Any) -> str:
    try:
        return repr(value)[:40]
    except ValueError:  # holds an int beyond the int-to-str digit limit
        return f"big-{type(value).__name__}"


@pytest.mark.parametrize("value", ROUND_TRIP, ids=value_id)
def test_round_trip(value: Any) -> None:
    assert same(decode(encode(value)), value)
    text = dumps(value)
    assert text.isascii()
    assert same(loads(text), value)
    assert same(loads(text.encode()), value)


def test_bool_is_not_int() -> None:
    assert loads(dumps(True)) is True
    assert type(loads(dumps(1))) is int
    assert [type(x) for x in loads(dumps([True, 1, 0, False]))] == [bool, int, int, bool]
    assert dumps(True) != dumps(1)
    keys = loads(dumps({True: 1, 2: 2}))
    assert [type(k) for k in keys] == [bool, int]


def test_big_ints_are_tagged_hex() -> None:
    assert dumps(2**53) == str(2**53)
    assert json.loads(dumps(2**53 + 1)) == ["i", format(2**53 + 1, "x")]
    assert json.loads(dumps(-(2**53) - 1))[0] == "i"
    text = dumps(BIG)  # 5000 decimal digits: beyond the int-to-str limit of 4300
    assert loads(text) == BIG
    assert loads(dumps(-BIG)) == -BIG
    assert loads(dumps(BIG + 1)) != BIG


def test_special_floats() -> None:
    assert json.loads(dumps(math.nan)) == ["f", "nan"]
    assert dumps(math.inf) == '["f","inf"]'
    assert dumps(-math.inf) == '["f","-inf"]'
    assert math.copysign(1.0, loads(dumps(-0.0))) == -1.0
    assert type(loads(dumps(1.0))) is float
    assert type(loads(dumps(1e16))) is float
    nans = {float("nan"), float("nan")}  # two distinct NaN objects
    assert len(loads(dumps(nans))) == 2


def test_containers_are_tagged_lists() -> None:
    assert json.loads(dumps([1, (2,)])) == ["l", [1, ["t", [2]]]]
    assert json.loads(dumps({"a": 1})) == ["d", [["a", 1]]]
    assert json.loads(dumps({1})) == ["s", [1]]
    assert json.loads(dumps(frozenset())) == ["fs", []]
    assert json.loads(dumps(b"ab")) == ["b", "YWI="]


def test_subclasses_encode_as_base_types() -> None:
    class Color(enum.IntEnum):
        RED = 3

    point = collections.namedtuple("point", "x y")
    value = [Color.RED, point(1, 2), collections.OrderedDict(a=1), collections.Counter("aa")]
    decoded = loads(dumps(value))
    assert same(decoded, [3, (1, 2), {"a": 1}, {"a": 2}])


def test_numpy_values() -> None:
    np = pytest.importorskip("numpy")
    value = [np.int64(7), np.float64(2.5), np.bool_(True), np.array([[1, 2], [3, 4]]),
             np.array(1.5), np.float32(np.nan), np.str_("s"), np.uint64(2**63)]
    decoded = loads(dumps(value))
    assert same(decoded[:7], [7, 2.5, True, [[1, 2], [3, 4]], 1.5, math.nan, "s"])
    assert decoded[7] == 2**63 and type(decoded[7]) is int
    with pytest.raises(Unencodable):
        encode(np.array([object()], dtype=object))


class Thing:
    pass


@pytest.mark.parametrize("value", [
    object(), Thing(), lambda: 1, 1 + 2j, bytearray(b"x"), range(3), iter([]), Ellipsis,
    [1, Thing()], {"a": {Thing()}}, {Thing(): 1},
])
def test_unencodable(value: Any) -> None:
    with pytest.raises(Unencodable) as info:
        dumps(value)
    assert isinstance(info.value, CodecError)
    assert info.value.type_name


class FakeNumpyBroken:
    def tolist(self) -> Any:
        raise RuntimeError("boom")


class FakeNumpySelf:
    def tolist(self) -> Any:
        return self


FakeNumpyBroken.__module__ = FakeNumpySelf.__module__ = "numpy.fake"


@pytest.mark.parametrize("value", [FakeNumpyBroken(), FakeNumpySelf(), [FakeNumpyBroken()]])
def test_numpy_lookalikes_that_misbehave(value: Any) -> None:
    with pytest.raises(Unencodable):
        dumps(value)


def test_unencodable_names_the_type() -> None:
    with pytest.raises(Unencodable) as info:
        encode([1, Thing()])
    assert info.value.type_name == "Thing"
    assert "Thing" in str(info.value)


def test_cycles_and_deep_nesting_do_not_encode() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(Unencodable):
        dumps(cyclic)
    deep: Any = 0
    for _ in range(codec.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(Unencodable):
        dumps(deep)


def nested(kind: str, levels: int) -> Any:
    """A value with ``levels`` nested containers (``levels - 1`` below the top one)."""
    value: Any = 0
    inner = {"list": lambda x: [x], "tuple": lambda x: (x,), "dict": lambda x: {"k": x},
             "frozenset": lambda x: frozenset({x})}
    if kind == "dict-key":  # a dict whose key is a chain of tuples
        for _ in range(levels - 1):
            value = (value,)
        return {value: 1}
    if kind == "set":  # a set of a chain of frozensets
        for _ in range(levels - 1):
            value = frozenset({value})
        return {value}
    for _ in range(levels):
        value = inner[kind](value)
    return value


@pytest.mark.parametrize("kind", ["list", "tuple", "dict", "frozenset", "dict-key", "set"])
def test_max_depth_round_trips_for_every_container(kind: str) -> None:
    value = nested(kind, codec.MAX_DEPTH)
    assert same(loads(dumps(value)), value)
    with pytest.raises(Unencodable):
        dumps(nested(kind, codec.MAX_DEPTH + 1))


def test_opaque() -> None:
    a, b = Opaque("Weird"), Opaque("Weird")
    assert repr(a) == "<unencodable Weird>"
    assert a == a and a != b and not (a == b)
    assert a != 1 and a != "Weird" and a != None  # noqa: E711

    class EqualsAll:
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    assert not (a == EqualsAll())  # never defers to the other side's __eq__
    assert len({a, b}) == 2


# --------------------------------------------------------------------------- hostile input

HOSTILE_TEXT = [
    "", "   ", "nul", "[", "]", "{}", '{"a": 1}', '["l"]', '["l", [], 1]', '["x", []]',
    '[1, []]', '[null, []]', '["l", {}]', '["l", 1]', '["d", [[1]]]', '["d", [[1, 2, 3]]]',
    '["d", [1]]', '["d", {"a": 1}]', '["d", [[["l", []], 1]]]', '["s", [["l", []]]]',
    '["fs", [["d", []]]]', '["t", [["s", [["s", []]]]]]', '["d", [[1, 1], [1, 2]]]',
    '["s", [1, 1]]', '["s", [1, true]]', '["s", [1, 1.0]]', '["i", 5]', '["i", "0x1f"]',
    '["i", "1_0000000000000000000"]', '["i", " 20000000000001"]', '["i", "20000000000001 "]',
    '["i", "FFFFFFFFFFFFFFFFFFFFF"]', '["i", "+20000000000001"]', '["i", ""]', '["i", "-"]',
    '["i", "1f"]', '["f", "NaN"]', '["f", 1.0]', '["f", "infinity"]', '["b", "!!!"]',
    '["b", "YWI"]', '["b", 5]', '["b", "YW I="]', "NaN", "Infinity", "-Infinity", "1e999",
    "-1e999", "9007199254740993", "-9007199254740993", "1" * 5000, '"\\ud800', "[1,]",
    '["l", [1, 2]', "true false", '["l", [1]] x', "\ufeff1", '"abc', "01", ".5", "1.",
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_malformed_text_raises_codec_error(text: str) -> None:
    with pytest.raises(CodecError):
        loads(text)


@pytest.mark.parametrize("obj", [
    {"a": 1}, (1, 2), {1, 2}, b"x", Thing(), 1 + 1j, float("nan"), ["l", (1,)], ["d", [(1, 2)]],
    [b"l", []], 2**60, ["i", "1"], ["t", [{"a": 1}]],
])
def test_malformed_objects_raise_codec_error(obj: Any) -> None:
    with pytest.raises(CodecError):
        decode(obj)


def test_invalid_utf8_raises_codec_error() -> None:
    with pytest.raises(CodecError):
        loads(b'"\xff\xfe"')
    with pytest.raises(CodecError):
        loads(12)  # type: ignore[arg-type]


def test_deep_nesting_raises_codec_error() -> None:
    ok = '["l",[' * codec.MAX_DEPTH + "0" + "]]" * codec.MAX_DEPTH
    assert loads(ok) is not None
    too_deep = '["l",[' * (codec.MAX_DEPTH + 1) + "0" + "]]" * (codec.MAX_DEPTH + 1)
    with pytest.raises(CodecError):
        loads(too_deep)
    for n in (10_000, 200_000):  # deeper than the JSON parser's own recursion limit
        with pytest.raises(CodecError):
            loads("[" * n + "]" * n)
        with pytest.raises(CodecError):
            loads('["l",[' * n)
        with pytest.raises(CodecError):
            decode(json.loads('["l",[' * 300 + "]]" * 300))


def test_size_limits() -> None:
    text = dumps(list(range(1000)))
    with pytest.raises(CodecError):
        loads(text, max_bytes=len(text) - 1)
    assert len(loads(text, max_bytes=len(text))) == 1000
    with pytest.raises(CodecError):
        loads(text, max_items=500)
    with pytest.raises(CodecError):
        loads('["i", "' + "f" * (codec.MAX_INT_HEX_DIGITS + 2) + '"]')
    with pytest.raises(CodecError):
        loads("x" * 100, max_bytes=10)


def test_hash_flooding_is_refused_quickly() -> None:
    # Python int hashes are not randomised: i + k * (2**61 - 1) all share one hash value.
    modulus = 2**61 - 1
    colliding = [1 + k * modulus for k in range(50_000)]
    for tag in ("s", "fs"):
        text = json.dumps([tag, [["i", format(x, "x")] if x > 2**53 else x for x in colliding]])
        with pytest.raises(CodecError):
            loads(text)
    pairs = [[["i", format(x, "x")] if x > 2**53 else x, 0] for x in colliding]
    with pytest.raises(CodecError):
        loads(json.dumps(["d", pairs]))
    # A few legitimately colliding keys are fine.
    few = {1 + k * modulus for k in range(codec.MAX_SAME_HASH)} | set(range(1000))
    assert loads(dumps(few)) == few


# --------------------------------------------------------------------------- property tests


def random_value(rng: random.Random, depth: int = 0, hashable: bool = False) -> Any:
    """A random encodable value (hashable ones for set elements and dict keys)."""
    scalars = [
        lambda: None, lambda: rng.random() < 0.5, lambda: rng.randint(-10, 10),
        lambda: rng.randint(-(2**70), 2**70),
        lambda: rng.choice([1, -1]) * 10 ** rng.randint(0, 400),
        lambda: rng.uniform(-1e6, 1e6), lambda: rng.choice([math.nan, math.inf, -math.inf, -0.0]),
        lambda: "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(0, 5))),
        lambda: bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 5))),
    ]
    if depth >= 4 or rng.random() < 0.4:
        return rng.choice(scalars)()
    n = rng.randint(0, 4)
    kinds = ["t", "fs"] if hashable else ["l", "t", "s", "fs", "d"]
    kind = rng.choice(kinds)
    if kind == "l":
        return [random_value(rng, depth + 1) for _ in range(n)]
    if kind == "t":
        return tuple(random_value(rng, depth + 1, hashable) for _ in range(n))
    if kind == "d":
        return {random_value(rng, depth + 1, True): random_value(rng, depth + 1)
                for _ in range(n)}
    items = [random_value(rng, depth + 1, True) for _ in range(n)]
    return set(items) if kind == "s" else frozenset(items)


@pytest.mark.parametrize("seed", range(20))
def test_random_round_trips(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        value = random_value(rng)
        assert same(loads(dumps(value)), value), value


@pytest.mark.parametrize("seed", range(10))
def test_mutated_encodings_decode_or_raise_codec_error(seed: int) -> None:
    """Corrupt valid encodings at random: the decoder returns a value or raises CodecError."""
    rng = random.Random(seed)
    alphabet = '[]{}",:0123456789-.eE abcdfilnstux\\'
    for _ in range(300):
        text = dumps(random_value(rng))
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(chars) + 1)
            action = rng.random()
            if action < 0.4 and chars:
                del chars[min(pos, len(chars) - 1)]
            elif action < 0.8:
                chars.insert(pos, rng.choice(alphabet))
            elif chars:
                chars[min(pos, len(chars) - 1)] = rng.choice(alphabet)
        try:
            loads("".join(chars))
        except CodecError:
            pass
