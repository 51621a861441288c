"""Wire format for values crossing the sandbox boundary (arguments in, return values out).

The trusted harness sends the arguments of a function-call test to the untrusted child, and
the child sends back what the function returned. Both directions use this codec: JSON text in
which every type survives the round trip. Decoding runs in the trusted parent on bytes an
attacker controls, so it only ever builds builtin types, enforces depth, size and hash-collision
limits, and signals any malformed input with :class:`CodecError` and nothing else.

This module is stdlib-only and imports nothing else from motcoder: it is loaded into the small
fork-server process that runs untrusted programs.

Encoding (``encode``; the JSON value produced):

=====================  ==========================================================
Python value           JSON
=====================  ==========================================================
None, True, False      null, true, false
int, abs(x) <= 2**53   a JSON number without fraction (``7``)
int, abs(x) > 2**53    ``["i", "-1f..."]``: hexadecimal, decoded with int(s, 16),
                       so the int-to-str digit limit never applies
float, finite          a JSON number with a fraction or exponent (``-0.0``, ``1e+16``)
float nan / inf / -inf ``["f", "nan"]``, ``["f", "inf"]``, ``["f", "-inf"]``
str                    a JSON string (ASCII-escaped, so lone surrogates survive)
bytes                  ``["b", "<base64>"]``
list / tuple           ``["l", [...]]`` / ``["t", [...]]``
set / frozenset        ``["s", [...]]`` / ``["fs", [...]]``
dict                   ``["d", [[key, value], ...]]`` (keys of any encodable type)
=====================  ==========================================================

Every non-scalar is a two-element array whose first item is a tag, and JSON objects are never
used, so the format is unambiguous and each value has exactly one encoding. Subclasses of the
builtin types are encoded as their base type (a namedtuple becomes a tuple, an IntEnum an int,
an OrderedDict a dict); numpy scalars and arrays are converted with ``.tolist()`` (detected by
module name; numpy is never imported). Anything else raises :class:`Unencodable`.

:class:`Opaque` is the harness's stand-in for a result the child could not encode.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "CodecError",
    "Opaque",
    "Unencodable",
    "decode",
    "dumps",
    "encode",
    "loads",
]

MAX_DEPTH = 100
"""Deepest container nesting accepted (the top-level value is at depth 0)."""

MAX_ITEMS = 10_000_000
"""Most values (scalars and containers, at all depths) one decoded value may hold."""

MAX_INT_HEX_DIGITS = 1_000_000
"""Longest tagged integer accepted (4 million bits)."""

MAX_SAME_HASH = 64
"""Most set elements or dict keys sharing one hash value (defeats hash-flooding input)."""

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Default size limit of the text given to :func:`loads`."""

_SAFE_INT = 2**53
_HEX_RE = re.compile(r"-?[0-9a-f]+")
_FLOAT_TAGS = frozenset({"nan", "inf", "-inf"})
_SEQ_TAGS = ("l", "t", "s", "fs")


class CodecError(ValueError):
    """The value cannot be encoded, or the text is not a valid encoding."""


class Unencodable(CodecError):
    """A value of a type the wire format does not carry (or nested too deeply to carry)."""

    def __init__(self, type_name: str, reason: str = "") -> None:
        self.type_name = type_name
        super().__init__(f"cannot encode a value of type {type_name}" +
                         (f": {reason}" if reason else ""))


class Opaque:
    """Stand-in for a result the child could not encode; it only knows the type's name.

    It equals nothing but itself (so a comparison with any expected value fails) and never
    defers to the other operand's ``__eq__``.
    """

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<unencodable {self.type_name}>"


# --------------------------------------------------------------------------- encoding


def encode(value: Any) -> Any:
    """Return a JSON-serialisable form of ``value``; raise :class:`Unencodable` if impossible.

    No other exception escapes, whatever the value (it may come from untrusted code).
    """
    try:
        return _encode(value, 0)
    except CodecError:
        raise
    except RecursionError:
        raise Unencodable(type(value).__name__, "nested too deeply") from None
    except Exception as exc:  # a broken subclass or a numpy oddity: cannot encode
        raise Unencodable(type(value).__name__, f"{type(exc).__name__}: {exc}"[:200]) from None


def _encode(x: Any, depth: int) -> Any:
    t = type(x)
    # Exact builtin types first (the common case, and no subclass hooks involved).
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x if -_SAFE_INT <= x <= _SAFE_INT else ["i", format(x, "x")]
    if t is float:
        return _encode_float(x)
    module = getattr(t, "__module__", None)
    if type(module) is str and module.startswith("numpy"):
        return _encode_numpy(x, depth)
    if isinstance(x, (list, tuple, set, frozenset, dict)):
        if depth >= MAX_DEPTH:
            raise Unencodable(t.__name__, f"nested deeper than {MAX_DEPTH} levels")
        d = depth + 1
        if isinstance(x, dict):
            return ["d", [[_encode(k, d), _encode(v, d)] for k, v in dict.items(x)]]
        if isinstance(x, list):
            tag = "l"
        elif isinstance(x, tuple):
            tag = "t"
        elif isinstance(x, frozenset):
            tag = "fs"
        else:
            tag = "s"
        return [tag, [_encode(item, d) for item in _iterate(x)]]
    if isinstance(x, bool):  # pragma: no cover - bool cannot be subclassed
        return bool(x)
    if isinstance(x, int):
        return _encode(int.__index__(x), depth)
    if isinstance(x, float):
        return _encode_float(float.__float__(x))
    if isinstance(x, str):
        return str.__str__(x)
    if isinstance(x, bytes):
        return ["b", base64.b64encode(x).decode("ascii")]
    raise Unencodable(t.__name__)


def _iterate(x: Any) -> Any:
    """Iterate a (possibly subclassed) builtin container through the base type's iterator."""
    for base in (list, tuple, frozenset, set):
        if isinstance(x, base):
            return base.__iter__(x)
    raise AssertionError("not a container")  # pragma: no cover


def _encode_float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return ["f", "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")]


def _encode_numpy(x: Any, depth: int) -> Any:
    """numpy scalars and arrays, converted to Python values without importing numpy."""
    name = type(x).__name__
    # ndarray.tolist() gives nested lists; a numpy scalar's tolist() gives the Python scalar.
    method = getattr(x, "tolist", None) or getattr(x, "item", None)
    if method is None:
        raise Unencodable(name)
    try:
        converted = method()
    except Exception as exc:  # any failure means "cannot encode"
        raise Unencodable(name, str(exc)[:200]) from None
    if type(converted).__module__.startswith("numpy"):
        raise Unencodable(name)
    return _encode(converted, depth)


def dumps(value: Any) -> str:
    """Encode ``value`` as compact, pure-ASCII JSON text."""
    encoded = encode(value)
    try:
        return json.dumps(encoded, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except (RecursionError, ValueError) as exc:  # pragma: no cover - encode() prevents these
        raise Unencodable(type(value).__name__, str(exc)[:200]) from None


# --------------------------------------------------------------------------- decoding


def loads(text: str | bytes, max_bytes: int = DEFAULT_MAX_BYTES, *,
          max_items: int = MAX_ITEMS) -> Any:
    """Decode JSON text made by :func:`dumps`; any malformed input raises :class:`CodecError`.

    ``max_bytes`` bounds the length of ``text`` (bytes, or characters for ``str``).
    """
    if not isinstance(text, (str, bytes, bytearray)):
        raise CodecError(f"expected str or bytes, got {type(text).__name__}")
    if len(text) > max_bytes:
        raise CodecError(f"encoded value is {len(text)} bytes, more than the limit {max_bytes}")
    try:
        if not isinstance(text, str):
            text = bytes(text).decode("utf-8")
        obj = json.loads(text, parse_constant=_reject_constant)
    except CodecError:
        raise
    except (ValueError, RecursionError, MemoryError) as exc:
        # ValueError covers JSONDecodeError, UnicodeDecodeError and huge int literals.
        raise CodecError(f"not valid JSON: {str(exc)[:200]}") from None
    return decode(obj, max_items=max_items)


def _reject_constant(name: str) -> Any:
    raise CodecError(f"bare JSON constant {name!r} is not allowed (use the 'f' tag)")


def decode(obj: Any, *, max_items: int = MAX_ITEMS) -> Any:
    """Rebuild a value from the JSON form made by :func:`encode`; builds builtin types only.

    Any malformed input (unknown tags, wrong shapes, unhashable keys, too deep, too many items,
    values outside the canonical form) raises :class:`CodecError`.
    """
    decoder = _Decoder(max_items)
    try:
        return decoder.decode(obj, 0)
    except CodecError:
        raise
    except (RecursionError, MemoryError) as exc:
        raise CodecError(f"value too large to decode: {type(exc).__name__}") from None


class _Decoder:
    def __init__(self, max_items: int) -> None:
        self.budget = max_items

    def decode(self, obj: Any, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise CodecError("too many items")
        t = type(obj)
        if obj is None or t is bool or t is str:
            return obj
        if t is int:
            if not -_SAFE_INT <= obj <= _SAFE_INT:
                raise CodecError("integer beyond 2**53 must use the 'i' tag")
            return obj
        if t is float:
            if not math.isfinite(obj):
                raise CodecError("non-finite float must use the 'f' tag")
            return obj
        if t is not list:
            raise CodecError(f"unexpected JSON value of type {t.__name__}")
        if len(obj) != 2 or type(obj[0]) is not str:
            raise CodecError("a tagged value must be a [tag, payload] pair")
        tag, payload = obj
        if tag == "i":
            return _decode_int(payload)
        if tag == "f":
            if type(payload) is not str or payload not in _FLOAT_TAGS:
                raise CodecError("bad 'f' payload")
            # A new float each time: distinct NaNs in one set must stay distinct objects.
            return float(payload)
        if tag == "b":
            if type(payload) is not str:
                raise CodecError("bad 'b' payload")
            try:
                return base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise CodecError("bad base64 in 'b' payload") from None
        if tag not in _SEQ_TAGS and tag != "d":
            raise CodecError(f"unknown tag {tag[:20]!r}")
        if type(payload) is not list:
            raise CodecError(f"payload of {tag!r} must be a list")
        if depth >= MAX_DEPTH:
            raise CodecError(f"nested deeper than {MAX_DEPTH} levels")
        d = depth + 1
        if tag == "d":
            keys = []
            values = []
            for pair in payload:
                if type(pair) is not list or len(pair) != 2:
                    raise CodecError("a dict item must be a [key, value] pair")
                keys.append(self.decode(pair[0], d))
                values.append(self.decode(pair[1], d))
            _check_hashes(keys)
            try:
                result = dict(zip(keys, values, strict=True))
            except TypeError:
                raise CodecError("unhashable dict key") from None
            if len(result) != len(keys):
                raise CodecError("duplicate dict key")
            return result
        items = [self.decode(item, d) for item in payload]
        if tag == "l":
            return items
        if tag == "t":
            return tuple(items)
        _check_hashes(items)
        try:
            result = set(items) if tag == "s" else frozenset(items)
        except TypeError:
            raise CodecError("unhashable set element") from None
        if len(result) != len(items):
            raise CodecError("duplicate set element")
        return result


def _decode_int(payload: Any) -> int:
    if type(payload) is not str or len(payload) > MAX_INT_HEX_DIGITS + 1:
        raise CodecError("bad 'i' payload")
    if not _HEX_RE.fullmatch(payload):
        raise CodecError("'i' payload must be lowercase hexadecimal")
    value = int(payload, 16)
    if -_SAFE_INT <= value <= _SAFE_INT:
        raise CodecError("integer within 2**53 must be a plain JSON number")
    return value


def _check_hashes(keys: list[Any]) -> None:
    """Refuse many keys sharing one hash: inserting them would take quadratic time."""
    if len(keys) <= MAX_SAME_HASH:
        return
    counts: dict[int, int] = {}
    try:
        for key in keys:
            h = hash(key)
            n = counts.get(h, 0) + 1
            if n > MAX_SAME_HASH:
                raise CodecError("too many keys with the same hash")
            counts[h] = n
    except TypeError:
        raise CodecError("unhashable set element or dict key") from None
