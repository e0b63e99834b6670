"""Counting the statements a piece of code sends to the database, transaction control included.

Round trips are what a request pays for on a remote database, so budgets count every one of them: the queries,
the savepoints (sent through the cursor) and each transaction's BEGIN and COMMIT or ROLLBACK (which the driver
sends without a cursor, so a query log never shows them). Used by the budget tests and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


@dataclass(repr=False)
class StatementLog:
    """What one block sent: each statement's SQL in order, and the transactions it opened and ended."""

    sql: list[str] = field(default_factory=list)
    transactions: int = 0

    @property
    def statements(self) -> int:
        """Every round trip: the statements, plus BEGIN and COMMIT/ROLLBACK for each transaction."""
        return len(self.sql) + 2 * self.transactions

    def __repr__(self) -> str:  # what a failed budget assertion shows: every statement, numbered
        lines = [f"{len(self.sql)} statements and {self.transactions} transactions ({self.statements} in all):"]
        return "\n".join([*lines, *(f"  {n:3d} {sql[:200]}" for n, sql in enumerate(self.sql, 1))])


@contextmanager
def count_statements(using: str = DEFAULT_DB_ALIAS) -> Iterator[StatementLog]:
    """Count what the block sends on this thread's connection `using`."""
    connection: Any = connections[using]  # its private _commit and _rollback are wrapped for the block
    log = StatementLog()

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        log.sql.append(sql)
        return execute(sql, params, many, context)

    def ending(end: Callable[[], None]) -> Callable[[], None]:
        def counted() -> None:
            if connection.connection is not None:
                log.transactions += 1
            end()

        return counted

    connection._commit = ending(connection._commit)
    connection._rollback = ending(connection._rollback)
    try:
        with connection.execute_wrapper(record):
            yield log
    finally:
        del connection._commit, connection._rollback
