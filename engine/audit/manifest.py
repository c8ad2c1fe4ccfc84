"""Evidence of a run: its manifest of SHA-256 hashes, the manifest's signature, signed sign-off
addenda, and the check of all of them.

Files of a run's evidence (a folder, or the evidence zip, holds them side by side):

* ``evidence_manifest.json``: run_id, generated_at, team_or_user, app_version,
  library_versions, seeds, inputs_hash {file -> sha256}, outputs_hash {file -> sha256} and
  artifacts [names]. It cannot hash itself, so it lists the other artifacts.
* ``evidence_manifest.sig``: present when a signing key exists (:mod:`engine.audit.keys`). JSON
  ``{"algorithm": "ed25519", "file": "evidence_manifest.json", "key_id": …, "signature": …}``;
  the signature is the hex Ed25519 signature (RFC 8032) of the **exact bytes** of the manifest
  file, so it is checked without re-serialising anything. The other fields are not signed; they
  say which file and which key to check with.
* ``signoff_NNN.json`` (``001``, ``002``, … per run): a validator's sign-off, appended after the
  run: run_id, the manifest's SHA-256, the decision signed off, validator, comment, signed_at.
  Signed like the manifest, in ``signoff_NNN.sig``. Naming the manifest's hash ties the
  sign-off to exactly this evidence.

:func:`check_evidence` checks, and reports one line per check: the manifest's signature; each
listed hash; that the outputs a run must have are listed; that no file is present that the
manifest does not list (a removed entry leaves its file behind); each addendum (signature, run,
manifest hash, decision, numbering without gaps); and, when the run is in the store, the manifest
hash, signing key and addenda the store recorded. What each check can and cannot catch is stated
in the README ("Security").
"""

from __future__ import annotations

import hashlib
import io
import platform
import re
import zipfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, computed_field
from pydantic import ValidationError as PydanticValidationError

from engine.audit.keys import ALGORITHM, SigningKey, VerifyKey
from engine.canonical import canonical_bytes, canonical_json
from engine.errors import InputError
from engine.limits import check_zip, parse_json, read_zip_member

__all__ = [
    "MANIFEST_NAME",
    "SIGNATURE_NAME",
    "EvidenceManifest",
    "SignOffAddendum",
    "CheckLine",
    "EvidenceCheck",
    "RecordedEvidence",
    "sha256_hex",
    "library_versions",
    "build_manifest",
    "signature_name",
    "signoff_name",
    "signature_file",
    "read_evidence",
    "evidence_from_upload",
    "check_evidence",
    "decision_of",
    "signature_key_id",
]

MANIFEST_NAME = "evidence_manifest.json"
SIGNATURE_NAME = "evidence_manifest.sig"
SIGNOFF_FILE = re.compile(r"^signoff_(\d{3,})\.(json|sig)$")
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


# --------------------------------------------------------------------------- signing

def signature_name(name: str) -> str:
    """The signature file of an evidence file: ``evidence_manifest.json`` -> ``evidence_manifest.sig``."""
    return name.rsplit(".", 1)[0] + ".sig"


def signoff_name(seq: int) -> str:
    """The file of a run's ``seq``-th sign-off addendum (1-based): ``signoff_001.json``."""
    return f"signoff_{seq:03d}.json"


def signature_file(key: SigningKey, *, name: str, content: bytes) -> bytes:
    """The signature file of ``content`` (the exact bytes of the file ``name``).

    Returns
    -------
    bytes
        Canonical JSON (two-space indent): algorithm ``ed25519``, file, key_id and the hex
        Ed25519 signature of ``content``. Ed25519 is deterministic, so the same key and bytes
        always give the same file.
    """
    body = {"algorithm": ALGORITHM, "file": name, "key_id": key.key_id, "signature": key.sign(content)}
    return canonical_bytes(body, indent=2)


class SignOffAddendum(BaseModel):
    """A validator's sign-off, appended to a run's evidence as ``signoff_NNN.json``.

    Attributes
    ----------
    seq : int
        1 for a run's first sign-off, then 2, 3, …
    run_id : str
    manifest_sha256 : str
        SHA-256 (hex) of the evidence_manifest.json signed off.
    decision : str
        The run's decision when it was signed off (DEPLOY / RESTRICT / REDESIGN).
    validator, comment : str
    signed_at : str
        ISO-8601, naive UTC.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    addendum: Literal["signoff"] = "signoff"
    seq: int = Field(ge=1)
    run_id: str
    manifest_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    decision: str
    validator: str
    comment: str
    signed_at: str

    @property
    def file_name(self) -> str:
        """``signoff_NNN.json``."""
        return signoff_name(self.seq)

    def to_bytes(self) -> bytes:
        """The file's bytes: canonical JSON with a two-space indent and a final newline."""
        return canonical_bytes(self.model_dump(mode="json"), indent=2)


# --------------------------------------------------------------------------- reading evidence

def _flat(names: list[str], *, source: str) -> dict[str, str]:
    """Member name -> file name, with one common top folder (a zipped folder) stripped."""
    tops = {n.split("/", 1)[0] for n in names}
    strip = len(tops) == 1 and all("/" in n for n in names)
    out: dict[str, str] = {}
    for n in names:
        flat = n.split("/", 1)[1] if strip else n
        if not flat or "/" in flat or "\\" in flat or flat in (".", ".."):
            raise InputError(f"{source}: the member {n!r} is in a sub-folder; an evidence zip holds its "
                             "files side by side (as `stresslab` and the app write it).")
        out[n] = flat
    return out


def _from_zip(source: bytes | Path, *, name: str) -> dict[str, bytes]:
    """The members of an evidence zip, within the input limits (:mod:`engine.limits`)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(f"{name}: not a valid zip archive ({exc}); pass the evidence zip as it was "
                         "downloaded.") from exc
    with zf:
        check_zip(zf, name=name)
        infos = [i for i in zf.infolist() if not i.is_dir()]
        names = _flat([i.filename for i in infos], source=name)
        files = {names[i.filename]: read_zip_member(zf, member=i, name=name) for i in infos}
    if MANIFEST_NAME not in files:
        raise InputError(f"{name} holds no {MANIFEST_NAME}; pass the evidence zip of a validation run.")
    return files


def read_evidence(path: str | Path) -> tuple[dict[str, bytes], str]:
    """The files of a run's evidence: from its folder, its evidence_manifest.json, or its zip.

    Parameters
    ----------
    path : path
        A folder holding ``evidence_manifest.json``; that file itself (its folder is read); or
        an evidence zip (files side by side, or in one top folder).

    Returns
    -------
    files : dict of str to bytes
        Every regular file at the top of the folder (or every member of the zip), name -> bytes.
    source : str
        What was read, for messages ("folder out/", "zip evidence.zip").

    Raises
    ------
    InputError
        If the path does not exist, is another kind of file, holds no evidence_manifest.json,
        or is a zip beyond the input limits (:mod:`engine.limits`).
    """
    p = Path(path)
    if p.is_file() and p.suffix.lower() == ".zip":
        return _from_zip(p, name=str(p)), f"zip {p}"
    if p.is_file():
        if p.name != MANIFEST_NAME:
            raise InputError(f"{p} is neither {MANIFEST_NAME} nor a .zip; pass the evidence folder, its "
                             f"{MANIFEST_NAME} or the evidence zip.")
        p = p.parent
    if not p.is_dir():
        raise InputError(f"{p} does not exist; pass the evidence folder, its {MANIFEST_NAME} or the evidence zip.")
    if not (p / MANIFEST_NAME).is_file():
        raise InputError(f"{p} holds no {MANIFEST_NAME}; pass the folder a validation wrote.")
    try:
        files = {f.name: f.read_bytes() for f in sorted(p.iterdir()) if f.is_file()}
    except OSError as exc:
        raise InputError(f"cannot read the evidence folder {p}: {exc.strerror}") from None
    return files, f"folder {p}"


def evidence_from_upload(content: bytes, *, name: str) -> dict[str, bytes]:
    """The files of uploaded evidence: an evidence zip, or an evidence_manifest.json alone.

    A manifest alone can be checked against its signature's absence and the store, but its
    listed files are then missing; upload the zip to check them.

    Raises
    ------
    InputError
        If the upload is neither a zip nor a ``.json`` file, or is a zip beyond the input limits.
    """
    if content[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
        return _from_zip(content, name=name)
    if name.lower().endswith(".json"):
        return {MANIFEST_NAME: content}
    raise InputError(f"{name}: upload the evidence zip (or its {MANIFEST_NAME}).")


# --------------------------------------------------------------------------- result

Status = Literal["ok", "FAIL", "unsigned", "note"]


class CheckLine(BaseModel):
    """One check: what was checked, its status, and what was found.

    ``status`` is ``ok``; ``FAIL`` (the evidence does not verify); ``unsigned`` (nothing is
    signed, so only the hashes were checked); or ``note`` (information, not a failure).
    """

    model_config = ConfigDict(frozen=True)

    subject: str
    status: Status
    detail: str

    def __str__(self) -> str:
        return f"{self.status:<9} {self.subject}: {self.detail}"


class RecordedEvidence(BaseModel):
    """What a store recorded about a run's evidence.

    Attributes
    ----------
    where : str
        The store (its path), for messages.
    found : bool
        Whether the run is in this store; the other fields are empty when it is not.
    manifest_sha256 : str, optional
        SHA-256 of the evidence_manifest.json stored with the run (``ml_artifacts``).
    key_id : str, optional
        The key that signed the stored manifest; None for unsigned evidence.
    trail_manifest_sha256 : str, optional
        The manifest hash in the audit trail's record of the run (None if the trail has none).
    trail_seq : int, optional
        That record's sequence number.
    addenda : dict of str to str
        Stored sign-off addenda and their signature files, name -> SHA-256.
    trail_addenda : dict of str to tuple of (str, int)
        Sign-off addenda the audit trail's ``signoff`` records name: file -> (SHA-256, record seq).
    """

    model_config = ConfigDict(frozen=True)

    where: str
    found: bool
    manifest_sha256: str | None = None
    key_id: str | None = None
    trail_manifest_sha256: str | None = None
    trail_seq: int | None = None
    addenda: dict[str, str] = Field(default_factory=dict)
    trail_addenda: dict[str, tuple[str, int]] = Field(default_factory=dict)


class EvidenceCheck(BaseModel):
    """The outcome of checking a run's evidence.

    Attributes
    ----------
    source : str
        What was checked ("folder out", "zip evidence.zip", "stored run …").
    run_id : str, optional
        The manifest's run id (None if the manifest could not be read).
    signed : bool
        Whether the manifest carries a signature (``ok`` says whether it verified).
    key_id : str, optional
        The key id the signature names.
    lines : tuple of CheckLine
        Every check, in order.
    """

    model_config = ConfigDict(frozen=True)

    source: str
    run_id: str | None
    signed: bool
    key_id: str | None
    lines: tuple[CheckLine, ...]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """Whether no check failed (unsigned evidence can be ok; see ``signed``)."""
        return not any(line.status == "FAIL" for line in self.lines)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def problems(self) -> tuple[str, ...]:
        """Each failed check, as "subject: what is wrong"."""
        return tuple(f"{line.subject}: {line.detail}" for line in self.lines if line.status == "FAIL")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict(self) -> str:
        """One line: VERIFIED (signed), UNSIGNED or FAILED, and why."""
        run = f"run {self.run_id}" if self.run_id else self.source
        if not self.ok:
            n = len(self.problems)
            return f"FAILED: the evidence of {run} does not verify: {n} problem{'s' if n != 1 else ''}"
        if self.signed:
            return f"VERIFIED: the evidence of {run} is intact and signed by key {self.key_id}"
        return (f"UNSIGNED: the files of {run} match its manifest, but nothing is signed, so anyone who "
                "could write them could have rewritten the manifest too")

    def to_frame(self) -> pd.DataFrame:
        """One row per check: subject, status, detail."""
        return pd.DataFrame([line.model_dump() for line in self.lines], columns=["subject", "status", "detail"])

    def to_text(self) -> str:
        """The checks, one per line, then the verdict."""
        return "\n".join([*(str(line) for line in self.lines), self.verdict])


# --------------------------------------------------------------------------- checking

def _short(digest: str | None) -> str:
    return "none" if digest is None else digest[:16] + "…"


def _check_signature(
    name: str,
    *,
    content: bytes,
    sig: bytes | None,
    key: VerifyKey | None,
    allow_unsigned: bool,
) -> tuple[CheckLine, str | None]:
    """The check of one file's signature, and the key id its signature file names."""
    sig_file = signature_name(name)
    if sig is None:
        if key is None:
            return CheckLine(subject=sig_file, status="unsigned",
                             detail=f"no signature and no public key: {name} is unsigned; only its hashes "
                                    "were checked (create keys with `stresslab keys init`)"), None
        if allow_unsigned:
            return CheckLine(subject=sig_file, status="unsigned",
                             detail=f"no signature; accepted as unsigned (--allow-unsigned), so {name} "
                                    "proves nothing about who wrote it"), None
        return CheckLine(subject=sig_file, status="FAIL",
                         detail=f"missing, but a public key (key id {key.key_id}) is available: the signature "
                                f"was removed, or {name} predates `stresslab keys init` (then check it with "
                                "--allow-unsigned)"), None
    try:
        body = parse_json(sig, name=sig_file)
        algorithm, file, key_id, signature = (body["algorithm"], body["file"], body["key_id"], body["signature"])
        if not all(isinstance(v, str) for v in (algorithm, file, key_id, signature)):
            raise TypeError("fields must be text")
    except (InputError, KeyError, TypeError) as exc:
        return CheckLine(subject=sig_file, status="FAIL",
                         detail=f"not a signature file ({exc}); it needs algorithm, file, key_id and signature"), None
    if algorithm != ALGORITHM:
        return CheckLine(subject=sig_file, status="FAIL",
                         detail=f"algorithm {algorithm!r}; StressLab signs with {ALGORITHM}"), key_id
    if file != name:
        return CheckLine(subject=sig_file, status="FAIL",
                         detail=f"signs {file!r}, not {name}: a signature file was moved or renamed"), key_id
    if key is None:
        return CheckLine(subject=sig_file, status="FAIL",
                         detail=f"signed by key {key_id}, but there is no public key to check it: pass "
                                "--public-key FILE (the signer's audit_ed25519.pub) or set STRESSLAB_KEYS"), key_id
    if key.key_id != key_id:
        return CheckLine(subject=sig_file, status="FAIL",
                         detail=f"signed by key {key_id}, but the public key {key.path} is key {key.key_id}: "
                                "the key was replaced, or the evidence comes from another installation "
                                "(pass its public key with --public-key)"), key_id
    if not key.verify(content, signature):
        return CheckLine(subject=sig_file, status="FAIL",
                         detail=f"the signature does not match the bytes of {name}: {name} was edited after "
                                "it was signed, or the signature was forged"), key_id
    return CheckLine(subject=sig_file, status="ok", detail=f"{name} is signed by key {key_id} ({ALGORITHM})"), key_id


def _check_manifest_hashes(manifest: EvidenceManifest, files: Mapping[str, bytes], *,
                           required: Iterable[str]) -> list[CheckLine]:
    lines: list[CheckLine] = []
    for name, expected in sorted(manifest.outputs_hash.items()):
        content = files.get(name)
        if content is None:
            lines.append(CheckLine(subject=name, status="FAIL", detail=f"missing (the manifest lists sha256 "
                                                                       f"{_short(expected)})"))
        elif (actual := sha256_hex(content)) != expected:
            lines.append(CheckLine(subject=name, status="FAIL",
                                   detail=f"hash mismatch: the manifest lists {expected}, the file has {actual}"))
        else:
            lines.append(CheckLine(subject=name, status="ok", detail=f"sha256 {_short(actual)} as listed"))
    for name, expected in sorted(manifest.inputs_hash.items()):
        content = files.get(name)
        if content is None:
            lines.append(CheckLine(subject=name, status="note",
                                   detail=f"input, not part of the evidence (listed sha256 {_short(expected)})"))
        elif (actual := sha256_hex(content)) != expected:
            lines.append(CheckLine(subject=name, status="FAIL",
                                   detail=f"input hash mismatch: the manifest lists {expected}, the file has {actual}"))
        else:
            lines.append(CheckLine(subject=name, status="ok", detail=f"input, sha256 {_short(actual)} as listed"))
    for name in sorted(set(required) - set(manifest.outputs_hash)):
        lines.append(CheckLine(subject=name, status="FAIL",
                               detail="not listed in the manifest, which must list it: an entry was removed"))
    listed = set(manifest.artifacts) - {MANIFEST_NAME}
    for name in sorted(listed - set(manifest.outputs_hash)):
        lines.append(CheckLine(subject=name, status="FAIL",
                               detail="named in the manifest's artifacts but has no hash: an entry was removed"))
    for name in sorted(set(manifest.outputs_hash) - listed):
        lines.append(CheckLine(subject=name, status="FAIL",
                               detail="has a hash but is missing from the manifest's artifacts list: the manifest "
                                      "was edited"))
    return lines


def _check_addenda(files: Mapping[str, bytes], *, run_id: str, manifest_sha256: str, decision: str | None,
                   key: VerifyKey | None, allow_unsigned: bool) -> list[CheckLine]:
    lines: list[CheckLine] = []
    seqs: dict[int, str] = {}
    for name in sorted(files):
        match = SIGNOFF_FILE.match(name)
        if match is None:
            continue
        seq, ext = int(match.group(1)), match.group(2)
        if ext == "sig":
            if signoff_name(seq) not in files:
                lines.append(CheckLine(subject=name, status="FAIL",
                                       detail=f"a signature without its {signoff_name(seq)}: the sign-off was removed"))
            continue
        seqs[seq] = name
        sig_line, _ = _check_signature(name, content=files[name], sig=files.get(signature_name(name)), key=key,
                                       allow_unsigned=allow_unsigned)
        lines.append(sig_line)
        try:
            add = SignOffAddendum.model_validate(parse_json(files[name], name=name))
        except (InputError, PydanticValidationError) as exc:
            lines.append(CheckLine(subject=name, status="FAIL", detail=f"not a sign-off addendum: {_reason(exc)}"))
            continue
        wrong = []
        if add.seq != seq:
            wrong.append(f"it says it is sign-off {add.seq}")
        if add.run_id != run_id:
            wrong.append(f"it signs off run {add.run_id}, not {run_id}")
        if add.manifest_sha256 != manifest_sha256:
            wrong.append(f"it signs off manifest {_short(add.manifest_sha256)}, not this one ({_short(manifest_sha256)})")
        if decision is not None and add.decision != decision:
            wrong.append(f"it signs off the decision {add.decision}, the results say {decision}")
        if wrong:
            lines.append(CheckLine(subject=name, status="FAIL", detail="; ".join(wrong)))
        else:
            lines.append(CheckLine(subject=name, status="ok",
                                   detail=f"sign-off by {add.validator} on {add.decision} at {add.signed_at}"))
    for missing in sorted(set(range(1, max(seqs, default=0) + 1)) - set(seqs)):
        lines.append(CheckLine(subject=signoff_name(missing), status="FAIL",
                               detail=f"missing: sign-offs are numbered 1 to {max(seqs)} and this one was removed"))
    return lines


def _check_store(recorded: RecordedEvidence, *, run_id: str, manifest_sha256: str, key_id: str | None,
                 files: Mapping[str, bytes]) -> list[CheckLine]:
    if not recorded.found:
        return [CheckLine(subject="store", status="note",
                          detail=f"run {run_id} is not in this store ({recorded.where}); the manifest hash it "
                                 "recorded was not checked")]
    lines: list[CheckLine] = []
    if recorded.manifest_sha256 == manifest_sha256:
        lines.append(CheckLine(subject="store", status="ok",
                               detail=f"{MANIFEST_NAME} is the one stored with run {run_id} ({recorded.where})"))
    else:
        lines.append(CheckLine(subject="store", status="FAIL",
                               detail=f"{MANIFEST_NAME} has sha256 {manifest_sha256}, but the store recorded "
                                      f"{recorded.manifest_sha256} for run {run_id}: the manifest was replaced"))
    if recorded.trail_manifest_sha256 is not None:
        if recorded.trail_manifest_sha256 == manifest_sha256:
            lines.append(CheckLine(subject="audit trail", status="ok",
                                   detail=f"record {recorded.trail_seq} names this manifest (`stresslab audit "
                                          "verify` checks the trail itself)"))
        else:
            lines.append(CheckLine(subject="audit trail", status="FAIL",
                                   detail=f"record {recorded.trail_seq} names manifest "
                                          f"{recorded.trail_manifest_sha256}, not this one ({manifest_sha256})"))
    if recorded.key_id != key_id:
        expected = f"signed by key {recorded.key_id}" if recorded.key_id else "unsigned"
        found = f"signed by key {key_id}" if key_id else "unsigned"
        lines.append(CheckLine(subject="store", status="FAIL",
                               detail=f"the store recorded run {run_id}'s evidence as {expected}; this evidence is "
                                      f"{found}"))
    present = {n: sha256_hex(b) for n, b in files.items() if SIGNOFF_FILE.match(n)}
    for name in sorted(set(recorded.addenda) | set(present)):
        if name not in present:
            lines.append(CheckLine(subject=name, status="FAIL",
                                   detail="recorded in the store but missing from the evidence: the sign-off was "
                                          "removed, or this copy predates it (take the run's evidence zip again)"))
        elif name not in recorded.addenda:
            lines.append(CheckLine(subject=name, status="FAIL", detail="not recorded in the store for this run"))
        elif present[name] != recorded.addenda[name]:
            lines.append(CheckLine(subject=name, status="FAIL",
                                   detail="differs from the copy recorded in the store: it was edited"))
    reported = {line.subject for line in lines}
    for name, (digest, seq) in sorted(recorded.trail_addenda.items()):
        if present.get(name) != digest and name not in reported:
            state = "is missing from the evidence" if name not in present else "differs from this file"
            lines.append(CheckLine(subject=name, status="FAIL",
                                   detail=f"the audit trail's record {seq} names this sign-off (sha256 "
                                          f"{_short(digest)}), which {state}"))
    return lines


def _reason(exc: InputError | PydanticValidationError) -> str:
    """Why a file is not what it should be: the engine's message, or each offending field."""
    if isinstance(exc, PydanticValidationError):
        errors = exc.errors(include_url=False)
        shown = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in errors[:5])
        return shown + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
    return str(exc)


def check_evidence(
    files: Mapping[str, bytes],
    *,
    source: str,
    key: VerifyKey | None,
    required: Iterable[str] = (),
    decision: str | None = None,
    recorded: RecordedEvidence | None = None,
    allow_unsigned: bool = False,
) -> EvidenceCheck:
    """Check a run's evidence: signatures, listed hashes, unlisted files, addenda, the store.

    Parameters
    ----------
    files : mapping of str to bytes
        The evidence's files by name (:func:`read_evidence`, :func:`evidence_from_upload`); must
        hold ``evidence_manifest.json``.
    source : str
        What was read, for the report.
    key : VerifyKey, optional
        The public key to check signatures with; None when there is none.
    required : iterable of str
        Outputs the manifest must list (a validation's four artifacts).
    decision : str, optional
        The decision the evidence's results state; each sign-off must name it.
    recorded : RecordedEvidence, optional
        What the store recorded for the manifest's run; None when no store was consulted.
    allow_unsigned : bool
        Accept unsigned evidence although a public key is available (evidence made before the
        keys were created). Never overrides a store that recorded the evidence as signed.

    Returns
    -------
    EvidenceCheck
        ``ok`` is False when any check fails; a manifest that cannot be read is such a failure.

    Raises
    ------
    InputError
        If ``files`` holds no evidence_manifest.json.
    """
    if MANIFEST_NAME not in files:
        raise InputError(f"{source} holds no {MANIFEST_NAME}; pass the evidence of a validation run.")
    content = files[MANIFEST_NAME]
    digest = sha256_hex(content)
    sig_line, key_id = _check_signature(MANIFEST_NAME, content=content, sig=files.get(SIGNATURE_NAME), key=key,
                                        allow_unsigned=allow_unsigned)
    lines = [sig_line]
    signed = SIGNATURE_NAME in files
    try:
        manifest = EvidenceManifest.model_validate(parse_json(content, name=MANIFEST_NAME))
    except (InputError, PydanticValidationError) as exc:
        lines.append(CheckLine(subject=MANIFEST_NAME, status="FAIL",
                               detail=f"not an evidence manifest: {_reason(exc)}"))
        return EvidenceCheck(source=source, run_id=None, signed=signed, key_id=key_id, lines=tuple(lines))
    lines.append(CheckLine(subject=MANIFEST_NAME, status="note",
                           detail=f"run {manifest.run_id}, generated {manifest.generated_at} by "
                                  f"{manifest.team_or_user}, sha256 {digest}"))
    lines += _check_manifest_hashes(manifest, files, required=required)
    known = {MANIFEST_NAME, SIGNATURE_NAME, *manifest.outputs_hash, *manifest.inputs_hash}
    for name in sorted(n for n in files if n not in known and not SIGNOFF_FILE.match(n)):
        lines.append(CheckLine(subject=name, status="FAIL",
                               detail="present but not listed in the manifest: its entry was removed, or the file "
                                      "does not belong with this evidence (move it out)"))
    lines += _check_addenda(files, run_id=manifest.run_id, manifest_sha256=digest, decision=decision, key=key,
                            allow_unsigned=allow_unsigned)
    if recorded is not None:
        lines += _check_store(recorded, run_id=manifest.run_id, manifest_sha256=digest, key_id=key_id, files=files)
    return EvidenceCheck(source=source, run_id=manifest.run_id, signed=signed, key_id=key_id, lines=tuple(lines))


def decision_of(files: Mapping[str, bytes], *, results_name: str) -> str | None:
    """The decision a results file of the evidence states.

    Parameters
    ----------
    files : mapping of str to bytes
        The evidence's files.
    results_name : str
        The results file (``robustness_results.json``), whose ``decision.decision`` is read.

    Returns
    -------
    str or None
        None when the file is absent or does not state a decision (its hash check reports why).
    """
    try:
        value = parse_json(files[results_name], name=results_name)["decision"]["decision"]
    except (KeyError, TypeError, InputError):
        return None
    return value if isinstance(value, str) else None


def signature_key_id(content: bytes | None) -> str | None:
    """The key id a signature file names (None for no file, or one that names none)."""
    if content is None:
        return None
    try:
        value = parse_json(content, name=SIGNATURE_NAME)["key_id"]
    except (InputError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None

