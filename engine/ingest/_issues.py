"""Collecting validation issues column-wise.

Checks run as vectorized masks over a whole column; only the rows a mask flags become
:class:`~engine.errors.Issue` objects, so a clean million-row pool creates none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.errors import Issue

__all__ = ["IssueLog"]


def _plain(value: Any) -> Any:
    """A cell value as a plain Python scalar (None for a missing value)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


class IssueLog:
    """Every issue found in one tape, whatever step found it.

    Parameters
    ----------
    source_names : dict of str to str, optional
        Canonical column → the tape's own column name, so an issue names the column the user
        sees in the file.
    """

    def __init__(self, source_names: dict[str, str] | None = None) -> None:
        self.issues: list[Issue] = []
        self.source_names = dict(source_names or {})
        self._cells: dict[str, set[int]] = {}  # column -> rows already reported (one issue per cell)

    def name(self, column: str | None) -> str | None:
        if column is None:
            return None
        return self.source_names.get(column, column)

    def add(self, row: int | None, *, column: str | None, value: Any, rule: str) -> None:
        """Record one issue; ``row`` is the 1-based data row (None for file or column)."""
        if row is not None:
            seen = self._cells.setdefault(self.name(column) or "", set())
            if row in seen:
                return
            seen.add(row)
        self.issues.append(Issue(row=row, column=self.name(column), value=_plain(value), rule=rule))

    def add_mask(
        self,
        mask: pd.Series | np.ndarray,
        *,
        column: str,
        values: pd.Series,
        rule: str,
    ) -> int:
        """Record one issue per flagged row of a column (a cell already reported is skipped).

        Parameters
        ----------
        mask : bool Series or ndarray of shape (n_rows,)
            True where the row breaks ``rule``.
        column : str
            Canonical column name (reported under the tape's name).
        values : Series of shape (n_rows,)
            The values to report (usually the tape's raw values).
        rule : str
            What the value should be, phrased as an instruction.

        Returns
        -------
        int
            The number of issues added.
        """
        flagged = np.flatnonzero(np.asarray(mask, dtype=bool))
        if flagged.size == 0:
            return 0
        name = self.name(column)
        seen = self._cells.setdefault(name or "", set())
        if seen:
            flagged = np.array([i for i in flagged if int(i) + 1 not in seen], dtype=np.int64)
            if flagged.size == 0:
                return 0
        raw = values.to_numpy(dtype=object)[flagged]
        rows = [int(i) + 1 for i in flagged]
        seen.update(rows)
        self.issues.extend(
            Issue(row=r, column=name, value=_plain(v), rule=rule) for r, v in zip(rows, raw)
        )
        return len(rows)

    def sorted(self) -> list[Issue]:
        """Issues in file order: whole-file and whole-column issues first, then by row."""
        return sorted(
            self.issues, key=lambda i: (-1 if i.row is None else i.row)
        )

    def __bool__(self) -> bool:
        return bool(self.issues)

    def __len__(self) -> int:
        return len(self.issues)
