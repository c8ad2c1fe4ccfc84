"""`stresslab scenarios import-fed`: the Board's tables of any year, recognised by content."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.credit._fed import (
    MAX_FED_FILE_BYTES,
    fed_scenarios_from,
    read_fed_tables,
    translate_fed_tables,
)
from engine.credit._scenarios import builtin_scenarios, monthly_factors
from engine.credit.workflow import custom_scenarios, import_fed_scenarios
from engine.errors import InputError, ScenarioError, ValidationError
from engine.store import Store

ROOT = Path(__file__).resolve().parents[3]
FED_2025 = ROOT / "data" / "fed_supervisory_scenarios_2025"
FED_2026 = ROOT / "data" / "fed_supervisory_scenarios_2026_proposed"
KEYS_2025 = ["fed_2025_baseline", "fed_2025_severely_adverse", "fed_2025_baseline_path",
             "fed_2025_severely_adverse_path"]


@pytest.fixture()
def store(tmp_path) -> Store:
    return Store(tmp_path / "s.duckdb")


def copy_2026(tmp_path: Path) -> Path:
    folder = tmp_path / "fed"
    shutil.copytree(FED_2026, folder)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_importing_the_bundled_2025_tables_reproduces_the_built_in_scenarios_bit_for_bit(store):
    imported = fed_scenarios_from(translate_fed_tables(read_fed_tables(FED_2025)),
                                  prefix="fed_2025")
    builtin = builtin_scenarios()
    assert list(imported) == KEYS_2025
    for key, sc in imported.items():
        assert sc == builtin[key]
        assert sc.market_factors.model_dump() == builtin[key].market_factors.model_dump()
        for name, arr in monthly_factors(sc, 60).items():
            assert np.array_equal(arr, monthly_factors(builtin[key], 60)[name])
    done = import_fed_scenarios(FED_2025, store=store)
    assert done.built_in == KEYS_2025 and done.stored == []
    assert custom_scenarios(store=store) == {}


def test_the_command_reports_the_2025_import_as_identical_to_the_built_ins(tmp_path, monkeypatch,
                                                                         capsys):
    monkeypatch.setenv("STRESSLAB_DB", str(tmp_path / "cli.duckdb"))
    assert main(["scenarios", "import-fed", str(FED_2025)]) == 0
    out = capsys.readouterr().out
    assert "fed_2025_severely_adverse_path: identical to the built-in scenario" in out
    assert "ignored 2025-Table_1B_Historic_International.csv: not a Domestic table" in out


def test_a_2026_import_reads_differently_named_files_and_numbers(store):
    done = import_fed_scenarios(FED_2026, store=store)
    assert (done.year, done.jump_off_quarter, done.horizon) == (2026, "2025 Q4",
                                                                "2026 Q1 – 2029 Q1")
    assert done.stored == ["fed_2026_baseline", "fed_2026_severely_adverse",
                           "fed_2026_baseline_path", "fed_2026_severely_adverse_path"]
    assert len(done.ignored) == 4  # three International tables and PROVENANCE.md
    lib = custom_scenarios(store=store)
    # Jump-off 2025 Q4: unemployment 4.5, 5-year 3.8. Severely adverse 2026 Q1: unemployment
    # 5.9, 5-year 2.4; peak unemployment 10.0.
    peak = lib["fed_2026_severely_adverse"].market_factors
    assert peak.default_multiplier == 10.0 / 4.5
    path = lib["fed_2026_severely_adverse_path"]
    assert path.source == "federal_reserve"
    m = monthly_factors(path, 45)
    assert m["default_multiplier"][:4].tolist() == [5.9 / 4.5] * 3 + [7.2 / 4.5]
    assert m["interest_rate_shock"][0] == (2.4 - 3.8) / 100
    assert m["default_multiplier"][39:].tolist() == [m["default_multiplier"][38]] * 6  # held
    assert path.market_factors.constant() == peak.constant()  # the path's peaks are the peak


def test_a_zip_upload_equals_the_folder_and_name_sets_the_key_prefix(store):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in FED_2026.iterdir():
            zf.write(p, f"tables/{p.name}")
        zf.writestr("__MACOSX/tables/._x.csv", b"\x00\x01junk")
    done = import_fed_scenarios({"fed2026.zip": buf.getvalue()}, name="fed_2026_proposed",
                                store=store)
    assert done.stored[0] == "fed_2026_proposed_baseline"
    lib = custom_scenarios(store=store)
    again = import_fed_scenarios(FED_2026, store=store)
    lib = custom_scenarios(store=store)
    for key in again.stored:
        assert lib[key].market_factors == lib[key.replace("fed_2026", "fed_2026_proposed")].market_factors


def _refused(source, store, exc=InputError):
    with pytest.raises(exc) as info:
        import_fed_scenarios(source, store=store)
    assert custom_scenarios(store=store) == {}  # nothing stored half-way
    return str(info.value)


def test_a_bad_number_is_refused_naming_file_row_column_value_and_rule(tmp_path, store):
    folder = copy_2026(tmp_path)
    edit(folder / "2026_Proposed_Supervisory_Severely_Adverse_Domestic.csv", "2026 Q2,-5,-3.2,-1.3,0.6,7.2",
         "2026 Q2,-5,-3.2,-1.3,0.6,7,2")
    msg = _refused(folder, store)
    assert "2026_Proposed_Supervisory_Severely_Adverse_Domestic.csv" in msg
    assert "row 2" in msg and "holds 19 cells; the header has 18" in msg
    edit(folder / "2026_Proposed_Supervisory_Severely_Adverse_Domestic.csv", "0.6,7,2", "0.6,7.2%")
    msg = _refused(folder, store, ValidationError)
    assert ("row 2, column 'Unemployment rate' (value '7.2%'): must be a plain decimal number "
            "such as 4.1, -8.0 or 1") in msg


@pytest.mark.parametrize(("change", "words"), [
    (("2026_Proposed_Supervisory_Baseline_Domestic.csv", "2026 Q3", "2026 Q4"),
     "row 3, column 'Date' (value '2026 Q4'): quarters follow each other: 2026 Q3 comes after "
     "2026 Q2"),
    (("2026_Proposed_Supervisory_Baseline_Domestic.csv", "2026 Q3", "2026-07"),
     "a date is written 'YYYY Qn'"),
    (("2026_Proposed_Historic_Domestic.csv", "Actual,2025 Q4,0.8,4.1,0.6,3.8,4.5",
      "Actual,2025 Q4,0.8,4.1,0.6,3.8,0"), "column 'Unemployment rate' (value '0'): must be positive"),
    (("2026_Proposed_Supervisory_Severely_Adverse_Domestic.csv", "Supervisory Severely Adverse,2026 Q1",
      "Supervisory Baseline,2026 Q1"), "every row gives the same Scenario Name"),
])
def test_malformed_tables_are_refused_with_the_rule(tmp_path, store, change, words):
    folder = copy_2026(tmp_path)
    edit(folder / change[0], change[1], change[2])
    assert words in _refused(folder, store)


def test_missing_duplicated_or_misaligned_tables_are_refused(tmp_path, store):
    folder = copy_2026(tmp_path)
    (folder / "2026_Proposed_Supervisory_Severely_Adverse_Domestic.csv").unlink()
    assert "has no Supervisory Severely Adverse Domestic table" in _refused(folder, store)
    shutil.copy(FED_2025 / "2025-Table_3A_Supervisory_Severely_Adverse_Domestic.csv", folder)
    assert "cover different quarters" in _refused(folder, store)
    shutil.copy(FED_2026 / "2026_Proposed_Supervisory_Severely_Adverse_Domestic.csv", folder)
    assert "are severely adverse Domestic tables" in _refused(folder, store)
    (folder / "2025-Table_3A_Supervisory_Severely_Adverse_Domestic.csv").unlink()
    (folder / "2026_Proposed_Historic_Domestic.csv").unlink()
    shutil.copy(FED_2025 / "2025-Table_1A_Historic_Domestic.csv", folder)
    assert ("ends in 2024 Q4, but the scenarios start in 2026 Q1; the jump-off must be the "
            "quarter just before, 2025 Q4") in _refused(folder, store)


def test_hostile_inputs_are_refused_before_reading_far(tmp_path, store):
    folder = copy_2026(tmp_path)
    (folder / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    msg = _refused(folder, store, ValidationError)
    assert "'notes.csv'" in msg and "column 'Scenario Name'" in msg
    (folder / "notes.csv").write_bytes(b"Scenario Name,Date\n" + b"x" * MAX_FED_FILE_BYTES)
    assert "holds at most" in _refused(folder, store)
    (folder / "notes.csv").unlink()
    assert "is not a readable zip file" in _refused({"x.zip": b"PK\x03\x04 not a zip"}, store)
    assert "does not exist" in _refused(tmp_path / "nowhere", store)
    assert "either one zip" in _refused({"a.zip": b"", "b.csv": b""}, store)
    many = {f"f{i}.csv": b"" for i in range(40)}
    assert "holds 40 files" in _refused(many, store)


def test_a_prefix_that_would_replace_a_built_in_scenario_or_break_the_key_rule_is_refused(store):
    with pytest.raises(ScenarioError, match="'fed_2025_baseline' is a built-in scenario and these "
                                            "tables give a different one"):
        import_fed_scenarios(FED_2026, name="fed_2025", store=store)
    with pytest.raises(ScenarioError, match="a key holds only lower-case letters"):
        import_fed_scenarios(FED_2026, name="Fed 2026!", store=store)
    assert custom_scenarios(store=store) == {}
