"""Build a Li | SEI | LiPON stack, inspect its depth profile and save a figure.

Run:  python examples/sei_depth_profile.py [OUTPUT_DIR]

Shows: Layers with a phase gradient and rough interfaces, a Parameter shared by two
layers (one fit variable), element and 6Li depth profiles, areal densities, the TOML
sample file.
"""

import sys
from pathlib import Path

import numpy as np

from interphase_sim import Layer, Parameter, Stack
from interphase_sim.core.fileio import atomic_savefig
from interphase_sim.plotting.common import profile_figure

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example-output")
out.mkdir(parents=True, exist_ok=True)

# Both SEI sublayers have the same (varying) roughness: one Parameter object, one variable.
rough = Parameter(3.0, bounds=(0.5, 10.0), vary=True, units="nm")
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

z = np.linspace(1400, 1700, 3001)  # nm
prof = stack.profile(z)
sei = (z >= 1500) & (z < 1570)
for el in ("N", "O", "P"):
    print(f"{el}: {np.trapezoid(prof.density(el)[sei], z[sei]):8.1f} atoms/nm2 in the SEI")

fig = profile_figure(stack, zooms=[(1450, 1620)])
atomic_savefig(fig, out / "sei_depth_profile.png", dpi=100)
stack.to_toml(out / "sei_sample.toml")
print(f"wrote {out / 'sei_depth_profile.png'} and {out / 'sei_sample.toml'}")
