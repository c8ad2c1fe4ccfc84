"""Issue 9, findings 1-4: every hostile file through the real command, one table of file → exit
status and message.

Each row builds one file of :mod:`tests.hostile.corpus` in a temporary folder, runs
``stresslab pools import FILE`` (or ``stresslab validate`` for a model file) in-process with a
private store, and checks the exit status (0 imported, 2 refused with a message, never 1 — an
internal error — and never a crash), the fragments the message must hold (the limit and the
setting that raises it, the byte offset, the offending value) and, for a refused file, that
nothing was stored. Limits are asserted, never time: ``benchmarks/bench_hostile.py`` measures how
fast and how lean each refusal is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.credit.workflow import load_pool
from tests.hostile import corpus

ROOT = Path(__file__).resolve().parents[2]

# (builder, settings, exit status, fragments of the output)
CASES = {
    # Finding 1: decompression bombs, refused before a parser sees them.
    "xlsx sharedStrings bomb": (corpus.xlsx_shared_strings_bomb, {}, 2,
                                ["'xl/sharedStrings.xml' inflates to more than 100 times",
                                 "STRESSLAB_MAX_RATIO"]),
    "xlsx bomb, ratio raised: size limit": (corpus.xlsx_shared_strings_bomb,
                                            {"STRESSLAB_MAX_RATIO": "100000", "STRESSLAB_MAX_XLSX_MB": "64"}, 2,
                                            ["uncompressed size (200 MiB) is over the limit of 64 MiB",
                                             "STRESSLAB_MAX_XLSX_MB"]),
    "gzip bomb": (corpus.gzip_bomb, {}, 2, ["gzip stream inflates to more than 100 times",
                                            "STRESSLAB_MAX_RATIO"]),
    "gzip bomb, ratio raised: size limit": (corpus.gzip_bomb,
                                            {"STRESSLAB_MAX_RATIO": "100000", "STRESSLAB_MAX_INPUT_MB": "64"}, 2,
                                            ["the gzip stream uncompressed is over the limit of 64 MiB",
                                             "STRESSLAB_MAX_INPUT_MB"]),
    "zip bomb": (corpus.zip_bomb, {}, 2, ["'pool.csv' inflates to more than 100 times", "STRESSLAB_MAX_RATIO"]),
    "zip with a lying directory": (corpus.zip_lying_directory, {}, 2, ["'pool.csv' is corrupt"]),
    "zip of 10,001 members": (corpus.zip_many_members, {}, 2, ["zip members (10,001) is over the limit of 10,000",
                                                               "STRESSLAB_MAX_ZIP_MEMBERS"]),
    "file over the input size": (corpus.big_cell_csv, {"STRESSLAB_MAX_INPUT_MB": "10"}, 2,
                                 ["the file (50 MiB) is over the limit of 10 MiB", "STRESSLAB_MAX_INPUT_MB"]),
    "more rows than allowed": (corpus.huge_balance_csv, {"STRESSLAB_MAX_ROWS": "2"}, 2,
                               ["number of rows (3) is over the limit of 2", "STRESSLAB_MAX_ROWS"]),
    # Finding 2: encodings.
    "latin-1 CSV": (corpus.latin1_csv, {}, 0, ["latin1.csv was read as cp1252", "Zürich-1"]),
    "cp1252 CSV": (corpus.cp1252_csv, {}, 0, ["cp1252.csv was read as cp1252", "L€1", "L‘2’"]),
    "UTF-16 CSV": (corpus.utf16_csv, {}, 0, ["utf16.csv was read as UTF-16 text", "Besançon-2"]),
    "UTF-8 CSV with BOM": (corpus.utf8_bom_csv, {}, 0, ["bom.csv was read as UTF-8 text (with a byte-order mark)",
                                                        "Málaga-3"]),
    "undecodable file": (corpus.undecodable_csv, {}, 2, ["byte 0x81 at offset 40 is not valid UTF-8"]),
    # Finding 3: malformed files.
    "JSON nested 100,000 deep": (corpus.deep_json, {}, 2, ["JSON nesting depth is over the limit of 64",
                                                           "STRESSLAB_MAX_JSON_DEPTH"]),
    "JSON nested 100 deep": (lambda folder: corpus.deep_json(folder, depth=100), {}, 2,
                             ["JSON nesting depth is over the limit of 64", "STRESSLAB_MAX_JSON_DEPTH"]),
    "JSON balance true": (corpus.json_true_balance, {}, 2, ["row 1, column 'balance' (value True): "
                                                            "must be a number, not true/false"]),
    "50 MB cell": (corpus.big_cell_csv, {}, 2, ["line 2 is 52,428,826 bytes long, more than its 6 columns can hold: a cell is over the limit of 32,767",
                                               "STRESSLAB_MAX_CELL_CHARS"]),
    "1,000,000 columns": (corpus.million_columns_csv, {}, 2, ["number of columns (1,000,000) is over the limit "
                                                             "of 2,000", "STRESSLAB_MAX_COLUMNS"]),
    # Finding 4: implausible tapes.
    "duplicated header": (corpus.duplicated_header_csv, {}, 2, ["column 'balance': column name appears twice "
                                                               "(columns 3 and 7)"]),
    "header duplicated but for case": (corpus.case_duplicated_header_csv, {}, 2,
                                       ["column 'Balance': same column as 'balance'"]),
    "balance 1e300": (corpus.huge_balance_csv, {}, 2, ["row 1, column 'balance' (value 1e+300): "
                                                       "must be at most 1e+10 per loan"]),
    "term 10,000 months": (corpus.long_term_csv, {}, 2, ["row 1, column 'term' (value 10000): "
                                                         "must be at most 600 months"]),
    "200,000-character column name": (corpus.long_column_name_csv, {}, 2,
                                      [f"column '{'n' * 40}…': column 7's name is 200,000 characters long; "
                                       "use at most 256"]),
}


def _stored_pools(capsys) -> list[str]:
    assert main(["pools", "list", "--json"]) == 0
    return [p["pool_id"] for p in json.loads(capsys.readouterr().out)]


@pytest.mark.parametrize("case", list(CASES))
def test_pools_import_of_a_hostile_file(case, tmp_path, monkeypatch, capsys):
    build, settings, status, fragments = CASES[case]
    path = build(tmp_path)
    for env, value in settings.items():
        monkeypatch.setenv(env, value)
    code = main(["pools", "import", str(path)])
    out, err = capsys.readouterr()
    text = out + err
    assert code == status, text
    assert "internal error" not in text and "Traceback" not in text
    if status == 0:  # stored, and the loan ids read back as written
        (pool_id,) = _stored_pools(capsys)
        text += " ".join(load_pool(pool_id).frame["asset_id"])
    else:
        assert _stored_pools(capsys) == []
    for fragment in fragments:
        assert fragment in text, (fragment, text[:2000])


@pytest.mark.parametrize("case", ["skops schema bomb", "skops bomb, ratio raised: schema limit",
                                  "skops bomb, ratio raised: model size limit"])
def test_validate_with_a_hostile_model_file(case, tmp_path, monkeypatch, capsys):
    settings, fragments = {
        "skops schema bomb": ({}, ["'schema.json' inflates to more than 100 times", "STRESSLAB_MAX_RATIO"]),
        "skops bomb, ratio raised: schema limit": (
            {"STRESSLAB_MAX_RATIO": "100000"},
            ["its schema.json (the object graph skops rebuilds) (200 MiB) is over the limit of 32 MiB",
             "STRESSLAB_MAX_MODEL_SCHEMA_MB"]),
        "skops bomb, ratio raised: model size limit": (
            {"STRESSLAB_MAX_RATIO": "100000", "STRESSLAB_MAX_MODEL_MB": "64"},
            ["uncompressed size (200 MiB) is over the limit of 64 MiB", "STRESSLAB_MAX_MODEL_MB"]),
    }[case]
    model = corpus.skops_schema_bomb(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"target": "default_payment_next_month", "model_path": model.name,
                                  "row_limit": 500}))
    for env, value in settings.items():
        monkeypatch.setenv(env, value)
    code = main(["validate", "--config", str(config), "--out", str(tmp_path / "out"), "--no-store"])
    err = capsys.readouterr().err
    assert code == 2, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.mark.parametrize("build", [corpus.big_cell_csv, corpus.million_columns_csv, corpus.deep_json],
                         ids=["50 MB cell", "1,000,000 columns", "JSON nested 100,000 deep"])
def test_the_command_exits_2_and_never_aborts(build, tmp_path):
    """In a process of its own, as a user runs it: exit 2 (refused), not 134 (SIGABRT) nor 1."""
    path = build(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRESSLAB_MAX")}
    env["STRESSLAB_DB"] = str(tmp_path / "sub.duckdb")
    done = subprocess.run([sys.executable, "-m", "engine.cli", "pools", "import", str(path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and "STRESSLAB_MAX_" in done.stderr
