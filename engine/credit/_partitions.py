"""A pool's loan arrays as Parquet partitions that the workers of a distributed run read themselves.

A partition holds whole chunks of the local runner (:data:`~engine.credit._runner.CHUNK_SIZE`
loans each, :func:`~engine.credit._runner.chunk_bounds`), in the exact order the local runner
projects them (:meth:`LoanArrays.sorted_for_projection` for pool sums, the pool's own order for
loan-level runs), so a worker projects the very same chunks as the local executor and the
client can sum their tables in the same order.

A directory of partitions holds ``part-00000.parquet`` … and ``manifest.json``::

    {"format": "stresslab-loan-partitions/1", "n_assets", "chunk_size", "order",
     "pool_hash", "delinquent_cdr", "partitions": [{"file", "start", "stop", "chunks"}]}

``start``/``stop`` are loan positions in the run's order and ``chunks`` the chunk indices
``[first, last + 1)``. Paths are local paths or fsspec URLs (``s3://bucket/dir``, with the
matching fsspec filesystem installed); pyarrow writes and reads both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.fs  # noqa: F401 - pa.fs
import pyarrow.parquet as pq

from engine.credit._cashflows import LoanArrays
from engine.errors import InputError

__all__ = ["MANIFEST", "PartitionManifest", "partition_path", "read_manifest", "read_partition",
           "write_partitions"]

#: The manifest's file name inside a partition directory.
MANIFEST = "manifest.json"
_FORMAT = "stresslab-loan-partitions/1"
_FIELDS = tuple(LoanArrays.__dataclass_fields__)

Order = Literal["projection", "pool"]


@dataclass(frozen=True)
class PartitionManifest:
    """What a partition directory holds (its ``manifest.json``).

    Attributes
    ----------
    directory : str
        The directory (local path or fsspec URL).
    n_assets : int
        Loans in all partitions.
    chunk_size : int
        Loans per chunk; every partition boundary is a multiple of it.
    order : {"projection", "pool"}
        ``projection``: sorted by recovery lag then remaining term (pool-sum runs); ``pool``:
        the pool's own order (loan-level runs).
    pool_hash : str
        The content hash of the pool the arrays were built from.
    delinquent_cdr : dict of str to float
        The CDR floor applied to delinquent loans (annual, decimal), part of the arrays.
    partitions : list of dict
        ``{"file", "start", "stop", "chunks": [first, stop)}`` in order.
    """

    directory: str
    n_assets: int
    chunk_size: int
    order: Order
    pool_hash: str
    delinquent_cdr: dict[str, float]
    partitions: list[dict]

    def to_json(self) -> str:
        body = {"format": _FORMAT, "n_assets": self.n_assets, "chunk_size": self.chunk_size,
                "order": self.order, "pool_hash": self.pool_hash,
                "delinquent_cdr": dict(sorted(self.delinquent_cdr.items())),
                "partitions": self.partitions}
        return json.dumps(body, indent=2) + "\n"


def _join(directory: str, name: str) -> str:
    return f"{directory.rstrip('/')}/{name}" if "://" in directory else str(Path(directory) / name)


def partition_path(manifest: PartitionManifest, index: int) -> str:
    """The path (or URL) of partition ``index`` of ``manifest``."""
    return _join(manifest.directory, manifest.partitions[index]["file"])


def _filesystem(directory: str):
    """``(pyarrow filesystem or None, path)`` for a local path or an fsspec URL."""
    if "://" not in directory or directory.startswith("file://"):
        return None, directory.removeprefix("file://")
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec comes with the dask extra
        raise InputError(f"{directory!r} is a URL: reading it needs fsspec "
                         "(pip install 'stresslab[dask]' and the filesystem's package, e.g. "
                         "s3fs)") from None
    fs, path = fsspec.core.url_to_fs(directory)
    return pa.fs.PyFileSystem(pa.fs.FSSpecHandler(fs)), path


def write_partitions(
    loans: LoanArrays,
    *,
    directory: str | Path,
    n_partitions: int,
    chunk_size: int,
    order: Order,
    pool_hash: str,
    delinquent_cdr: Mapping[str, float],
) -> PartitionManifest:
    """Write ``loans`` (already in ``order``) as Parquet partitions of whole chunks, and a manifest.

    The ``n_chunks = ceil(n_assets / chunk_size)`` chunks are dealt out in order, as evenly as
    whole chunks allow: partition ``p`` holds chunks ``[p n_chunks // n, (p + 1) n_chunks // n)``
    with ``n = min(n_partitions, n_chunks)``.

    Parameters
    ----------
    loans : LoanArrays
        n_assets loans in the order the run projects them.
    directory : str or Path
        Created if missing (local); an fsspec URL is written through fsspec.
    n_partitions : int
        Partitions wanted, >= 1; fewer when the pool has fewer chunks.
    chunk_size : int
        The runner's chunk size (:data:`~engine.credit._runner.CHUNK_SIZE`).
    order : {"projection", "pool"}
    pool_hash : str
    delinquent_cdr : mapping of str to float

    Returns
    -------
    PartitionManifest

    Raises
    ------
    InputError
        If ``n_partitions < 1``, the pool is empty, or the directory already holds a manifest
        (partitions are never overwritten).
    """
    if n_partitions < 1:
        raise InputError(f"--partitions must be at least 1, not {n_partitions}")
    n = loans.n_assets
    if n == 0:
        raise InputError("an empty pool has nothing to partition")
    directory = str(directory)
    fs, root = _filesystem(directory)
    if fs is None:
        Path(root).mkdir(parents=True, exist_ok=True)
        exists = (Path(root) / MANIFEST).exists()
    else:
        fs.create_dir(root, recursive=True)
        exists = fs.get_file_info(_join(root, MANIFEST)).type != pa.fs.FileType.NotFound
    if exists:
        raise InputError(f"{directory!r} already holds partitions ({MANIFEST}); give an empty "
                         "directory")
    n_chunks = math.ceil(n / chunk_size)
    parts = min(n_partitions, n_chunks)
    entries = []
    for p in range(parts):
        c0, c1 = p * n_chunks // parts, (p + 1) * n_chunks // parts
        a, b = c0 * chunk_size, min(c1 * chunk_size, n)
        name = f"part-{p:05d}.parquet"
        table = pa.table({k: np.ascontiguousarray(getattr(loans, k)[a:b]) for k in _FIELDS})
        pq.write_table(table, _join(root, name), filesystem=fs)
        entries.append({"file": name, "start": a, "stop": b, "chunks": [c0, c1]})
    manifest = PartitionManifest(directory=directory, n_assets=n, chunk_size=chunk_size,
                                 order=order, pool_hash=pool_hash,
                                 delinquent_cdr=dict(delinquent_cdr), partitions=entries)
    text = manifest.to_json().encode("utf-8")
    if fs is None:
        (Path(root) / MANIFEST).write_bytes(text)
    else:
        with fs.open_output_stream(_join(root, MANIFEST)) as out:
            out.write(text)
    return manifest


def read_manifest(directory: str | Path) -> PartitionManifest:
    """The manifest of a partition directory.

    Raises
    ------
    InputError
        If there is no readable manifest of this format.
    """
    directory = str(directory)
    fs, root = _filesystem(directory)
    try:
        if fs is None:
            text = (Path(root) / MANIFEST).read_text(encoding="utf-8")
        else:
            with fs.open_input_stream(_join(root, MANIFEST)) as f:
                text = f.read().decode("utf-8")
        body = json.loads(text)
    except (OSError, ValueError) as exc:
        raise InputError(f"{directory!r} holds no readable partition manifest ({MANIFEST}): "
                         f"{exc}; write one with `stresslab pools export POOL --parquet DIR "
                         "--partitions N`") from None
    if not isinstance(body, dict) or body.get("format") != _FORMAT:
        raise InputError(f"{_join(directory, MANIFEST)!r} is not a StressLab partition manifest")
    return PartitionManifest(directory=directory, n_assets=int(body["n_assets"]),
                             chunk_size=int(body["chunk_size"]), order=body["order"],
                             pool_hash=str(body["pool_hash"]),
                             delinquent_cdr={str(k): float(v)
                                             for k, v in body["delinquent_cdr"].items()},
                             partitions=list(body["partitions"]))


def read_partition(path: str) -> LoanArrays:
    """One partition's loans (contiguous arrays, the dtypes the kernel takes).

    Parameters
    ----------
    path : str
        A partition file, local path or fsspec URL (:func:`partition_path`).

    Returns
    -------
    LoanArrays
    """
    fs, file = _filesystem(path)
    table = pq.read_table(file, filesystem=fs)
    # writable C arrays, as the local runner's: numba types read-only arrays apart, and would
    # compile (not load from its cache) another version of every kernel for them
    return LoanArrays(**{k: np.require(table.column(k).to_numpy(), requirements=("C", "W"))
                         for k in _FIELDS})
