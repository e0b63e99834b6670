"""The values expressions compute with, and PHP 8's rules for comparing and converting them.

Rules are written for the reference (Symfony ExpressionLanguage running on PHP 8), so a copied rule must give the
reference's answer. What follows PHP: truthiness (``0``, ``''``, ``'0'``, ``[]`` and ``null`` are false); loose
``==`` (``'1' == 1``, ``null == false``, ``'1e1' == '10'``); ``< > <= >=`` (numeric strings compare as numbers,
``'10' > '9'``; other strings byte by byte; ``null`` and booleans compare as booleans, so ``null < 1``);
``null`` and booleans count as ``0``/``1`` in arithmetic. Where this module deliberately differs, ``DIFFERENCES``
in ``language`` says so (numbers compare by value whatever their type; money views compare by their amount).
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from payment_rules.expression.errors import ExpressionRuntimeError


class Obj:
    """An immutable view object: the only kind of object whose attributes expressions may read.

    Holds a fixed set of named fields (no name may start with ``_``). Expressions read them with ``a.b`` or
    ``a['b']``; an unknown field is an :class:`ExpressionRuntimeError`. A field may hold a :class:`Lazy`, loaded
    the first time an expression reads it.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        values = {**(fields or {}), **kwargs}
        for key in values:
            if not isinstance(key, str) or key.startswith("_"):
                raise ValueError(f"invalid field name {key!r}")
        object.__setattr__(self, "_fields", values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __getattr__(self, name: str) -> Any:  # Python-side convenience; expressions never come here
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return resolve(self._fields[name])
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return resolve(self._fields[name])

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def as_dict(self) -> dict[str, Any]:
        return {key: resolve(value) for key, value in self._fields.items()}

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle despite the immutability
        return (type(self), (self.as_dict(),))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.as_dict() == other.as_dict()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{key}={value!r}" for key, value in self._fields.items())
        return f"{type(self).__name__}({inner})"


class MoneyObj(Obj):
    """A money view (``value`` Decimal, ``currency``). Compares and computes by its value in expressions."""

    __slots__ = ()

    def __init__(self, value: Decimal, currency: str) -> None:
        super().__init__(value=value, currency=currency)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._fields["value"], self._fields["currency"]))


class Lazy:
    """A field value loaded on first read: data that costs a query (stock levels, a company's users) is fetched
    only when a condition looks at it, once per checkout context."""

    __slots__ = ("_load", "_loaded", "_value")

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load
        self._loaded = False
        self._value: Any = None

    def get(self) -> Any:
        if not self._loaded:
            self._value = self._load()
            self._loaded = True
        return self._value

    def __reduce__(self) -> tuple[Any, ...]:  # a copy holds the loaded value, not the loader
        return (_constant_lazy, (self.get(),))

    def __repr__(self) -> str:
        return f"Lazy({self._value!r})" if self._loaded else "Lazy(<not loaded>)"


def _constant_lazy(value: Any) -> Lazy:
    lazy = Lazy(lambda: value)
    lazy.get()
    return lazy


def resolve(value: Any) -> Any:
    return value.get() if type(value) is Lazy else value


CTX = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
# PHP 8's numeric strings: optional surrounding whitespace (stripped first), a sign, digits with an optional
# fraction and exponent. The possessive quantifiers keep it linear: with plain ones a 9,000-digit string ending in
# a letter took 1.4 ms to refuse, and every string comparison tries both sides.
_WHITESPACE = " \t\n\r\v\f"
_NUMERIC_STRING = re.compile(r"[+-]?(?:[0-9]++(?:\.[0-9]*+)?|\.[0-9]++)(?:[eE][+-]?[0-9]++)?")
_NUMBER_TYPES = (int, Decimal, float)
ZERO = Decimal(0)


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, _NUMBER_TYPES):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, MoneyObj):
        return "money"
    if isinstance(value, Obj):
        return "object"
    if isinstance(value, list | tuple | range):
        return "array"
    if isinstance(value, dict):
        return "hash"
    return "value"


def is_number(value: Any) -> bool:
    t = type(value)
    return t is Decimal or t is int or t is float


def numeric_string(value: str) -> Decimal | None:
    """The number a PHP numeric string stands for, or None (``' 10'`` and ``'1e1'`` are numeric, ``'10 kg'`` not)."""
    stripped = value.strip(_WHITESPACE)
    if _NUMERIC_STRING.fullmatch(stripped):
        return Decimal(stripped)
    return None


def operand(value: Any, op: str) -> Decimal | int:
    """An arithmetic operand, as PHP converts it: numbers, numeric strings, ``null`` (0) and booleans (0 or 1).

    Money views give their value. Anything else (a non-numeric string, an array, an object) is an error, as in
    PHP 8, which throws a TypeError.
    """
    t = type(value)
    if t is Decimal or t is int:
        return value
    if t is MoneyObj:
        return operand(value._fields["value"], op)
    if t is float:
        return Decimal(repr(value))
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    if t is str:
        number = numeric_string(value)
        if number is not None:
            return number
    raise ExpressionRuntimeError(f"Operator '{op}' needs numbers, got {describe(value)}")


def to_int(value: Any, op: str) -> int:
    number = operand(value, op)
    if not isinstance(number, Decimal):
        return number
    if not number.is_finite() or number.copy_abs() > 2**63 or number != number.to_integral_value():
        raise ExpressionRuntimeError(f"Operator '{op}' needs an integer, got {number}")
    return int(number)


def decimal_text(value: Decimal) -> str:
    """PHP's rendering of a number in a string: ``1000.0`` -> ``1000``, ``10.50`` -> ``10.5``."""
    if not value.is_finite() or abs(value.adjusted()) > 100:
        return str(value)
    text = format(value.normalize(CTX), "f")
    return "0" if text == "-0" else text


def to_str(value: Any, op: str) -> str:
    t = type(value)
    if t is str:
        return value
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if t is int:
        return str(value)
    if t is Decimal:
        return decimal_text(value)
    if t is float:
        return decimal_text(Decimal(repr(value)))
    if t is MoneyObj:
        return to_str(value._fields["value"], op)
    raise ExpressionRuntimeError(f"Operator '{op}' cannot turn {describe(value)} into a string")


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if value is True:
        return True
    t = type(value)
    if t is str:
        return value != "" and value != "0"
    if t is Decimal or t is int or t is float:
        return value != 0
    if t is list or t is tuple or t is dict or t is range:
        return len(value) > 0
    return True


def strict_eq(a: Any, b: Any) -> bool:
    """``=`` (the reference maps it to PHP's ``===``), except that numbers compare by value whatever their type."""
    ta = type(a)
    tb = type(b)
    if ta is str or tb is str:
        return ta is tb and a == b
    if ta is MoneyObj or tb is MoneyObj:
        if ta is tb:
            return a._fields["value"] == b._fields["value"] and a._fields["currency"] == b._fields["currency"]
        return strict_eq(a._fields["value"], b) if ta is MoneyObj else strict_eq(a, b._fields["value"])
    if is_number(a):
        return is_number(b) and a == b
    if a is None or b is None or ta is bool or tb is bool:
        return a is b
    if (ta is list or ta is tuple or ta is range) and (tb is list or tb is tuple or tb is range):
        return len(a) == len(b) and all(strict_eq(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict and tb is dict:
        return a.keys() == b.keys() and all(strict_eq(a[k], b[k]) for k in a)
    if ta is Obj and tb is Obj:
        return a is b or strict_eq(a.as_dict(), b.as_dict())
    return a is b


def _is_array(value: Any) -> bool:
    t = type(value)
    return t is list or t is tuple or t is range or t is dict


def _array(value: list[Any] | tuple[Any, ...] | range | dict[Any, Any]) -> dict[Any, Any]:
    """A PHP array as a dict with PHP's key normalisation (integral numbers and numeric-integer strings are ints)."""
    if type(value) is dict:
        return {_array_key(k): v for k, v in value.items()}
    return dict(enumerate(value))


_INT_KEY = re.compile(r"-?[1-9][0-9]{0,18}|0")
_INT64 = 2**63


def _array_key(key: Any) -> Any:
    """PHP's key normalisation: integral numbers and integer strings within 64 bits become integers. Nothing
    larger is converted: ``int(Decimal('1e999999'))`` alone takes more than a minute."""
    if type(key) is Decimal and key.is_finite() and key.copy_abs() < _INT64 and key == key.to_integral_value():
        return int(key)
    if type(key) is str and _INT_KEY.fullmatch(key) and -_INT64 <= int(key) < _INT64:
        return int(key)
    return key


def loose_eq(a: Any, b: Any) -> bool:
    """PHP 8's ``==``, which the reference's ``==`` is."""
    ta = type(a)
    tb = type(b)
    if ta is MoneyObj and tb is not MoneyObj:
        a, ta = a._fields["value"], type(a._fields["value"])
    elif tb is MoneyObj and ta is not MoneyObj:
        b, tb = b._fields["value"], type(b._fields["value"])
    if (a is None or ta is str) and tb is str or (b is None or tb is str) and ta is str:
        return _compare_strings(a, b) == 0
    if a is None or b is None or ta is bool or tb is bool:
        return truthy(a) == truthy(b)
    if is_number(a) and is_number(b):
        return bool(a == b)
    if is_number(a) and tb is str or ta is str and is_number(b):
        number, text = (a, b) if tb is str else (b, a)
        parsed = numeric_string(text)
        if parsed is not None:
            return bool(number == parsed)
        return to_str(number, "==") == text
    if ta is MoneyObj and tb is MoneyObj:
        return strict_eq(a, b)
    if _is_array(a) and _is_array(b):
        x_array, y_array = _array(a), _array(b)
        return x_array.keys() == y_array.keys() and all(loose_eq(x_array[k], y_array[k]) for k in x_array)
    if ta is Obj and tb is Obj:
        return a is b or loose_eq(a.as_dict(), b.as_dict())
    return False


def compare(a: Any, b: Any, op: str) -> int | None:
    """PHP 8's ``<=>`` for ``< > <= >=``: -1, 0 or 1, or None when PHP finds the two uncomparable.

    Money views compare by their amount (two amounts only in one currency). Objects are refused: PHP calls any
    object greater than anything, which no rule means.
    """
    ta = type(a)
    tb = type(b)
    if ta is MoneyObj or tb is MoneyObj:
        if ta is tb and a._fields["currency"] != b._fields["currency"]:
            raise ExpressionRuntimeError(f"Operator '{op}' cannot compare amounts in different currencies")
        if ta is MoneyObj:
            a, ta = a._fields["value"], type(a._fields["value"])
        if tb is MoneyObj:
            b, tb = b._fields["value"], type(b._fields["value"])
    if (a is None or ta is str) and tb is str or (b is None or tb is str) and ta is str:
        return _compare_strings(a, b)
    if a is None or b is None or ta is bool or tb is bool:
        return _sign(truthy(a), truthy(b))
    if is_number(a) and is_number(b):
        return _sign(a, b)
    if is_number(a) and tb is str or ta is str and is_number(b):
        number, text = (a, b) if tb is str else (b, a)
        parsed = numeric_string(text)
        if parsed is not None:
            result = _sign(number, parsed)
        else:
            result = _sign(to_str(number, op).encode(), text.encode())
        return result if tb is str else -result
    a_is_array, b_is_array = _is_array(a), _is_array(b)
    if a_is_array and b_is_array:  # converted only now: a range of 10,000 would be built to compare with 5
        x_array, y_array = _array(a), _array(b)
        if len(x_array) != len(y_array):
            return _sign(len(x_array), len(y_array))
        for key, value in x_array.items():
            if key not in y_array:
                return None
            element = compare(value, y_array[key], op)
            if element != 0:
                return element
        return 0
    if a_is_array and not isinstance(b, Obj):
        return 1  # an array is greater than any scalar
    if b_is_array and not isinstance(a, Obj):
        return -1
    raise ExpressionRuntimeError(f"Operator '{op}' cannot compare {describe(a)} with {describe(b)}")


def _sign(x: Any, y: Any) -> int:
    return (x > y) - (x < y)


def _compare_strings(a: str | None, b: str | None) -> int:
    """PHP's comparison of two strings (null counts as ''): as numbers when both are numeric, else byte by byte."""
    x = "" if a is None else a
    y = "" if b is None else b
    nx, ny = numeric_string(x), numeric_string(y)
    if nx is not None and ny is not None:
        return _sign(nx, ny)
    return _sign(x.encode(), y.encode())


def contains(container: Any, item: Any) -> bool:
    """``in``: the reference's strict ``in_array`` (numbers by value); its right side must be an array."""
    t = type(container)
    if t is list or t is tuple:
        if type(item) is str:
            return item in container
        return any(strict_eq(item, element) for element in container)
    if t is range:
        if type(item) is bool or not is_number(item):
            return False
        number = Decimal(item)
        if not number.is_finite() or number.copy_abs() > 2**63 or number != number.to_integral_value():
            return False
        return int(number) in container
    if t is dict:
        return any(strict_eq(item, element) for element in container.values())
    raise ExpressionRuntimeError(f"Operator 'in' needs an array on its right, got {describe(container)}")


def iterate(value: Any, what: str, position: int) -> Iterable[Any]:
    t = type(value)
    if t is list or t is tuple or t is range:
        return value
    if t is dict:
        return value.values()
    raise ExpressionRuntimeError(f"Unable to iterate on {what}: it is {describe(value)}", position)
