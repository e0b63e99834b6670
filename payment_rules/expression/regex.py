"""``matches``: the reference's PCRE literals (``'/^ACME/i'``), run on RE2, whose matching time is linear in the
subject, so no pattern can stall a checkout however it is written.

The literal keeps PHP's form: any non-alphanumeric delimiter (``/…/``, ``#…#``, ``{…}``) and the modifiers ``i m s
x u`` plus ``A D U S X n``. PCRE constructs are translated where RE2 has an equivalent (``(?<name>…)``, ``\\Z``,
``$`` before a final newline, ``\\h``, ``\\v``, ``\\R``, ``\\e``, the ``x`` modifier's whitespace and comments, the
``A`` and ``D`` modifiers). What RE2 cannot express (back-references, look-ahead and look-behind, atomic groups,
possessive quantifiers, recursion, conditionals) is refused when the rule is saved, with the reason.

Linear means linear in the subject *times the size of the pattern*: when a pattern defeats RE2's DFA cache, its
fallback steps through every position of the pattern for every character. A counted repetition compiles to one
copy per count (``(\\w+\\s?){1000}`` is 7,000 positions, and took 0.35 s on 1,000 characters), so a pattern may
have at most ``MAX_POSITIONS`` positions, and every match is charged for subject length times positions. The
positions are the size of the program compiled for single bytes, where a Unicode class such as ``\\p{L}`` is one
position (for UTF-8 it is a thousand instructions, which cost no more per character, as measured).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import re2

MAX_PATTERN_LENGTH = 500
#: positions a pattern may have (see above); everyday patterns have under 100 (``/^\\d{5}(-\\d{4})?$/`` has 17)
MAX_POSITIONS = 2_000
#: instructions of the compiled UTF-8 program, which bound the memory and the time compiling takes
MAX_PROGRAM_SIZE = 30_000
_CLOSING_DELIMITERS = {"(": ")", "[": "]", "{": "}", "<": ">"}
#: PHP modifiers we honour; S, X and n change nothing for a yes/no match (a study hint, stricter escapes, no
#: capture)
MODIFIERS = "imsxuADUSXn"
_HORIZONTAL_SPACE = r"\t \x{A0}\x{1680}\x{180E}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}"
_VERTICAL_SPACE = r"\n\x0B\f\r\x{85}\x{2028}\x{2029}"
_SPACE = r"\t\n\x0B\f\r\x20"  # PCRE's \s: RE2's lacks the vertical tab
_UNICODE_SPACE = r"\p{Z}" + _HORIZONTAL_SPACE + _VERTICAL_SPACE
#: PHP's u modifier sets PCRE's UCP option: \w, \d, \s go by Unicode properties. Each escape's translation inside
#: a character class (None: not expressible there) and outside one.
_UNICODE_ESCAPES: dict[str, tuple[str | None, str]] = {
    "w": (r"\p{L}\p{N}_", r"[\p{L}\p{N}_]"),
    "W": (None, r"[^\p{L}\p{N}_]"),
    "d": (r"\p{Nd}", r"\p{Nd}"),
    "D": (r"\P{Nd}", r"\P{Nd}"),
    "s": (_UNICODE_SPACE, f"[{_UNICODE_SPACE}]"),
    "S": (None, f"[^{_UNICODE_SPACE}]"),
}
#: POSIX classes under UCP, as PCRE2 maps them (the others stay ASCII there too)
_UNICODE_POSIX = {
    "alpha": r"\p{L}",
    "digit": r"\p{Nd}",
    "alnum": r"\p{L}\p{N}",
    "lower": r"\p{Ll}",
    "upper": r"\p{Lu}",
    "word": r"\p{L}\p{N}_",
    "space": _UNICODE_SPACE,
    "blank": _HORIZONTAL_SPACE,
    "^alpha": r"\P{L}",
    "^digit": r"\P{Nd}",
    "^lower": r"\P{Ll}",
    "^upper": r"\P{Lu}",
}
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.never_capture = True  # a yes/no answer needs no submatches, which cost a second pass over the match
_BYTES = re2.Options()
_BYTES.log_errors = False
_BYTES.never_capture = True
_BYTES.encoding = re2.Options.Encoding.LATIN1
_WIDE_ESCAPE = re.compile(r"\\x\{0*[0-9A-Fa-f]{3,}\}")
_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]+)\)")


class RegexError(Exception):
    """A literal ``matches`` cannot run; the message says why, in the administrator's terms."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled literal: ``search`` says whether it matches anywhere in the subject."""

    literal: str
    translated: str
    compiled: re2._Regexp
    size: int  # positions of the pattern: what one character of subject can cost at most
    program: int  # instructions of the compiled program: what compiling it cost

    @property
    def engine(self) -> str:
        return type(self.compiled).__module__.split(".")[0]

    def search(self, subject: str) -> bool:
        return self.compiled.search(subject) is not None


@functools.lru_cache(maxsize=512)
def compile_pcre(literal: str) -> Pattern:
    """Compile a PCRE literal such as ``/^acme/i``. Raises :class:`RegexError` with a readable reason."""
    if len(literal) > MAX_PATTERN_LENGTH:
        raise RegexError(f"Regular expression longer than {MAX_PATTERN_LENGTH} characters")
    body, modifiers = _split(literal)
    flags = set(modifiers)
    leading = _INLINE_FLAGS.match(body)
    while leading and set(leading.group(1)) <= set("imsxU"):  # (?x) at the start works like the modifier
        flags |= set(leading.group(1))
        body = body[leading.end() :]
        leading = _INLINE_FLAGS.match(body)
    translated = _translate(
        body, extended="x" in flags, multiline="m" in flags, dollar_end_only="D" in flags, unicode="u" in flags
    )
    prefix = "".join(f"(?{flag})" for flag in "imsU" if flag in flags)
    if "A" in flags:
        translated = rf"\A(?:{translated})"
    try:
        compiled = re2.compile(prefix + translated, _OPTIONS)
    except re2.error as exc:
        reason = _re2_reason(exc)
        if "pattern too large" in reason:
            raise RegexError(
                "Regular expression too complex: it compiles to more than RE2 allows; replace large counted "
                "repetitions such as {1,500} or (…){50} with + or *"
            ) from None
        raise RegexError(f"Invalid regular expression: {reason}") from None
    program = max(compiled.programsize, compiled.reverseprogramsize)
    advice = "replace large counted repetitions such as {1,500} or (…){50} with + or *"
    if program > MAX_PROGRAM_SIZE:
        raise RegexError(
            f"Regular expression too complex: it compiles to {program:,} instructions, more than the "
            f"{MAX_PROGRAM_SIZE:,} a rule may use; {advice}"
        )
    size = _positions(prefix + translated, program)
    if size > MAX_POSITIONS:
        raise RegexError(
            f"Regular expression too complex: it has {size:,} positions, more than the {MAX_POSITIONS:,} a rule "
            f"may use; {advice}"
        )
    return Pattern(literal, prefix + translated, compiled, size, program)


def _positions(translated: str, program: int) -> int:
    """The pattern's positions: the size of its program for single bytes, where a character class is one
    instruction whatever its size. Code points above U+00FF only exist in the UTF-8 program; here they stand as
    U+00FF, which is one position as well."""
    narrow = _WIDE_ESCAPE.sub(r"\\x{FF}", translated)
    try:
        return re2.compile(narrow.encode("utf-8"), _BYTES).programsize
    except re2.error:  # cannot happen for what compiled as UTF-8; count every instruction then
        return program


def _split(literal: str) -> tuple[str, str]:
    stripped = literal.lstrip()
    if len(stripped) < 2:
        raise RegexError("Regular expression needs delimiters, e.g. '/^ACME/i'")
    opening = stripped[0]
    if opening.isalnum() or opening == "\\" or opening.isspace():
        raise RegexError("Regular expression delimiter must not be alphanumeric, a backslash or a space")
    closing = _CLOSING_DELIMITERS.get(opening, opening)
    end = stripped.rfind(closing)
    if end <= 0:
        raise RegexError(f"Regular expression has no ending delimiter {closing!r}")
    modifiers = stripped[end + 1 :].rstrip("\n")
    for modifier in modifiers:
        if modifier not in MODIFIERS:
            allowed = ", ".join(MODIFIERS)
            raise RegexError(f"Unsupported regular expression modifier {modifier!r} (allowed: {allowed})")
    return stripped[1:end], modifiers


_REFUSED_GROUPS = [
    ("(?=", "look-ahead (?=…)"),
    ("(?!", "negative look-ahead (?!…)"),
    ("(?<=", "look-behind (?<=…)"),
    ("(?<!", "negative look-behind (?<!…)"),
    ("(?>", "atomic groups (?>…)"),
    ("(?(", "conditional groups (?(…)…)"),
    ("(?R)", "recursion (?R)"),
    ("(?P=", "back-references (?P=name)"),
    ("(?P>", "recursion (?P>name)"),
    ("(?&", "recursion (?&name)"),
    ("(?|", "branch-reset groups (?|…)"),
    ("(?#", None),  # a comment: dropped below
    ("(*", "PCRE verbs and (*…) look-around"),
]
_REFUSED_ESCAPES = {
    "g": "back-references \\g",
    "k": "back-references \\k",
    "K": "\\K (reset match start)",
    "G": "\\G (first matching position)",
    "X": "\\X (extended grapheme)",
    "C": "\\C (single byte)",
}


def _refused(what: str) -> RegexError:
    return RegexError(
        f"Regular expression uses {what}, which the linear-time engine rules run on cannot express; "
        "rewrite it without (for instance with two conditions joined by 'and' / 'not')"
    )


def _translate(body: str, *, extended: bool, multiline: bool, dollar_end_only: bool, unicode: bool) -> str:  # noqa: C901
    """PCRE → RE2 syntax, refusing what RE2 lacks. Walks the pattern once, keeping track of character classes."""
    out: list[str] = []
    i, n = 0, len(body)
    in_class = False
    while i < n:
        c = body[i]
        if c == "\\":
            if i + 1 >= n:
                raise RegexError("Invalid regular expression: trailing backslash")
            nxt = body[i + 1]
            if nxt == "Q":  # \Q…\E is literal text: copied as it is
                end = body.find("\\E", i + 2)
                if end < 0:
                    out.append(body[i:] + "\\E")
                    i = n
                else:
                    out.append(body[i : end + 2])
                    i = end + 2
                continue
            if nxt.isdigit() and nxt != "0" and not in_class:
                raise _refused(f"back-references \\{nxt}")
            if nxt in _REFUSED_ESCAPES and not in_class:
                raise _refused(_REFUSED_ESCAPES[nxt])
            if unicode and nxt in _UNICODE_ESCAPES:
                inside, outside = _UNICODE_ESCAPES[nxt]
                if not in_class:
                    out.append(outside)
                elif inside is not None:
                    out.append(inside)
                else:
                    raise RegexError(
                        f"\\{nxt} inside a character class cannot be expressed with the u modifier (it means every "
                        "character that is not a Unicode letter, digit or space); write the class with \\p{…} "
                        "properties instead, e.g. [\\p{L}] for letters"
                    )
            elif nxt == "s":
                out.append(_SPACE if in_class else f"[{_SPACE}]")
            elif nxt == "S" and not in_class:
                out.append(f"[^{_SPACE}]")
            elif nxt == "Z" and not in_class:
                out.append(r"(?:\n?\z)")
            elif nxt == "h":
                out.append(_HORIZONTAL_SPACE if in_class else f"[{_HORIZONTAL_SPACE}]")
            elif nxt == "v":
                out.append(_VERTICAL_SPACE if in_class else f"[{_VERTICAL_SPACE}]")
            elif nxt == "H" and not in_class:
                out.append(f"[^{_HORIZONTAL_SPACE}]")
            elif nxt == "V" and not in_class:
                out.append(f"[^{_VERTICAL_SPACE}]")
            elif nxt == "R" and not in_class:
                out.append(rf"(?:\r\n|[{_VERTICAL_SPACE}])")
            elif nxt == "e":
                out.append(r"\x1B")
            elif nxt == " " or nxt == "#":
                out.append(r"\x20" if nxt == " " else r"\#")
            else:
                out.append(body[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "[" and body.startswith("[:", i):  # a POSIX class such as [:alpha:]
                end = body.find(":]", i + 2)
                if end > 0:
                    name = body[i + 2 : end]
                    out.append(_UNICODE_POSIX.get(name, body[i : end + 2]) if unicode else body[i : end + 2])
                    i = end + 2
                    continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and body[i] == "^":
                out.append("^")
                i += 1
            if i < n and body[i] == "]":  # a leading ] is literal
                out.append(r"\]")
                i += 1
            continue
        if extended and c.isspace():
            i += 1
            continue
        if extended and c == "#":
            end = body.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if c == "(" and body.startswith("(?", i):
            for opening, what in _REFUSED_GROUPS:
                if body.startswith(opening, i):
                    if what is None:  # (?#comment)
                        end = body.find(")", i)
                        i = n if end < 0 else end + 1
                        break
                    raise _refused(what)
            else:
                if re.match(r"\(\?[0-9+-]", body[i:]):
                    raise _refused("recursion (?1)")
                named = re.match(r"\(\?(?:P?<|')([A-Za-z_][A-Za-z0-9_]*)[>']", body[i:])
                if named:
                    out.append(f"(?P<{named.group(1)}>")
                    i += named.end()
                    continue
                flags = re.match(r"\(\?([a-zA-Z-]*)[:)]", body[i:])
                if flags and "x" in flags.group(1):
                    raise _refused("the inline option (?x) inside the pattern (use the /…/x modifier)")
                out.append("(?")
                i += 2
            continue
        if c in "*+?}" and i + 1 < n and body[i + 1] == "+":
            raise _refused("possessive quantifiers such as a++")
        if c == "$" and not multiline:
            out.append(r"\z" if dollar_end_only else r"(?:\n?\z)")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _re2_reason(exc: Exception) -> str:
    message = exc.args[0] if exc.args else str(exc)
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return str(message)
