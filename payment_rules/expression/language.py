"""Compiling a condition to closures and evaluating it within a budget of steps.

Design
------
* **Grammar** (``grammar.py``): one lark rule per level of Symfony's precedence table, lowest first: ternary
  ``a ? b : c``, ``a ?: b`` and ``a ? b`` (null when ``a`` is false); ``or ||`` (10); ``and &&`` (15); ``|`` (16);
  ``^`` (17); ``&`` (18); ``= == === != !== < > <= >= in, not in, matches, contains, starts with, ends with``
  (20); ``..`` (25); ``+ -`` (30); ``~`` (40); unary ``not !`` (50); ``* / %`` (60); ``**`` (200, right
  associative); unary ``- +`` (500, so ``-2 ** 2`` is 4 as in Symfony); then postfix ``.name``, ``[key]`` and
  the collection methods. Strings are unescaped like PHP's ``stripcslashes`` (a regex dot is ``'\\\\.'``).
* **Compilation.** :func:`compile_expression` parses once (cached by source text) and turns the tree into nested
  Python closures; evaluation is plain function calls, no ``eval``/``exec``.
* **Values** (``values.py``): numbers are :class:`~decimal.Decimal`, never float. Comparison, truthiness and
  conversions follow PHP 8 as the reference does; ``DIFFERENCES`` lists where this engine deliberately differs.
* **Collections.** ``coll.all(expr)``, ``coll.any(expr)`` and ``coll.sum(expr)`` evaluate ``expr`` per item with
  the item bound to the singular of the collection's name (Doctrine's inflector, as the reference):
  ``lineItems`` -> ``lineItem``, ``categories`` -> ``category``; a name that does not singularise (``data``,
  ``staff``) gets the suffix ``Item``. ``count(x)`` is the only function.
* **Budget.** An evaluation may take at most ``MAX_STEPS`` steps (a step is one node of the expression evaluated
  once; a regex match costs its subject's length times its compiled size, ``regex_steps``). The cost of each
  pass through a collection is charged as it happens, so a condition nested over a big cart stops early with
  :class:`ExpressionBudgetExceeded` and its rule is skipped. ``checks.validate_expression`` refuses at save a
  condition whose worst case on a large cart exceeds the budget.

Safety
------
* Only the variables given to :meth:`CompiledExpression.evaluate` are reachable. Attributes are read only from
  :class:`~values.Obj` views and plain dicts, never with ``getattr`` on a Python object. Any name starting with
  ``_`` and any method other than ``all``/``any``/``sum`` is refused at compile time. Unknown variables or
  attributes, ``null`` dereferences, division by zero and type mismatches raise :class:`ExpressionRuntimeError`
  at evaluation; no other exception escapes.
* Limits: source length ``MAX_SOURCE_LENGTH``, nesting depth ``MAX_DEPTH`` (neither parsing nor evaluation can
  exhaust the stack), ``**`` exponent ``MAX_EXPONENT``, ranges ``MAX_RANGE_SIZE`` elements (never materialised),
  strings built by ``~`` ``MAX_STRING_LENGTH`` characters, and the step budget above.
* ``matches`` runs on RE2 (``regex.py``): linear in the subject, whatever the pattern.
"""

from __future__ import annotations

import decimal
import functools
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from lark import Token, Tree

from payment_rules.expression import values
from payment_rules.expression.errors import ExpressionBudgetExceeded, ExpressionRuntimeError, ExpressionSyntaxError
from payment_rules.expression.grammar import KEYWORDS, parse, position, unescape
from payment_rules.expression.regex import MAX_POSITIONS, RegexError, compile_pcre
from payment_rules.expression.values import (
    CTX,
    ZERO,
    Lazy,
    MoneyObj,
    Obj,
    compare,
    describe,
    is_number,
    iterate,
    loose_eq,
    operand,
    strict_eq,
    to_int,
    to_str,
    truthy,
)

MAX_SOURCE_LENGTH = 10_000
MAX_DEPTH = 100
MAX_EXPONENT = 100
MAX_RANGE_SIZE = 10_000
MAX_STRING_LENGTH = 100_000
#: the steps one condition may take on one checkout (0.1 to 0.4 s of evaluation, by bench/expressions.py)
MAX_STEPS = 1_000_000
#: the steps all conditions of one checkout may take together; once spent, each remaining condition still gets
#: ``STEPS_WHEN_SPENT``, enough for an everyday condition
MAX_CHECKOUT_STEPS = 4_000_000
STEPS_WHEN_SPENT = 10_000
#: characters of a string compared, searched or converted per step
STRING_CHARS_PER_STEP = 100
#: characters × pattern instructions per step: what RE2's slowest path (its NFA) does in about a step's time
REGEX_UNITS_PER_STEP = 20
#: a pattern built at run time is compiled there too, at about this many steps per instruction of its program
REGEX_COMPILE_STEPS_PER_INSTRUCTION = 1
COLLECTION_METHODS = frozenset({"all", "any", "sum"})
FUNCTIONS = frozenset({"count"})

#: where this engine deliberately answers differently from the reference; shown in the rule form's help
DIFFERENCES = (
    "Numbers compare by value whatever their type: 1 = 1.0 and 1 in [1.0] are true. In the reference '=' is "
    "strict, so an integer never equals a decimal number, which is why its guide asks for lineItem.quantity "
    "!= 1.0 rather than != 1; both work here.",
    "Numbers are exact decimals, as money is: 0.1 + 0.2 = 0.3 is true (the reference computes in floating "
    "point, where it is false). A string that only starts with a number, such as '10 kg', is not a number "
    "(PHP 8 takes 10 and warns), and a range takes whole numbers only ('a'..'e' is an error; PHP makes letters).",
    "Amounts (subtotal, total, lineItem.price) compare and compute by their value: subtotal > 1000 means "
    "subtotal.value > 1000; comparing two amounts in different currencies is an error.",
    "Unknown variables and fields are refused when the rule is saved, with the list of what exists; the "
    "reference reads them as null and the rule silently never matches.",
    "'matches' runs on RE2, which takes linear time: back-references, look-ahead and look-behind, atomic "
    "groups and possessive quantifiers are refused when the rule is saved, and so is a pattern that compiles to "
    f"more than {MAX_POSITIONS:,} positions (large counted repetitions such as .{{1,500}}: use + or *); "
    "the x option works as the /…/x modifier or as (?x) at the start. 'matches' gives true or false (the "
    "reference gives 1 or 0). With the u modifier \\w, \\d, \\s and [[:alpha:]] take every letter, digit and "
    "space as in the reference, but \\b still counts only ASCII letters and digits as word characters. Without "
    "u the reference matches bytes (ü is two bytes, so /^.$/ does not match it, and /é/i does not match É); "
    "here patterns always match characters.",
    f"A condition may take at most {MAX_STEPS:,} steps, and the conditions of one checkout {MAX_CHECKOUT_STEPS:,} "
    f"together (after that each remaining one gets {STEPS_WHEN_SPENT:,}). One whose worst case on a large cart "
    "exceeds its own limit (typically all()/any()/sum() over lineItems nested inside each other) is refused when "
    "saved; one that "
    "exceeds it on a real checkout is skipped and logged like any other error.",
    "Comparing an object with < or > is an error (PHP calls any object greater than anything).",
    "Operators the reference's parser lacks are accepted: === and !== (strict, as =), contains, starts with, "
    "ends with, and numbers written 1e3 or 1_000.",
)

Evaluator = Callable[[Mapping[str, Any]], Any]
_BUDGET = "_budget"  # the evaluation's remaining steps, in its scope; no expression can name it


def _exhausted() -> ExpressionBudgetExceeded:
    return ExpressionBudgetExceeded(
        f"Condition stopped after {MAX_STEPS:,} steps, the most one condition may take on a checkout"
    )


# --- item names ---------------------------------------------------------------------------------------

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


# --- compiled expressions -----------------------------------------------------------------------------


class CompiledExpression:
    """A parsed expression, ready to evaluate any number of times. Immutable and thread-safe."""

    __slots__ = ("_fn", "cost", "source", "tree")
    source: str
    tree: Tree[Any]
    cost: int  # the steps one evaluation costs before any collection is iterated
    _fn: Evaluator

    def __init__(self, source: str, tree: Tree[Any], fn: Evaluator, cost: int) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "tree", tree)
        object.__setattr__(self, "_fn", fn)
        object.__setattr__(self, "cost", cost)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("CompiledExpression is immutable")

    def measure(self, variables: Mapping[str, Any], *, max_steps: int = MAX_STEPS) -> tuple[Any, int]:
        """The expression's value and the steps it took. Raises :class:`ExpressionRuntimeError` on any failure,
        :class:`ExpressionBudgetExceeded` when it would take more than ``max_steps``."""
        try:
            scope = dict(variables)
        except (TypeError, ValueError):
            raise ExpressionRuntimeError("Variables must be a mapping") from None
        budget = [max_steps - self.cost]
        if budget[0] < 0:
            raise _exhausted()
        scope[_BUDGET] = budget
        try:
            value = self._fn(scope)
        except ExpressionRuntimeError:
            raise
        except decimal.DecimalException as exc:
            raise ExpressionRuntimeError(f"Arithmetic error: {_decimal_reason(exc)}") from None
        except RecursionError:
            raise ExpressionRuntimeError("Expression nested too deeply") from None
        except (TypeError, AttributeError, ArithmeticError, ValueError, LookupError) as exc:
            raise ExpressionRuntimeError(f"Cannot evaluate: {exc}") from None
        return value, max_steps - budget[0]

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """The expression's value. Raises :class:`ExpressionRuntimeError` on any failure."""
        return self.measure(variables)[0]

    def matches(self, variables: Mapping[str, Any]) -> bool:
        """Whether the expression is truthy (PHP truthiness: ``0``, ``''``, ``'0'``, ``[]``, ``null`` are false)."""
        return truthy(self.measure(variables)[0])

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"


def _decimal_reason(exc: decimal.DecimalException) -> str:
    if isinstance(exc, decimal.DivisionByZero):
        return "division by zero"
    if isinstance(exc, decimal.Overflow):
        return "number too large"
    return "invalid operation"


def parse_expression(source: str) -> Tree[Any]:
    """The syntax tree of ``source`` after the size checks. Raises :class:`ExpressionSyntaxError`."""
    if not isinstance(source, str):
        raise TypeError("expression source must be a string")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionSyntaxError(f"Expression longer than {MAX_SOURCE_LENGTH} characters", source, MAX_SOURCE_LENGTH)
    if not source.strip():
        raise ExpressionSyntaxError("Empty expression", source, 0)
    return parse(source)


@functools.lru_cache(maxsize=4096)
def compile_expression(source: str) -> CompiledExpression:
    """Parse and compile ``source`` (cached by text). Raises :class:`ExpressionSyntaxError`."""
    tree = parse_expression(source)
    return CompiledExpression(source, tree, _Compiler(source).build(tree, 0), direct_cost(tree))


def direct_cost(node: Tree[Any] | Token | None) -> int:
    """The nodes evaluated once per evaluation of ``node``: a collection method's body is charged per item."""
    if not isinstance(node, Tree):
        return 0
    if node.data == "method":
        return 1 + direct_cost(node.children[0])
    return 1 + sum(direct_cost(child) for child in node.children)


class _Compiler:
    """Turns a lark tree into closures. One instance per compilation."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str, node: Tree | Token) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, self.source, position(node))

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
        return _constant(Decimal(str(node.children[0]).replace("_", "")))

    def _string(self, node: Tree, depth: int) -> Evaluator:
        return _constant(unescape(str(node.children[0])[1:-1]))

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
            constants = tuple(item.constant for item in items)  # type: ignore[attr-defined]

            def constant_array(v: Mapping[str, Any]) -> list[Any]:
                return list(constants)

            constant_array.items = constants  # type: ignore[attr-defined]
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
                key = _constant(unescape(str(key_node)[1:-1]))
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
                    raise ExpressionRuntimeError(f"A hash key must be a string or a number, got {describe(k)}")
                result[k] = value(v)
            return result

        return hash_

    # names

    def _var(self, node: Tree, depth: int) -> Evaluator:
        token = node.children[0]
        name = self.check_name(token, "name")
        if name in KEYWORDS:
            raise self.error(f"Unexpected keyword {name!r}", token)
        where = position(token)

        def var(v: Mapping[str, Any]) -> Any:
            try:
                return v[name]
            except KeyError:
                raise ExpressionRuntimeError(f"Unknown variable {name!r}", where) from None

        return var

    def _attr(self, node: Tree, depth: int) -> Evaluator:
        target_node, name_token = node.children
        name = self.check_name(name_token, "attribute")
        target = self.build(target_node, depth)
        what = self.text(target_node)
        where = position(name_token)

        def attr(v: Mapping[str, Any]) -> Any:
            obj = target(v)
            t = type(obj)
            if t is Obj or t is MoneyObj:
                try:
                    value = obj._fields[name]
                except KeyError:
                    pass
                else:
                    return value.get() if type(value) is Lazy else value
            return _get_field(obj, name, what, where)

        return attr

    def _index(self, node: Tree, depth: int) -> Evaluator:
        target_node, key_node = node.children
        target = self.build(target_node, depth)
        key = self.build(key_node, depth)
        constant_key = getattr(key, "constant", None)
        if isinstance(constant_key, str) and constant_key.startswith("_"):
            raise self.error(f"Forbidden key {constant_key!r}: names starting with '_' are not accessible", key_node)
        what = self.text(target_node)
        where = position(key_node)

        def index(v: Mapping[str, Any]) -> Any:
            return _get_item(target(v), key(v), what, where)

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
        collection = collection_name(target_node)
        if collection is None:
            raise self.error(
                f"Cannot name the items of {self.text(target_node)!r}: call {name}() on a named collection "
                "such as lineItems",
                name_token,
            )
        target = self.build(target_node, depth)
        body = self.build(args[0], depth)
        body_cost = direct_cost(args[0])
        item = item_name(collection)
        what = self.text(target_node)
        where = position(name_token)

        def passes(v: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
            """The scope of each pass through the collection, each charged to the evaluation's budget."""
            budget = v[_BUDGET]
            scope = dict(v)
            for element in iterate(target(v), what, where):
                budget[0] -= body_cost
                if budget[0] < 0:
                    raise _exhausted()
                scope[item] = element
                yield scope

        if method == "all":
            return lambda v: all(truthy(body(scope)) for scope in passes(v))
        if method == "any":
            return lambda v: any(truthy(body(scope)) for scope in passes(v))

        def sum_(v: Mapping[str, Any]) -> Decimal:
            total = ZERO
            for scope in passes(v):
                value = body(scope)
                if type(value) is Decimal:
                    total += value
                elif is_number(value) or (type(value) is str and values.numeric_string(value) is not None):
                    total += operand(value, "sum")
                else:  # the reference refuses to sum anything that is_numeric() refuses
                    raise ExpressionRuntimeError(f"sum() needs numbers, got {describe(value)}", where)
            return total

        return sum_

    def _func(self, node: Tree, depth: int) -> Evaluator:
        name_token, arguments = node.children
        name = self.check_name(name_token, "function")
        if name not in FUNCTIONS:
            raise self.error(f"The function {name!r} does not exist; available: count()", name_token)
        args = [child for child in arguments.children if child is not None] if arguments else []
        if len(args) != 1:
            raise self.error(f"Function {name}() takes exactly one argument", name_token)
        argument = self.build(args[0], depth)
        where = position(name_token)

        def count(v: Mapping[str, Any]) -> int:
            value = argument(v)
            t = type(value)
            if t is list or t is tuple or t is range or t is dict:
                return len(value)
            raise ExpressionRuntimeError(f"count() needs an array, got {describe(value)}", where)

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
                if x is True or (x is not False and truthy(x)):
                    return True
                y = b(v)
                return y is True or (y is not False and truthy(y))

            return or2
        return lambda v: any(truthy(operand(v)) for operand in operands)

    def _and_op(self, node: Tree, depth: int) -> Evaluator:
        operands = self._flatten(node, depth)
        if len(operands) == 2:
            a, b = operands

            def and2(v: Mapping[str, Any]) -> bool:
                x = a(v)
                if x is not True and (x is False or not truthy(x)):
                    return False
                y = b(v)
                return y is True or (y is not False and truthy(y))

            return and2
        return lambda v: all(truthy(operand(v)) for operand in operands)

    def _not_op(self, node: Tree, depth: int) -> Evaluator:
        operand = self.build(node.children[-1], depth)
        return lambda v: not truthy(operand(v))

    def _ternary(self, node: Tree, depth: int) -> Evaluator:
        condition, if_true, if_false = (self.build(child, depth) for child in node.children)
        return lambda v: if_true(v) if truthy(condition(v)) else if_false(v)

    def _ternary_short(self, node: Tree, depth: int) -> Evaluator:
        condition, if_true = (self.build(child, depth) for child in node.children)
        return lambda v: if_true(v) if truthy(condition(v)) else None  # Symfony: `a ? b` is `a ? b : null`

    def _elvis(self, node: Tree, depth: int) -> Evaluator:
        condition, if_false = (self.build(child, depth) for child in node.children)

        def elvis(v: Mapping[str, Any]) -> Any:
            value = condition(v)
            return value if truthy(value) else if_false(v)

        return elvis

    # comparison

    def _compare(self, node: Tree, depth: int) -> Evaluator:
        left_node, op_token, right_node = node.children
        op = " ".join(str(op_token).split())
        left = self.build(left_node, depth)
        right = self.build(right_node, depth)
        if op in ("=", "==="):
            return _equality(left, right)
        if op in ("!=", "!=="):
            equal = _equality(left, right)
            return lambda v: not equal(v)
        if op == "==":
            return _charged(loose_eq, left, right)
        if op in _ORDERING:
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

            def membership(v: Mapping[str, Any]) -> bool:
                container = right(v)
                item = left(v)
                if type(container) is not range:  # a range tests membership without being built
                    _charge_sizes(v, container, item)
                return values.contains(container, item) is not negate

            return membership
        if op == "matches":
            return self.matches(left, right, right_node)
        return _string_test(op, left, right)

    def matches(self, left: Evaluator, right: Evaluator, right_node: Tree | Token) -> Evaluator:
        constant = getattr(right, "constant", None)
        if isinstance(constant, str):
            try:
                pattern = compile_pcre(constant)
            except RegexError as exc:
                raise self.error(str(exc), right_node) from None

            def matches_literal(v: Mapping[str, Any]) -> bool:
                subject = to_str(left(v), "matches")
                _charge(v, regex_steps(len(subject), pattern.size))
                return pattern.search(subject)

            return matches_literal

        def matches_dynamic(v: Mapping[str, Any]) -> bool:
            subject = to_str(left(v), "matches")
            source = right(v)
            if type(source) is not str:
                raise ExpressionRuntimeError(f"'matches' needs a regular expression string, got {describe(source)}")
            try:
                compiled = compile_pcre(source)
            except RegexError as exc:
                raise ExpressionRuntimeError(str(exc)) from None
            compiling = compiled.program * REGEX_COMPILE_STEPS_PER_INSTRUCTION
            _charge(v, compiling + regex_steps(len(subject), compiled.size))
            return compiled.search(subject)

        return matches_dynamic

    # arithmetic

    def _range_op(self, node: Tree, depth: int) -> Evaluator:
        low, high = (self.build(child, depth) for child in node.children)

        def range_(v: Mapping[str, Any]) -> range:
            start = to_int(low(v), "..")
            stop = to_int(high(v), "..")
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
        return self.arithmetic(node, depth, "|", lambda a, b: Decimal(to_int(a, "|") | to_int(b, "|")))

    def _bit_xor_op(self, node: Tree, depth: int) -> Evaluator:
        return self.arithmetic(node, depth, "^", lambda a, b: Decimal(to_int(a, "^") ^ to_int(b, "^")))

    def _bit_and_op(self, node: Tree, depth: int) -> Evaluator:
        return self.arithmetic(node, depth, "&", lambda a, b: Decimal(to_int(a, "&") & to_int(b, "&")))

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
            return fn(operand(a, op), operand(b, op))

        return arithmetic

    def _neg(self, node: Tree, depth: int) -> Evaluator:
        operand_ = self.build(node.children[0], depth)
        return lambda v: -operand(operand_(v), "-")

    def _pos(self, node: Tree, depth: int) -> Evaluator:
        operand_ = self.build(node.children[0], depth)
        return lambda v: +operand(operand_(v), "+")

    def _concat_op(self, node: Tree, depth: int) -> Evaluator:
        left, right = (self.build(child, depth) for child in node.children)

        def concat(v: Mapping[str, Any]) -> str:
            a = to_str(left(v), "~")
            b = to_str(right(v), "~")
            if len(a) + len(b) > MAX_STRING_LENGTH:
                raise ExpressionRuntimeError(f"String longer than {MAX_STRING_LENGTH} characters")
            return a + b

        return concat


def collection_name(node: Tree | Token) -> str | None:
    """The name a collection method derives its item variable from (``lineItems`` in ``a.lineItems.any()``)."""
    if isinstance(node, Tree):
        if node.data == "var":
            return str(node.children[0])
        if node.data == "attr":
            return str(node.children[1])
        if node.data == "index" and isinstance(node.children[1], Tree) and node.children[1].data == "string":
            return unescape(str(node.children[1].children[0])[1:-1]) or None
    return None


def size_steps(value: Any, limit: int = MAX_STEPS) -> int:
    """What comparing ``value`` costs beyond its one step: a step per ``STRING_CHARS_PER_STEP`` characters of a
    string, and one per element of an array, a range (PHP's range() is an array), a hash or an object, however
    deeply nested. Counting stops past ``limit``; values not loaded yet (``Lazy``) count as one."""
    t = type(value)
    if t is str:
        return len(value) // STRING_CHARS_PER_STEP
    if t is range:
        return len(value)
    if t is not list and t is not tuple and t is not dict and t is not Obj:
        return 0
    count = 0
    pending = [value]
    while pending and count <= limit:
        item = pending.pop()
        count += 1
        t = type(item)
        if t is list or t is tuple:
            pending.extend(item)
        elif t is dict:
            pending.extend(item.values())
        elif t is Obj:
            pending.extend(field._value if type(field) is Lazy else field for field in item._fields.values())
        elif t is range:
            count += len(item)
        elif t is str:
            count += len(item) // STRING_CHARS_PER_STEP
    return count


def _charge_sizes(v: Mapping[str, Any], a: Any, b: Any) -> None:
    remaining = v[_BUDGET][0]
    steps = size_steps(a, remaining) + size_steps(b, remaining)
    if steps:
        _charge(v, steps)


def regex_steps(subject_length: int, program_size: int) -> int:
    """The steps a match costs: RE2 is linear in the subject, but each character can visit every instruction."""
    return subject_length * program_size // REGEX_UNITS_PER_STEP


def _charge(v: Mapping[str, Any], steps: int) -> None:
    """Take ``steps`` from the evaluation's budget before doing work that costs more than one node."""
    budget = v[_BUDGET]
    budget[0] -= steps
    if budget[0] < 0:
        raise _exhausted()


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
                return bool(a == constant)
            return strict_eq(a, constant)  # anything else is compared in one step

        return equals_number
    return _charged(strict_eq, left, right)


def _charged(test: Callable[[Any, Any], bool], left: Evaluator, right: Evaluator) -> Evaluator:
    """``test`` on both sides, after charging what comparing them costs (arrays, ranges, long strings)."""

    def charged(v: Mapping[str, Any]) -> bool:
        a = left(v)
        b = right(v)
        _charge_sizes(v, a, b)
        return test(a, b)

    return charged


_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _ordering(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    test = _ORDERING[op]

    def ordering(v: Mapping[str, Any]) -> bool:
        a = left(v)
        b = right(v)
        ta = type(a)
        tb = type(b)
        if ta is MoneyObj and (tb is Decimal or tb is int):
            a = a._fields["value"]
            ta = type(a)
        if (ta is Decimal or ta is int) and (tb is Decimal or tb is int):
            return test(a, b)
        _charge_sizes(v, a, b)
        result = compare(a, b, op)
        return result is not None and test(result, 0)

    return ordering


def _string_test(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    name = "starts with" if op.startswith("starts") else "ends with" if op.startswith("ends") else op

    def string_test(v: Mapping[str, Any]) -> bool:
        text = to_str(left(v), name)
        part = to_str(right(v), name)
        _charge_sizes(v, text, part)
        if op == "contains":
            return part in text
        return text.startswith(part) if name == "starts with" else text.endswith(part)

    return string_test


def _divide(a: Decimal | int, b: Decimal | int) -> Decimal:
    if b == 0:
        raise ExpressionRuntimeError("Division by zero")
    return CTX.divide(a, b)


def _modulo(a: Decimal | int, b: Decimal | int) -> Decimal:
    # PHP's % works on integers (operands truncated) and keeps the dividend's sign, like Decimal's %.
    divisor = to_int(Decimal(b).to_integral_value(rounding=decimal.ROUND_DOWN), "%")
    if divisor == 0:
        raise ExpressionRuntimeError("Modulo by zero")
    dividend = to_int(Decimal(a).to_integral_value(rounding=decimal.ROUND_DOWN), "%")
    return CTX.remainder(Decimal(dividend), Decimal(divisor))


def _power(a: Decimal | int, b: Decimal | int) -> Decimal:
    if abs(b) > MAX_EXPONENT:  # type: ignore[operator]
        raise ExpressionRuntimeError(f"Exponent {b} is larger than {MAX_EXPONENT}")
    if a == 0 and b < 0:
        raise ExpressionRuntimeError("Division by zero")
    return CTX.power(Decimal(a), Decimal(b))


def _get_field(obj: Any, name: str, what: str, where: int) -> Any:
    t = type(obj)
    if t is Obj or t is MoneyObj:
        raise ExpressionRuntimeError(f"{what} has no attribute {name!r}", where)
    if t is dict:
        if name in obj:
            return obj[name]
        raise ExpressionRuntimeError(f"{what} has no key {name!r}", where)
    if obj is None:
        raise ExpressionRuntimeError(f"Cannot read attribute {name!r} of null ({what} is null)", where)
    raise ExpressionRuntimeError(f"Cannot read attribute {name!r} of {what}: it is {describe(obj)}", where)


def _get_item(obj: Any, key: Any, what: str, where: int) -> Any:
    t = type(obj)
    if t is Obj or t is MoneyObj:
        if type(key) is not str or key.startswith("_"):
            raise ExpressionRuntimeError(f"Invalid key {key!r} for {what}", where)
        if key not in obj._fields:
            return _get_field(obj, key, what, where)
        value = obj._fields[key]
        return value.get() if type(value) is Lazy else value
    if t is list or t is tuple or t is range:
        if type(key) is str or type(key) is bool or not is_number(key):
            raise ExpressionRuntimeError(f"An index of {what} must be a number, got {describe(key)}", where)
        index = to_int(key, "[]")
        return obj[index] if 0 <= index < len(obj) else None
    if t is dict:
        if type(key) is str and key.startswith("_"):
            raise ExpressionRuntimeError(f"Invalid key {key!r} for {what}", where)
        try:
            return obj.get(key)
        except TypeError:
            raise ExpressionRuntimeError(f"Invalid key for {what}", where) from None
    if obj is None:
        raise ExpressionRuntimeError(f"Cannot read an element of null ({what} is null)", where)
    raise ExpressionRuntimeError(f"Cannot read an element of {what}: it is {describe(obj)}", where)
