"""Model the LNMO | LiPON cathode interface
========================================

At the cathode of a thin-film Li | LiPON | LNMO cell, amorphous LiPON meets the
high-voltage spinel LiNi0.5Mn1.5O4 (LNMO, ordered P4_332). This example builds that
interface atomistically (LiPON on a chosen LNMO facet, with a rough boundary), follows
the element densities across it, and checks the short-range order of the amorphous LiPON
(PO4 tetrahedra with bridging and apical N) in a bulk box built the same way. The model
is written as extended XYZ and LAMMPS data.

Run: ``python examples/lnmo_lipon_interface.py [OUT_DIR] [--quick]``
(``--quick`` or ``INTERPHASE_SIM_QUICK=1``: a 4 x 4 nm box, 3 nm of each phase).
"""

import argparse
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from interphase_sim.build import lnmo_lipon_interface, write_structure
from interphase_sim.build.amorphous import amorphous, structure_report

ap = argparse.ArgumentParser(description="Build the LiPON | LNMO interface model.")
ap.add_argument("out", nargs="?", default="example-output/lnmo_lipon_interface")
ap.add_argument("--quick", action="store_true", help="a small box (also INTERPHASE_SIM_QUICK=1)")
args = ap.parse_args()
quick = args.quick or os.environ.get("INTERPHASE_SIM_QUICK") == "1"
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# The interface
# -------------
# LiPON (top, z = 0 is its free surface) on the LNMO (111) facet; the boundary is a
# random height field of 0.3 nm rms. Lengths in nm here, coordinates in Å in the model.
side, t = (4.0, 3.0) if quick else (6.0, 4.0)
atoms = lnmo_lipon_interface(lateral_nm=(side, side), lnmo_nm=t, lipon_nm=t, facet=(1, 1, 1),
                             roughness_nm=0.3, seed=1)
print(f"{len(atoms):,} atoms, cell {atoms.cell.lengths()} Å, layers {list(atoms.info['layer_names'])}")

# Element number densities (atoms/nm3) in 0.5 nm bins along depth (about one LNMO (111)
# plane spacing, 0.47 nm: what is left of the oscillations in the crystal is its layering).
z_nm = atoms.get_positions()[:, 2] / 10.0
symbols = np.array(atoms.get_chemical_symbols())
edges = np.arange(0.0, z_nm.max() + 0.5, 0.5)
bin_volume_nm3 = side * side * 0.5
fig, ax = plt.subplots(figsize=(7, 3.5))
for el in ("Li", "O", "P", "N", "Mn", "Ni"):
    counts, _ = np.histogram(z_nm[symbols == el], edges)
    ax.plot(0.5 * (edges[1:] + edges[:-1]), counts / bin_volume_nm3, label=el)
ax.axvline(t, color="k", ls="--", lw=0.8)
ax.set_xlabel("depth below the LiPON surface (nm)")
ax.set_ylabel("number density (atoms/nm$^3$)")
ax.legend(ncol=3, fontsize=8)
ax.set_title("LiPON | LNMO(111): element densities across the interface", fontsize=10)
fig.tight_layout()
fig.savefig(out / "interface_profile.png", dpi=100)

# %%
# Short-range order of the amorphous LiPON
# ----------------------------------------
# A periodic bulk box of the same amorphous LiPON (Li2.9PO3.3N0.46, 2.4 g/cm3), and its
# radial distribution functions, bond lengths and P coordination.
box = amorphous("LiPON", (2.5, 2.5, 2.5) if quick else (3.5, 3.5, 3.5), seed=1)
rep = structure_report(box)
print(f"bulk LiPON: {len(box)} atoms, {rep.formula}, {rep.density_g_cm3:.3f} g/cm3")
print(f"  P-O {rep.mean_P_O_A:.3f} Å, P-N {rep.mean_P_N_A:.3f} Å, 4-fold P {rep.fraction_P_4fold:.2f}, "
      f"N bridging/apical {rep.n_N_bridging}/{rep.n_N_apical}, closest pair {rep.min_distance_A:.2f} Å")
fig2, ax2 = plt.subplots(figsize=(6, 3.5))
for pair, g in rep.g_partial.items():
    ax2.plot(rep.r_A, g, label=pair)
ax2.set_xlabel("r (Å)")
ax2.set_ylabel("g(r)")
ax2.legend()
fig2.tight_layout()
fig2.savefig(out / "lipon_rdf.png", dpi=100)

# %%
# Write the model
# ---------------
write_structure(atoms, out / "lnmo_lipon.extxyz")
write_structure(atoms, out / "lnmo_lipon.lmp", format="lammps-data")
print(f"wrote {out / 'lnmo_lipon.extxyz'} and {out / 'lnmo_lipon.lmp'}")
