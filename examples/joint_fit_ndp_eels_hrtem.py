"""Joint NDP + EELS + HRTEM fit of the SEI thicknesses
===================================================

One sample, three instruments, one fit. Neutron depth profiling sees the 6Li depth
profile through the whole stack; a STEM-EELS line scan sees the elements across the
interphase with nm resolution (but does not know where in depth it starts, so its scan
origin is fitted); an HRTEM phase map sees which crystallites lie where. Here we simulate
the three "measured" data sets of the shipped sample ``li_sei_lipon``, write them to
files as an instrument would (NDP spectrum CSV, EELS line-scan CSV, HRTEM TIFF with its
nm scale), and refit the two SEI sublayer thicknesses from them jointly with
:func:`interphase_sim.jointfit.joint_fit`, starting 10 % off. The report separates each
error into its statistical and systematic parts (stopping powers, cross-sections,
6Li abundance, LiPON density, label efficiencies).

Run: ``python examples/joint_fit_ndp_eels_hrtem.py [OUT_DIR] [--quick]``
(``--quick`` or ``INTERPHASE_SIM_QUICK=1``: a coarser EELS scan and a small lamella).
"""

import argparse
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from interphase_sim import Stack, samples
from interphase_sim.core.fileio import write_tiff
from interphase_sim.eels import EELSModel
from interphase_sim.hrtem import HRTEMModel
from interphase_sim.jointfit import joint_fit
from interphase_sim.ndp import NDPModel

ap = argparse.ArgumentParser(description="Joint NDP + EELS + HRTEM fit from files.")
ap.add_argument("out", nargs="?", default="example-output/joint_fit_ndp_eels_hrtem")
ap.add_argument("--quick", action="store_true", help="smaller data sets (also INTERPHASE_SIM_QUICK=1)")
args = ap.parse_args()
quick = args.quick or os.environ.get("INTERPHASE_SIM_QUICK") == "1"
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
warnings.simplefilter("ignore", UserWarning)   # small-lamella and prior-dominated notes

# %%
# The "measured" data, written to files
# -------------------------------------
# The truth: SEI-outer 30 nm and SEI-inner 40 nm (nm, below 1500 nm of LiPON).
stack = samples.load("li_sei_lipon")
if quick:
    stack.sections["eels"]["positions"] = 60        # a 2.9 nm probe step instead of 1 nm
stack.to_toml(out / "sample.toml")
NDPModel.from_stack(stack).simulate(noise=True, seed=1).to_csv(out / "ndp_spectrum.csv")   # energy_keV,counts

scan = EELSModel.from_stack(stack).simulate(noise=True, seed=2)                # counts on (depth nm, energy eV)
z, energy = scan.axis("depth"), scan.axis("energy")
np.savetxt(out / "eels_linescan.csv", np.c_[z, scan.values], delimiter=",", fmt="%.6g", comments="",
           header="position_nm," + ",".join(f"{e:.4f}" for e in energy))

# An HRTEM lamella across the whole interphase (1495-1575 nm), 300 kV Scherzer, 300 e/Å2.
lamella = dict(lateral_nm=3.0, thickness_nm=1.5, sampling_A=0.5) if quick else \
    dict(lateral_nm=6.0, thickness_nm=3.0, sampling_A=0.3)
hrtem = HRTEMModel.from_stack(stack, depth_range_nm=(1495.0, 1575.0), seed=3, **lamella)
image = hrtem.image(noise=True, seed=3)                       # rows: depth (nm), columns: lateral (nm)
pixel_nm = float(np.diff(image.axis("lateral"))[0])
write_tiff(out / "hrtem_image.tiff", image.values, pixel_nm, origin_nm=(float(image.axis("depth")[0]), 0.0))
print(f"wrote {', '.join(p.name for p in sorted(out.iterdir()))}")

# %%
# The fit, from the files
# -----------------------
# The sample file says what is free (``vary = true``): both SEI thicknesses; the
# systematics (6Li abundance, LiPON density, stopping-power, cross-section and label
# efficiency scales) are free with their priors. Each data set gets its own instrument
# model (and nuisance parameters); the sample's Parameters are shared by all three.
fit_stack = Stack.from_toml(out / "sample.toml")
truth = {"SEI-outer.thickness_nm": 30.0, "SEI-inner.thickness_nm": 40.0}
for name, value in truth.items():
    fit_stack.parameters()[name].value = 1.1 * value                  # start 10 % off
run = joint_fit(fit_stack, {"ndp": out / "ndp_spectrum.csv", "eels": out / "eels_linescan.csv",
                            "hrtem": out / "hrtem_image.tiff"})
print(run.report())
(out / "joint_fit_report.txt").write_text(run.report() + "\n")
run.result.to_json(out / "joint_fit_result.json")
for name, t in truth.items():
    r = run.result
    print(f"{name:24s} true {t:5.1f}  fitted {r.values[name]:6.2f} +/- {r.stderr[name]:.2f} nm "
          f"(stat. {r.stat_err[name]:.2f}, syst. {r.sys_err[name]:.2f})")

# %%
# Data and model
# --------------
# ``result.plot()`` draws the 1-D data sets (the NDP spectrum): data, model, residuals.
fig = run.result.plot()
fig.savefig(out / "joint_fit_ndp.png", dpi=90)

# The EELS line scan against the fitted model: counts in the O K window (532-572 eV)
# along the scan, where the O-rich inner SEI shows.
eels = next(d for d in run.data if d.kind == "eels")
window = (energy >= 532.0) & (energy < 572.0)
fig2, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(z, eels.measurement.values[:, window].sum(axis=1), ".", ms=3, color="0.4", label="data")
ax.plot(z, eels.model.expected(eels.measurement)[:, window].sum(axis=1), "C3", label="joint fit")
ax.set(xlabel="probe position (nm)", ylabel="counts, 532-572 eV", title="EELS: O K window")
ax.legend()
fig2.tight_layout()
fig2.savefig(out / "joint_fit_eels.png", dpi=90)
