"""``interphase-sim validate --out DIR [--quick]``: the validation report."""

from __future__ import annotations

import argparse
from typing import Any


def add_validate_parser(sub: Any) -> None:
    """The ``validate`` command."""
    from interphase_sim.cli.main import add_quiet, seed_arg

    vp = sub.add_parser(
        "validate", help="compare the package with independent references; write a report",
        description=("Run every reference comparison (stopping powers against NIST ASTAR/PSTAR and CATIMA, "
                     "NDP invariants and an independent forward model, EELS cross-sections against exspy, "
                     "HRTEM against bare abTEM and pymatgen d-spacings, the phase library's structures, the fit "
                     "coverage study) and the two science studies, and write report.md, report.json and the "
                     "figures to --out. Exit status 0 when every row passes, is a documented known deviation "
                     "or was skipped for a missing optional peer (its reason given); 1 when a row fails."))
    vp.add_argument("--out", required=True, help="output folder for the report")
    vp.add_argument("--quick", action="store_true",
                    help="the quick mode (a few minutes, as CI runs it) instead of the full studies")
    vp.add_argument("--only", nargs="+", metavar="CHECK", default=None,
                    help="run only these checks (their keys: see report.json or --help of the Python API)")
    vp.add_argument("--seed", type=seed_arg, default=1, help="seed of every random step (default: %(default)s)")
    add_quiet(vp)
    vp.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Run the report into a staged --out; status 1 when a row fails."""
    from interphase_sim.cli.main import _wrote, open_output
    from interphase_sim.core.errors import InterphaseInputError
    from interphase_sim.core.progress import shown
    from interphase_sim.validation import CHECKS, load_checks, run_validation

    load_checks()
    known = [k for k, _ in CHECKS]
    for key in args.only or ():
        if key not in known:
            raise InterphaseInputError("--only", f"unknown check {key!r}; choose from {', '.join(known)}")
    out = open_output(args)
    with out:
        report = run_validation(out.staging, quick=args.quick, seed=args.seed, only=args.only,
                                progress=shown(args.quiet))
        for path in report.write(out.staging):
            out.path(path.name)
    c = report.counts()
    print(f"validation ({'quick' if args.quick else 'full'}, {report.wall_time_s:.0f} s): {c['pass']} pass, "
          f"{c['fail']} fail, {c['known deviation']} known deviations, {c['skipped']} skipped")
    for row in report.rows:
        if row.verdict == "fail":
            print(f"  FAIL {row.name}: {row.value:.4g} vs {row.reference:.4g} ({row.source})")
    print(_wrote(out))
    return 0 if report.ok else 1
