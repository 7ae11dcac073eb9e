"""Build a multilayer-mosaic model for LAMMPS
==========================================

The solid-electrolyte interphase (SEI) that grows between Li metal and LiPON is a
"multilayer mosaic": Li2O, Li3N, Li3P and Li3PO4 nanocrystallites in an amorphous,
LiPON-like matrix, P/N-rich next to LiPON and O-rich next to Li. This example builds an
atomistic model of that interphase from the shipped sample ``li_sei_lipon`` (the same
layers, fractions and roughness that the NDP and EELS models read), checks that the
built phase fractions follow the sample, and writes it as a LAMMPS data file (and as
extended XYZ, which keeps the per-atom layer/phase/grain labels).

Run: ``python examples/build_mosaic_for_lammps.py [OUT_DIR] [--quick]``
(``--quick`` or ``INTERPHASE_SIM_QUICK=1``: a 4 x 4 nm box instead of 8 x 8 nm).
"""

import argparse
import os
from pathlib import Path

import numpy as np

from interphase_sim import samples
from interphase_sim.build import atoms_from_stack, estimate_atoms, write_structure
from interphase_sim.plotting.common import plot_model_slice

ap = argparse.ArgumentParser(description="Build the Li | SEI | LiPON mosaic and write it for LAMMPS.")
ap.add_argument("out", nargs="?", default="example-output/build_mosaic_for_lammps")
ap.add_argument("--quick", action="store_true", help="a small box (also INTERPHASE_SIM_QUICK=1)")
args = ap.parse_args()
quick = args.quick or os.environ.get("INTERPHASE_SIM_QUICK") == "1"
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# The sample and the box
# ----------------------
# The LiPON layer is 1.5 um thick: we build only the depth window around the interphase
# (nm below the LiPON surface), the last few nm of LiPON, both SEI sublayers and a few
# nm of Li metal. The box is periodic laterally (x, y); depth runs along z.
stack = samples.load("li_sei_lipon")
print(stack.table())
lateral_nm = (4.0, 4.0) if quick else (8.0, 8.0)
window_nm = (1495.0, 1575.0) if quick else (1490.0, 1580.0)
print(f"about {estimate_atoms(stack, lateral_nm, window_nm[1] - window_nm[0], window_nm[0]):,} atoms expected")

atoms = atoms_from_stack(stack, lateral_nm=lateral_nm, depth_range_nm=window_nm, seed=1)   # ase.Atoms, Å
print(f"built {len(atoms):,} atoms in {atoms.info['build_time_s']:.1f} s; cell {atoms.cell.lengths()} Å")

# %%
# Did the mosaic get the phase fractions right?
# ---------------------------------------------
# Each mosaic layer is a Voronoi tessellation whose cells are given phases so that their
# volume fractions follow the layer's (linearly graded) composition.
for layer, fr in atoms.info["achieved_fractions"].items():
    print(f"{layer} ({atoms.info['n_grains'][layer]} grains):")
    for phase, target in fr["target"].items():
        print(f"  {phase:7s} target {target:5.2f}  built {fr['achieved'][phase]:5.2f}")

fig = plot_model_slice(atoms, stack)   # a 1 nm slab coloured by phase, and fractions vs depth
fig.savefig(out / "mosaic_model.png", dpi=100)

# %%
# Write it for LAMMPS
# -------------------
# ``lammps-data`` is written with ``atom_style atomic`` and masses; atom types are
# numbered in alphabetical order of the elements. The extxyz file keeps the labels
# (``atoms.arrays["phase"]`` indexes ``atoms.info["phase_names"]``) for later analysis.
write_structure(atoms, out / "interphase.lmp", format="lammps-data")
write_structure(atoms, out / "interphase.extxyz")
types = {el: i + 1 for i, el in enumerate(sorted(set(atoms.get_chemical_symbols())))}
print("LAMMPS atom types:", ", ".join(f"{t} = {el}" for el, t in types.items()))
phase = np.asarray(atoms.arrays["phase"])
for i, name in enumerate(atoms.info["phase_names"]):
    print(f"  {name:7s} {np.sum(phase == i):7d} atoms")
print(f"wrote {out / 'interphase.lmp'} and {out / 'interphase.extxyz'}")
