"""``stresslab validate`` and ``stresslab verify-manifest``.

``verify-manifest`` prints one line per check (``ok``, ``FAIL``, ``unsigned``, ``note``), then a
verdict: VERIFIED (signed and intact), UNSIGNED (intact, nothing signed) or FAILED.

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
        "validate", help="stress-test an ML model and write the six evidence artifacts",
        description="Run the model robustness workflow headless: train (or load a skops model), evaluate the "
                    "baseline and every scenario of the handbook, decide DEPLOY / RESTRICT / REDESIGN and write "
                    "stress_scenarios.json, robustness_results.json, performance_degradation_report.json, "
                    "validation_decision.md and evidence_manifest.json into DIR, and evidence_manifest.sig (the "
                    "manifest's Ed25519 signature) when a signing key exists (`stresslab keys init`).")
    v.add_argument("--config", type=Path, required=True, metavar="FILE.json",
                   help="data, target, positive_class, task, model, features, subgroups, test_size, seed, "
                        "handbook, thresholds (paths relative to this file)")
    v.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the artifacts (created)")
    v.add_argument("--user", default=None, help="validator recorded in the manifest (default: login name)")
    v.add_argument("--no-store", action="store_true", help="do not record the run in the store")
    v.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="evaluate the handbook's scenarios in this process (local, the default) or as Dask "
                        "tasks, the model and test data sent to the workers once (dask; needs "
                        "pip install 'stresslab[dask]'); the artifacts are the same bytes")
    where = v.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="with --executor dask: a running Dask scheduler to connect to")
    where.add_argument("--local-workers", type=int, metavar="N",
                       help="with --executor dask: start a LocalCluster of N worker processes for the run "
                            "(default with neither option: one per CPU core)")
    v.set_defaults(func=_validate)

    m = sub.add_parser(
        "verify-manifest", help="check a validation run's evidence: signatures, hashes and the store's record",
        description="Check the evidence a validation wrote: the signature of evidence_manifest.json (with the key "
                    "directory's public key, or --public-key), every hash it lists, that no file is present it "
                    "does not list, each signed sign-off addendum, and the manifest hash the store recorded for "
                    "the run (when the run is in $STRESSLAB_DB). Exit 0 when the evidence verifies (or is "
                    "plainly unsigned and there is no key), 1 when any check fails, 2 when PATH is not evidence.")
    m.add_argument("path", type=Path, metavar="PATH",
                   help="the evidence folder, its evidence_manifest.json, or the evidence zip")
    m.add_argument("--public-key", type=Path, metavar="FILE",
                   help="the signer's audit_ed25519.pub (default: the one in $STRESSLAB_KEYS)")
    m.add_argument("--allow-unsigned", action="store_true",
                   help="accept unsigned evidence although a public key exists (evidence made before the keys)")
    m.add_argument("--json", action="store_true", help="print the result as JSON")
    m.set_defaults(func=_verify)


def _validate(args: argparse.Namespace) -> int:
    from engine.audit.manifest import SIGNATURE_NAME, SIGNOFF_FILE
    from engine.mlrisk import parse_config
    from engine.mlrisk.workflow import ValidateRequest, validate

    if not args.config.is_file():
        raise InputError(f"config file {str(args.config)!r} not found")
    config = parse_config(args.config.read_bytes(), subject=f"config {args.config.name}")
    request = ValidateRequest.build(config=config, base_dir=args.config.resolve().parent,
                                    user=args.user or _login(), record=not args.no_store, source="cli",
                                    executor=args.executor, scheduler=args.scheduler,
                                    local_workers=args.local_workers)
    done = validate(request)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, content in sorted(done.artifacts.items()):
            (args.out / name).write_bytes(content)
        # A signature or sign-off left by an earlier run in this folder names another manifest.
        for stale in args.out.iterdir():
            if stale.name not in done.artifacts and (
                    stale.name == SIGNATURE_NAME or SIGNOFF_FILE.match(stale.name)):
                stale.unlink()
    except OSError as exc:
        raise InputError(f"run {done.run_id} is {'stored' if done.recorded else 'done'}, but its "
                         f"evidence could not be written to {str(args.out)!r}: {exc.strerror}. "
                         "Free the folder and download the evidence again (`stresslab runs list`, "
                         "the Model validation page).") from None
    failing = done.results["decision"]["failing_scenarios"]
    print(f"run {done.run_id}: decision {done.decision}; {len(failing)} failing scenario(s)"
          f"{': ' + ', '.join(failing) if failing else ''}; {done.timings['total']:.1f} s"
          f"{' (scenarios on Dask)' if args.executor == 'dask' else ''}"
          f"{'' if done.recorded else ' (not stored)'}")
    print(f"wrote {len(done.artifacts)} files to {args.out}; "
          + (f"the manifest is signed with key {done.key_id}" if done.key_id else
             "unsigned: no signing key (create one with `stresslab keys init` to sign evidence)"))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from engine.mlrisk.workflow import verify_evidence

    check = verify_evidence(args.path, public_key=args.public_key, allow_unsigned=args.allow_unsigned)
    if args.json:
        print(check.model_dump_json(indent=2))
    else:
        print(check.to_text())
    return 0 if check.ok else 1


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


