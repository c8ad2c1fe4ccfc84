"""One hierarchy of errors for the whole engine.

Every error a user can cause derives from :class:`StressLabError`; its message says what to fix.
:class:`ValidationError` carries every offending row, column, value and rule at once, so a user
fixes a file in one pass instead of one error at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "StressLabError",
    "InputError",
    "ValidationError",
    "Issue",
    "ScenarioError",
    "NotFoundError",
    "StoreError",
    "StoreBusyError",
    "AuthenticationError",
    "PermissionDeniedError",
    "from_pydantic",
]


class StressLabError(Exception):
    """Base class of every error the engine raises on purpose."""


class InputError(StressLabError):
    """Bad input from a user: a file, a parameter or a configuration. CLI exit status 2."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One offending cell: where it is, what it holds and which rule it breaks.

    ``row`` is 1-based as a user counts data rows in a file (the header is not counted);
    ``None`` for an issue that concerns the whole file or a whole column. ``column`` names a
    table's column, or for a JSON document or a request the dotted path of a field
    (``credit_crisis.market_factors.default_multiplier``); ``where`` says which, for messages.
    """

    row: int | None
    column: str | None
    value: Any
    rule: str
    where: str = "column"

    def as_dict(self) -> dict[str, Any]:
        value = self.value
        if value is not None and not isinstance(value, (str, int, float, bool)):
            value = str(value)
        return {"row": self.row, "column": self.column, "value": value, "rule": self.rule}

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"{self.where} {self.column!r}")
        loc = ", ".join(where) or "file"
        shown = "" if self.value is None else f" (value {self.value!r})"
        return f"{loc}{shown}: {self.rule}"


class ValidationError(InputError):
    """Every problem found in one input, collected into one error.

    Parameters
    ----------
    issues : list of Issue
        Every offending row and field, in file order.
    subject : str
        What was validated ("pool file loans.csv", "scenario 'my_shock'").
    """

    MAX_SHOWN = 20

    def __init__(self, issues: list[Issue], *, subject: str = "input") -> None:
        if not issues:
            raise ValueError("ValidationError needs at least one issue")
        self.issues = list(issues)
        self.subject = subject
        head = "\n".join(f"  - {i}" for i in self.issues[: self.MAX_SHOWN])
        more = len(self.issues) - self.MAX_SHOWN
        tail = f"\n  … and {more} more" if more > 0 else ""
        n = len(self.issues)
        super().__init__(
            f"{subject}: {n} problem{'s' if n != 1 else ''} found; nothing was stored. "
            f"Fix these and try again:\n{head}{tail}"
        )

    def to_records(self) -> list[dict[str, Any]]:
        """The issues as rows (row, column, value, rule) for a table or JSON."""
        return [i.as_dict() for i in self.issues]


class ScenarioError(InputError):
    """A scenario that does not exist, or a market factor outside its valid range."""


class NotFoundError(InputError):
    """A stored object (pool, run, scenario) that is not in the store."""


class AuthenticationError(StressLabError):
    """No credential, or one that is unknown, revoked or expired (HTTP 401)."""


class PermissionDeniedError(StressLabError):
    """A known user whose role does not allow the action (HTTP 403).

    Attributes
    ----------
    user, role : str
        Who asked, and the role they hold.
    allowed : tuple of str
        The roles that may do it.
    """

    def __init__(self, message: str, *, user: str, role: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.user = user
        self.role = role
        self.allowed = allowed


class StoreError(StressLabError):
    """The DuckDB store could not be opened or written. CLI exit status 1."""


class StoreBusyError(StoreError):
    """Another process (or thread) held the store for longer than the wait allowed.

    Attributes
    ----------
    path : str
        The store's file.
    waited : float
        Seconds this caller waited, s.
    holders : list of dict
        Who held the store when the wait ran out: ``pid``, ``mode`` ("read" or "write"),
        ``command`` and ``held_for`` (seconds).
    """

    def __init__(self, message: str, *, path: str, waited: float,
                 holders: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.path = path
        self.waited = waited
        self.holders = holders


def from_pydantic(exc: Any, *, subject: str) -> ValidationError:
    """A pydantic ``ValidationError`` as the engine's :class:`ValidationError`.

    Each pydantic error becomes one :class:`Issue`: the field path (dotted, list indices
    included; ``where="field"``), the offending input as the value and pydantic's message as the rule. A
    location that starts with an integer (a list of records) gives the 1-based row.
    """
    issues = []
    for err in exc.errors(include_url=False):
        loc = list(err.get("loc", ()))
        row = None
        if loc and isinstance(loc[0], int):
            row = loc.pop(0) + 1
        column = ".".join(str(p) for p in loc) or None
        value = err.get("input")
        if isinstance(value, (dict, list)):
            value = None if column is None else str(value)[:200]
        issues.append(Issue(row=row, column=column, value=value, rule=str(err.get("msg", "")),
                            where="field"))
    return ValidationError(issues, subject=subject)
