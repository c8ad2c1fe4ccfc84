"""What the signed audit trail costs: an append with and without signing, the ``run`` record a
credit stress run now writes, and ``stresslab audit verify`` on a long trail.

    .venv/bin/python benchmarks/bench_audit.py [--appends 300] [--evaluations 300] [--runs 3]

1. **Per append.** On a file store, ``--appends`` times one user action's worth of work: a write
   session, a transaction and one ``chain.append`` (median ms), unsigned (no key) and signed
   (Ed25519 signature of the head, checkpoint written to the key directory after the commit),
   alternating so that load from other processes falls on both alike. Also the bare append
   inside an open transaction (median µs, rolled back) and the same append covering one row.
2. **A credit run.** The bundled Lending Club pool through ``run_stress`` (every scenario,
   cache off), ``--runs`` times unsigned and signed after one warm-up run (median s); and the
   ``run`` record alone on that run's stored row (read the row, hash it, append, sign), 50
   times in a rolled-back transaction (median ms).
3. **Verify.** ``verify_audit`` on a signed trail of ``--evaluations`` limit evaluations
   (six records each; every covered row read again and hashed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audit import chain  # noqa: E402
from engine.audit.keys import init_keys, load_signing_key, write_checkpoint  # noqa: E402
from engine.audit.workflow import verify_audit  # noqa: E402
from engine.store import Store, transaction  # noqa: E402

T0 = datetime(2024, 1, 2, 9, 30)


class _Rollback(Exception):
    pass


def _median(values: list[float], scale: float) -> float:
    return statistics.median(values) * scale


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _interleaved(stores: dict[str, tuple[Store, Path]], n: int, step) -> dict[str, float]:
    """Median seconds of ``step(store, i)``, alternating unsigned and signed so that load from
    other processes falls on both alike."""
    times: dict[str, list[float]] = {label: [] for label in stores}
    for i in range(n):
        for label, (store, keys) in stores.items():
            os.environ["STRESSLAB_KEYS"] = str(keys)
            times[label].append(step(store, i))
    return {label: statistics.median(v) for label, v in times.items()}


def _action(store: Store, i: int) -> float:
    t = time.perf_counter()
    with store.write() as con, transaction(con):
        chain.append(con, event_type="note", payload={"i": i, "text": "x" * 200}, timestamp=T0)
    return time.perf_counter() - t


def _bare(store: Store, i: int, *, covered: bool = False) -> float:
    """One append inside an open transaction (rolled back, so the chain does not grow)."""
    try:
        with store.write() as con, transaction(con):
            if covered:
                con.execute("CREATE TABLE IF NOT EXISTS bench_rows (id INTEGER, v VARCHAR)")
                con.execute("INSERT INTO bench_rows VALUES (1, 'a row of forty characters or so')")
            t = time.perf_counter()
            chain.append(con, event_type="note", payload={"i": i}, timestamp=T0,
                         covers=[("bench_rows", {"id": 1})] if covered else ())
            elapsed = time.perf_counter() - t
            raise _Rollback
    except _Rollback:
        return elapsed


def _credit(store: Store, runs: int) -> tuple[float, float, int]:
    from engine.credit import workflow as cw

    pool_id = cw.seed_store(store=store) or cw.list_pools(store=store)["pool_id"].iloc[0]
    request = cw.StressRunRequest.build(pool_id=pool_id, use_cache=False)
    totals, run_id = [], cw.run_stress(request, store=store).run_id  # warm-up: numba's kernels
    for _ in range(runs):
        t = time.perf_counter()
        run_id = cw.run_stress(request, store=store).run_id
        totals.append(time.perf_counter() - t)
    record = []
    try:
        with store.write() as con, transaction(con):
            size = len(str(con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]).fetchone()))
            for _ in range(50):
                t = time.perf_counter()
                chain.append(con, event_type="run", payload={"run_id": run_id}, timestamp=T0,
                             covers=[("runs", {"run_id": run_id})])
                record.append(time.perf_counter() - t)
            raise _Rollback
    except _Rollback:
        pass
    return _median(totals, 1.0), _median(record, 1e3), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appends", type=int, default=300)
    parser.add_argument("--evaluations", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_audit_"))
    unsigned_dir, signed_dir = tmp / "no-keys", tmp / "keys"
    os.environ["STRESSLAB_KEYS"] = str(signed_dir)
    init_keys()

    print(f"1. Per append (median of {args.appends}, unsigned and signed alternating; store "
          f"and keys in {tmp})")
    stores = {label: (Store(tmp / f"append-{label}.duckdb"), keys)
              for label, keys in (("unsigned", unsigned_dir), ("signed", signed_dir))}
    action = _interleaved(stores, args.appends, _action)
    bare = _interleaved(stores, args.appends, _bare)
    covered = _interleaved(stores, args.appends, lambda s, i: _bare(s, i, covered=True))
    print(f"   {'':9} {'session+tx+append':>18} {'bare append':>12} {'covering 1 row':>15}")
    for label in stores:
        print(f"   {label:9} {action[label] * 1e3:15.2f} ms {bare[label] * 1e6:9.0f} µs "
              f"{covered[label] * 1e6:12.0f} µs")
    os.environ["STRESSLAB_KEYS"] = str(signed_dir)
    key = load_signing_key()
    body = chain.head_body(store="0" * 36, seq=123456, head_hash="ab" * 32)
    sign = _median([_timed(lambda: key.sign_obj(body)) for _ in range(args.appends)], 1e6)
    load = _median([_timed(load_signing_key) for _ in range(args.appends)], 1e6)
    write = _median([_timed(lambda: write_checkpoint(key, store_id="bench", db_path="/x", seq=1,
                                                     head_hash="ab" * 32))
                     for _ in range(args.appends)], 1e6)
    print(f"   of which signing: cached key lookup {load:.0f} µs, head signature {sign:.0f} µs, "
          f"checkpoint file {write:.0f} µs")

    print(f"\n2. A credit run (bundled Lending Club pool, every scenario, cache off, median of "
          f"{args.runs})")
    for label, keys in (("unsigned", unsigned_dir), ("signed", signed_dir)):
        os.environ["STRESSLAB_KEYS"] = str(keys)
        total, record, size = _credit(Store(tmp / f"credit-{label}.duckdb"), args.runs)
        print(f"   {label:9} run_stress {total:6.2f} s; its run record alone {record:5.2f} ms "
              f"(runs row of {size:,} characters)")

    print(f"\n3. Verify a signed trail of {args.evaluations} limit evaluations")
    os.environ["STRESSLAB_KEYS"] = str(signed_dir)
    from engine.market import workflow as mw

    store = Store(tmp / "verify.duckdb")
    request = mw.LimitsRequest.build()
    t = time.perf_counter()
    for i in range(args.evaluations):
        mw.evaluate_limits(request, store=store, now=T0 + timedelta(minutes=i))
    per_eval = (time.perf_counter() - t) / args.evaluations
    t = time.perf_counter()
    status = verify_audit(store=store)
    elapsed = time.perf_counter() - t
    print(f"   {status.records} records, ok={status.ok}: verify_audit {elapsed:.2f} s "
          f"({elapsed / max(status.records, 1) * 1e6:.0f} µs per record); "
          f"one evaluation recorded in {per_eval * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
