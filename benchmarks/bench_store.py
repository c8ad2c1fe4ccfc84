"""What sharing one store costs: the added cost per command of the locking design, and how long a
writer waits behind a 1,000,000-loan stress run.

    .venv/bin/python benchmarks/bench_store.py [--calls 50] [--loans 1000000]

1. **Per command.** On an idle store holding the Lending Club pool, 50 × ``stresslab pools list
   --json`` (whole processes, median). To isolate what the design adds, the same query runs 50 ×
   in a bare process two ways: the old design (``duckdb.connect(file)``, query, close) and the new
   one (``Store(file).read()``: flock + ATTACH to an in-memory DuckDB, query, DETACH, unlock).
   Also in one process: the median cost of an empty read and write session (500 each).
2. **A writer behind a big run.** ``stresslab stress <1,000,000 loans> --no-cache`` (all 9
   scenarios) runs in the background while this process opens a write session every 50 ms (one
   insert into a scratch table) and a read session in between; every wait is recorded. The
   longest is the figure: a writer waits for the stress command's read of the pool and for its
   one write of the results, never for its computation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
PY = sys.executable
TAPE = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"

OLD = """
import sys, duckdb
c = duckdb.connect(sys.argv[1])
c.execute("SELECT pool_id, pool_name, n_assets FROM pools ORDER BY created_at DESC").fetchall()
c.close()
"""
NEW = """
import sys
from engine.store import Store
with Store(sys.argv[1]).read() as c:
    c.execute("SELECT pool_id, pool_name, n_assets FROM pools ORDER BY created_at DESC").fetchall()
"""


def _env(db: Path) -> dict[str, str]:
    return dict(os.environ, STRESSLAB_DB=str(db), STRESSLAB_LOCK_TIMEOUT="600")


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def per_command(db: Path, calls: int) -> dict[str, float]:
    env = _env(db)
    cli = [PY, "-m", "engine.cli", "pools", "list", "--json"]
    _timed(cli, env)  # warm the OS file cache
    out = {"pools_list_ms": _median_ms([_timed(cli, env) for _ in range(calls)])}
    old = [_timed([PY, "-c", OLD, str(db)], env) for _ in range(calls)]
    new = [_timed([PY, "-c", NEW, str(db)], env) for _ in range(calls)]
    out["old_design_ms"] = _median_ms(old)
    out["new_design_ms"] = _median_ms(new)
    out["added_ms"] = out["new_design_ms"] - out["old_design_ms"]

    from engine.store import Store

    store = Store(db)
    for name, session in (("read_session_ms", store.read), ("write_session_ms", store.write)):
        times = []
        for _ in range(500):
            t = time.perf_counter()
            with session():
                pass
            times.append(time.perf_counter() - t)
        out[name] = _median_ms(times)
    return out


def writer_behind_stress(db: Path, *, loans: int, workdir: Path) -> dict[str, float]:
    from bench_credit import synthetic_frame

    from engine.store import Store, transaction

    tape = workdir / f"big{loans}.parquet"
    synthetic_frame(loans).to_parquet(tape, index=False)
    env = _env(db)
    subprocess.run([PY, "-m", "engine.cli", "pools", "import", str(tape), "--format", "native"],
                   env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    store = Store(db, timeout=600)
    with store.write() as con:
        con.execute("CREATE TABLE IF NOT EXISTS bench_probe (t DOUBLE)")

    t0 = time.perf_counter()
    run = subprocess.Popen([PY, "-m", "engine.cli", "stress", tape.stem, "--no-cache", "--json"],
                           env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    write_waits, read_waits = [], []
    while run.poll() is None:
        t = time.perf_counter()
        with store.write() as con:
            write_waits.append(time.perf_counter() - t)
            with transaction(con):
                con.execute("INSERT INTO bench_probe VALUES (?)", [t])
        time.sleep(0.025)
        t = time.perf_counter()
        with store.read() as con:
            read_waits.append(time.perf_counter() - t)
            con.execute("SELECT count(*) FROM bench_probe").fetchone()
        time.sleep(0.025)
    wall = time.perf_counter() - t0
    out, err = run.communicate()
    if run.returncode != 0:
        raise SystemExit(f"stress run failed: {err.decode()}")
    scenarios = json.loads(out)
    return {"stress_wall_s": wall, "scenarios": len(scenarios), "writes": len(write_waits),
            "max_write_wait_s": max(write_waits), "p50_write_wait_ms": _median_ms(write_waits),
            "max_read_wait_s": max(read_waits), "p50_read_wait_ms": _median_ms(read_waits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--loans", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "bench.duckdb"
        subprocess.run([PY, "-m", "engine.cli", "pools", "import", str(TAPE), "--format",
                        "lendingclub", "--name", "Lending Club 2018 Q1"],
                       env=_env(db), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        cost = per_command(db, args.calls)
        print(f"idle store, median of {args.calls} calls:")
        print(f"  stresslab pools list --json (whole process)      {cost['pools_list_ms']:8.1f} ms")
        print(f"  bare process, old design (duckdb.connect)          {cost['old_design_ms']:8.1f} ms")
        print(f"  bare process, new design (lock + attach session)   {cost['new_design_ms']:8.1f} ms")
        print(f"  added cost per command of the locking design       {cost['added_ms']:+8.1f} ms")
        print(f"  empty read session in a warm process (median of 500)  {cost['read_session_ms']:.2f} ms")
        print(f"  empty write session in a warm process (median of 500) {cost['write_session_ms']:.2f} ms")
        w = writer_behind_stress(db, loans=args.loans, workdir=work)
        print(f"writer behind `stresslab stress` on {args.loans:,} loans × {w['scenarios']} scenarios "
              f"({w['stress_wall_s']:.1f} s, {w['writes']} write sessions meanwhile):")
        print(f"  longest wait of a writer  {w['max_write_wait_s']:.2f} s (median {w['p50_write_wait_ms']:.1f} ms)")
        print(f"  longest wait of a reader  {w['max_read_wait_s']:.2f} s (median {w['p50_read_wait_ms']:.1f} ms)")


if __name__ == "__main__":
    main()
