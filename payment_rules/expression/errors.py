"""What can go wrong with a condition: it does not compile (refused at save) or it fails on one checkout (the rule
is skipped and logged, the checkout goes on)."""

from __future__ import annotations


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


class ExpressionBudgetExceeded(ExpressionRuntimeError):
    """The evaluation took more steps than one condition may take (see ``language.MAX_STEPS``)."""
