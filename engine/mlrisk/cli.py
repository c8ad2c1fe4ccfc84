"""``stresslab validate`` and ``stresslab verify-manifest``.

Heavy libraries (scikit-learn, scipy, pandas) are imported inside the handlers, so
``stresslab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from engine.errors import InputError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser(
        "validate", help="stress-test an ML model and write the five evidence artifacts",
        description="Run the model robustness workflow headless: train (or load a skops model), evaluate the "
                    "baseline and every scenario of the handbook, decide DEPLOY / RESTRICT / REDESIGN and write "
                    "stress_scenarios.json, robustness_results.json, performance_degradation_report.json, "
                    "validation_decision.md and evidence_manifest.json into DIR.")
    v.add_argument("--config", type=Path, required=True, metavar="FILE.json",
                   help="data, target, positive_class, task, model, features, subgroups, test_size, seed, "
                        "handbook, thresholds (paths relative to this file)")
    v.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the artifacts (created)")
    v.add_argument("--user", default=None, help="validator recorded in the manifest (default: login name)")
    v.add_argument("--no-store", action="store_true", help="do not record the run in the store")
    v.set_defaults(func=_validate)

    m = sub.add_parser("verify-manifest", help="re-hash the artifacts an evidence_manifest.json lists",
                       description="Exit 0 when every file matches, 1 when any is missing or differs.")
    m.add_argument("dir", type=Path, metavar="DIR", help="folder holding evidence_manifest.json")
    m.set_defaults(func=_verify)


def _validate(args: argparse.Namespace) -> int:
    from engine.mlrisk import parse_config
    from engine.mlrisk.workflow import ValidateRequest, validate

    if not args.config.is_file():
        raise InputError(f"config file {str(args.config)!r} not found")
    config = parse_config(args.config.read_bytes(), subject=f"config {args.config.name}")
    request = ValidateRequest.build(config=config, base_dir=args.config.resolve().parent,
                                    user=args.user or _login(), record=not args.no_store, source="cli")
    done = validate(request)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in sorted(done.artifacts.items()):
        (args.out / name).write_bytes(content)
    failing = done.results["decision"]["failing_scenarios"]
    print(f"run {done.run_id}: decision {done.decision}; {len(failing)} failing scenario(s)"
          f"{': ' + ', '.join(failing) if failing else ''}; {done.timings['total']:.1f} s"
          f"{'' if done.recorded else ' (not stored)'}")
    print(f"wrote {len(done.artifacts)} artifacts to {args.out}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from engine.mlrisk.workflow import verify_manifest

    check = verify_manifest(args.dir)
    for name in check.checked:
        print(f"ok        {name}")
    for m in check.mismatches:
        print(f"MISMATCH  {m}")
    print(f"run {check.manifest.run_id}: {len(check.checked)} file(s) match, {len(check.mismatches)} mismatch(es)")
    return 0 if check.ok else 1


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


