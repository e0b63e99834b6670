"""The condition language's syntax: a lark LALR(1) grammar with one rule per level of Symfony's precedence
table, and readable error messages with the position of the mistake."""

from __future__ import annotations

import re
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from payment_rules.expression.errors import ExpressionSyntaxError

# --- grammar ------------------------------------------------------------------------------------------

_GRAMMAR = r"""
?start: expr

?expr: or_expr
    | or_expr "?" expr ":" expr          -> ternary
    | or_expr "?" ":" expr               -> elvis
    | or_expr "?" expr                   -> ternary_short

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

# `a ? b ? c : d` is a shift/reduce conflict that LALR resolves by shifting: a ? (b ? c : d), as the reference's
# parser reads it (the innermost `?` takes the `:`).

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
KEYWORDS = frozenset({"and", "or", "not", "in", "matches", "contains", "starts", "ends"})
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


def unescape(text: str) -> str:
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
        if previous is not None and previous.type == "NAME" and str(previous) in KEYWORDS:
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


def parse(source: str) -> Tree[Any]:
    """The syntax tree of ``source``. Raises :class:`ExpressionSyntaxError` with the position of the mistake."""
    try:
        return _PARSER.parse(source)
    except UnexpectedInput as exc:
        raise _syntax_error_from_lark(exc, source) from None


def position(node: Tree[Any] | Token) -> int:
    if isinstance(node, Token):
        return node.start_pos or 0
    return getattr(node.meta, "start_pos", 0) or 0
