"""The reports against the store: each kind is built from runs the capabilities' workflows stored,
its HTML is parsed and its PDF's text extracted, and the figures shown are checked against the
stored numbers formatted by the same ``engine.display`` functions. Also: no script and no
external reference, hostile text shown escaped, unknown runs refused, the validation's evidence
carries its report (hashed in the manifest, the same bytes for the same run), and the command."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from datetime import datetime

import pytest

from engine.audit.manifest import sha256_hex
from engine.cli import main
from engine.credit import workflow as cw
from engine.display import label, money, money_short, pct
from engine.errors import InputError, NotFoundError
from engine.mlrisk import workflow as mlw
from engine.reports.summary import decision_summary
from engine.reports.workflow import build_report
from engine.store import Store

from .conftest import HOSTILE, parse, pdf_text

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def _runs_row(store, run_id):
    with store.read() as con:
        return con.execute("SELECT inputs_hash, engine_version FROM runs WHERE run_id = ?",
                           [run_id]).fetchone()


@pytest.fixture(scope="module")
def stress_reports(stored):
    return {fmt: build_report("stress", run_id=stored.stress_id, fmt=fmt, store=stored.store)
            for fmt in ("html", "pdf")}


@pytest.fixture(scope="module")
def validation_html(stored):
    return build_report("validation", run_id=stored.validation_id, store=stored.store)


def _self_contained(content: bytes) -> None:
    page = parse(content)
    tags = {t for t, _ in page.tags}
    assert "script" not in tags and "iframe" not in tags and "link" not in tags
    assert not EXTERNAL.search(content.decode()), "an external src or href"
    assert "url(http" not in content.decode() and "@import" not in content.decode()


# --------------------------------------------------------------------------- stress

def test_stress_report_shows_the_stored_figures(stored, stress_reports):
    report = stress_reports["html"]
    assert report.media_type.startswith("text/html") and report.filename.endswith(".html")
    page = parse(report.content)
    run = cw.load_run(stored.stress_id, store=stored.store)
    table = {row[1]: row for row in page.rows("Scenario")}
    assert list(table) == list(run.result.scenarios)
    assert set(table) == {"base", "rate_shock_up", "credit_crisis"}
    for key, r in run.result.scenarios.items():
        m = r.metrics
        assert table[key][3:] == [
            money(m["npv"]), money(m["npv_change"]),
            pct(m["npv_change_percent"], decimal=False, signed=True), money(m["total_loss"]),
            pct(m["loss_percent"], decimal=False), f"{m['weighted_average_life']:.2f}",
            pct(m["irr"])]
    base = run.result.scenarios["base"].metrics
    crisis = run.result.scenarios["credit_crisis"].metrics
    assert crisis["npv_change"] < run.result.scenarios["rate_shock_up"].metrics["npv_change"]
    assert page.tiles[f"Base-case {label('npv')}"] == money_short(base["npv"])
    assert page.tiles[f"Worst {label('npv')} change"] == money_short(crisis["npv_change"])
    assert page.tiles["Pool balance"] == money_short(base["starting_balance"])
    inputs_hash, version = _runs_row(stored.store, stored.stress_id)
    for shown in (stored.stress_id, inputs_hash, version, "ann", "USD"):
        assert shown in page.text
    assert report.content.count(b"<svg") == 2  # the NPV-change and run-off charts
    _self_contained(report.content)


def test_hostile_pool_name_shows_as_text(stress_reports):
    content = stress_reports["html"].content.decode()
    assert HOSTILE not in content  # never as markup …
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Autos&lt;/b&gt;" in content
    page = parse(content)
    assert HOSTILE in page.text  # … but read as the text it is
    assert [t for t, _ in page.tags].count("b") == 0


def test_stress_pdf_states_the_same_figures(stored, stress_reports):
    report = stress_reports["pdf"]
    assert report.content.startswith(b"%PDF") and report.media_type == "application/pdf"
    text, _ = pdf_text(report.content)
    run = cw.load_run(stored.stress_id, store=stored.store)
    crisis = run.result.scenarios["credit_crisis"].metrics
    for shown in (stored.stress_id, money(crisis["npv"]), money(crisis["npv_change"]),
                  money_short(crisis["npv_change"]), "Credit Crisis"):
        assert shown in text, shown


# --------------------------------------------------------------------------- validation

def test_validation_report_shows_decision_metrics_and_signoff_state(stored, validation_html):
    page = parse(validation_html.content)
    run = mlw.load_run(stored.validation_id, store=stored.store)
    decision = run.results["decision"]
    assert page.tiles["Decision"] == decision["decision"] == run.decision
    assert page.tiles["Sign-off"] == "awaiting sign-off"
    for reason in decision["rationale"]:
        assert reason in page.text
    rows = page.rows("Scenario")
    assert len(rows) == len(run.rows)
    for shown, r in zip(rows, run.rows, strict=True):
        assert shown[0] == r["scenario_id"] and shown[3] == label(r["metric_name"])
        assert shown[4] == f"{r['baseline_value']:.4f}" and shown[5] == f"{r['stressed_value']:.4f}"
        assert shown[8] == r["status"]
    manifest = json.loads(run.artifacts["evidence_manifest.json"])
    for name, digest in manifest["inputs_hash"].items():
        assert name in page.text and digest in page.text
    assert stored.validation_id in page.text and run.generated_at in page.text and "dana" in page.text
    assert validation_html.content.count(b"<svg") == 1
    _self_contained(validation_html.content)


def test_validation_report_after_a_signoff_names_the_validator_escaped(stored, tmp_path):
    copy = Store(tmp_path / "copy.duckdb", timeout=10)  # a copy: the shared store stays unsigned
    shutil.copyfile(stored.store.path, copy.path)
    mlw.sign_off(stored.validation_id, name="Zoë <i>Validator</i>", comment="ok & agreed", store=copy,
                 signed_at=datetime(2025, 1, 2, 3, 4, 5))
    page = parse(build_report("validation", run_id=stored.validation_id, store=copy).content)
    assert page.tiles["Sign-off"] == "signed off (1)"
    assert page.rows("Signed at") == [["2025-01-02 03:04:05 UTC", "Zoë <i>Validator</i>",
                                       mlw.load_run(stored.validation_id, store=copy).decision,
                                       "ok & agreed"]]
    assert "i" not in [t for t, _ in page.tags]


def test_evidence_zip_carries_the_report_hashed_in_the_manifest(stored):
    with zipfile.ZipFile(io.BytesIO(mlw.evidence_zip(stored.validation_id, store=stored.store))) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    report = files["validation_report.html"]
    manifest = json.loads(files["evidence_manifest.json"])
    assert manifest["outputs_hash"]["validation_report.html"] == sha256_hex(report)
    assert "validation_report.html" in manifest["artifacts"]
    page = parse(report)
    run = mlw.load_run(stored.validation_id, store=stored.store)
    assert page.tiles["Decision"] == run.decision and page.tiles["Sign-off"] == "awaiting sign-off"
    assert run.generated_at in page.text  # the run's time, not the clock's
    _self_contained(report)
    check = mlw.verify_evidence(upload=mlw.evidence_zip(stored.validation_id, store=stored.store),
                                store=stored.store, allow_unsigned=True)
    assert check.ok, check.to_text()


def test_the_same_run_gives_the_same_report_bytes(stored):
    run = mlw.load_run(stored.validation_id, store=stored.store)
    again = mlw.validate(run.request.model_copy(update={"record": False}), store=stored.store,
                         run_id=run.run_id, generated_at=run.generated_at)
    assert again.artifacts["validation_report.html"] == run.artifacts["validation_report.html"]
    assert again.artifacts["evidence_manifest.json"] == run.artifacts["evidence_manifest.json"]


# --------------------------------------------------------------------------- limits

def test_limits_report_shows_var_es_limits_breaches_and_mode(stored):
    html_report = build_report("limits", run_id=stored.limits_id, store=stored.store)
    page = parse(html_report.content)
    with stored.store.read() as con:
        snapshot, decisions, mode = con.execute(
            "SELECT snapshot, decisions, mode FROM market_evaluations WHERE evaluation_id = ?",
            [stored.limits_id]).fetchone()
    snapshot, decisions = json.loads(snapshot), json.loads(decisions)
    limits = {d["rule"]: d for d in decisions}
    var_rows = page.rows("Measure")
    for row, (conf, value) in zip(var_rows, sorted(snapshot["var"].items(), key=lambda kv: float(kv[0])),
                                  strict=False):
        assert row[2] == money(value) and row[3] == money(limits[f"var_{conf}"]["threshold"])
        assert row[5] == ("yes" if limits[f"var_{conf}"]["breached"] else "no")
    assert var_rows[-1][:3] == [label("es"), pct(snapshot["es_confidence"], digits=1), money(snapshot["es"])]
    breached = [d for d in decisions if d["breached"]]
    assert breached, "the shipped limits on the bundled prices breach (VaR 95%, stress loss)"
    assert page.tiles["Breaches"] == str(len(breached)) and page.tiles["Mode"] == mode
    assert [r[0] for r in page.rows("Rule")[: len(breached)]] == [d["rule"] for d in breached]
    inputs_hash, version = _runs_row(stored.store, stored.limits_id)
    for shown in (stored.limits_id, inputs_hash, version, "bob", "2024-03-01 09:00:00 UTC"):
        assert shown in page.text
    _self_contained(html_report.content)
    text, _ = pdf_text(build_report("limits", run_id=stored.limits_id, fmt="pdf",
                                    store=stored.store).content)
    for shown in (stored.limits_id, money(snapshot["var"]["0.99"]), money(snapshot["es"])):
        assert shown in text, shown


# --------------------------------------------------------------------------- summary

def test_summary_report_is_one_page_of_the_stored_summary(stored):
    summary = decision_summary(store=stored.store)
    page = parse(build_report("summary", store=stored.store).content)
    for tile in summary.tiles:
        assert tile.text in page.text
    pool = next(p for p in summary.credit.pools if p.pool_id == stored.pool_id)
    credit = page.rows("Pool")
    assert credit == [[HOSTILE, pool.worst_scenario_name, money(pool.npv_change),
                       pct(pool.npv_change_percent, decimal=False, signed=True), stored.stress_id]]
    assert money_short(pool.npv_change) in page.text
    runs = {r[0]: r for r in page.rows("Run id")}
    assert set(runs) == {stored.stress_id, stored.validation_id, stored.limits_id}
    assert runs[stored.stress_id][2] == _runs_row(stored.store, stored.stress_id)[0]
    assert runs[stored.stress_id][4] == "ann" and runs[stored.limits_id][4] == "bob"
    report = build_report("summary", fmt="pdf", store=stored.store)
    text, pages = pdf_text(report.content)
    assert pages == 1
    assert money(pool.npv_change) in text and stored.validation_id in text.replace(" ", "")


# --------------------------------------------------------------------------- refusals and the command

@pytest.mark.parametrize("kind", ["stress", "validation", "limits"])
def test_unknown_run_id_is_not_found(stored, kind):
    with pytest.raises(NotFoundError):
        build_report(kind, run_id="no-such-run", store=stored.store)


def test_bad_requests_are_refused(stored):
    with pytest.raises(InputError, match="needs a run id"):
        build_report("stress", store=stored.store)
    with pytest.raises(InputError, match="takes no run id"):
        build_report("summary", run_id=stored.stress_id, store=stored.store)
    with pytest.raises(InputError, match="unknown report"):
        build_report("weekly", store=stored.store)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="html or pdf"):
        build_report("summary", fmt="docx", store=stored.store)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):  # a credit run is no limit evaluation
        build_report("limits", run_id=stored.stress_id, store=stored.store)


def test_command_writes_both_formats_and_refuses_a_bad_suffix(stored, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STRESSLAB_DB", str(stored.store.path))
    html_out, pdf_out = tmp_path / "out" / "limits.html", tmp_path / "limits.pdf"
    assert main(["report", "limits", stored.limits_id, "--out", str(html_out)]) == 0
    assert main(["report", "limits", stored.limits_id, "--out", str(pdf_out)]) == 0
    assert stored.limits_id in parse(html_out.read_bytes()).text
    assert pdf_out.read_bytes().startswith(b"%PDF") and stored.limits_id in pdf_text(pdf_out.read_bytes())[0]
    capsys.readouterr()
    assert main(["report", "summary", "--out", str(tmp_path / "summary.docx")]) == 2
    assert "must end in .html or .pdf" in capsys.readouterr().err
    assert not (tmp_path / "summary.docx").exists()
    assert main(["report", "stress", "nope", "--out", str(tmp_path / "x.html")]) == 2
    assert "no stored credit run 'nope'" in capsys.readouterr().err
