"""``stresslab pools``, ``stresslab scenarios`` and ``stresslab stress``.

Each handler parses its arguments into a workflow request (:mod:`engine.credit.workflow`), calls
one workflow and prints. Heavy modules are imported inside the handlers, so ``stresslab --help``
stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.canonical import canonical_json
from engine.errors import InputError

if TYPE_CHECKING:  # pragma: no cover - types only; pandas is imported by the workflows
    import pandas as pd

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
    mapped = imp.add_mutually_exclusive_group()
    mapped.add_argument("--mapping", type=Path, metavar="MAPPING.json",
                        help="apply this column mapping (JSON, as `pools mappings export` "
                             "writes) instead of a known layout")
    mapped.add_argument("--mapping-name", metavar="NAME",
                        help="apply the column mapping saved in the store under NAME")
    imp.add_argument("--bad-rows", choices=("refuse", "quarantine"), default="refuse",
                     help="refuse: one bad row refuses the tape (default); quarantine: import "
                          "the valid rows, keep the bad ones with the pool")
    imp.add_argument("--json", action="store_true", help="print the stored pool as JSON")
    imp.set_defaults(func=_pools_import)
    lst = psub.add_parser("list", help="list stored pools")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_pools_list)
    qua = psub.add_parser("quarantine", help="write a pool's quarantined rows as CSV")
    qua.add_argument("pool", help="a stored pool id")
    qua.add_argument("--out", type=Path, required=True, metavar="F.csv")
    qua.set_defaults(func=_pools_quarantine)
    exp = psub.add_parser(
        "export", help="write a stored pool as Parquet partitions for --executor dask",
        description="Write the pool's loan arrays, in the order a run projects them, as "
                    "Parquet partitions of whole 50,000-loan chunks plus manifest.json, into a "
                    "directory every Dask worker can read (local, NFS, or an fsspec URL such "
                    "as s3://bucket/dir with s3fs installed). `stresslab stress POOL --executor "
                    "dask --partition-dir DIR` then reads them.")
    exp.add_argument("pool", help="a stored pool id")
    exp.add_argument("--parquet", required=True, metavar="DIR",
                     help="a new or empty directory (or fsspec URL)")
    exp.add_argument("--partitions", type=int, required=True, metavar="N",
                     help="partitions to write (at most one per 50,000-loan chunk)")
    exp.add_argument("--loan-level", action="store_true",
                     help="partitions for loan-level runs (the pool's own order)")
    exp.add_argument("--json", action="store_true", help="print the manifest as JSON")
    exp.set_defaults(func=_pools_export)
    maps = psub.add_parser("mappings", help="saved column mappings: list, export, import, delete")
    msub = maps.add_subparsers(dest="mappings_command", metavar="ACTION", required=True)
    ml = msub.add_parser("list", help="list saved column mappings")
    ml.add_argument("--json", action="store_true")
    ml.set_defaults(func=_mappings_list)
    mx = msub.add_parser("export", help="write a saved mapping as JSON")
    mx.add_argument("name")
    mx.add_argument("--out", type=Path, metavar="MAPPING.json", help="default: standard output")
    mx.set_defaults(func=_mappings_export)
    mi = msub.add_parser("import", help="save a mapping from its JSON (replaces one of its name)")
    mi.add_argument("file", type=Path, metavar="MAPPING.json")
    mi.set_defaults(func=_mappings_import)
    md = msub.add_parser("delete", help="delete a saved mapping")
    md.add_argument("name")
    md.set_defaults(func=_mappings_delete)

    scen = sub.add_parser("scenarios", help="list scenarios")
    ssub = scen.add_subparsers(dest="scenarios_command", metavar="ACTION", required=True)
    sl = ssub.add_parser("list", help="predefined, Federal Reserve and stored custom scenarios")
    sl.add_argument("--json", action="store_true",
                    help="key → {name, description, market_factors}")
    sl.set_defaults(func=_scenarios_list)
    sh = ssub.add_parser("show", help="one scenario's factors, and its path step by step")
    sh.add_argument("key")
    sh.add_argument("--json", action="store_true", help="{name, description, market_factors}")
    sh.set_defaults(func=_scenarios_show)
    fed = ssub.add_parser(
        "import-fed", help="store the Federal Reserve Baseline and Severely Adverse scenarios",
        description="Read the Board's supervisory scenario CSVs of any year (Historic, Baseline "
                    "and Severely Adverse Domestic tables; the International tables are "
                    "ignored), recognised by their columns, not their names; translate them by "
                    "the Fed rule; store each scenario by its peak and as its quarterly path, "
                    "under fed_<year>_baseline, fed_<year>_severely_adverse and the same with "
                    "_path. All or nothing.")
    fed.add_argument("source", type=Path, metavar="FOLDER_OR_ZIP")
    fed.add_argument("--name", metavar="PREFIX",
                     help="key prefix in place of fed_<year> (e.g. fed_2026_proposed gives "
                          "fed_2026_proposed_baseline, ...)")
    fed.add_argument("--json", action="store_true", help="print what was stored as JSON")
    fed.set_defaults(func=_scenarios_import_fed)

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
                    help="YYYY-MM-DD (default: the pool's cutoff date, else today). A later "
                         "date rolls the pool forward: whole months from the cutoff (a month "
                         "end completes a month), ages advanced, balances run off under the "
                         "base assumptions, matured loans removed; a date before the cutoff is "
                         "refused")
    st.add_argument("--discounting", choices=("flat", "curve"), default="flat",
                    help="flat (default): --discount-rate plus each scenario's rate shocks; "
                         "curve: the US Treasury zero curve of --curve-date plus --spread, "
                         "bootstrapped from the bundled daily par yields (1990-01-02 … "
                         "2022-03-11)")
    st.add_argument("--curve-date", type=date.fromisoformat, metavar="YYYY-MM-DD",
                    help="curve date (default: the analysis date); a date not in the file "
                         "uses the nearest earlier one")
    st.add_argument("--spread", type=float, default=0.0,
                    help="spread over the Treasury zero curve, annual decimal, added to the "
                         "continuously compounded zero rate (default 0)")
    st.add_argument("--periods", type=int, help="months to project (default: full run-off)")
    st.add_argument("--residual", choices=("par", "run-off"), default="par",
                    help="with --periods shorter than the run-off, value the balance left at "
                         "the horizon at par (default) or as the present value of the "
                         "scenario's own run-off beyond it (losses beyond it reported apart)")
    st.add_argument("--cashflows", type=Path, metavar="OUT.csv|OUT.parquet",
                    help="write monthly pool cashflows of every scenario")
    st.add_argument("--loan-level", type=Path, metavar="OUT.parquet",
                    help="write one row per loan and scenario (NPV, losses, default probability)")
    st.add_argument("--workers", type=int, help="parallel workers (default: CPU count)")
    st.add_argument("--executor", choices=("local", "dask"), default="local",
                    help="local (default): threads of this process; dask: tasks on a Dask "
                         "cluster, same results bit for bit (needs pip install "
                         "'stresslab[dask]')")
    where = st.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="with --executor dask: connect to this running scheduler")
    where.add_argument("--local-workers", type=int, metavar="N",
                       help="with --executor dask: start a LocalCluster of N worker processes "
                            "for the run (default: the CPU count)")
    st.add_argument("--partition-dir", metavar="DIR",
                    help="with --executor dask: a directory every worker reads (local, NFS or "
                         "an fsspec URL): partitions from `pools export`, or where the run "
                         "writes its own (default: a local temporary directory)")
    st.add_argument("--json", action="store_true", help="print only the response JSON")
    st.add_argument("--no-cache", action="store_true", help="recompute every scenario")
    st.add_argument("--no-store", action="store_true", help="do not record the run in the store")
    st.set_defaults(func=_stress)


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {str(path)!r} does not exist") from None
    except OSError as exc:
        raise InputError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}") from None


def _read_mapping(path: Path) -> Any:
    """A column mapping file, its size checked before it is read (at most 1 MB)."""
    from engine.credit.workflow import MAX_MAPPING_BYTES, parse_mapping

    name = f"mapping file {str(path)!r}"
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # _read_file names the problem
    if size > MAX_MAPPING_BYTES:
        raise InputError(f"{name} is {size:,} bytes; a column mapping is at most "
                         f"{MAX_MAPPING_BYTES:,} bytes (1 MB). Is it the right file?")
    return parse_mapping(_read_file(path, "mapping file"), name=name)


def _pools_import(args: argparse.Namespace) -> int:
    from engine.credit.workflow import ImportPoolRequest, import_pool, load_mapping

    mapping = None
    if args.mapping is not None:
        mapping = _read_mapping(args.mapping)
    elif args.mapping_name is not None:
        mapping = load_mapping(args.mapping_name)
    request = ImportPoolRequest.build(path=args.file, format=args.format, pool_name=args.name,
                                      cutoff_date=args.cutoff_date,
                                      assumptions_path=args.assumptions, mapping=mapping,
                                      bad_rows=args.bad_rows)
    done = import_pool(request)
    if args.json:
        summary = {"pool_id": done.pool_id, "pool_name": done.pool_name,
                   "format": done.source_format, "n_assets": done.n_assets,
                   "total_balance": done.total_balance, "cutoff_date": done.cutoff_date,
                   "n_quarantined": done.n_quarantined,
                   "assumptions": done.assumptions, "warnings": done.warnings}
        sys.stdout.write(canonical_json(summary, indent=2))
    else:
        verb = "stored pool" if done.created else "pool already stored as"
        print(f"{verb} {done.pool_id!r}: {done.n_assets:,} loans, balance "
              f"{done.total_balance:,.2f} ({done.source_format} format)")
        if done.n_quarantined:
            print(f"quarantined {done.n_quarantined:,} bad rows (not imported); "
                  f"`stresslab pools quarantine {done.pool_id} --out FILE.csv` writes them")
        for w in done.warnings:
            print(f"warning: {w}")
        if done.assumptions:
            print("assumptions applied (field, asset class, grade, value, loans, source):")
            for a in done.assumptions:
                print(f"  {a['field']:<20} {a['asset_class']:<20} {a.get('grade') or '-':<3} "
                      f"{a['value']:<8g} {a['n_assets']:>8,}  {a['source']}")
    return 0


def _print_listing(df: pd.DataFrame, *, as_json: bool, empty: str) -> int:
    """A ``list`` command's output: JSON records, ``empty`` when there is nothing, or the table."""
    if as_json:
        print(df.to_json(orient="records", date_format="iso", indent=2))
    elif df.empty:
        print(empty)
    else:
        print(df.to_string(index=False))
    return 0


def _pools_list(args: argparse.Namespace) -> int:
    from engine.credit.workflow import list_pools

    return _print_listing(list_pools(), as_json=args.json,
                          empty="no stored pools; `stresslab pools import FILE` adds one")


def _pools_quarantine(args: argparse.Namespace) -> int:
    from engine.credit.workflow import quarantine_count, quarantine_csv

    args.out.write_bytes(quarantine_csv(args.pool))  # formula-safe, as the page downloads it
    print(f"wrote {quarantine_count(args.pool):,} quarantined rows of pool {args.pool!r} to "
          f"{str(args.out)}")
    return 0


def _pools_export(args: argparse.Namespace) -> int:
    from engine.credit.workflow import export_pool_partitions

    m = export_pool_partitions(args.pool, directory=args.parquet, n_partitions=args.partitions,
                               loan_level=args.loan_level)
    if args.json:
        sys.stdout.write(m.to_json())
    else:
        print(f"wrote pool {args.pool!r} ({m.n_assets:,} loans, {m.order} order) as "
              f"{len(m.partitions)} Parquet partitions of whole {m.chunk_size:,}-loan chunks "
              f"to {m.directory} (manifest.json)")
    return 0


def _mappings_list(args: argparse.Namespace) -> int:
    from engine.credit.workflow import list_mappings

    return _print_listing(list_mappings(), as_json=args.json,
                          empty="no saved column mappings; `stresslab pools mappings import "
                                "FILE.json` adds one")


def _mappings_export(args: argparse.Namespace) -> int:
    from engine.credit.workflow import load_mapping, mapping_json

    text = mapping_json(load_mapping(args.name))
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote mapping {args.name!r} to {str(args.out)}")
    return 0


def _mappings_import(args: argparse.Namespace) -> int:
    from engine.credit.workflow import save_mapping

    mapping = _read_mapping(args.file)
    new = save_mapping(mapping)
    print(f"{'saved' if new else 'replaced'} mapping {mapping.name!r}")
    return 0


def _mappings_delete(args: argparse.Namespace) -> int:
    from engine.credit.workflow import delete_mapping

    delete_mapping(args.name)
    print(f"deleted mapping {args.name!r}")
    return 0


def _scenarios_list(args: argparse.Namespace) -> int:
    from engine.credit.workflow import scenario_library

    lib = scenario_library()
    if args.json:
        print(json.dumps({k: s.response_dict() for k, s in lib.items()}, indent=2))
        return 0
    for key, s in lib.items():
        named = ", ".join(f"{k} {v:+g}" if "shock" in k or "spread" in k else f"{k} ×{v:g}"
                          for k, v in s.market_factors.named().items()) or "none"
        path = s.market_factors.path
        kind = (f" (path: {max(map(len, path.factors.values()))} steps of "
                f"{path.step_months} months; values shown are peaks)" if path else "")
        print(f"{key:<32} {s.name:<46} [{s.source}] {named}{kind}")
    return 0


def _scenarios_show(args: argparse.Namespace) -> int:
    from engine.credit._scenarios import PATH_RULE
    from engine.credit.workflow import scenario_library
    from engine.errors import NotFoundError

    lib = scenario_library()
    if args.key not in lib:
        raise NotFoundError(f"no scenario {args.key!r}; `stresslab scenarios list` shows them")
    s = lib[args.key]
    if args.json:
        print(json.dumps(s.response_dict(), indent=2))
        return 0
    print(f"{args.key}: {s.name} [{s.source}]")
    if s.description:
        print(s.description)
    f = s.market_factors
    path = f.path
    for k, v in f.constant().items():
        if path is None or k not in path.factors:
            print(f"  {k:<22} {v:g} (constant)")
    if path is not None:
        names = list(path.factors)
        print(f"path, {path.step_months} month(s) per step: {PATH_RULE}")
        print("  " + "step  months    " + "  ".join(f"{n:>22}" for n in names))
        for i in range(max(map(len, path.factors.values()))):
            first = i * path.step_months + 1
            vals = [path.factors[n][min(i, len(path.factors[n]) - 1)] for n in names]
            print(f"  {i + 1:>4}  {first:>3}-{first + path.step_months - 1:<4}  "
                  + "  ".join(f"{v:>22.10g}" for v in vals))
    return 0


def _scenarios_import_fed(args: argparse.Namespace) -> int:
    from engine.credit.workflow import import_fed_scenarios

    done = import_fed_scenarios(args.source, name=args.name)
    if args.json:
        sys.stdout.write(done.model_dump_json(indent=2) + "\n")
        return 0
    print(f"Federal Reserve {done.year} scenarios ({done.horizon}, jump-off "
          f"{done.jump_off_quarter}) read from {', '.join(done.files.values())}")
    for key in done.stored:
        print(f"stored {key}")
    for key in done.built_in:
        print(f"{key}: identical to the built-in scenario, not stored again")
    for note in done.ignored:
        print(note)
    return 0


def _load_customs(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """The ``--custom`` files as the request's ``custom_scenarios``, each file checked on its own.

    A file holds one scenario ``{name, description, market_factors}`` (its key is made from the
    name, else the file's stem: in lower case with ``_`` for blanks, or where that breaks the key
    rule by :func:`~engine.credit._scenarios.suggest_key`: "My Recession (2025)" →
    ``my_recession_2025``) or several, ``{key: {...}, ...}``. Keys, fields and factors
    are checked by :func:`~engine.credit._scenarios.parse_custom_scenarios`, so an error names
    the file. A scenario that changes nothing is run, with a warning on stderr.
    """
    from engine.credit._scenarios import (KEY_PATTERN, SCENARIO_FIELDS, neutral_warnings,
                                          parse_custom_scenarios, suggest_key)
    from engine.limits import parse_json

    out: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    for p in paths:
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise InputError(f"custom scenario file {str(p)!r} does not exist") from None
        except OSError as exc:
            raise InputError(f"custom scenario file {str(p)!r} cannot be read: "
                             f"{exc.strerror or exc}") from None
        obj = parse_json(data, name=f"custom scenario file {str(p)!r}")
        if isinstance(obj, dict) and any(k in SCENARIO_FIELDS for k in obj):
            name = obj.get("name")
            stem = name if isinstance(name, str) and name.strip() else p.stem
            plain_key = stem.strip().lower().replace(" ", "_")
            # a name that reads as a built-in key ("Base") keeps it, so it is refused as such
            obj = {plain_key if KEY_PATTERN.fullmatch(plain_key) else suggest_key(stem): obj}
        parsed = parse_custom_scenarios(obj, subject=f"custom scenario file {str(p)!r}")
        for warning in neutral_warnings(parsed):
            print(f"warning: {str(p)}: {warning}", file=sys.stderr)
        for key, scenario in parsed.items():
            if key in out:
                raise InputError(f"custom scenario {key!r} is in both {str(origin[key])!r} and "
                                 f"{str(p)!r}; keep one or rename it")
            out[key], origin[key] = scenario.response_dict(), p
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

    v = result.valuation
    if v.get("discounting") == "curve":
        disc = (f"Treasury zero curve of {v.get('curve_date_used')} + "
                f"{v.get('curve_spread', 0.0):.2%} (continuously compounded)")
    else:
        disc = f"discount rate {result.discount_rate:.2%} (monthly compounded)"
    rolled = v.get("rolled_forward_months") or 0
    roll = (f" (pool rolled forward {rolled} months from its cutoff {v.get('cutoff_date')})"
            if rolled else "")
    print(f"Pool {result.pool_name!r}: {result.n_assets:,} loans, analysis date "
          f"{result.analysis_date}{roll}, {disc}, {result.projection_periods} months")
    share = (result.scenarios["base"].metrics.get("residual_share") or 0.0
             if result.scenarios["base"].status == "success" else 0.0)
    if share > 0:
        print(f"The horizon cuts the run-off: {share:.1%} of the starting balance is left at "
              f"month {result.projection_periods}, valued "
              + ("at par" if v.get("residual_valuation") == "par"
                 else "by the scenario's run-off beyond it"))
    print(fmt(head))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt(r))
    hits = sum(r.cache_hit for r in result.scenarios.values())
    print(f"{len(result.scenarios)} scenarios in {result.execution_time_total:.2f} s"
          f" ({hits} from cache)")


def _stress(args: argparse.Namespace) -> int:
    from engine.credit.workflow import StressRunRequest, run_stress
    from engine.export import write_table

    if args.loan_level is not None and args.loan_level.suffix.lower() != ".parquet":
        raise InputError("--loan-level writes Parquet: give a file name ending in .parquet")
    if args.cashflows is not None and args.cashflows.suffix.lower() not in (".csv", ".parquet"):
        raise InputError("--cashflows writes CSV or Parquet: give a file name ending in .csv or "
                         ".parquet")
    src = Path(args.pool)
    pool = {"pool_file": src} if src.is_file() else {"pool_id": args.pool}
    request = StressRunRequest.build(
        **pool, pool_format=args.format,
        assumptions_file=args.assumptions, scenario_names=args.scenarios or ["all"],
        custom_scenarios=_load_customs(args.custom), analysis_date=args.analysis_date,
        discount_rate=args.discount_rate, projection_periods=args.periods,
        discounting=args.discounting, curve_date=args.curve_date, curve_spread=args.spread,
        residual_valuation=args.residual.replace("-", "_"),
        max_workers=args.workers, include_loan_level=args.loan_level is not None,
        use_cache=not args.no_cache, record=not args.no_store, source="cli",
        executor=args.executor, scheduler=args.scheduler, local_workers=args.local_workers,
        partition_dir=args.partition_dir)
    run = run_stress(request)
    result = run.result
    if args.cashflows:
        write_table(result.cashflows_frame(), path=args.cashflows,
                    provenance=result.provenance())
    if args.loan_level:
        write_table(result.loan_level_frame(), path=args.loan_level,
                    provenance=result.provenance())
    if args.json:
        sys.stdout.write(result.response_json() + "\n")
    else:
        _print_table(result)
        if run.run_id:
            print(f"stored as run {run.run_id}")
    failed = [k for k, r in result.scenarios.items() if r.status != "success"]
    return 1 if failed and len(failed) == len(result.scenarios) else 0
