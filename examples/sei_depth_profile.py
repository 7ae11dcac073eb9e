"""Describe an SEI and inspect its depth profile
=============================================

A Li | SEI | LiPON stack written in Python: a 1.5 um LiPON electrolyte, a P/N-rich
outer SEI and an O-rich inner SEI (each with a linear phase gradient from its top to
its bottom and rough interfaces), on semi-infinite Li metal. Both SEI sublayers share
one roughness Parameter, so a fit would vary it as one variable. From the stack: the
layer table, its Parameters, element and 6Li depth profiles (atoms/nm3), the areal
densities in the SEI (atoms/nm2), a figure, and the TOML sample file that every other
tool reads.

Run: ``python examples/sei_depth_profile.py [OUT_DIR] [--quick]``
"""

import argparse
import os
from pathlib import Path

import numpy as np

from interphase_sim import Layer, Parameter, Stack
from interphase_sim.plotting.common import profile_figure

ap = argparse.ArgumentParser(description="Build a Li | SEI | LiPON stack and plot its depth profile.")
ap.add_argument("out", nargs="?", default="example-output/sei_depth_profile")
ap.add_argument("--quick", action="store_true", help="(no effect: this example is quick anyway)")
args = ap.parse_args()
quick = args.quick or os.environ.get("INTERPHASE_SIM_QUICK") == "1"
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# The stack
# ---------
# Thicknesses, roughness (rms) and grain sizes in nm; phase fractions are volume
# fractions (normalised), ``phases_bottom`` the composition at the layer's bottom.
rough = Parameter(3.0, bounds=(0.5, 10.0), vary=True, units="nm")   # one fit variable, two layers
stack = Stack(
    [
        Layer("LiPON", {"LiPON": 1.0}, thickness_nm=1500, roughness_nm=2),
        Layer("SEI-P", {"LiPON": 0.4, "Li3PO4": 0.4, "Li3N": 0.2}, thickness_nm=30,
              phases_bottom={"LiPON": 0.2, "Li3P": 0.3, "Li3N": 0.5}, roughness_nm=rough, grain_size_nm=4),
        Layer("SEI-O", {"Li3N": 0.5, "Li2O": 0.5}, thickness_nm=40,
              phases_bottom={"Li2O": 0.9, "Li3N": 0.1}, roughness_nm=rough, grain_size_nm=5),
        Layer("Li", {"Li": 1.0}, thickness_nm="inf"),
    ],
    name="example: Li | SEI | LiPON",
)
print(stack.table())
print(stack.parameters().table())

# %%
# Depth profiles and areal densities
# ----------------------------------
# Each interface is blurred by an error function of its roughness; element totals are
# conserved exactly, so the areal densities below do not depend on the roughness.
z = np.linspace(1400, 1700, 3001)  # depth grid, nm
prof = stack.profile(z)
sei = (z >= 1500) & (z < 1570)
for el in ("N", "O", "P", "6Li"):
    print(f"{el:3s}: {np.trapezoid(prof.density(el)[sei], z[sei]):8.1f} atoms/nm2 in the SEI (1500-1570 nm)")

fig = profile_figure(stack, zooms=[(1450, 1620)])     # element densities and phase fractions
fig.savefig(out / "sei_depth_profile.png", dpi=100)
# TOML cannot say that two layers share one Parameter: the file holds two independent
# copies of the roughness (a warning says so); Stack.from_toml reads it back.
stack.to_toml(out / "sei_sample.toml")
print(f"wrote {out / 'sei_depth_profile.png'} and {out / 'sei_sample.toml'}")
