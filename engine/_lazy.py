"""Lazy re-exports for the capability packages (PEP 562 module ``__getattr__`` and ``__dir__``).

A package lists its public names and the module each lives in; a name's module is imported on
first use, so ``import engine.credit`` stays cheap and ``stresslab --help`` starts fast.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package that re-exports ``names`` lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping of public name to module
        A full module path (``engine.credit.workflow``) or one relative to the package
        (``_data``).

    Returns
    -------
    (__getattr__, __dir__)
        Assign them in the package: ``__getattr__, __dir__ = lazy_exports(__name__, _LAZY)``.
        ``__getattr__`` raises AttributeError for a name not listed; a loaded name is cached in
        the package's namespace.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        path = module if module.startswith("engine.") else f"{package}.{module}"
        value = getattr(importlib.import_module(path), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
