"""Benchmark: time and memory to refuse each hostile file of issue 9 (target: 2 s and 300 MB each).

Builds the corpus of :mod:`tests.hostile.corpus` at the sizes issue 9 reports (a 2.4 MB and a
0.49 MB xlsx whose sharedStrings part inflates a thousandfold, a 1.5 MB skops schema bomb, a gzip
and a zip bomb of 1 GiB, a 50 MB cell, 1,000,000 columns, JSON nested 100,000 deep) in a
temporary folder, then refuses each one in a process of its own through the real command
(``stresslab pools import``, ``stresslab validate`` for the model) and prints: the file's size,
the exit status, the seconds from the command's start to its refusal, the process's peak RSS
(``VmHWM``, the whole process: Python and every library the command loads, pandas, pyarrow,
DuckDB, and scikit-learn for ``validate``) and how much the command added to the RSS measured
just before it (those imports included). Time and memory both count the command's own imports,
as a user meets them.

Run: ``.venv/bin/python benchmarks/bench_hostile.py``
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile import corpus  # noqa: E402 - after the path is set

TARGET_SECONDS, TARGET_MIB = 2.0, 300.0

#: name -> (builder, command); sizes as issue 9 reports them.
BOMBS = {
    "xlsx sharedStrings bomb (2.4 MB)": (lambda d: corpus.xlsx_shared_strings_bomb(d, scale_mb=2400), "pools"),
    "xlsx sharedStrings bomb (0.49 MB)": (lambda d: corpus.xlsx_shared_strings_bomb(d, scale_mb=490), "pools"),
    "skops schema bomb (1.5 MB)": (lambda d: corpus.skops_schema_bomb(d, scale_mb=420), "validate"),
    "gzip bomb (1 GiB inflated)": (lambda d: corpus.gzip_bomb(d, scale_mb=1024), "pools"),
    "zip bomb (1 GiB inflated)": (lambda d: corpus.zip_bomb(d, scale_mb=1024), "pools"),
    "zip with a lying directory": (corpus.zip_lying_directory, "pools"),
    "50 MB cell": (corpus.big_cell_csv, "pools"),
    "1,000,000 columns": (corpus.million_columns_csv, "pools"),
    "JSON nested 100,000 deep": (corpus.deep_json, "pools"),
}


def _status_mib(field: str) -> float:
    """A memory figure of this process from Linux's /proc/self/status, MiB: ``VmRSS`` (resident
    now) or ``VmHWM`` (peak resident, this program's own: unlike ``getrusage``'s ``ru_maxrss`` it
    does not carry over the parent's peak across ``exec``)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"{field} not in /proc/self/status")


def _one(path: str, command: str) -> None:
    """Child process: refuse one file through the CLI; print one JSON line of figures."""
    from engine.cli import main

    folder = Path(path).parent
    if command == "validate":
        config = folder / "config.json"
        config.write_text(json.dumps({"target": "default_payment_next_month", "model_path": Path(path).name,
                                      "row_limit": 500}))
        argv = ["validate", "--config", str(config), "--out", str(folder / "out"), "--no-store"]
    else:
        argv = ["pools", "import", path]
    before = _status_mib("VmRSS")
    err = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    seconds = time.perf_counter() - t0
    peak = _status_mib("VmHWM")
    print(json.dumps({"status": status, "seconds": seconds, "peak": peak, "added": max(0.0, peak - before),
                      "message": err.getvalue().strip()[:160]}))


def main() -> None:
    print(f"{'file':36s} {'size':>10s} {'exit':>4s} {'seconds':>8s} {'peak RSS':>9s} {'added':>7s}  "
          f"(target <= {TARGET_SECONDS:.0f} s, <= {TARGET_MIB:.0f} MB)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (build, command) in BOMBS.items():
            folder = Path(tmp) / str(abs(hash(name)))
            folder.mkdir()
            path = build(folder)
            env = {k: v for k, v in os.environ.items() if not k.startswith("STRESSLAB_MAX")}
            env["STRESSLAB_DB"] = str(folder / "bench.duckdb")
            done = subprocess.run([sys.executable, __file__, "--one", str(path), command], env=env,
                                  capture_output=True, text=True, check=True, cwd=ROOT)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            size = path.stat().st_size
            shown = f"{size / 2**20:.2f} MiB" if size >= 2**20 else f"{size / 1024:.0f} KiB"
            print(f"{name:36s} {shown:>10s} {r['status']:>4d} {r['seconds']:>8.3f} {r['peak']:>5.0f} MiB "
                  f"{r['added']:>3.0f} MiB  {r['message'][:70]}", flush=True)
            path.unlink()


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--one":
        _one(sys.argv[2], sys.argv[3])
    else:
        main()
