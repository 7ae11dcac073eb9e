"""Write a validation report
=========================

How far can the package be trusted? :func:`interphase_sim.validation.run_validation`
runs comparisons against independent references (stopping powers against NIST
ASTAR/PSTAR, crystal structures against their literature cells, and, as they are
written, the NDP, EELS, HRTEM and fitting checks), each row giving the reference and
its source, the package's value, the difference, the tolerance and a verdict. Here we
run one or two fast checks in quick mode, write the report (Markdown, JSON and
figures) and print its verdict counts. The command line does the same:
``interphase-sim validate --out DIR --quick``.

Run: ``python examples/validation_report.py [OUT_DIR] [--quick]``
(``--quick`` or ``INTERPHASE_SIM_QUICK=1``: the stopping-power check only).
"""

import argparse
import os
from pathlib import Path

import matplotlib.pyplot as plt

from interphase_sim.validation import CHECKS, load_checks, run_validation

ap = argparse.ArgumentParser(description="Run fast validation checks and write the report.")
ap.add_argument("out", nargs="?", default="example-output/validation_report")
ap.add_argument("--quick", action="store_true", help="one check only (also INTERPHASE_SIM_QUICK=1)")
args = ap.parse_args()
quick = args.quick or os.environ.get("INTERPHASE_SIM_QUICK") == "1"
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# Choose the checks
# -----------------
# Each check module registers its checks by key when imported; ask only for those that
# this installation has (an empty selection gives an empty report).
load_checks()
available = list(dict(CHECKS))
wanted = ["stopping"] if quick else ["stopping", "structures"]
only = [key for key in wanted if key in available]
print("checks available:", ", ".join(available) or "none", "| running:", ", ".join(only) or "none")

# %%
# Run them and write the report
# -----------------------------
# quick=True is the checks' own quick mode (what CI runs); seed=1 fixes every random step.
report = run_validation(out, quick=True, seed=1, only=only)
paths = report.write(out)                 # report.md, report.json and the figures
counts = report.counts()                  # {"pass": n, "fail": n, "known deviation": n, "skipped": n}
print("verdicts:", ", ".join(f"{v} {n}" for v, n in counts.items()))
for section in report.sections:
    print(f"  {section.title}: {len(section.rows)} rows in {section.wall_time_s:.1f} s")
print(f"report written to {out / 'report.md'} ({len(paths)} files)")

fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(list(counts), list(counts.values()), color=["C2", "C3", "C1", "0.6"][:len(counts)])
ax.set_ylabel("rows")
ax.set_title("validation verdicts (quick mode)", fontsize=10)
fig.tight_layout()
fig.savefig(out / "verdicts.png", dpi=100)
