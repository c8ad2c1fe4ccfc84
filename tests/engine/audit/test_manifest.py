"""engine.audit.manifest on hand-made evidence: the signature file's format (checked with the
`cryptography` library directly), the sign-off addendum, the checks and the readers' limits."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from pydantic import ValidationError as PydanticValidationError

from engine.audit.keys import init_keys
from engine.audit.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    EvidenceManifest,
    RecordedEvidence,
    SignOffAddendum,
    check_evidence,
    evidence_from_upload,
    read_evidence,
    sha256_hex,
    signature_file,
)
from engine.errors import InputError

#: sha256 of b"alpha" (`printf alpha | sha256sum`).
ALPHA = "8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8"
#: sha256 of b"alphA" (`printf alphA | sha256sum`).
ALPHA_EDITED = "8d643ce4e296934ce21ff9f8247046ff8324103951e805afb0f889c13440da24"


@pytest.fixture()
def key(tmp_path):
    return init_keys(tmp_path / "keys")


def _evidence(**outputs: bytes) -> dict[str, bytes]:
    manifest = EvidenceManifest(run_id="run-1", generated_at="2025-01-01T00:00:00", team_or_user="dana",
                                app_version="0", library_versions={}, seeds={},
                                inputs_hash={}, outputs_hash={n: sha256_hex(b) for n, b in outputs.items()},
                                artifacts=sorted([*outputs, MANIFEST_NAME]))
    return {**outputs, MANIFEST_NAME: manifest.to_json().encode()}


def test_signature_file_signs_the_exact_bytes(key):
    content = _evidence(**{"a.txt": b"alpha"})[MANIFEST_NAME]
    raw = signature_file(key, name=MANIFEST_NAME, content=content)
    body = json.loads(raw)
    assert sorted(body) == ["algorithm", "file", "key_id", "signature"]
    assert (body["algorithm"], body["file"], body["key_id"]) == ("ed25519", MANIFEST_NAME, key.key_id)
    assert len(body["signature"]) == 128  # 64 bytes, hex
    key.public.verify(bytes.fromhex(body["signature"]), content)  # cryptography raises if it does not verify
    assert raw == signature_file(key, name=MANIFEST_NAME, content=content)  # Ed25519 is deterministic
    assert raw.endswith(b"}\n") and raw.startswith(b'{\n  "algorithm"')


def test_addendum_is_canonical_and_strict():
    a = SignOffAddendum(seq=2, run_id="run-1", manifest_sha256=ALPHA, decision="DEPLOY", validator="Zoë",
                        comment="ok", signed_at="2025-01-02T03:04:05")
    assert a.file_name == "signoff_002.json"
    text = a.to_bytes().decode()
    assert text.startswith('{\n  "addendum": "signoff",\n  "comment": "ok",') and '"Zoë"' in text
    with pytest.raises(PydanticValidationError):
        SignOffAddendum.model_validate({**json.loads(text), "approved": True})


def test_checks_of_hand_made_evidence(key):
    files = _evidence(**{"a.txt": b"alpha"})
    check = check_evidence(files, source="test", key=None, required=["a.txt"])
    assert check.ok and not check.signed and check.run_id == "run-1"
    assert [(ln.subject, ln.status) for ln in check.lines] == [
        (SIGNATURE_NAME, "unsigned"), (MANIFEST_NAME, "note"), ("a.txt", "ok")]
    assert check.lines[2].detail == f"sha256 {ALPHA[:16]}… as listed" and sha256_hex(b"alpha") == ALPHA

    signed = {**files, SIGNATURE_NAME: signature_file(key, name=MANIFEST_NAME, content=files[MANIFEST_NAME])}
    check = check_evidence(signed, source="test", key=key, required=["a.txt"])
    assert check.ok and check.signed and check.key_id == key.key_id and check.verdict.startswith("VERIFIED")

    check = check_evidence({**signed, "a.txt": b"alphA"}, source="test", key=key, required=["a.txt", "b.txt"])
    assert check.problems == (
        f"a.txt: hash mismatch: the manifest lists {ALPHA}, the file has {ALPHA_EDITED}",
        "b.txt: not listed in the manifest, which must list it: an entry was removed")


def test_store_record_checks():
    files = _evidence(**{"a.txt": b"alpha"})
    digest = sha256_hex(files[MANIFEST_NAME])
    same = RecordedEvidence(where="s.duckdb", found=True, manifest_sha256=digest, trail_manifest_sha256=digest,
                            trail_seq=7)
    assert check_evidence(files, source="t", key=None, recorded=same).ok
    other = same.model_copy(update={"manifest_sha256": ALPHA, "key_id": "abcd", "addenda": {"signoff_001.json": ALPHA},
                                    "trail_addenda": {"signoff_001.json": (ALPHA, 9)}})
    check = check_evidence(files, source="t", key=None, recorded=other)
    assert [ln.subject for ln in check.lines if ln.status == "FAIL"] == ["store", "store", "signoff_001.json"]
    assert "the store recorded run run-1's evidence as signed by key abcd; this evidence is unsigned" in check.problems[1]
    missing = check_evidence(files, source="t", key=None, recorded=RecordedEvidence(where="s.duckdb", found=False))
    assert missing.ok and missing.lines[-1].detail.startswith("run run-1 is not in this store (s.duckdb)")


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def test_readers(tmp_path):
    files = _evidence(**{"a.txt": b"alpha"})
    assert evidence_from_upload(_zip(files), name="e.zip") == files
    assert evidence_from_upload(_zip({f"out/{n}": b for n, b in files.items()}), name="e.zip") == files
    (tmp_path / "e.zip").write_bytes(_zip(files))
    assert read_evidence(tmp_path / "e.zip") == (files, f"zip {tmp_path / 'e.zip'}")
    with pytest.raises(InputError, match="sub-folder"):
        evidence_from_upload(_zip({**files, "deep/x.txt": b""}), name="e.zip")
    with pytest.raises(InputError, match="upload the evidence zip"):
        evidence_from_upload(b"hello", name="e.txt")


def test_a_zip_bomb_is_refused_by_the_input_limit(monkeypatch):
    monkeypatch.setenv("STRESSLAB_MAX_INPUT_MB", "1")
    bomb = _zip({MANIFEST_NAME: b"{}", "a.txt": b"\0" * (2 * 2**20)})
    with pytest.raises(InputError, match="STRESSLAB_MAX_INPUT_MB"):
        evidence_from_upload(bomb, name="e.zip")
