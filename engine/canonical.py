"""The one canonical JSON of the engine: the same object always gives the same text.

Used for everything that is hashed, signed or compared byte for byte (audit records, cache keys,
evidence artifacts, stored configurations). The text has sorted keys, no insignificant white
space (or a fixed indent when asked), UTF-8 characters as they are (``ensure_ascii=False``) and
never ``NaN`` or ``Infinity``, which JSON (RFC 8259, section 6) does not allow.

Values are normalised before encoding: mappings get string keys, tuples become lists, dates and
datetimes become ISO 8601 text, numpy scalars become Python numbers, pydantic models become their
JSON-mode dump. A non-finite float becomes ``null`` or raises, as the caller chooses.

References
----------
RFC 8785, "JSON Canonicalization Scheme" (sorted keys, no white space); this helper follows its
spirit for the values StressLab stores, without its number serialisation rules.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any, Literal

from engine.errors import InputError

__all__ = ["canonical", "canonical_json", "canonical_bytes"]

NonFinite = Literal["null", "error"]


def canonical(obj: Any, *, digits: int | None = None, nonfinite: NonFinite = "null") -> Any:
    """``obj`` as plain JSON values (dict, list, str, int, float, bool, None).

    Parameters
    ----------
    obj : any
        Mappings, sequences, scalars, dates, numpy scalars or arrays, pydantic models.
    digits : int, optional
        Round every float to this many significant digits (so results computed on different
        machines or thread timings print the same). ``-0.0`` becomes ``0.0``.
    nonfinite : {"null", "error"}
        What a NaN or infinite float becomes: ``None``, or an :class:`InputError`.

    Raises
    ------
    InputError
        A non-finite float when ``nonfinite="error"``, or a value JSON cannot carry.
    """
    def walk(x: Any) -> Any:
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, int):
            return int(x)
        if isinstance(x, float):
            if not math.isfinite(x):
                if nonfinite == "error":
                    raise InputError(f"the value {x!r} is not a finite number; JSON cannot carry it")
                return None
            if digits is not None:
                x = float(f"{x:.{digits}g}")
                return 0.0 if x == 0 else x
            return x
        if isinstance(x, Mapping):
            return {str(k): walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        if isinstance(x, (datetime, date)):
            return x.isoformat()
        if isinstance(x, Enum):
            return walk(x.value)
        if isinstance(x, PurePath):
            return str(x)
        if hasattr(x, "model_dump") and callable(x.model_dump):  # a pydantic model
            return walk(x.model_dump(mode="json"))
        if hasattr(x, "tolist") and callable(x.tolist):  # numpy scalar or array
            return walk(x.tolist())
        raise InputError(f"a {type(x).__name__} is not JSON: {x!r}")

    return walk(obj)


def canonical_json(obj: Any, *, indent: int | None = None, digits: int | None = None,
                   nonfinite: NonFinite = "null") -> str:
    """The canonical JSON text of ``obj`` (see the module docstring).

    Parameters
    ----------
    obj : any
        As :func:`canonical`.
    indent : int, optional
        Pretty-print with this indent and end with a newline (for files people read); default
        compact, separators ``(",", ":")``, no final newline (for hashing and storage).
    digits, nonfinite
        As :func:`canonical`.
    """
    value = canonical(obj, digits=digits, nonfinite=nonfinite)
    if indent is None:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    return json.dumps(value, sort_keys=True, indent=indent, ensure_ascii=False,
                      allow_nan=False) + "\n"


def canonical_bytes(obj: Any, *, indent: int | None = None, digits: int | None = None,
                    nonfinite: NonFinite = "null") -> bytes:
    """:func:`canonical_json` encoded as UTF-8."""
    return canonical_json(obj, indent=indent, digits=digits, nonfinite=nonfinite).encode("utf-8")
