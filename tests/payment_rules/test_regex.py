"""`matches` runs on RE2: linear in the subject whatever the pattern, PCRE literals kept as the reference writes
them, and what RE2 cannot express refused at save with the reason (issue 14, item 1)."""

from __future__ import annotations

import pytest

from payment_rules.expression import MAX_STEPS, ExpressionRuntimeError, ExpressionSyntaxError, compile_expression
from payment_rules.expression.language import regex_steps
from payment_rules.expression.regex import compile_pcre

LONG = 10_000

SLOW_PATTERNS = [
    # an everyday pattern for a street: 3.2 s on a 200-character street with a backtracking engine
    (r"/^\\w+\\s?\\w+\\s?\\w+\\s?\\w+$/", "a" * LONG + "!", False),
    (r"/^\\w+\\s?\\w+\\s?\\w+\\s?\\w+$/", "Industrial Way " * 3 + "5", False),
    (r"/^\\w+\\s?\\w+\\s?\\w+\\s?\\w+$/", "Main Street North 5", True),
    # seconds on 25 characters with a backtracking engine
    ("/(a?){25}a{25}/", "a" * 25, True),
    ("/(a?){25}a{25}/", "a" * LONG, True),
    ("/^(a?){25}a{25}$/", "a" * 24, False),
    # the x modifier and an inline (?x) hid the nested repetition from the old check
    ("/ ( a+ )+ $ /x", "a" * LONG + "!", False),
    ("/(?x) ( a+ )+ $/", "a" * LONG + "!", False),
    ("/(?x) ( a+ )+ $/", "a" * LONG, True),
]


@pytest.mark.parametrize(("pattern", "subject", "expected"), SLOW_PATTERNS)
def test_slow_patterns_run_in_linear_time_on_re2(pattern: str, subject: str, expected: bool) -> None:
    compiled = compile_expression(f"street matches '{pattern}'")
    value, steps = compiled.measure({"street": subject})
    assert value is expected
    # linear: the subject's length times the pattern's compiled size, on top of the expression's own three nodes
    compiled_pattern = compile_pcre(pattern.replace("\\\\", "\\"))
    assert steps == compiled.cost + regex_steps(len(subject), compiled_pattern.size)
    assert steps < MAX_STEPS
    assert compiled_pattern.engine == "re2"


def test_a_pattern_from_a_variable_runs_on_re2_too() -> None:
    compiled = compile_expression("street matches pattern")
    assert compiled.evaluate({"street": "a" * LONG + "!", "pattern": "/^(a+)+$/"}) is False
    assert compiled.evaluate({"street": "a" * LONG, "pattern": "/^(a|aa)+$/"}) is True


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        ("/(a)\\\\1/", "back-references \\1"),
        ("/(?<x>a)\\\\k<x>/", "back-references \\k"),
        ("/(?P<x>a)(?P=x)/", "back-references (?P=name)"),
        ("/foo(?=bar)/", "look-ahead (?=…)"),
        ("/foo(?!bar)/", "negative look-ahead (?!…)"),
        ("/(?<=@)example/", "look-behind (?<=…)"),
        ("/(?<!@)example/", "negative look-behind (?<!…)"),
        ("/(?>a+)b/", "atomic groups (?>…)"),
        ("/a++b/", "possessive quantifiers"),
        ("/(a|b(?R))/", "recursion (?R)"),
        ("/a(?x: b)/", "the inline option (?x) inside the pattern"),
    ],
)
def test_what_re2_cannot_express_is_refused_at_save_with_the_reason(pattern: str, construct: str) -> None:
    source = f"customer.name matches '{pattern}'"
    with pytest.raises(ExpressionSyntaxError) as error:
        compile_expression(source)
    assert construct in error.value.reason
    assert "linear-time" in error.value.reason
    assert error.value.position == source.index("'")


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("/^acme/i", "ACME Industrial", True),
        ("#industrial$#i", "ACME Industrial", True),
        ("{^ACME}", "ACME Industrial", True),
        ("/^b$/m", "a\nb", True),
        ("/a.b/s", "a\nb", True),
        ("/a.b/", "a\nb", False),
        ("/a b # a comment\n c/x", "abc", True),
        ("/(?i)^acme/", "acme", True),
        ("/^(?<year>\\\\d{4})-(?\\'month\\'\\\\d{2})$/", "2026-11", True),
        # PCRE's $ (and \Z) also match before a final newline; \z and the D modifier do not
        ("/END$/", "THE END\n", True),
        ("/END\\\\Z/", "THE END\n", True),
        ("/END\\\\z/", "THE END\n", False),
        ("/END$/D", "THE END\n", False),
        ("/END$/", "THE END\nX", False),
        ("/b/A", "ab", False),
        ("/a+?b/U", "aab", True),
        ("/\\\\h\\\\d/", "Suite\t5", True),
        ("/\\\\Qa.b\\\\E/", "axb", False),
        ("/[]x]/", "]", True),
        ("/straße/iu", "STRASSE", False),
        ("/STRASSE|straße/iu", "Straße", True),
    ],
)
def test_pcre_literals_keep_their_delimiters_and_modifiers(pattern: str, subject: str, expected: bool) -> None:
    assert compile_expression(f"s matches '{pattern}'").evaluate({"s": subject}) is expected


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("abc", "delimiter"),
        ("/abc", "ending delimiter"),
        ("/abc/Q", "Unsupported regular expression modifier 'Q'"),
        ("/(/", "Invalid regular expression: missing ): ("),
        ("/a{1001}/", "Invalid regular expression: invalid repetition size"),
        ("/" + "a" * 600 + "/", "longer than"),
    ],
)
def test_malformed_literals_are_refused_at_save(pattern: str, reason: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as error:
        compile_expression(f"name matches '{pattern}'")
    assert reason in error.value.reason


def test_a_malformed_pattern_from_a_variable_fails_only_its_rule() -> None:
    with pytest.raises(ExpressionRuntimeError, match="look-behind"):
        compile_expression("name matches pattern").evaluate({"name": "a", "pattern": "/(?<=a)b/"})
