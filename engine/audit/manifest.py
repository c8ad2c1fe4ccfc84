"""Evidence manifests: SHA-256 of every input and output of a run, and their re-verification.

evidence_manifest.json holds run_id, generated_at, team_or_user, app_version, library_versions,
seeds, inputs_hash {file -> sha256}, outputs_hash {file -> sha256} and artifacts [names]. The
manifest cannot hash itself, so it lists the other artifacts; :func:`verify_manifest` re-hashes
them in a folder and reports each mismatch.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.canonical import canonical_json
from engine.errors import InputError

__all__ = [
    "MANIFEST_NAME",
    "EvidenceManifest",
    "ManifestMismatch",
    "sha256_hex",
    "library_versions",
    "build_manifest",
    "verify_manifest",
]

MANIFEST_NAME = "evidence_manifest.json"
_LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy", "skops", "duckdb", "pydantic", "plotly", "streamlit")


def sha256_hex(content: bytes) -> str:
    """Hex SHA-256 of bytes (FIPS 180-4)."""
    return hashlib.sha256(content).hexdigest()


def library_versions(names: tuple[str, ...] = _LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries a result depends on, plus Python's."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


class EvidenceManifest(BaseModel):
    """The manifest's shape (ARCHITECTURE.md, "ML robustness artifacts")."""

    model_config = ConfigDict(extra="allow", frozen=True)

    run_id: str
    generated_at: str
    team_or_user: str
    app_version: str
    library_versions: dict[str, str]
    seeds: dict[str, int]
    inputs_hash: dict[str, str]
    outputs_hash: dict[str, str]
    artifacts: list[str] = Field(default_factory=list)

    def to_json(self) -> str:
        """evidence_manifest.json: :func:`engine.canonical.canonical_json` with a two-space
        indent and a final newline (sorted keys; UTF-8 text as it is, so a validator named
        "Zoë" reads as such; manifests written before 0.1.0's redesign escaped it as ``\\u00eb``)."""
        return canonical_json(self.model_dump(mode="json"), indent=2)


def build_manifest(
    *,
    run_id: str,
    generated_at: str,
    team_or_user: str,
    app_version: str,
    seeds: dict[str, int],
    inputs: dict[str, bytes],
    outputs: dict[str, bytes],
    versions: dict[str, str] | None = None,
) -> EvidenceManifest:
    """Hash every input and output.

    Parameters
    ----------
    inputs, outputs : dict of file name -> bytes
        Outputs are the artifacts written next to the manifest.
    generated_at : str
        ISO-8601 timestamp, passed in (never read from the clock here).
    """
    return EvidenceManifest(
        run_id=run_id,
        generated_at=generated_at,
        team_or_user=team_or_user,
        app_version=app_version,
        library_versions=versions if versions is not None else library_versions(),
        seeds=dict(sorted(seeds.items())),
        inputs_hash={k: sha256_hex(v) for k, v in sorted(inputs.items())},
        outputs_hash={k: sha256_hex(v) for k, v in sorted(outputs.items())},
        artifacts=sorted([*outputs, MANIFEST_NAME]),
    )


class ManifestMismatch(BaseModel):
    """One file whose bytes do not match the manifest."""

    model_config = ConfigDict(frozen=True)

    file: str
    kind: str  # "output" or "input"
    problem: str  # "missing" or "hash mismatch"
    expected: str
    actual: str | None

    def __str__(self) -> str:
        if self.problem == "missing":
            return f"{self.file}: missing (expected sha256 {self.expected})"
        return f"{self.file}: hash mismatch (expected {self.expected}, found {self.actual})"


def verify_manifest(directory: str | Path) -> tuple[EvidenceManifest, list[ManifestMismatch], list[str]]:
    """Re-hash the files a manifest names.

    Every output must be present in ``directory`` with its recorded hash. Inputs are checked when
    a file of that name is in the folder (inputs usually live elsewhere).

    Returns
    -------
    (manifest, mismatches, checked)
        ``checked`` lists the files that matched.

    Raises
    ------
    InputError
        If the folder or its evidence_manifest.json is missing or not a manifest.
    """
    folder = Path(directory)
    path = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; pass the folder that holds {MANIFEST_NAME}.")
    if not path.is_file():
        raise InputError(f"{folder} holds no {MANIFEST_NAME}; pass the folder a validation wrote.")
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        manifest = EvidenceManifest.model_validate(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path} is not a valid evidence manifest: {exc}") from exc
    mismatches: list[ManifestMismatch] = []
    checked: list[str] = []
    for kind, table in (("output", manifest.outputs_hash), ("input", manifest.inputs_hash)):
        for name, expected in sorted(table.items()):
            f = folder / name
            if not f.is_file():
                if kind == "output":
                    mismatches.append(ManifestMismatch(file=name, kind=kind, problem="missing",
                                                       expected=expected, actual=None))
                continue
            actual = sha256_hex(f.read_bytes())
            if actual != expected:
                mismatches.append(ManifestMismatch(file=name, kind=kind, problem="hash mismatch",
                                                   expected=expected, actual=actual))
            else:
                checked.append(name)
    return manifest, mismatches, checked
