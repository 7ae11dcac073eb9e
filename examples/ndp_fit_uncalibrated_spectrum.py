"""Fit an NDP spectrum whose energy calibration is unknown
=======================================================

Neutron depth profiling (NDP) of a thin-film cathode half cell, LiPON 1.5 um | LNMO
0.5 um on Au (the shipped sample ``lnmo_lipon``): the 6Li(n,alpha)3H alphas (2055.9 keV)
and tritons (2727.6 keV) lose energy on their way out, so their spectrum maps the Li
depth profile. First the forward model: the expected spectrum, split into particles, and
where each interface falls in energy. Then the job a beamline user faces: a spectrum
saved by the multichannel analyser in *channels*, with the gain and offset known only
roughly, fitted for the two thicknesses together with the calibration.

Run: ``python examples/ndp_fit_uncalibrated_spectrum.py [OUT_DIR] [--quick]``
"""

import argparse
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from interphase_sim import Parameter, load_measurement, samples
from interphase_sim.fit import Objective, fit
from interphase_sim.ndp import NDPModel
from interphase_sim.plotting.common import plot_ndp_spectrum

ap = argparse.ArgumentParser(description="NDP forward spectrum and a fit with free gain and offset.")
ap.add_argument("out", nargs="?", default="example-output/ndp_fit_uncalibrated_spectrum")
ap.add_argument("--quick", action="store_true", help="(no effect: this example is quick anyway)")
args = ap.parse_args()
quick = args.quick or os.environ.get("INTERPHASE_SIM_QUICK") == "1"
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# The forward model
# -----------------
# Settings (detector angle, acceptance, fluence, 18 keV FWHM resolution, 3 keV/channel)
# come from the sample's ``[ndp]`` table. Energies in keV, depths in nm.
stack = samples.load("lnmo_lipon")
model = NDPModel.from_stack(stack)
energy, parts = model.simulate_components()          # counts per channel, per particle
for particle in ("alpha", "triton"):
    _, e_edges = model.energy_depth_map(particle, [0.0, *stack.interfaces_nm()[:-1]])
    print(f"{particle:6s}: surface, LiPON|LNMO, LNMO|Au at " + ", ".join(f"{e:.0f}" for e in e_edges) + " keV")
fig, ax = plt.subplots(figsize=(8, 4))
plot_ndp_spectrum(energy, parts, total=model.simulate().values, depth_map=model.energy_depth_map("alpha"),
                  ax=ax, title="expected NDP spectrum of LiPON | LNMO on Au")
fig.tight_layout()
fig.savefig(out / "ndp_expected.png", dpi=100)

# %%
# A "measured" spectrum in channels
# ---------------------------------
# The detector's true calibration is 3.012 keV/channel and +6 keV; the data file holds
# only channel numbers and Poisson counts, like a multichannel-analyser export.
truth = {"LiPON.thickness_nm": 1540.0, "LNMO.thickness_nm": 470.0, "ndp.gain_keV": 3.012, "ndp.offset_keV": 6.0}
stack["LiPON"].thickness_nm.value, stack["LNMO"].thickness_nm.value = 1540.0, 470.0
counts = NDPModel.from_stack(stack, gain_keV=3.012, offset_keV=6.0).simulate(noise=True, seed=2).values
np.savetxt(out / "spectrum_channels.csv", np.c_[np.arange(counts.size), counts], fmt="%d",
           delimiter=",", header="channel,counts", comments="")
data = load_measurement(out / "spectrum_channels.csv", kind="ndp")      # axis "channel"
print(f"read {data.values.size} channels, {data.values.sum():.4g} counts, axis {data.axes[0].name!r}")

# %%
# Fit thicknesses and calibration together
# ----------------------------------------
# Start from the nominal calibration (3.000 keV/channel, -9 keV) and thicknesses 5 % off;
# gain and offset are free Parameters with physical bounds. The stopping-power scales,
# the 6Li abundance and the LiPON density stay free with their priors, so the errors
# include the depth-scale systematics.
stack["LiPON"].thickness_nm.value, stack["LNMO"].thickness_nm.value = 1500.0 * 1.05, 500.0 * 0.95
fit_model = NDPModel.from_stack(stack, gain_keV=Parameter(3.0, bounds=(2.8, 3.2), vary=True),
                                offset_keV=Parameter(-9.0, bounds=(-60.0, 60.0), vary=True))
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)   # notes on weakly constrained systematics
    result = fit(Objective(fit_model, data))
print(result.report())
for name, t in truth.items():
    print(f"{name:20s} true {t:8.4g}   fitted {result.values[name]:8.4g} +/- {result.stderr[name]:.2g}")
(out / "fit_report.txt").write_text(result.report() + "\n")

fig2, ax2 = plt.subplots(figsize=(8, 4))
ch = data.axis("channel")
ax2.semilogy(ch, np.maximum(data.values, 0.5), ".", ms=2, color="0.5", label="data (channels)")
ax2.semilogy(ch, fit_model.expected(data), "C3", lw=1, label="fit")
ax2.set_xlabel("channel")
ax2.set_ylabel("counts")
ax2.set_ylim(0.5, None)
ax2.legend()
fig2.tight_layout()
fig2.savefig(out / "ndp_fit.png", dpi=100)
