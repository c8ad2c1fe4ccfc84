"""Issue 9, finding 9: the evidence of a validation run is signed, and `verify-manifest` catches
every tamper: an edited manifest, a flipped decision with its hashes updated, a removed entry,
an emptied manifest, a forged signature, a replaced key, a removed or edited sign-off addendum.

Each tamper was passed by the old `verify-manifest` (it re-hashed only what the manifest listed).
Real training on the small synthetic table; keys in a temporary STRESSLAB_KEYS; a temporary store.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from engine.audit.keys import PUBLIC_NAME, init_keys, load_verify_key
from engine.audit.manifest import MANIFEST_NAME, SIGNATURE_NAME, sha256_hex, signature_file
from engine.audit.workflow import verify_audit
from engine.cli import main
from engine.errors import InputError
from engine.mlrisk import ARTIFACT_NAMES, ValidationConfig
from engine.mlrisk import workflow as wf
from engine.store import Store

CONFIG = ValidationConfig(target="y", subgroups=["region"], model="logistic_regression", seed=5, test_size=0.3,
                          min_subgroup_rows=20)
OUTPUTS = sorted(set(ARTIFACT_NAMES) - {MANIFEST_NAME})


@pytest.fixture(scope="module")
def csv_bytes(synthetic_frame) -> bytes:
    return synthetic_frame.to_csv(index=False).encode()


def _validate(csv_bytes, handbook, *, store, record=True):
    request = wf.ValidateRequest(config=CONFIG, data_content=csv_bytes, data_name="synthetic.csv",
                                 handbook=handbook, user="dana", record=record)
    return wf.validate(request, store=store)


@dataclass(frozen=True)
class World:
    """One key directory (empty when unsigned), one store, a stored run and a run not stored."""

    home: Path
    keys: Path
    store: Store
    stored: wf.ValidationRecorded
    loose: wf.ValidationRecorded


def _world(tmp_path_factory, csv_bytes, handbook, *, signed: bool) -> World:
    home = tmp_path_factory.mktemp("signed" if signed else "unsigned")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRESSLAB_KEYS", str(home / "keys"))
        if signed:
            init_keys()
        store = Store(home / "store.duckdb", timeout=5)
        stored = _validate(csv_bytes, handbook, store=store)
        loose = _validate(csv_bytes, handbook, store=store, record=False)
    return World(home=home, keys=home / "keys", store=store, stored=stored, loose=loose)


@pytest.fixture(scope="module")
def signed(tmp_path_factory, csv_bytes, synthetic_handbook) -> World:
    return _world(tmp_path_factory, csv_bytes, synthetic_handbook, signed=True)


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory, csv_bytes, synthetic_handbook) -> World:
    return _world(tmp_path_factory, csv_bytes, synthetic_handbook, signed=False)


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def _fails(check) -> dict[str, str]:
    """FAIL lines as {subject: detail} (several on one subject joined with " | ")."""
    out: dict[str, str] = {}
    for line in check.lines:
        if line.status == "FAIL":
            out[line.subject] = f"{out[line.subject]} | {line.detail}" if line.subject in out else line.detail
    return out


# --------------------------------------------------------------------------- the four tampers

def _manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))


def _save_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def edit_manifest(folder: Path) -> None:
    """An edit to the manifest itself: another validator's name."""
    m = _manifest(folder)
    m["team_or_user"] = "mallory"
    _save_manifest(folder, m)


def flip_decision(folder: Path) -> None:
    """The decision flipped in the results and the decision record, their hashes updated."""
    results = json.loads((folder / "robustness_results.json").read_text(encoding="utf-8"))
    old = results["decision"]["decision"]
    new = "DEPLOY" if old != "DEPLOY" else "REDESIGN"
    results["decision"]["decision"] = new
    (folder / "robustness_results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    md = (folder / "validation_decision.md").read_text(encoding="utf-8")
    (folder / "validation_decision.md").write_text(md.replace(f"decision: {old}", f"decision: {new}")
                                                   .replace(f"**{old}**", f"**{new}**"), encoding="utf-8")
    m = _manifest(folder)
    for name in ("robustness_results.json", "validation_decision.md"):
        m["outputs_hash"][name] = sha256_hex((folder / name).read_bytes())
    _save_manifest(folder, m)


def remove_entry(folder: Path) -> None:
    """An entry removed from the manifest, and its file with it."""
    m = _manifest(folder)
    del m["outputs_hash"]["validation_decision.md"]
    m["artifacts"].remove("validation_decision.md")
    _save_manifest(folder, m)
    (folder / "validation_decision.md").unlink()


def empty_manifest(folder: Path) -> None:
    """The manifest emptied of every hash, and the files it listed deleted."""
    m = _manifest(folder)
    m.update(outputs_hash={}, inputs_hash={}, artifacts=[MANIFEST_NAME])
    _save_manifest(folder, m)
    for name in OUTPUTS:
        (folder / name).unlink()


TAMPERS = [edit_manifest, flip_decision, remove_entry, empty_manifest]


def test_the_tampers_change_what_they_claim(unsigned, tmp_path):
    """The tamper helpers do what their names say (so the tests below test the right thing)."""
    for tamper in TAMPERS:
        folder = _write(tmp_path / tamper.__name__, unsigned.stored.artifacts)
        tamper(folder)
        m = _manifest(folder)
        if tamper is edit_manifest:
            assert m["team_or_user"] == "mallory"
        if tamper is flip_decision:
            decision = json.loads((folder / "robustness_results.json").read_bytes())["decision"]["decision"]
            assert decision != unsigned.stored.decision
            assert m["outputs_hash"]["validation_decision.md"] == sha256_hex((folder / "validation_decision.md").read_bytes())
        if tamper is remove_entry:
            assert "validation_decision.md" not in m["outputs_hash"] and not (folder / "validation_decision.md").exists()
        if tamper is empty_manifest:
            assert m["outputs_hash"] == {} and sorted(p.name for p in folder.iterdir()) == [MANIFEST_NAME]


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("mode", ["signed+store", "signed, not stored", "unsigned+store"])
def test_each_tamper_is_caught(tamper, mode, signed, unsigned, tmp_path, monkeypatch):
    world = signed if mode.startswith("signed") else unsigned
    monkeypatch.setenv("STRESSLAB_KEYS", str(world.keys))
    run = world.stored if mode.endswith("store") else world.loose
    folder = _write(tmp_path / "evidence", run.artifacts)
    assert wf.verify_evidence(folder, store=world.store).ok  # intact before the tamper
    tamper(folder)
    check = wf.verify_evidence(folder, store=world.store)
    fails = _fails(check)
    assert not check.ok and check.verdict.startswith("FAILED")
    if mode.startswith("signed"):
        assert check.signed and "does not match the bytes of evidence_manifest.json" in fails[SIGNATURE_NAME]
    if mode.endswith("store"):
        assert "the manifest was replaced" in fails["store"]
        assert f"names manifest {sha256_hex(run.artifacts[MANIFEST_NAME])}" in fails["audit trail"]
    else:
        assert "store" not in fails
        assert any("is not in this store" in ln.detail for ln in check.lines if ln.subject == "store")
    if tamper in (remove_entry, empty_manifest):
        assert "not listed in the manifest, which must list it" in fails["validation_decision.md"]


@pytest.mark.parametrize("tamper, caught", [(edit_manifest, False), (flip_decision, False),
                                            (remove_entry, True), (empty_manifest, True)],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_without_key_or_store_only_hashes_protect_and_it_says_so(tamper, caught, unsigned, tmp_path, monkeypatch):
    """Neither a key nor the store: an edited or flipped manifest cannot be told from a genuine
    one (README "Security"); the verdict says UNSIGNED. A removed entry or an emptied manifest
    is still caught: a validation's manifest must list its four outputs."""
    monkeypatch.setenv("STRESSLAB_KEYS", str(unsigned.keys))
    folder = _write(tmp_path / "evidence", unsigned.loose.artifacts)
    tamper(folder)
    check = wf.verify_evidence(folder, store=Store(tmp_path / "elsewhere.duckdb"))
    assert check.ok is not caught and not check.signed
    assert check.verdict.startswith("FAILED" if caught else "UNSIGNED")
    assert any(ln.status == "unsigned" for ln in check.lines)
    assert not (tmp_path / "elsewhere.duckdb").exists()  # looking did not create a store


def test_an_unlisted_file_fails(signed, tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_KEYS", str(signed.keys))
    folder = _write(tmp_path / "evidence", {**signed.stored.artifacts, "notes.txt": b"left here"})
    fails = _fails(wf.verify_evidence(folder, store=signed.store))
    assert list(fails) == ["notes.txt"] and "not listed in the manifest" in fails["notes.txt"]


# --------------------------------------------------------------------------- inputs

def _zip(files: dict[str, bytes], *, folder: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            zf.writestr(folder + name, content)
    return buf.getvalue()


@pytest.mark.parametrize("form", ["folder", "manifest file", "zip", "zip of the folder", "upload", "stored run"])
def test_an_untampered_signed_run_verifies_in_every_form(form, signed, tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_KEYS", str(signed.keys))
    files = signed.stored.artifacts
    assert sorted(files) == sorted([*ARTIFACT_NAMES, SIGNATURE_NAME])
    folder = _write(tmp_path / "evidence", files)
    (tmp_path / "evidence.zip").write_bytes(wf.evidence_zip(signed.stored.run_id, store=signed.store))
    (tmp_path / "nested.zip").write_bytes(_zip(files, folder="evidence/"))
    source = {"folder": {"path": folder}, "manifest file": {"path": folder / MANIFEST_NAME},
              "zip": {"path": tmp_path / "evidence.zip"}, "zip of the folder": {"path": tmp_path / "nested.zip"},
              "upload": {"upload": (tmp_path / "evidence.zip").read_bytes(), "upload_name": "e.zip"},
              "stored run": {"run_id": signed.stored.run_id}}[form]
    check = wf.verify_evidence(**source, store=signed.store)
    assert check.ok, check.problems
    assert check.signed and check.key_id == signed.stored.key_id == load_verify_key().key_id
    assert check.run_id == signed.stored.run_id
    assert check.verdict.startswith(f"VERIFIED: the evidence of run {signed.stored.run_id} is intact and signed")
    statuses = {ln.subject: ln.status for ln in check.lines}
    assert statuses[SIGNATURE_NAME] == "ok" and statuses["store"] == "ok" and statuses["audit trail"] == "ok"
    assert all(statuses[name] == "ok" for name in OUTPUTS)


def test_bad_sources_are_input_errors(signed, tmp_path):
    with pytest.raises(InputError, match="exactly one"):
        wf.verify_evidence(tmp_path, run_id="x", store=signed.store)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="neither evidence_manifest.json nor a .zip"):
        wf.verify_evidence(tmp_path / "notes.txt", store=signed.store)
    with pytest.raises(InputError, match="holds no evidence_manifest.json"):
        wf.verify_evidence(upload=_zip({"a.txt": b"x"}), upload_name="e.zip", store=signed.store)
    with pytest.raises(InputError, match="sub-folder"):
        wf.verify_evidence(upload=_zip({"a/evidence_manifest.json": b"{}", "b/x": b""}), store=signed.store)
    with pytest.raises(InputError, match="not a valid zip"):
        wf.verify_evidence(upload=b"PK\x03\x04 broken", upload_name="e.zip", store=signed.store)
    with pytest.raises(InputError, match="does not exist"):
        wf.verify_evidence(tmp_path, public_key=tmp_path / "missing.pub", store=signed.store)


def test_a_manifest_alone_is_incomplete_evidence(signed, monkeypatch):
    monkeypatch.setenv("STRESSLAB_KEYS", str(signed.keys))
    check = wf.verify_evidence(upload=signed.stored.artifacts[MANIFEST_NAME], upload_name=MANIFEST_NAME,
                               store=signed.store)
    fails = _fails(check)
    assert not check.ok and set(fails) == {SIGNATURE_NAME, *OUTPUTS, "store"}
    assert "recorded run" in fails["store"] and "as signed by key" in fails["store"]  # its signature is not here
    assert ("store", "ok") in [(ln.subject, ln.status) for ln in check.lines]  # the manifest is the stored one


def test_an_unreadable_manifest_fails_and_says_why(unsigned, tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_KEYS", str(unsigned.keys))
    folder = _write(tmp_path / "evidence", unsigned.stored.artifacts)
    (folder / MANIFEST_NAME).write_text("[" * 10_000 + "]" * 10_000)  # deeper than any parser should go
    check = wf.verify_evidence(folder, store=unsigned.store)
    assert not check.ok and check.run_id is None
    assert "not an evidence manifest" in _fails(check)[MANIFEST_NAME]
    (folder / MANIFEST_NAME).write_text("{}")
    assert "run_id" in _fails(wf.verify_evidence(folder, store=unsigned.store))[MANIFEST_NAME]


# --------------------------------------------------------------------------- signatures and keys

def test_a_forged_signature_fails(signed, tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_KEYS", str(signed.keys))
    folder = _write(tmp_path / "evidence", signed.stored.artifacts)
    flip_decision(folder)
    mallory = init_keys(tmp_path / "mallory")
    manifest = (folder / MANIFEST_NAME).read_bytes()
    own = json.loads(signature_file(mallory, name=MANIFEST_NAME, content=manifest))
    # Mallory's signature under the real key id
    (folder / SIGNATURE_NAME).write_text(json.dumps({**own, "key_id": signed.stored.key_id}))
    assert "does not match the bytes" in _fails(wf.verify_evidence(folder, store=signed.store))[SIGNATURE_NAME]
    # Mallory's signature under her own key id
    (folder / SIGNATURE_NAME).write_text(json.dumps(own))
    detail = _fails(wf.verify_evidence(folder, store=signed.store))[SIGNATURE_NAME]
    assert f"signed by key {mallory.key_id}, but the public key" in detail and "key was replaced" in detail
    # a signature that is not hex, or not a signature file at all
    (folder / SIGNATURE_NAME).write_text(json.dumps({**own, "signature": "zz"}))
    assert "signed by key" in _fails(wf.verify_evidence(folder, store=signed.store))[SIGNATURE_NAME]
    (folder / SIGNATURE_NAME).write_text("not json")
    assert "not a signature file" in _fails(wf.verify_evidence(folder, store=signed.store))[SIGNATURE_NAME]


def test_a_signature_of_another_file_fails(signed, tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_KEYS", str(signed.keys))
    folder = _write(tmp_path / "evidence", signed.stored.artifacts)
    sig = json.loads((folder / SIGNATURE_NAME).read_bytes())
    (folder / SIGNATURE_NAME).write_text(json.dumps({**sig, "file": "robustness_results.json"}))
    assert "a signature file was moved" in _fails(wf.verify_evidence(folder, store=signed.store))[SIGNATURE_NAME]


def test_a_replaced_key_fails_and_the_old_public_key_still_verifies(signed, tmp_path, monkeypatch):
    keys = tmp_path / "keys"
    shutil.copytree(signed.keys, keys)
    monkeypatch.setenv("STRESSLAB_KEYS", str(keys))
    old_pub = tmp_path / "old.pub"
    old_pub.write_bytes((keys / PUBLIC_NAME).read_bytes())
    new = init_keys(force=True)
    folder = _write(tmp_path / "evidence", signed.stored.artifacts)
    detail = _fails(wf.verify_evidence(folder, store=signed.store))[SIGNATURE_NAME]
    assert f"signed by key {signed.stored.key_id}, but the public key" in detail and f"is key {new.key_id}" in detail
    check = wf.verify_evidence(folder, public_key=old_pub, store=signed.store)
    assert check.ok and check.key_id == signed.stored.key_id


def test_signed_evidence_without_a_public_key_cannot_pass(signed, tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_KEYS", str(tmp_path / "no-keys"))
    folder = _write(tmp_path / "evidence", signed.loose.artifacts)
    check = wf.verify_evidence(folder, store=signed.store)
    assert "there is no public key to check it" in _fails(check)[SIGNATURE_NAME]
    check = wf.verify_evidence(folder, public_key=signed.keys / PUBLIC_NAME, store=signed.store)
    assert check.ok and check.signed


def test_a_removed_signature_fails_when_a_key_exists(signed, tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_KEYS", str(signed.keys))
    for run, name in ((signed.stored, "stored"), (signed.loose, "loose")):
        folder = _write(tmp_path / name, run.artifacts)
        (folder / SIGNATURE_NAME).unlink()
        edit_manifest(folder)
        assert "missing, but a public key" in _fails(wf.verify_evidence(folder, store=signed.store))[SIGNATURE_NAME]
    # --allow-unsigned accepts unsigned evidence, but not against a store that recorded it signed
    stored = wf.verify_evidence(tmp_path / "stored", store=signed.store, allow_unsigned=True)
    assert f"as signed by key {signed.stored.key_id}; this evidence is unsigned" in _fails(stored)["store"]
    loose = wf.verify_evidence(tmp_path / "loose", store=signed.store, allow_unsigned=True)
    assert loose.ok and not loose.signed and loose.verdict.startswith("UNSIGNED")


# --------------------------------------------------------------------------- sign-off addenda

def _signed_off(csv_bytes, handbook, tmp_path, *, n: int):
    init_keys()
    store = Store(tmp_path / "so.duckdb", timeout=5)
    done = _validate(csv_bytes, handbook, store=store)
    offs = [wf.sign_off(done.run_id, name=f"Val {i}", comment=f"Reviewed {i}.", store=store,
                        signed_at=datetime(2025, 1, 2, 3, 4, i)) for i in range(1, n + 1)]
    return store, done, offs


def test_signoff_addendum_is_signed_in_the_zip_and_verified(csv_bytes, synthetic_handbook, tmp_path):
    store, done, (off,) = _signed_off(csv_bytes, synthetic_handbook, tmp_path, n=1)
    assert (off.addendum, off.key_id, off.decision) == ("signoff_001.json", done.key_id, done.decision)
    with zipfile.ZipFile(io.BytesIO(wf.evidence_zip(done.run_id, store=store))) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    assert sorted(files) == sorted([*ARTIFACT_NAMES, SIGNATURE_NAME, "signoff_001.json", "signoff_001.sig"])
    addendum = json.loads(files["signoff_001.json"])
    assert addendum == {"addendum": "signoff", "seq": 1, "run_id": done.run_id, "decision": done.decision,
                        "manifest_sha256": sha256_hex(done.artifacts[MANIFEST_NAME]), "validator": "Val 1",
                        "comment": "Reviewed 1.", "signed_at": "2025-01-02T03:04:01"}
    check = wf.verify_evidence(upload=wf.evidence_zip(done.run_id, store=store), store=store)
    assert check.ok, check.problems
    lines = {ln.subject: ln for ln in check.lines}
    assert lines["signoff_001.sig"].status == "ok"
    assert lines["signoff_001.json"].detail == f"sign-off by Val 1 on {done.decision} at 2025-01-02T03:04:01"
    # the sign-off is in the signed audit trail, covering its row; so is the decision
    trail = verify_audit(store=store)
    assert trail.ok and trail.signed


def test_a_removed_or_edited_addendum_fails(csv_bytes, synthetic_handbook, tmp_path):
    store, done, _ = _signed_off(csv_bytes, synthetic_handbook, tmp_path, n=2)
    zipped = wf.evidence_zip(done.run_id, store=store)
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}

    # the last sign-off removed: only the store knows it existed
    last = {n: b for n, b in files.items() if not n.startswith("signoff_002")}
    fails = _fails(wf.verify_evidence(_write(tmp_path / "last", last), store=store))
    assert set(fails) == {"signoff_002.json", "signoff_002.sig"}
    assert "recorded in the store but missing" in fails["signoff_002.json"]

    # the first removed: the numbering shows the gap, even without the store
    first = {n: b for n, b in files.items() if not n.startswith("signoff_001")}
    folder = _write(tmp_path / "first", first)
    fails = _fails(wf.verify_evidence(folder, store=Store(tmp_path / "elsewhere.duckdb")))
    assert fails == {"signoff_001.json": "missing: sign-offs are numbered 1 to 2 and this one was removed"}

    # a signature left without its sign-off
    orphan = {n: b for n, b in files.items() if n != "signoff_002.json"}
    fails = _fails(wf.verify_evidence(_write(tmp_path / "orphan", orphan), store=store))
    assert "a signature without its signoff_002.json" in fails["signoff_002.sig"]

    # an edited comment: the signature and the store both disagree
    edited = dict(files)
    edited["signoff_001.json"] = files["signoff_001.json"].replace(b"Reviewed 1.", b"Rejected!!")
    fails = _fails(wf.verify_evidence(_write(tmp_path / "edited", edited), store=store))
    assert "does not match the bytes of signoff_001.json" in fails["signoff_001.sig"]
    assert "differs from the copy recorded in the store" in fails["signoff_001.json"]


def test_an_addendum_must_name_this_run_manifest_and_decision(unsigned, tmp_path, monkeypatch):
    """Unsigned, not stored: the addendum's own fields are still checked against the evidence."""
    from engine.audit.manifest import SignOffAddendum

    monkeypatch.setenv("STRESSLAB_KEYS", str(unsigned.keys))
    run = unsigned.loose
    good = SignOffAddendum(seq=1, run_id=run.run_id, manifest_sha256=sha256_hex(run.artifacts[MANIFEST_NAME]),
                           decision=run.decision, validator="Eve", comment="", signed_at="2025-01-01T00:00:00")
    elsewhere = Store(tmp_path / "elsewhere.duckdb")
    folder = _write(tmp_path / "good", {**run.artifacts, good.file_name: good.to_bytes()})
    assert wf.verify_evidence(folder, store=elsewhere).ok
    other = "DEPLOY" if run.decision != "DEPLOY" else "REDESIGN"
    bad = good.model_copy(update={"run_id": "mlrisk-other", "manifest_sha256": "0" * 64, "decision": other})
    folder = _write(tmp_path / "bad", {**run.artifacts, bad.file_name: bad.to_bytes()})
    detail = _fails(wf.verify_evidence(folder, store=elsewhere))["signoff_001.json"]
    assert f"it signs off run mlrisk-other, not {run.run_id}" in detail
    assert "it signs off manifest 0000000000000000…" in detail
    assert f"it signs off the decision {other}, the results say {run.decision}" in detail


# --------------------------------------------------------------------------- the store's own copy

def test_stored_evidence_rewritten_in_the_store_is_caught_by_the_trail(csv_bytes, synthetic_handbook, tmp_path):
    """Someone with write access to the store (but not the key) rewrites the stored manifest and
    its hash column together: the signature and the audit trail's record both disagree."""
    init_keys()
    store = Store(tmp_path / "s.duckdb", timeout=5)
    done = _validate(csv_bytes, synthetic_handbook, store=store)
    forged = done.artifacts[MANIFEST_NAME].replace(b'"dana"', b'"mallory"')
    with store.write() as con:
        con.execute("UPDATE ml_artifacts SET content = ?, sha256 = ? WHERE run_id = ? AND name = ?",
                    [forged, sha256_hex(forged), done.run_id, MANIFEST_NAME])
    fails = _fails(wf.verify_evidence(run_id=done.run_id, store=store))
    assert "does not match the bytes" in fails[SIGNATURE_NAME]
    assert f"names manifest {sha256_hex(done.artifacts[MANIFEST_NAME])}" in fails["audit trail"]


def test_the_decision_row_is_covered_by_the_signed_trail(csv_bytes, synthetic_handbook, tmp_path):
    init_keys()
    store = Store(tmp_path / "s.duckdb", timeout=5)
    done = _validate(csv_bytes, synthetic_handbook, store=store)
    assert verify_audit(store=store).ok
    with store.write() as con:
        con.execute("UPDATE ml_runs SET decision = 'DEPLOY' || decision WHERE run_id = ?", [done.run_id])
    trail = verify_audit(store=store)
    assert not trail.ok and any("ml_runs" in p.message and "edited" in p.message for p in trail.problems)


# --------------------------------------------------------------------------- the command

def test_cli_validate_signs_and_verify_manifest_reports(csv_bytes, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STRESSLAB_DB", str(tmp_path / "store.duckdb"))
    (tmp_path / "synthetic.csv").write_bytes(csv_bytes)
    (tmp_path / "config.json").write_text(json.dumps({**CONFIG.model_dump(mode="json"), "data": "synthetic.csv"}))
    out = tmp_path / "out"
    key = init_keys()
    assert main(["validate", "--config", str(tmp_path / "config.json"), "--out", str(out), "--user", "dana"]) == 0
    assert f"the manifest is signed with key {key.key_id}" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted([*ARTIFACT_NAMES, SIGNATURE_NAME])

    assert main(["verify-manifest", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"ok        {SIGNATURE_NAME}: evidence_manifest.json is signed by key {key.key_id}" in printed
    assert printed.rstrip().splitlines()[-1].startswith("VERIFIED")

    assert main(["verify-manifest", str(out / MANIFEST_NAME), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["ok"], result["signed"], result["key_id"], result["problems"]) == (True, True, key.key_id, [])

    flip_decision(out)
    assert main(["verify-manifest", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "FAIL      evidence_manifest.sig: the signature does not match" in printed
    assert "FAIL      store: evidence_manifest.json has sha256" in printed
    assert "FAILED: the evidence of run" in printed

    assert main(["verify-manifest", str(out), "--public-key", str(tmp_path / "none.pub")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_without_keys_says_unsigned(csv_bytes, tmp_path, monkeypatch, capsys):
    (tmp_path / "synthetic.csv").write_bytes(csv_bytes)
    (tmp_path / "config.json").write_text(json.dumps({**CONFIG.model_dump(mode="json"), "data": "synthetic.csv"}))
    out = tmp_path / "out"
    (out / "evidence_manifest.sig").parent.mkdir()
    (out / "evidence_manifest.sig").write_text("{}")  # left by an earlier, signed run into the same folder
    assert main(["validate", "--config", str(tmp_path / "config.json"), "--out", str(out), "--no-store"]) == 0
    assert "unsigned: no signing key" in capsys.readouterr().out
    assert not (out / "evidence_manifest.sig").exists()
    assert main(["verify-manifest", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "unsigned  evidence_manifest.sig: no signature and no public key" in printed
    assert "is not in this store" in printed and printed.rstrip().splitlines()[-1].startswith("UNSIGNED")
