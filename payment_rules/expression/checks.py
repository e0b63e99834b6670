"""What is checked when a rule is saved, beyond syntax: every variable and field exists (``schema``), country and
region codes compared with addresses are ISO 3166 codes, and the worst case on a large cart fits the budget.

A condition that passes can still fail on one checkout (a null customer user, a product without a weight); that
is a run-time error, and the rule is skipped and logged. What these checks catch would fail on every checkout,
or silently never match.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pycountry
from lark import Token, Tree

from payment_rules.expression import schema
from payment_rules.expression.errors import ExpressionSyntaxError
from payment_rules.expression.grammar import position, unescape
from payment_rules.expression.language import (
    MAX_RANGE_SIZE,
    MAX_STEPS,
    MAX_STRING_LENGTH,
    REGEX_COMPILE_STEPS_PER_INSTRUCTION,
    STRING_CHARS_PER_STEP,
    collection_name,
    compile_expression,
    item_name,
    regex_steps,
)
from payment_rules.expression.regex import MAX_POSITIONS, MAX_PROGRAM_SIZE, RegexError, compile_pcre
from payment_rules.expression.schema import Collection, Record, Scalar, Shape

#: items assumed for a collection whose size nothing tells (a hash, an unknown value)
DEFAULT_WORST_CASE = 100
#: characters assumed for a string whose origin nothing tells (an element of a hash literal)
UNKNOWN_STRING_LENGTH = 1_000
#: characters of a number turned into a string, at most
NUMBER_STRING_LENGTH = 40
_EQUALITY = frozenset({"=", "==", "===", "!=", "!=="})
_MEMBERSHIP = frozenset({"in", "not in"})
_ORDERING = frozenset({"<", ">", "<=", ">="})
_LOGIC = frozenset({"or_op", "and_op", "not_op", "compare"})
_ARITHMETIC = frozenset(
    {"add", "sub", "mul", "div", "mod", "pow", "neg", "pos", "bit_or_op", "bit_xor_op", "bit_and_op"}
)


@dataclass(frozen=True, slots=True)
class Report:
    """What validation learned about a condition: the steps it takes at most on a large cart."""

    worst_case_steps: int


def validate_expression(source: str) -> Report:
    """Raise :class:`ExpressionSyntaxError` unless ``source`` compiles and passes the checks of this module."""
    compiled = compile_expression(source)
    checker = _Checker(source)
    _, steps = checker.visit(compiled.tree, dict(schema.VARIABLES))
    if steps > MAX_STEPS:
        raise ExpressionSyntaxError(
            f"This condition could take up to {steps:,} steps on a large cart ({schema.LARGE_CART_LINES} lines, "
            f"{schema.WAREHOUSES} warehouses), more than the {MAX_STEPS:,} one condition may take: avoid "
            "nesting all(), any() or sum() over lineItems inside each other",
            source,
            checker.costliest,
        )
    return Report(worst_case_steps=steps)


class _Checker:
    """Walks the syntax tree with the shape of every name in scope, returning each node's shape and the most
    steps it can take."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.costliest = 0  # where the innermost collection method that alone exceeds the budget starts

    def error(self, message: str, node: Tree | Token) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, self.source, position(node))

    def text(self, node: Tree | Token) -> str:
        if isinstance(node, Token):
            return str(node)
        return self.source[node.meta.start_pos : node.meta.end_pos]

    def visit(self, node: Tree | Token | None, env: dict[str, Shape]) -> tuple[Shape, int]:
        if not isinstance(node, Tree):
            return schema.UNKNOWN, 0
        handler = getattr(self, "_" + node.data, None)
        if handler is not None:
            return handler(node, env)
        steps = 1
        for child in node.children:
            steps += self.visit(child, env)[1]
        if node.data in _LOGIC:
            return schema.BOOLEAN, steps
        if node.data in _ARITHMETIC:
            return schema.NUMBER, steps
        if node.data == "concat_op":
            return schema.STRING, steps
        return schema.UNKNOWN, steps

    def _number(self, node: Tree, env: dict[str, Shape]) -> tuple[Shape, int]:
        return schema.NUMBER, 1

    def _string(self, node: Tree, env: dict[str, Shape]) -> tuple[Shape, int]:
        return Scalar("string", length=len(unescape(str(node.children[0])[1:-1]))), 1

    def _array(self, node: Tree, env: dict[str, Shape]) -> tuple[Shape, int]:
        elements = [child for child in node.children[0].children if child is not None] if node.children[0] else []
        steps = 1
        weight = 0
        for element in elements:
            shape, element_steps = self.visit(element, env)
            steps += element_steps
            weight += 1 + _weight(shape)
        return Collection(schema.UNKNOWN, len(elements), weight=weight), steps

    def _range_op(self, node: Tree, env: dict[str, Shape]) -> tuple[Shape, int]:
        """PHP's range(): as many numbers as its bounds say, when they are written as numbers."""
        steps = 1
        bounds = []
        for child in node.children:
            steps += self.visit(child, env)[1]
            bounds.append(_integer_literal(child))
        size = MAX_RANGE_SIZE
        if bounds[0] is not None and bounds[1] is not None:
            size = min(abs(bounds[1] - bounds[0]) + 1, MAX_RANGE_SIZE)
        return Collection(schema.NUMBER, size, weight=size), steps

    def _concat_op(self, node: Tree, env: dict[str, Shape]) -> tuple[Shape, int]:
        (left, left_steps), (right, right_steps) = (self.visit(child, env) for child in node.children)
        length = min(_length(left) + _length(right), MAX_STRING_LENGTH)
        return Scalar("string", length=length), 1 + left_steps + right_steps

    def _var(self, node: Tree, env: dict[str, Shape]) -> tuple[Shape, int]:
        token = node.children[0]
        name = str(token)
        if name in env:
            return env[name], 1
        if name in schema.UNSUPPORTED_VARIABLES:
            raise self.error(
                f"Variable {name!r} is not available to payment rules: {schema.UNSUPPORTED_VARIABLES[name]}", token
            )
        raise self.error(f"Unknown variable {name!r}; the variables are: {', '.join(env)}", token)

    def _attr(self, node: Tree, env: dict[str, Shape]) -> tuple[Shape, int]:
        target_node, name_token = node.children
        shape, steps = self.visit(target_node, env)
        return self.field(shape, str(name_token), target_node, name_token), steps + 1

    def field(self, shape: Shape, name: str, target: Tree | Token, at: Tree | Token) -> Shape:
        what = self.text(target)
        if isinstance(shape, Record):
            if name in shape.fields:
                return shape.fields[name]
            if name in shape.unsupported:
                raise self.error(f"{what}.{name} is not supported: {shape.unsupported[name]}", at)
            raise self.error(f"{what} has no field {name!r}; its fields are: {', '.join(shape.fields)}", at)
        if isinstance(shape, Collection):
            raise self.error(
                f"{what} is a list: read its items with {what}.any(…), {what}.all(…), {what}.sum(…), "
                f"count({what}) or {what}[0].{name}",
                at,
            )
        if isinstance(shape, Scalar):
            raise self.error(f"{what} is a {shape.kind}; it has no field {name!r}", at)
        return schema.UNKNOWN

    def _index(self, node: Tree, env: dict[str, Shape]) -> tuple[Shape, int]:
        target_node, key_node = node.children
        shape, steps = self.visit(target_node, env)
        _, key_steps = self.visit(key_node, env)
        steps += key_steps + 1
        if isinstance(shape, Collection):
            return shape.item, steps
        if isinstance(shape, Record) and isinstance(key_node, Tree) and key_node.data == "string":
            return self.field(shape, unescape(str(key_node.children[0])[1:-1]), target_node, key_node), steps
        if isinstance(shape, Scalar):
            raise self.error(f"{self.text(target_node)} is a {shape.kind}; it has no elements", key_node)
        return schema.UNKNOWN, steps

    def _method(self, node: Tree, env: dict[str, Shape]) -> tuple[Shape, int]:
        target_node, name_token, arguments = node.children
        shape, steps = self.visit(target_node, env)
        body_node = next(child for child in arguments.children if child is not None)
        if isinstance(shape, Collection):
            item, size = shape.item, shape.worst_case
        elif isinstance(shape, Record | Scalar):
            raise self.error(
                f"{self.text(target_node)} is not a list; {name_token}() goes through lists such as lineItems",
                name_token,
            )
        else:
            item, size = schema.UNKNOWN, DEFAULT_WORST_CASE
        name = collection_name(target_node) or ""
        _, body_steps = self.visit(body_node, {**env, item_name(name): item})
        steps += 1 + size * body_steps
        if steps > MAX_STEPS and not self.costliest:
            self.costliest = position(name_token)
        return (schema.NUMBER if str(name_token).lower() == "sum" else schema.BOOLEAN), steps

    def _func(self, node: Tree, env: dict[str, Shape]) -> tuple[Shape, int]:
        name_token, arguments = node.children
        steps = 1
        for argument in arguments.children if arguments else ():
            shape, argument_steps = self.visit(argument, env)
            steps += argument_steps
            if isinstance(shape, Record | Scalar):
                raise self.error(f"count() needs a list; {self.text(argument)} is not one", argument)
        return schema.NUMBER, steps

    def _compare(self, node: Tree, env: dict[str, Shape]) -> tuple[Shape, int]:
        left_node, op_token, right_node = node.children
        op = " ".join(str(op_token).split())
        left, left_steps = self.visit(left_node, env)
        right, right_steps = self.visit(right_node, env)
        steps = 1 + left_steps + right_steps
        if op == "matches":
            steps += self.matching_steps(left, right_node)
        elif op in _MEMBERSHIP:
            # a range tests membership without being built; an array compares the item with each element
            steps += _size_steps(left) + (0 if _is_range(right_node) else _size_steps(right))
        else:  # equality, ordering and the string tests compare element by element, character by character
            steps += _size_steps(left) + _size_steps(right)
        if op in _EQUALITY or op in _MEMBERSHIP:
            for shape, other in ((left, right_node), (right, left_node)):
                if isinstance(shape, Scalar) and shape.code:
                    for literal in _string_literals(other):
                        self.check_code(shape.code, literal, other)
        if op in _MEMBERSHIP and isinstance(right, Scalar):
            raise self.error(
                f"'{op}' needs a list on its right; {self.text(right_node)} is a {right.kind} "
                "(to look inside a string, use matches)",
                right_node,
            )
        return schema.BOOLEAN, steps

    def matching_steps(self, subject: Shape, pattern_node: Tree | Token) -> int:
        """What ``subject matches pattern`` costs at most: a literal pattern by its compiled size, one built at
        run time as the largest allowed, compiled on every evaluation."""
        if isinstance(pattern_node, Tree) and pattern_node.data == "string":
            try:
                size = compile_pcre(unescape(str(pattern_node.children[0])[1:-1])).size
            except RegexError as exc:  # compiling the expression refused it already; kept for a clear message
                raise self.error(str(exc), pattern_node) from None
            return regex_steps(_length(subject), size)
        compiling = MAX_PROGRAM_SIZE * REGEX_COMPILE_STEPS_PER_INSTRUCTION
        return compiling + regex_steps(_length(subject), MAX_POSITIONS)

    def check_code(self, code: str, literal: str, node: Tree) -> None:
        if not literal:
            return
        problem = _code_problem(code, literal)
        if problem:
            raise self.error(problem, node)


def _weight(shape: Shape) -> int:
    """The elements of a value of this shape, however deeply nested (a record counts its fields)."""
    if isinstance(shape, Collection):
        return shape.weight if shape.weight is not None else shape.worst_case * (1 + _weight(shape.item))
    if isinstance(shape, Record):
        return sum(1 + _weight(field) for field in shape.fields.values())
    return 0


def _size_steps(shape: Shape) -> int:
    """What comparing a value of this shape costs beyond its one step (``language.size_steps`` at run time)."""
    if isinstance(shape, Scalar):
        return _length(shape) // STRING_CHARS_PER_STEP if shape.kind == "string" else 0
    return _weight(shape)


def _is_range(node: Tree | Token) -> bool:
    return isinstance(node, Tree) and node.data == "range_op"


def _integer_literal(node: Tree | Token) -> int | None:
    """The value of a number written as an integer literal (``5``, ``-5``), else None."""
    sign = 1
    while isinstance(node, Tree) and node.data in ("neg", "pos"):
        sign = -sign if node.data == "neg" else sign
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "number":
        text = str(node.children[0]).replace("_", "")
        if text.isdigit() and len(text) <= 18:  # larger bounds are refused at run time anyway
            return sign * int(text)
    return None


def _length(shape: Shape) -> int:
    """The most characters ``shape`` has as a string."""
    if isinstance(shape, Scalar):
        if shape.kind == "string":
            return shape.length or schema.DATA_STRING_LENGTH
        return NUMBER_STRING_LENGTH if shape.kind == "number" else 1
    if isinstance(shape, schema.Unknown):
        return UNKNOWN_STRING_LENGTH
    return 0  # a list or a record is no string: the match fails at run time


def _string_literals(node: Tree | Token) -> list[str]:
    if isinstance(node, Tree) and node.data == "string":
        return [unescape(str(node.children[0])[1:-1])]
    if isinstance(node, Tree) and node.data == "array" and node.children[0] is not None:
        return [literal for child in node.children[0].children for literal in _string_literals(child)]
    return []


def _code_problem(code: str, literal: str) -> str:
    """Why ``literal`` cannot be the ISO 3166 code ``code`` stands for, or ''."""
    if code == "iso2":
        if _country(alpha_2=literal) is not None:
            return ""
        if _country(alpha_2=literal.upper()) is not None:
            return f"Country codes are upper case: {literal.upper()!r}, not {literal!r}"
        hint = " (the United Kingdom is 'GB')" if literal.upper() == "UK" else ""
        return f"{literal!r} is not an ISO 3166-1 alpha-2 country code{hint}"
    if code == "iso3":
        if _country(alpha_3=literal) is not None:
            return ""
        if _country(alpha_3=literal.upper()) is not None:
            return f"Country codes are upper case: {literal.upper()!r}, not {literal!r}"
        return f"{literal!r} is not an ISO 3166-1 alpha-3 country code"
    if literal in _region_codes():
        return ""
    if literal.upper() in _region_codes():
        return f"Region codes are upper case: {literal.upper()!r}, not {literal!r}"
    own = literal.split("-", 1)[1] if "-" in literal else ""
    if pycountry.subdivisions.get(code=literal.upper()) is not None and own:
        return f"regionCode holds the region's own code: {own.upper()!r}, not {literal!r}"
    return f"{literal!r} is not the code of an ISO 3166-2 region (for New York, regionCode is 'NY')"


def _country(**code: str) -> Any:
    """The ISO 3166-1 country with exactly this code (pycountry's own lookup ignores case), or None."""
    ((kind, value),) = code.items()
    if value in ("XK", "XKX"):  # Kosovo: customary, not in ISO 3166
        return True
    country = pycountry.countries.get(**code)  # type: ignore[arg-type]
    return country if country is not None and getattr(country, kind) == value else None


@functools.lru_cache(maxsize=1)
def _region_codes() -> frozenset[str]:
    """The regions' own codes, as the reference's regionCode holds them: 'NY' of US-NY, 'BY' of DE-BY."""
    return frozenset(subdivision.code.split("-", 1)[1] for subdivision in pycountry.subdivisions)
