"""The condition language of payment rules: OroCommerce's dialect of Symfony ExpressionLanguage.

Administrators write conditions such as ``billingAddress.countryIso2 = 'US' and subtotal.value > 1000.0`` or
``lineItems.all(lineItem.product.inventoryLevels.any(inventoryLevel.quantity > 0))``; rules written for
OroCommerce work here unchanged.

Design
------
* **Grammar.** A lark LALR(1) grammar (``_GRAMMAR``) with one rule per level of Symfony's precedence table, lowest
  first: ternary ``a ? b : c`` / ``a ?: b``; ``or ||`` (10); ``and &&`` (15); ``|`` (16); ``^`` (17); ``&`` (18);
  ``= == === != !== < > <= >= in, not in, matches, contains, starts with, ends with`` (20, Oro's single ``=`` is
  equality); ``..`` (25); ``+ -`` (30); ``~`` (40); unary ``not !`` (50); ``* / %`` (60); ``**`` (200, right
  associative); unary ``- +`` (500, so ``-2 ** 2`` is 4 as in Symfony); then postfix ``.name``, ``[key]`` and
  the collection methods. Binary operators are left associative. Operator keywords are lower case as in
  Symfony; ``true``/``false``/``null`` are case-insensitive. Strings are single or double quoted and unescaped
  like PHP's ``stripcslashes`` (so a regex dot is written ``'\\\\.'``). Unary ``not`` may not follow ``*``,
  ``/``, ``%`` or ``**`` directly (``2 * not a``): write ``2 * (not a)``.
* **Compilation.** :func:`compile_expression` parses once (results cached by source text) and turns the tree
  into nested Python closures; evaluation is plain function calls, no ``eval``/``exec``. A typical rule
  evaluates in a few microseconds (see ``bench/expressions.py``).
* **Values.** Number literals are :class:`~decimal.Decimal` (never float). ``+ - *`` use Decimal's operators
  (the default context: 28 significant digits); ``/ % **`` run in a private context with overflow and invalid
  operations trapped; ``/`` always gives a Decimal, ``%`` works on truncated integers as in PHP.
  ``=``/``==``/``===`` are one strict equality (Oro maps ``=`` to ``===``): numbers compare by value
  (``1 = 1.0``), strings with strings, booleans with booleans, ``null`` only equals ``null``; ``'1' = 1`` is
  false. ``in`` uses the same equality.
  ``and``/``or``/``not`` short-circuit and return booleans; truthiness is PHP's (``0``, ``''``, ``'0'``, ``[]``
  and ``null`` are false). Money views (``subtotal``, ``total``, ``lineItem.price``) compare and compute by
  their ``value``, so ``total < 99999`` and ``subtotal.value > 1000.0`` both work.
* **Collections.** ``coll.all(expr)``, ``coll.any(expr)`` and ``coll.sum(expr)`` evaluate ``expr`` once per
  item with the item bound to the singular of the collection's name, as Oro does with Doctrine's inflector:
  ``lineItems`` -> ``lineItem``, ``categories`` -> ``category``, ``addresses`` -> ``address``; a name that does
  not singularise (``data``, ``news``, ``staff``) gets the suffix ``Item``. ``count(x)`` is the only function.

Safety
------
* Only the variables given to :meth:`CompiledExpression.evaluate` are reachable. Attributes are read only from
  :class:`Obj` views (built by :func:`build_variables`) and plain dicts, never with ``getattr`` on a Python
  object. Any name starting with ``_`` and any method other than ``all``/``any``/``sum`` is refused at compile
  time with an :class:`ExpressionSyntaxError` carrying the position. Unknown variables or attributes, ``null``
  dereferences, division by zero and type mismatches raise :class:`ExpressionRuntimeError` at evaluation; no
  other exception escapes.
* Limits (module constants): source length ``MAX_SOURCE_LENGTH`` (10,000 chars) and nesting depth
  ``MAX_DEPTH`` (100) so neither parsing nor evaluation can exhaust the stack; ``**`` exponent at most
  ``MAX_EXPONENT`` (100) in absolute value; ranges ``a..b`` at most ``MAX_RANGE_SIZE`` (10,000) elements and
  never materialised; strings built by ``~`` at most ``MAX_STRING_LENGTH`` (100,000) chars (there is no string
  repetition operator).
* ``matches`` takes a PCRE literal (``'/^ACME/i'``; any delimiter, modifiers ``i m s x u``), translated to
  Python's ``re`` and compiled once at compile time when it is a literal. Python's ``re`` has no timeout, so
  catastrophic backtracking is prevented instead of interrupted: patterns are at most ``MAX_PATTERN_LENGTH``
  (500) chars, a repeated group (``(...)*``, ``(...)+``, ``(...){2,}``) may contain neither another repetition
  nor an alternation (that refuses ``(a+)+``, ``(\\w+\\s?)*`` and ``(a|aa)*``, the exponential shapes), and
  the subject is truncated to ``MAX_SUBJECT_LENGTH`` (1,000) chars before matching.
"""

from __future__ import annotations

import decimal
import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

if TYPE_CHECKING:
    from providers.base import AddressInfo, CheckoutContext, Money

__all__ = [
    "CompiledExpression",
    "ExpressionRuntimeError",
    "ExpressionSyntaxError",
    "MoneyObj",
    "Obj",
    "build_variables",
    "compile_expression",
    "item_name",
    "validate_expression",
]

MAX_SOURCE_LENGTH = 10_000
MAX_DEPTH = 100
MAX_EXPONENT = 100
MAX_RANGE_SIZE = 10_000
MAX_STRING_LENGTH = 100_000
MAX_PATTERN_LENGTH = 500
MAX_SUBJECT_LENGTH = 1_000
COLLECTION_METHODS = frozenset({"all", "any", "sum"})
FUNCTIONS = frozenset({"count"})

Evaluator = Callable[[Mapping[str, Any]], Any]


# --- errors -----------------------------------------------------------------------------------------


def _line_column(source: str, position: int) -> tuple[int, int]:
    line = source.count("\n", 0, position) + 1
    column = position - (source.rfind("\n", 0, position) + 1) + 1
    return line, column


class ExpressionSyntaxError(ValueError):
    """The expression cannot be compiled. ``position`` is a 0-based character offset into the source."""

    def __init__(self, message: str, source: str, position: int) -> None:
        position = max(0, min(position, len(source)))
        self.source = source
        self.position = position
        self.line, self.column = _line_column(source, position)
        self.reason = message
        super().__init__(f"{message} at position {position} (line {self.line}, column {self.column})")


class ExpressionRuntimeError(ValueError):
    """The expression compiled but could not be evaluated against the given variables."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.position = position
        self.reason = message
        super().__init__(message if position is None else f"{message} (at position {position})")


# --- values -----------------------------------------------------------------------------------------


class Obj:
    """An immutable view object: the only kind of object whose attributes expressions may read.

    Holds a fixed set of named fields (no name may start with ``_``). Expressions read them with ``a.b`` or
    ``a['b']``; an unknown field is an :class:`ExpressionRuntimeError`.
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
            return self._fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def as_dict(self) -> dict[str, Any]:
        return dict(self._fields)

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle despite the immutability
        return (type(self), (self._fields,))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields == other._fields  # type: ignore[attr-defined]

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


_CTX = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
_NUMERIC_STRING = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*\Z")
_NUMBER_TYPES = (int, Decimal, float)
_ZERO = Decimal(0)


def _describe(value: Any) -> str:
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


def _operand(value: Any, op: str) -> Decimal | int:
    """An arithmetic operand: int or Decimal. Money views give their value, numeric strings are parsed."""
    t = type(value)
    if t is Decimal or t is int:
        return value
    if t is MoneyObj:
        return _operand(value._fields["value"], op)
    if t is float:
        return Decimal(repr(value))
    if t is str and _NUMERIC_STRING.match(value):
        return Decimal(value.strip())
    raise ExpressionRuntimeError(f"Operator '{op}' needs numbers, got {_describe(value)}")


def _to_int(value: Any, op: str) -> int:
    number = _operand(value, op)
    if not isinstance(number, Decimal):
        return number
    if not number.is_finite() or number.copy_abs() > 2**63 or number != number.to_integral_value():
        raise ExpressionRuntimeError(f"Operator '{op}' needs an integer, got {number}")
    return int(number)


def _decimal_text(value: Decimal) -> str:
    """PHP's rendering of a number in a string: ``1000.0`` -> ``1000``, ``10.50`` -> ``10.5``."""
    if not value.is_finite() or abs(value.adjusted()) > 100:
        return str(value)
    text = format(value.normalize(_CTX), "f")
    return "0" if text == "-0" else text


def _to_str(value: Any, op: str) -> str:
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
        return _decimal_text(value)
    if t is float:
        return _decimal_text(Decimal(repr(value)))
    if t is MoneyObj:
        return _to_str(value._fields["value"], op)
    raise ExpressionRuntimeError(f"Operator '{op}' cannot turn {_describe(value)} into a string")


def _truthy(value: Any) -> bool:
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


def _is_number(value: Any) -> bool:
    t = type(value)
    return t is Decimal or t is int or t is float


def _eq(a: Any, b: Any) -> bool:
    """Strict equality (Oro's ``=`` is PHP's ``===``), but numbers compare by value whatever their type."""
    ta = type(a)
    tb = type(b)
    if ta is str or tb is str:
        return ta is tb and a == b
    if ta is MoneyObj or tb is MoneyObj:
        if ta is tb:
            return a._fields["value"] == b._fields["value"] and a._fields["currency"] == b._fields["currency"]
        return _eq(a._fields["value"], b) if ta is MoneyObj else _eq(a, b._fields["value"])
    if _is_number(a):
        return _is_number(b) and a == b
    if a is None or b is None or ta is bool or tb is bool:
        return a is b
    if (ta is list or ta is tuple or ta is range) and (tb is list or tb is tuple or tb is range):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict and tb is dict:
        return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    if ta is Obj and tb is Obj:
        return a is b or _eq(a._fields, b._fields)
    return a is b


def _ordering_operands(a: Any, b: Any, op: str) -> tuple[Any, Any]:
    if type(a) is MoneyObj and type(b) is MoneyObj:
        if a._fields["currency"] != b._fields["currency"]:
            raise ExpressionRuntimeError(f"Operator '{op}' cannot compare amounts in different currencies")
    if type(a) is str and type(b) is str:
        return a, b
    if type(a) is bool and type(b) is bool:
        return a, b
    a_ok = type(a) is not bool and (_is_number(a) or type(a) in (str, MoneyObj))
    b_ok = type(b) is not bool and (_is_number(b) or type(b) in (str, MoneyObj))
    if a_ok and b_ok:
        return _operand(a, op), _operand(b, op)
    raise ExpressionRuntimeError(f"Operator '{op}' cannot compare {_describe(a)} with {_describe(b)}")


def _contains(container: Any, item: Any) -> bool:
    t = type(container)
    if t is list or t is tuple:
        if type(item) is str:
            return item in container
        return any(_eq(item, element) for element in container)
    if t is range:
        if type(item) is bool or not _is_number(item):
            return False
        number = Decimal(item)
        if not number.is_finite() or number.copy_abs() > 2**63 or number != number.to_integral_value():
            return False
        return int(number) in container
    if t is str:
        if type(item) is not str:
            return False
        return item in container
    if t is dict:
        return any(_eq(item, element) for element in container.values())
    raise ExpressionRuntimeError(f"Operator 'in' needs an array or a string on its right, got {_describe(container)}")


def _iterate(value: Any, what: str, position: int) -> Iterable[Any]:
    t = type(value)
    if t is list or t is tuple or t is range:
        return value
    if t is dict:
        return value.values()
    raise ExpressionRuntimeError(f"Unable to iterate on {what}: it is {_describe(value)}", position)


_UNCOUNTABLE = frozenset(
    "advice art audio baggage butter cattle chassis clothing coal compensation cotton data deer education "
    "emoji equipment evidence feedback firmware fish flour food furniture gold hardware information jedi kin "
    "knowledge love metadata money moose music news nutrition offspring oil patience police rain rice series "
    "sheep silk software species staff sugar talent traffic travel vinyl wheat wood wool".split()
)


def item_name(collection_name: str) -> str:
    """The variable bound to each item by ``<collection_name>.all/any/sum(...)``, as Oro's inflector does.

    ``lineItems`` -> ``lineItem``, ``inventoryLevels`` -> ``inventoryLevel``, ``categories`` -> ``category``,
    ``addresses`` -> ``address``; a name that does not singularise (``data``, ``unitPrecision``, ``staff``) gets
    the suffix ``Item``.
    """
    name = collection_name
    last_word = re.split(r"(?<=[a-z0-9])(?=[A-Z])", name)[-1].lower()
    singular = name
    if last_word in _UNCOUNTABLE:
        singular = name
    elif re.search(r"[^aeiou]ies\Z", name):
        singular = name[:-3] + "y"
    elif re.search(r"(?:ss|sh|ch|x)es\Z|(?:status|alias|campus|bus)es\Z", name, re.IGNORECASE):
        singular = name[:-2]
    elif name.endswith("s") and not re.search(r"(?:ss|us|is)\Z", name):
        singular = name[:-1]
    return singular if singular != name else name + "Item"


# --- regular expressions ------------------------------------------------------------------------------

_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE, "u": 0}
_CLOSING_DELIMITERS = {"(": ")", "[": "]", "{": "}", "<": ">"}
_QUANTIFIER_BRACES = re.compile(r"\{(\d*)(,?)(\d*)\}")


def _backtracking_risk(body: str) -> str | None:
    """Why the pattern could backtrack catastrophically (a repeated group holding a repetition or `|`)."""
    stack = [[False, False]]  # per open group: [holds a repetition, holds an alternation]
    closed_group: list[bool] | None = None  # the group that ended just before the current char
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        previous_group, closed_group = closed_group, None
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and body[j] == "^":
                j += 1
            if j < n and body[j] == "]":
                j += 1
            while j < n and body[j] != "]":
                j += 2 if body[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            stack.append([False, False])
            i += 1
            if i < n and body[i] == "?":  # (?:  (?=  (?i)  (?<name>  ...: not a quantifier
                i += 2
            continue
        if c == ")":
            group = stack.pop() if len(stack) > 1 else [False, False]
            stack[-1][0] = stack[-1][0] or group[0]
            stack[-1][1] = stack[-1][1] or group[1]
            closed_group = group
            i += 1
            continue
        if c == "|":
            stack[-1][1] = True
            i += 1
            continue
        repeats = False
        width = 0
        if c in "*+":
            repeats, width = True, 1
        elif c == "?":
            width = 1
        elif c == "{":
            match = _QUANTIFIER_BRACES.match(body, i)
            if match and (match.group(1) or match.group(3)):
                low, comma, high = match.groups()
                repeats = bool(comma and not high) or (int(high or low or "0") > 1)
                width = match.end() - i
        if width:
            if repeats:
                if previous_group is not None and previous_group[0]:
                    return "a repeated group contains another repetition"
                if previous_group is not None and previous_group[1]:
                    return "a repeated group contains an alternation"
                stack[-1][0] = True
            i += width
            if i < n and body[i] in "?+":  # lazy or possessive suffix
                i += 1
            continue
        i += 1
    return None


def _translate_pcre(body: str) -> str:
    """The few PCRE spellings Python's ``re`` lacks: ``(?<name>``, ``\\z`` and ``\\Z``."""
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c == "\\" and i + 1 < n:
            nxt = body[i + 1]
            if nxt == "z":
                out.append(r"\Z")
            elif nxt == "Z":
                out.append(r"(?=\n?\Z)")
            else:
                out.append(body[i : i + 2])
            i += 2
            continue
        if body.startswith("(?<", i) and i + 3 < n and body[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


class _RegexError(Exception):
    pass


@functools.lru_cache(maxsize=512)
def _compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile a PCRE literal such as ``/^acme/i``. Raises ``_RegexError`` with a readable reason."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _RegexError(f"Regular expression longer than {MAX_PATTERN_LENGTH} characters")
    stripped = pattern.lstrip()
    if len(stripped) < 2:
        raise _RegexError("Regular expression needs delimiters, e.g. '/^ACME/i'")
    opening = stripped[0]
    if opening.isalnum() or opening == "\\" or opening.isspace():
        raise _RegexError("Regular expression delimiter must not be alphanumeric, a backslash or a space")
    closing = _CLOSING_DELIMITERS.get(opening, opening)
    end = stripped.rfind(closing)
    if end <= 0:
        raise _RegexError(f"Regular expression has no ending delimiter {closing!r}")
    body, modifiers = stripped[1:end], stripped[end + 1 :]
    flags = 0
    for modifier in modifiers:
        if modifier not in _REGEX_FLAGS:
            raise _RegexError(f"Unsupported regular expression modifier {modifier!r} (allowed: i, m, s, x, u)")
        flags |= _REGEX_FLAGS[modifier]
    risk = _backtracking_risk(body)
    if risk:
        raise _RegexError(f"Regular expression refused: {risk}, which can backtrack catastrophically")
    try:
        return re.compile(_translate_pcre(body), flags)
    except re.error as exc:
        raise _RegexError(f"Invalid regular expression: {exc}") from None


# --- grammar ------------------------------------------------------------------------------------------

_GRAMMAR = r"""
?start: expr

?expr: or_expr
    | or_expr "?" expr ":" expr          -> ternary
    | or_expr "?" ":" expr               -> elvis

?or_expr: and_expr
    | or_expr _OR and_expr               -> or_op
?and_expr: bit_or
    | and_expr _AND bit_or               -> and_op
?bit_or: bit_xor
    | bit_or "|" bit_xor                 -> bit_or_op
?bit_xor: bit_and
    | bit_xor "^" bit_and                -> bit_xor_op
?bit_and: comparison
    | bit_and "&" comparison             -> bit_and_op
?comparison: range_expr
    | comparison COMP_OP range_expr      -> compare
?range_expr: additive
    | range_expr ".." additive           -> range_op
?additive: concat
    | additive "+" concat                -> add
    | additive "-" concat                -> sub
?concat: unary_not
    | concat "~" unary_not               -> concat_op
?unary_not: multiplicative
    | _NOT unary_not                     -> not_op
?multiplicative: power
    | multiplicative "*" power           -> mul
    | multiplicative "/" power           -> div
    | multiplicative "%" power           -> mod
?power: unary
    | unary "**" power                   -> pow
?unary: postfix
    | "-" unary                          -> neg
    | "+" unary                          -> pos
?postfix: primary
    | postfix "." NAME                   -> attr
    | postfix "." NAME "(" [arguments] ")" -> method
    | postfix "[" expr "]"               -> index
?primary: NUMBER                         -> number
    | STRING                             -> string
    | TRUE                               -> true
    | FALSE                              -> false
    | NULL                               -> null
    | NAME                               -> var
    | NAME "(" [arguments] ")"           -> func
    | "(" expr ")"
    | "[" [elements] "]"                 -> array
    | "{" [pairs] "}"                    -> hash

arguments: expr ("," expr)*
elements: expr ("," expr)* [","]
pairs: pair ("," pair)* [","]
pair: (NAME | STRING | NUMBER) ":" expr
    | "(" expr ")" ":" expr              -> computed_pair

_OR.2: /or\b/ | "||"
_AND.2: /and\b/ | "&&"
_NOT.2: /not\b/ | "!"
COMP_OP.2: "===" | "!==" | "==" | "!=" | "<=" | ">=" | "=" | "<" | ">"
    | /not\s+in\b/ | /in\b/ | /matches\b/ | /contains\b/ | /starts\s+with\b/ | /ends\s+with\b/
TRUE.2: /true\b/i
FALSE.2: /false\b/i
NULL.2: /null\b/i
NUMBER: /[0-9]+(?:_[0-9]+)*(?:\.[0-9]+(?:_[0-9]+)*)?(?:[eE][+-]?[0-9]+)?/
STRING: /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/s
NAME: /[^\W\d]\w*/

%ignore /\s+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)

_TERMINAL_LABELS = {
    "$END": "end of expression",
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "COMP_OP": "a comparison operator",
    "_OR": "'or'",
    "_AND": "'and'",
    "_NOT": "'not'",
    "TRUE": "'true'",
    "FALSE": "'false'",
    "NULL": "'null'",
}
_KEYWORDS = frozenset({"and", "or", "not", "in", "matches", "contains", "starts", "ends"})
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", "a": "\a", "b": "\b"}


def _terminal_label(name: str) -> str:
    if name in _TERMINAL_LABELS:
        return _TERMINAL_LABELS[name]
    try:
        pattern = _PARSER.get_terminal(name).pattern
    except KeyError:
        return name
    return repr(pattern.value)


def _unescape(text: str) -> str:
    """PHP's stripcslashes, which Symfony applies to string literals."""

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] == "x" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code[0] in "01234567":
            return chr(int(code, 8) & 0xFF)
        return _SIMPLE_ESCAPES.get(code, code)

    return _ESCAPE.sub(replace, text)


_BRACKETS = {"(": ")", "[": "]", "{": "}"}


def _unclosed_bracket(source: str) -> tuple[str, int] | None:
    """The innermost bracket left open at the end of ``source`` (strings skipped), with its position."""
    stack: list[tuple[str, int]] = []
    quote = ""
    i = 0
    while i < len(source):
        c = source[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in _BRACKETS:
            stack.append((c, i))
        elif c in ")]}" and stack and _BRACKETS[stack[-1][0]] == c:
            stack.pop()
        i += 1
    return stack[-1] if stack else None


def _syntax_error_from_lark(exc: UnexpectedInput, source: str) -> ExpressionSyntaxError:
    if isinstance(exc, UnexpectedCharacters):
        position = exc.pos_in_stream or 0
        char = source[position] if position < len(source) else ""
        if char in "'\"":
            return ExpressionSyntaxError("Unterminated string", source, position)
        return ExpressionSyntaxError(f"Unexpected character {char!r}", source, position)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        token = exc.token
        history = getattr(exc, "token_history", None) or ()
        previous = history[-1] if history else None
        if previous is not None and previous.type == "NAME" and str(previous) in _KEYWORDS:
            return ExpressionSyntaxError(
                f"Unexpected keyword {str(previous)!r} (put it in parentheses)", source, previous.start_pos or 0
            )
        expected = sorted(exc.expected or ())
        hint = ""
        if 0 < len(expected) <= 3:
            hint = "; expected " + " or ".join(_terminal_label(name) for name in expected)
        return ExpressionSyntaxError(f"Unexpected token {str(token)!r}{hint}", source, token.start_pos or 0)
    if isinstance(exc, UnexpectedEOF | UnexpectedToken):
        unclosed = _unclosed_bracket(source)
        hint = "" if unclosed is None else f"; expected {_BRACKETS[unclosed[0]]!r} to close {unclosed[0]!r}"
        return ExpressionSyntaxError(f"Unexpected end of expression{hint}", source, len(source.rstrip()))
    return ExpressionSyntaxError("Invalid expression", source, getattr(exc, "pos_in_stream", 0) or 0)


# --- compilation --------------------------------------------------------------------------------------


class CompiledExpression:
    """A parsed expression, ready to evaluate any number of times. Immutable and thread-safe."""

    __slots__ = ("_fn", "source")
    source: str
    _fn: Evaluator

    def __init__(self, source: str, fn: Evaluator) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "_fn", fn)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("CompiledExpression is immutable")

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """The expression's value. Raises :class:`ExpressionRuntimeError` on any failure."""
        try:
            return self._fn(variables)
        except ExpressionRuntimeError:
            raise
        except decimal.DecimalException as exc:
            raise ExpressionRuntimeError(f"Arithmetic error: {_decimal_reason(exc)}") from None
        except RecursionError:
            raise ExpressionRuntimeError("Expression nested too deeply") from None
        except (TypeError, AttributeError, ArithmeticError, ValueError, LookupError) as exc:
            raise ExpressionRuntimeError(f"Cannot evaluate: {exc}") from None

    def matches(self, variables: Mapping[str, Any]) -> bool:
        """Whether the expression is truthy (PHP truthiness: ``0``, ``''``, ``'0'``, ``[]``, ``null`` are false)."""
        return _truthy(self.evaluate(variables))

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"


def _decimal_reason(exc: decimal.DecimalException) -> str:
    if isinstance(exc, decimal.DivisionByZero):
        return "division by zero"
    if isinstance(exc, decimal.Overflow):
        return "number too large"
    return "invalid operation"


@functools.lru_cache(maxsize=4096)
def compile_expression(source: str) -> CompiledExpression:
    """Parse and compile ``source`` (cached by text). Raises :class:`ExpressionSyntaxError`."""
    if not isinstance(source, str):
        raise TypeError("expression source must be a string")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionSyntaxError(f"Expression longer than {MAX_SOURCE_LENGTH} characters", source, MAX_SOURCE_LENGTH)
    if not source.strip():
        raise ExpressionSyntaxError("Empty expression", source, 0)
    try:
        tree = _PARSER.parse(source)
    except UnexpectedInput as exc:
        raise _syntax_error_from_lark(exc, source) from None
    return CompiledExpression(source, _Compiler(source).build(tree, 0))


def validate_expression(source: str) -> None:
    """Raise :class:`ExpressionSyntaxError` when ``source`` does not compile (for model and form validation)."""
    compile_expression(source)


def _position(node: Tree[Any] | Token) -> int:
    if isinstance(node, Token):
        return node.start_pos or 0
    return getattr(node.meta, "start_pos", 0) or 0


class _Compiler:
    """Turns a lark tree into closures. One instance per compilation."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str, node: Tree | Token) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, self.source, _position(node))

    def text(self, node: Tree | Token) -> str:
        if isinstance(node, Token):
            return str(node)
        meta = node.meta
        return self.source[meta.start_pos : meta.end_pos]

    def check_name(self, token: Token | Tree[Any], kind: str) -> str:
        name = str(token)
        if name.startswith("_"):
            raise self.error(f"Forbidden {kind} {name!r}: names starting with '_' are not accessible", token)
        return name

    def build(self, node: Tree | Token, depth: int) -> Evaluator:
        if depth > MAX_DEPTH:
            raise self.error(f"Expression nested more than {MAX_DEPTH} levels deep", node)
        if isinstance(node, Token):  # only reached for bare tokens, which the grammar always wraps
            raise self.error(f"Unexpected token {str(node)!r}", node)
        handler = getattr(self, "_" + node.data, None)
        if handler is None:  # pragma: no cover - every rule of the grammar has a handler
            raise self.error(f"Unsupported construct {node.data}", node)
        return handler(node, depth + 1)

    # literals

    def _number(self, node: Tree, depth: int) -> Evaluator:
        value = Decimal(str(node.children[0]).replace("_", ""))
        return _constant(value)

    def _string(self, node: Tree, depth: int) -> Evaluator:
        return _constant(_unescape(str(node.children[0])[1:-1]))

    def _true(self, node: Tree, depth: int) -> Evaluator:
        return _constant(True)

    def _false(self, node: Tree, depth: int) -> Evaluator:
        return _constant(False)

    def _null(self, node: Tree, depth: int) -> Evaluator:
        return _constant(None)

    def _array(self, node: Tree, depth: int) -> Evaluator:
        elements = node.children[0]
        items = [self.build(child, depth) for child in elements.children if child is not None] if elements else []
        if all(hasattr(item, "constant") for item in items):
            values = tuple(item.constant for item in items)  # type: ignore[attr-defined]

            def constant_array(v: Mapping[str, Any]) -> list[Any]:
                return list(values)

            constant_array.items = values  # type: ignore[attr-defined]
            return constant_array
        return lambda v: [item(v) for item in items]

    def _hash(self, node: Tree, depth: int) -> Evaluator:
        pairs_node = node.children[0]
        pairs: list[tuple[Evaluator, Evaluator]] = []
        for pair in pairs_node.children if pairs_node else ():
            if pair is None:
                continue
            key_node: Any = pair.children[0]
            value_node = pair.children[1]
            if pair.data == "computed_pair":
                key = self.build(key_node, depth)
            elif key_node.type == "STRING":
                key = _constant(_unescape(str(key_node)[1:-1]))
            elif key_node.type == "NUMBER":
                key = _constant(Decimal(str(key_node).replace("_", "")))
            else:
                key = _constant(str(key_node))
            pairs.append((key, self.build(value_node, depth)))

        def hash_(v: Mapping[str, Any]) -> dict[Any, Any]:
            result = {}
            for key, value in pairs:
                k = key(v)
                if not isinstance(k, str | int | Decimal) or isinstance(k, bool):
                    raise ExpressionRuntimeError(f"A hash key must be a string or a number, got {_describe(k)}")
                result[k] = value(v)
            return result

        return hash_

    # names

    def _var(self, node: Tree, depth: int) -> Evaluator:
        token = node.children[0]
        name = self.check_name(token, "name")
        if name in _KEYWORDS:
            raise self.error(f"Unexpected keyword {name!r}", token)
        position = _position(token)

        def var(v: Mapping[str, Any]) -> Any:
            try:
                return v[name]
            except KeyError:
                raise ExpressionRuntimeError(f"Unknown variable {name!r}", position) from None

        return var

    def _attr(self, node: Tree, depth: int) -> Evaluator:
        target_node, name_token = node.children
        name = self.check_name(name_token, "attribute")
        target = self.build(target_node, depth)
        what = self.text(target_node)
        position = _position(name_token)

        def attr(v: Mapping[str, Any]) -> Any:
            obj = target(v)
            t = type(obj)
            if t is Obj or t is MoneyObj:
                try:
                    return obj._fields[name]
                except KeyError:
                    pass
            return _get_field(obj, name, what, position)

        return attr

    def _index(self, node: Tree, depth: int) -> Evaluator:
        target_node, key_node = node.children
        target = self.build(target_node, depth)
        key = self.build(key_node, depth)
        constant_key = getattr(key, "constant", None)
        if isinstance(constant_key, str) and constant_key.startswith("_"):
            raise self.error(f"Forbidden key {constant_key!r}: names starting with '_' are not accessible", key_node)
        what = self.text(target_node)
        position = _position(key_node)

        def index(v: Mapping[str, Any]) -> Any:
            return _get_item(target(v), key(v), what, position)

        return index

    def _method(self, node: Tree, depth: int) -> Evaluator:
        target_node, name_token, arguments = node.children
        name = self.check_name(name_token, "method")
        method = name.lower()
        if method not in COLLECTION_METHODS:
            raise self.error(f"Method {name!r} is not allowed; only all(), any() and sum() may be called", name_token)
        args = [child for child in arguments.children if child is not None] if arguments else []
        if len(args) != 1:
            raise self.error(f"Method {name}() takes exactly one argument", name_token)
        collection = self.collection_name(target_node)
        if collection is None:
            raise self.error(
                f"Cannot name the items of {self.text(target_node)!r}: call {name}() on a named collection "
                "such as lineItems",
                name_token,
            )
        target = self.build(target_node, depth)
        body = self.build(args[0], depth)
        item = item_name(collection)
        what = self.text(target_node)
        position = _position(name_token)

        if method == "all":

            def all_(v: Mapping[str, Any]) -> bool:
                scope = dict(v)
                for element in _iterate(target(v), what, position):
                    scope[item] = element
                    if not _truthy(body(scope)):
                        return False
                return True

            return all_

        if method == "any":

            def any_(v: Mapping[str, Any]) -> bool:
                scope = dict(v)
                for element in _iterate(target(v), what, position):
                    scope[item] = element
                    if _truthy(body(scope)):
                        return True
                return False

            return any_

        def sum_(v: Mapping[str, Any]) -> Decimal:
            scope = dict(v)
            total = _ZERO
            for element in _iterate(target(v), what, position):
                scope[item] = element
                value = body(scope)
                total += value if type(value) is Decimal else _operand(value, "sum")
            return total

        return sum_

    def collection_name(self, node: Tree | Token) -> str | None:
        if isinstance(node, Tree):
            if node.data == "var":
                return str(node.children[0])
            if node.data == "attr":
                return str(node.children[1])
            if node.data == "index" and isinstance(node.children[1], Tree) and node.children[1].data == "string":
                return _unescape(str(node.children[1].children[0])[1:-1]) or None
        return None

    def _func(self, node: Tree, depth: int) -> Evaluator:
        name_token, arguments = node.children
        name = self.check_name(name_token, "function")
        if name not in FUNCTIONS:
            raise self.error(f"The function {name!r} does not exist; available: count()", name_token)
        args = [child for child in arguments.children if child is not None] if arguments else []
        if len(args) != 1:
            raise self.error(f"Function {name}() takes exactly one argument", name_token)
        argument = self.build(args[0], depth)
        position = _position(name_token)

        def count(v: Mapping[str, Any]) -> int:
            value = argument(v)
            t = type(value)
            if t is list or t is tuple or t is range or t is dict:
                return len(value)
            raise ExpressionRuntimeError(f"count() needs an array, got {_describe(value)}", position)

        return count

    # logic

    def _flatten(self, node: Tree, depth: int) -> list[Evaluator]:
        operands: list[Tree | Token] = []
        current: Tree | Token = node
        while isinstance(current, Tree) and current.data == node.data:
            operands.append(current.children[1])
            current = current.children[0]
        operands.append(current)
        return [self.build(operand, depth) for operand in reversed(operands)]

    def _or_op(self, node: Tree, depth: int) -> Evaluator:
        operands = self._flatten(node, depth)
        if len(operands) == 2:
            a, b = operands

            def or2(v: Mapping[str, Any]) -> bool:
                x = a(v)
                if x is True or (x is not False and _truthy(x)):
                    return True
                y = b(v)
                return y is True or (y is not False and _truthy(y))

            return or2
        return lambda v: any(_truthy(operand(v)) for operand in operands)

    def _and_op(self, node: Tree, depth: int) -> Evaluator:
        operands = self._flatten(node, depth)
        if len(operands) == 2:
            a, b = operands

            def and2(v: Mapping[str, Any]) -> bool:
                x = a(v)
                if x is not True and (x is False or not _truthy(x)):
                    return False
                y = b(v)
                return y is True or (y is not False and _truthy(y))

            return and2
        return lambda v: all(_truthy(operand(v)) for operand in operands)

    def _not_op(self, node: Tree, depth: int) -> Evaluator:
        operand = self.build(node.children[-1], depth)
        return lambda v: not _truthy(operand(v))

    def _ternary(self, node: Tree, depth: int) -> Evaluator:
        condition, if_true, if_false = (self.build(child, depth) for child in node.children)
        return lambda v: if_true(v) if _truthy(condition(v)) else if_false(v)

    def _elvis(self, node: Tree, depth: int) -> Evaluator:
        condition, if_false = (self.build(child, depth) for child in node.children)

        def elvis(v: Mapping[str, Any]) -> Any:
            value = condition(v)
            return value if _truthy(value) else if_false(v)

        return elvis

    # comparison

    def _compare(self, node: Tree, depth: int) -> Evaluator:
        left_node, op_token, right_node = node.children
        op = " ".join(str(op_token).split())
        left = self.build(left_node, depth)
        right = self.build(right_node, depth)
        if op in ("=", "==", "==="):
            return _equality(left, right)
        if op in ("!=", "!=="):
            equal = _equality(left, right)
            return lambda v: not equal(v)
        if op in ("<", ">", "<=", ">="):
            return _ordering(op, left, right)
        if op in ("in", "not in"):
            negate = op == "not in"
            items = getattr(right, "items", None)
            if items is not None and all(type(item) is str for item in items):
                strings = frozenset(items)  # only a str equals a str: a set lookup is exact

                def in_strings(v: Mapping[str, Any]) -> bool:
                    value = left(v)
                    return (type(value) is str and value in strings) is not negate

                return in_strings
            return lambda v: _contains(right(v), left(v)) is not negate
        if op == "matches":
            return self.matches(left, right, right_node)
        return _string_test(op, left, right)

    def matches(self, left: Evaluator, right: Evaluator, right_node: Tree | Token) -> Evaluator:
        constant = getattr(right, "constant", None)
        if isinstance(constant, str):
            try:
                pattern = _compile_regex(constant)
            except _RegexError as exc:
                raise self.error(str(exc), right_node) from None

            def matches_literal(v: Mapping[str, Any]) -> bool:
                subject = _to_str(left(v), "matches")
                return pattern.search(subject[:MAX_SUBJECT_LENGTH]) is not None

            return matches_literal

        def matches_dynamic(v: Mapping[str, Any]) -> bool:
            subject = _to_str(left(v), "matches")
            source = right(v)
            if type(source) is not str:
                raise ExpressionRuntimeError(f"'matches' needs a regular expression string, got {_describe(source)}")
            try:
                compiled = _compile_regex(source)
            except _RegexError as exc:
                raise ExpressionRuntimeError(str(exc)) from None
            return compiled.search(subject[:MAX_SUBJECT_LENGTH]) is not None

        return matches_dynamic

    # arithmetic

    def _range_op(self, node: Tree, depth: int) -> Evaluator:
        low, high = (self.build(child, depth) for child in node.children)

        def range_(v: Mapping[str, Any]) -> range:
            start = _to_int(low(v), "..")
            stop = _to_int(high(v), "..")
            if abs(stop - start) >= MAX_RANGE_SIZE:
                raise ExpressionRuntimeError(f"Range {start}..{stop} has more than {MAX_RANGE_SIZE} elements")
            return range(start, stop + 1) if stop >= start else range(start, stop - 1, -1)

        return range_

    def _add(self, node: Tree, depth: int) -> Evaluator:
        return self.arithmetic(node, depth, "+", operator.add)

    def _sub(self, node: Tree, depth: int) -> Evaluator:
        return self.arithmetic(node, depth, "-", operator.sub)

    def _mul(self, node: Tree, depth: int) -> Evaluator:
        return self.arithmetic(node, depth, "*", operator.mul)

    def _div(self, node: Tree, depth: int) -> Evaluator:
        return self.arithmetic(node, depth, "/", _divide)

    def _mod(self, node: Tree, depth: int) -> Evaluator:
        return self.arithmetic(node, depth, "%", _modulo)

    def _pow(self, node: Tree, depth: int) -> Evaluator:
        return self.arithmetic(node, depth, "**", _power)

    def _bit_or_op(self, node: Tree, depth: int) -> Evaluator:
        return self.arithmetic(node, depth, "|", lambda a, b: Decimal(_to_int(a, "|") | _to_int(b, "|")))

    def _bit_xor_op(self, node: Tree, depth: int) -> Evaluator:
        return self.arithmetic(node, depth, "^", lambda a, b: Decimal(_to_int(a, "^") ^ _to_int(b, "^")))

    def _bit_and_op(self, node: Tree, depth: int) -> Evaluator:
        return self.arithmetic(node, depth, "&", lambda a, b: Decimal(_to_int(a, "&") & _to_int(b, "&")))

    def arithmetic(
        self, node: Tree, depth: int, op: str, fn: Callable[[Decimal | int, Decimal | int], Decimal]
    ) -> Evaluator:
        left, right = (self.build(child, depth) for child in node.children)

        def arithmetic(v: Mapping[str, Any]) -> Decimal:
            a = left(v)
            b = right(v)
            ta = type(a)
            tb = type(b)
            if (ta is Decimal or ta is int) and (tb is Decimal or tb is int):
                return fn(a, b)
            return fn(_operand(a, op), _operand(b, op))

        return arithmetic

    def _neg(self, node: Tree, depth: int) -> Evaluator:
        operand = self.build(node.children[0], depth)
        return lambda v: -_operand(operand(v), "-")

    def _pos(self, node: Tree, depth: int) -> Evaluator:
        operand = self.build(node.children[0], depth)
        return lambda v: +_operand(operand(v), "+")

    def _concat_op(self, node: Tree, depth: int) -> Evaluator:
        left, right = (self.build(child, depth) for child in node.children)

        def concat(v: Mapping[str, Any]) -> str:
            a = _to_str(left(v), "~")
            b = _to_str(right(v), "~")
            if len(a) + len(b) > MAX_STRING_LENGTH:
                raise ExpressionRuntimeError(f"String longer than {MAX_STRING_LENGTH} characters")
            return a + b

        return concat


def _constant(value: Any) -> Evaluator:
    def constant(v: Mapping[str, Any]) -> Any:
        return value

    constant.constant = value  # type: ignore[attr-defined]
    return constant


def _equality(left: Evaluator, right: Evaluator) -> Evaluator:
    constant = getattr(right, "constant", None)
    if type(constant) is str:
        return lambda v: left(v) == constant  # only a str equals a str
    if type(constant) is Decimal:

        def equals_number(v: Mapping[str, Any]) -> bool:
            a = left(v)
            t = type(a)
            if t is Decimal or t is int:
                return a == constant
            return _eq(a, constant)

        return equals_number
    return lambda v: _eq(left(v), right(v))


_ORDERING = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _ordering(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    compare = _ORDERING[op]

    def ordering(v: Mapping[str, Any]) -> bool:
        a = left(v)
        b = right(v)
        ta = type(a)
        tb = type(b)
        if ta is MoneyObj and tb is not MoneyObj:
            a = a._fields["value"]
            ta = type(a)
        if (ta is Decimal or ta is int) and (tb is Decimal or tb is int):
            return compare(a, b)
        a, b = _ordering_operands(a, b, op)
        return compare(a, b)

    return ordering


def _string_test(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    if op == "contains":
        return lambda v: _to_str(right(v), op) in _to_str(left(v), op)
    if op.startswith("starts"):
        return lambda v: _to_str(left(v), "starts with").startswith(_to_str(right(v), "starts with"))
    return lambda v: _to_str(left(v), "ends with").endswith(_to_str(right(v), "ends with"))


def _divide(a: Decimal | int, b: Decimal | int) -> Decimal:
    if b == 0:
        raise ExpressionRuntimeError("Division by zero")
    return _CTX.divide(a, b)


def _modulo(a: Decimal | int, b: Decimal | int) -> Decimal:
    # PHP's % works on integers (operands truncated) and keeps the dividend's sign, like Decimal's %.
    divisor = _to_int(Decimal(b).to_integral_value(rounding=decimal.ROUND_DOWN), "%")
    if divisor == 0:
        raise ExpressionRuntimeError("Modulo by zero")
    dividend = _to_int(Decimal(a).to_integral_value(rounding=decimal.ROUND_DOWN), "%")
    return _CTX.remainder(Decimal(dividend), Decimal(divisor))


def _power(a: Decimal | int, b: Decimal | int) -> Decimal:
    if abs(b) > MAX_EXPONENT:  # type: ignore[operator]
        raise ExpressionRuntimeError(f"Exponent {b} is larger than {MAX_EXPONENT}")
    if a == 0 and b < 0:
        raise ExpressionRuntimeError("Division by zero")
    return _CTX.power(Decimal(a), Decimal(b))


def _get_field(obj: Any, name: str, what: str, position: int) -> Any:
    t = type(obj)
    if t is Obj or t is MoneyObj:
        raise ExpressionRuntimeError(f"{what} has no attribute {name!r}", position)
    if t is dict:
        if name in obj:
            return obj[name]
        raise ExpressionRuntimeError(f"{what} has no key {name!r}", position)
    if obj is None:
        raise ExpressionRuntimeError(f"Cannot read attribute {name!r} of null ({what} is null)", position)
    raise ExpressionRuntimeError(f"Cannot read attribute {name!r} of {what}: it is {_describe(obj)}", position)


def _get_item(obj: Any, key: Any, what: str, position: int) -> Any:
    t = type(obj)
    if t is Obj or t is MoneyObj:
        if type(key) is not str or key.startswith("_"):
            raise ExpressionRuntimeError(f"Invalid key {key!r} for {what}", position)
        return _get_field(obj, key, what, position) if key not in obj._fields else obj._fields[key]
    if t is list or t is tuple or t is range:
        if type(key) is str or type(key) is bool or not _is_number(key):
            raise ExpressionRuntimeError(f"An index of {what} must be a number, got {_describe(key)}", position)
        index = _to_int(key, "[]")
        return obj[index] if 0 <= index < len(obj) else None
    if t is dict:
        if type(key) is str and key.startswith("_"):
            raise ExpressionRuntimeError(f"Invalid key {key!r} for {what}", position)
        try:
            return obj.get(key)
        except TypeError:
            raise ExpressionRuntimeError(f"Invalid key for {what}", position) from None
    if obj is None:
        raise ExpressionRuntimeError(f"Cannot read an element of null ({what} is null)", position)
    raise ExpressionRuntimeError(f"Cannot read an element of {what}: it is {_describe(obj)}", position)


# --- variables --------------------------------------------------------------------------------------

# ISO 3166-1 alpha-2 -> alpha-3, all officially assigned codes plus Kosovo's customary XK/XKX.
_ISO3 = dict(
    pair.split(":")
    for pair in (
        "AD:AND AE:ARE AF:AFG AG:ATG AI:AIA AL:ALB AM:ARM AO:AGO AQ:ATA AR:ARG AS:ASM AT:AUT AU:AUS AW:ABW AX:ALA "
        "AZ:AZE BA:BIH BB:BRB BD:BGD BE:BEL BF:BFA BG:BGR BH:BHR BI:BDI BJ:BEN BL:BLM BM:BMU BN:BRN BO:BOL BQ:BES "
        "BR:BRA BS:BHS BT:BTN BV:BVT BW:BWA BY:BLR BZ:BLZ CA:CAN CC:CCK CD:COD CF:CAF CG:COG CH:CHE CI:CIV CK:COK "
        "CL:CHL CM:CMR CN:CHN CO:COL CR:CRI CU:CUB CV:CPV CW:CUW CX:CXR CY:CYP CZ:CZE DE:DEU DJ:DJI DK:DNK DM:DMA "
        "DO:DOM DZ:DZA EC:ECU EE:EST EG:EGY EH:ESH ER:ERI ES:ESP ET:ETH FI:FIN FJ:FJI FK:FLK FM:FSM FO:FRO FR:FRA "
        "GA:GAB GB:GBR GD:GRD GE:GEO GF:GUF GG:GGY GH:GHA GI:GIB GL:GRL GM:GMB GN:GIN GP:GLP GQ:GNQ GR:GRC GS:SGS "
        "GT:GTM GU:GUM GW:GNB GY:GUY HK:HKG HM:HMD HN:HND HR:HRV HT:HTI HU:HUN ID:IDN IE:IRL IL:ISR IM:IMN IN:IND "
        "IO:IOT IQ:IRQ IR:IRN IS:ISL IT:ITA JE:JEY JM:JAM JO:JOR JP:JPN KE:KEN KG:KGZ KH:KHM KI:KIR KM:COM KN:KNA "
        "KP:PRK KR:KOR KW:KWT KY:CYM KZ:KAZ LA:LAO LB:LBN LC:LCA LI:LIE LK:LKA LR:LBR LS:LSO LT:LTU LU:LUX LV:LVA "
        "LY:LBY MA:MAR MC:MCO MD:MDA ME:MNE MF:MAF MG:MDG MH:MHL MK:MKD ML:MLI MM:MMR MN:MNG MO:MAC MP:MNP MQ:MTQ "
        "MR:MRT MS:MSR MT:MLT MU:MUS MV:MDV MW:MWI MX:MEX MY:MYS MZ:MOZ NA:NAM NC:NCL NE:NER NF:NFK NG:NGA NI:NIC "
        "NL:NLD NO:NOR NP:NPL NR:NRU NU:NIU NZ:NZL OM:OMN PA:PAN PE:PER PF:PYF PG:PNG PH:PHL PK:PAK PL:POL PM:SPM "
        "PN:PCN PR:PRI PS:PSE PT:PRT PW:PLW PY:PRY QA:QAT RE:REU RO:ROU RS:SRB RU:RUS RW:RWA SA:SAU SB:SLB SC:SYC "
        "SD:SDN SE:SWE SG:SGP SH:SHN SI:SVN SJ:SJM SK:SVK SL:SLE SM:SMR SN:SEN SO:SOM SR:SUR SS:SSD ST:STP SV:SLV "
        "SX:SXM SY:SYR SZ:SWZ TC:TCA TD:TCD TF:ATF TG:TGO TH:THA TJ:TJK TK:TKL TL:TLS TM:TKM TN:TUN TO:TON TR:TUR "
        "TT:TTO TV:TUV TW:TWN TZ:TZA UA:UKR UG:UGA UM:UMI US:USA UY:URY UZ:UZB VA:VAT VC:VCT VE:VEN VG:VGB VI:VIR "
        "VN:VNM VU:VUT WF:WLF WS:WSM XK:XKX YE:YEM YT:MYT ZA:ZAF ZM:ZMB ZW:ZWE"
    ).split()
)


@functools.lru_cache(maxsize=1)
def _english_territories() -> Mapping[str, str]:
    from babel import Locale

    return Locale("en").territories


def _country_name(iso2: str) -> str:
    return str(_english_territories().get(iso2, "")) if iso2 else ""


def _money(money: Money) -> MoneyObj:
    return MoneyObj(money.amount, money.currency)


def _address(address: AddressInfo | None) -> Obj | None:
    if address is None:
        return None
    iso2 = address.country_iso2.upper()
    region_code = address.region_code
    if iso2 and region_code.upper().startswith(iso2 + "-"):
        region_code = region_code[len(iso2) + 1 :]  # Oro's regionCode is the region's own code: "NY"
    return Obj(
        street=address.street,
        street2=address.street2,
        city=address.city,
        regionName=address.region_name,
        regionCode=region_code,
        postalCode=address.postal_code,
        countryName=_country_name(iso2),
        countryIso2=iso2,
        countryIso3=_ISO3.get(iso2, ""),
        organization=address.organization,
        firstName=address.first_name,
        lastName=address.last_name,
    )


def build_variables(context: CheckoutContext) -> dict[str, Any]:
    """The variables payment-rule expressions see for ``context`` (the keys of Oro's payment converter)."""
    line_items = []
    for line in context.line_items:
        line_items.append(
            Obj(
                product=Obj(
                    id=line.product_id,
                    sku=line.sku,
                    type="simple",
                    inventoryLevels=[],
                ),
                productUnit=Obj(code="item"),
                quantity=line.quantity,
                price=_money(line.unit_price),
                sku=line.sku,
                name=line.name,
                weight=Obj(value=Decimal(0), unit="kg"),
                dimensions=None,
                kitItemLineItems=[],
            )
        )

    customer = context.customer
    customer_view = None
    if customer is not None:
        group = customer.group
        term = customer.resolved_payment_term
        customer_view = Obj(
            id=customer.id,
            name=customer.name,
            vatId=customer.vat_id,
            group=None
            if group is None
            else Obj(
                id=group.id,
                name=group.name,
                payment_term_7c4f1e8e=None
                if group.payment_term is None
                else Obj(id=group.payment_term.id, label=group.payment_term.label),
            ),
            payment_term_7c4f1e8e=None if term is None else Obj(id=term.id, label=term.label),
        )

    user = context.customer_user
    user_view = None
    if user is not None:
        user_view = Obj(
            id=user.id,
            email=user.email,
            firstName=user.first_name,
            middleName="",
            lastName=user.last_name,
            fullName=" ".join(part for part in (user.first_name, user.last_name) if part),
        )

    return {
        "lineItems": line_items,
        "billingAddress": _address(context.billing_address),
        "shippingAddress": _address(context.shipping_address),
        "shippingOrigin": None,
        "shippingMethod": None,
        "currency": context.currency,
        "subtotal": _money(context.subtotal),
        "total": _money(context.total),
        "customer": customer_view,
        "customerUser": user_view,
    }
