"""``stresslab pools``, ``stresslab scenarios`` and ``stresslab stress``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from engine.errors import InputError

__all__ = ["register"]

FORMATS = ("auto", "native", "lendingclub", "loan-record")


def register(sub: argparse._SubParsersAction) -> None:
    pools = sub.add_parser("pools", help="import and list loan pools")
    psub = pools.add_subparsers(dest="pools_command", metavar="ACTION", required=True)
    imp = psub.add_parser("import", help="validate a loan tape and store it as a pool")
    imp.add_argument("file", type=Path)
    imp.add_argument("--name", help="pool name (default: the file's name)")
    imp.add_argument("--format", choices=FORMATS, default="auto",
                     help="tape mapping (default: detected from the header)")
    imp.add_argument("--cutoff-date", type=date.fromisoformat,
                     help="date balances and ages refer to (YYYY-MM-DD)")
    imp.add_argument("--assumptions", type=Path,
                     help="CSV overriding the assumption table (asset_class, grade, field values)")
    imp.add_argument("--json", action="store_true", help="print the stored pool as JSON")
    imp.set_defaults(func=_pools_import)
    lst = psub.add_parser("list", help="list stored pools")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_pools_list)

    scen = sub.add_parser("scenarios", help="list scenarios")
    ssub = scen.add_subparsers(dest="scenarios_command", metavar="ACTION", required=True)
    sl = ssub.add_parser("list", help="predefined, Federal Reserve and stored custom scenarios")
    sl.add_argument("--json", action="store_true",
                    help="key → {name, description, market_factors}")
    sl.set_defaults(func=_scenarios_list)

    st = sub.add_parser("stress", help="stress-test a pool under scenarios",
                        description="POOL is a loan-tape file or a stored pool id.")
    st.add_argument("pool", help="a tape file (CSV, Parquet, JSON, Excel) or a stored pool id")
    st.add_argument("--scenario", action="append", dest="scenarios", metavar="KEY",
                    help="scenario key, repeatable; 'all' (default) runs every scenario")
    st.add_argument("--custom", type=Path, action="append", default=[], metavar="FILE.json",
                    help="custom scenario(s): {name, description, market_factors} or "
                         "{key: {...}, ...}")
    st.add_argument("--format", choices=FORMATS, default="auto", help="tape mapping for a file")
    st.add_argument("--assumptions", type=Path,
                    help="CSV overriding the assumption table for a file's missing fields")
    st.add_argument("--discount-rate", type=float, default=0.05,
                    help="annual discount rate, decimal, monthly compounded (default 0.05)")
    st.add_argument("--analysis-date", type=date.fromisoformat,
                    help="YYYY-MM-DD (default: the pool's cutoff date, else today)")
    st.add_argument("--periods", type=int, help="months to project (default: full run-off)")
    st.add_argument("--cashflows", type=Path, metavar="OUT.csv|OUT.parquet",
                    help="write monthly pool cashflows of every scenario")
    st.add_argument("--loan-level", type=Path, metavar="OUT.parquet",
                    help="write one row per loan and scenario (NPV, losses, default probability)")
    st.add_argument("--workers", type=int, help="parallel workers (default: CPU count)")
    st.add_argument("--json", action="store_true", help="print only the response JSON")
    st.add_argument("--no-cache", action="store_true", help="recompute every scenario")
    st.add_argument("--no-store", action="store_true", help="do not record the run in the store")
    st.set_defaults(func=_stress)


def _connect():
    from engine.store import connect

    return connect()


def _pools_import(args: argparse.Namespace) -> int:
    from engine.ingest import load_assumptions, read_pool
    from engine.store.credit import save_pool

    assumptions = load_assumptions(args.assumptions) if args.assumptions else None
    pool = read_pool(args.file, format=args.format, pool_name=args.name,
                     cutoff_date=args.cutoff_date, assumptions=assumptions)
    con = _connect()
    pool_id = save_pool(con, pool, source_file=str(args.file))
    summary = {"pool_id": pool_id, "pool_name": pool.pool_name, "format": pool.source_format,
               "n_assets": pool.n_assets, "total_balance": pool.total_balance,
               "cutoff_date": pool.cutoff_date.isoformat() if pool.cutoff_date else None,
               "assumptions": pool.assumptions, "warnings": pool.warnings}
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(f"stored pool {pool_id!r}: {pool.n_assets:,} loans, balance "
              f"{pool.total_balance:,.2f} ({pool.source_format} format)")
        for w in pool.warnings:
            print(f"warning: {w}")
        if pool.assumptions:
            print("assumptions applied (field, asset class, grade, value, loans, source):")
            for a in pool.assumptions:
                print(f"  {a['field']:<20} {a['asset_class']:<20} {a.get('grade') or '-':<3} "
                      f"{a['value']:<8g} {a['n_assets']:>8,}  {a['source']}")
    return 0


def _pools_list(args: argparse.Namespace) -> int:
    from engine.store.credit import list_pools

    df = list_pools(_connect())
    if args.json:
        print(df.to_json(orient="records", date_format="iso", indent=2))
    elif df.empty:
        print("no stored pools; `stresslab pools import FILE` adds one")
    else:
        print(df.to_string(index=False))
    return 0


def _scenarios_list(args: argparse.Namespace) -> int:
    from engine.store.credit import scenario_library

    lib = scenario_library(_connect())
    if args.json:
        print(json.dumps({k: s.response_dict() for k, s in lib.items()}, indent=2))
        return 0
    for key, s in lib.items():
        named = ", ".join(f"{k} {v:+g}" if "shock" in k or "spread" in k else f"{k} ×{v:g}"
                          for k, v in s.market_factors.named().items()) or "none"
        print(f"{key:<28} {s.name:<40} [{s.source}] {named}")
    return 0


def _load_customs(paths: list[Path]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for p in paths:
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"custom scenario file {str(p)!r} does not exist") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"custom scenario file {str(p)!r} is not valid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise InputError(f"{p}: expected a JSON object")
        if "market_factors" in obj or "name" in obj:
            key = str(obj.get("name") or p.stem).strip().lower().replace(" ", "_")
            out[key] = obj
        else:
            out.update(obj)
    return out


def _print_table(result) -> None:
    rows = []
    for key, r in result.scenarios.items():
        m = r.metrics
        if r.status != "success" or m.get("npv_change") is None:
            rows.append([key, r.scenario.name, "error: " + (r.error or "")] + [""] * 7)
            continue
        rows.append([
            key, r.scenario.name, f"{m['npv']:,.0f}",
            f"{m['npv_change']:+,.0f}", f"{m['npv_change_percent']:+.2f}%",
            f"{m['irr'] * 100:.2f}%", f"{m['weighted_average_life']:.2f}",
            f"{m['duration']:.2f}", f"{m['total_loss']:,.0f}", f"{m['loss_percent']:.2f}%",
        ])
    head = ["scenario", "name", "NPV", "ΔNPV", "ΔNPV %", "IRR", "WAL (y)", "Duration (y)",
            "Loss", "Loss %"]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    right = {2, 3, 4, 5, 6, 7, 8, 9}

    def fmt(row: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    print(f"Pool {result.pool_name!r}: {result.n_assets:,} loans, analysis date "
          f"{result.analysis_date}, discount rate {result.discount_rate:.2%} (monthly compounded), "
          f"{result.projection_periods} months")
    print(fmt(head))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt(r))
    hits = sum(r.cache_hit for r in result.scenarios.values())
    print(f"{len(result.scenarios)} scenarios in {result.execution_time_total:.2f} s"
          f" ({hits} from cache)")


def _stress(args: argparse.Namespace) -> int:
    from engine.credit import AnalysisRequest, ScenarioSpec, StressTestRequest, run_stress_test
    from engine.export import write_table

    started = datetime.now(timezone.utc).replace(tzinfo=None)
    src = Path(args.pool)
    con = None
    if src.exists():
        from engine.ingest import load_assumptions, read_pool

        table = load_assumptions(args.assumptions) if args.assumptions else None
        pool = read_pool(src, format=args.format, assumptions=table)
    else:
        from engine.store.credit import load_pool

        con = _connect()
        pool = load_pool(con, args.pool)
    if args.loan_level is not None and args.loan_level.suffix.lower() != ".parquet":
        raise InputError("--loan-level writes Parquet: give a file name ending in .parquet")
    customs = _load_customs(args.custom)
    names = args.scenarios or ["all"]
    if args.custom and not args.scenarios:
        names = ["all"]
    request = StressTestRequest(
        request=AnalysisRequest(
            analysis_date=args.analysis_date or pool.cutoff_date or date.today(),
            discount_rate=args.discount_rate, projection_periods=args.periods,
            include_cashflows=False),
        scenario_names=names,
        custom_scenarios={k: ScenarioSpec(**v) for k, v in customs.items()},
        max_workers=args.workers,
        include_loan_level=args.loan_level is not None,
    )
    if not args.no_store and con is None:
        con = _connect()
    library = None
    cache = None
    if con is not None:
        from engine.store.credit import DuckDBCache, scenario_library

        library = scenario_library(con)
        cache = None if args.no_cache else DuckDBCache(con)
    elif not args.no_cache:
        from engine.credit._runner import MemoryCache

        cache = MemoryCache()
    config = {"command": "stress", "pool_source": str(args.pool), "scenario_names": names,
              "custom_scenarios": customs, "projection_periods": args.periods,
              "discount_rate": args.discount_rate}
    try:
        result = run_stress_test(request, pool=pool, library=library, cache=cache)
    except InputError:
        raise
    except Exception as exc:  # the run itself failed: record it as an error, then report it
        if not args.no_store and con is not None:
            from engine.store.credit import record_failed_run

            record_failed_run(con, configuration=config, error=f"{type(exc).__name__}: {exc}",
                              pool_id=pool.pool_id, pool_name=pool.pool_name,
                              inputs_hash=pool.content_hash(), started_at=started)
        raise
    if args.cashflows:
        write_table(result.cashflows_frame(), args.cashflows)
    if args.loan_level:
        write_table(result.loan_level_frame(), args.loan_level)
    if not args.no_store and con is not None:
        from engine.store.credit import record_run

        record_run(con, result, configuration=config, started_at=started)
    if args.json:
        sys.stdout.write(result.response_json() + "\n")
    else:
        _print_table(result)
        if result.run_id:
            print(f"stored as run {result.run_id}")
    failed = [k for k, r in result.scenarios.items() if r.status != "success"]
    return 1 if failed and len(failed) == len(result.scenarios) else 0
