"""Where the bundled real data lives, from a checkout or an installed wheel.

The data sets under the repository's ``data/`` folder (each with its PROVENANCE.md) are copied
into the wheel as ``engine/_bundled/`` by ``setup.py`` (a ``build_py`` step), so an installed
StressLab finds them with :mod:`importlib.resources`. In a checkout (and an editable install) they
are read from ``data/`` itself. ``$STRESSLAB_DATA_DIR`` points elsewhere, for a site that keeps
its own copy.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from engine.errors import StoreError

__all__ = ["DATA_DIR_ENV", "data_dir", "data_file"]

#: The setting that overrides where bundled data is read from.
DATA_DIR_ENV = "STRESSLAB_DATA_DIR"


def data_dir() -> Path:
    """The folder holding the bundled data sets.

    In order: ``$STRESSLAB_DATA_DIR``; the copy inside an installed package
    (``engine/_bundled``); the ``data/`` folder of the checkout this module sits in.

    Raises
    ------
    StoreError
        If none of them exists (a broken installation).
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        path = Path(env)
        if not path.is_dir():
            raise StoreError(f"{DATA_DIR_ENV}={env!r} is not a folder")
        return path
    installed = Path(str(resources.files("engine").joinpath("_bundled")))
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parents[1] / "data"
    if checkout.is_dir():
        return checkout
    raise StoreError(
        "the bundled data is missing: reinstall StressLab, or set "
        f"{DATA_DIR_ENV} to a folder holding its data sets")


def data_file(*parts: str) -> Path:
    """A file of the bundled data, e.g. ``data_file("lendingclub_2018q1", "loans_full_schema.csv.gz")``.

    Raises
    ------
    StoreError
        If the file is not there.
    """
    path = data_dir().joinpath(*parts)
    if not path.exists():
        raise StoreError(f"bundled data file {'/'.join(parts)} is missing from {data_dir()}")
    return path
