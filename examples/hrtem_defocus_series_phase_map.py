"""HRTEM of the interphase: defocus series, diffractogram and phase map
====================================================================

A cross-section lamella through the Li | SEI | LiPON interphase (shipped sample
``li_sei_lipon``), imaged by low-dose cryo-HRTEM at 300 kV (abTEM multislice). The
multislice runs once; a defocus series only re-applies the contrast transfer function,
the detector MTF and shot noise. From the images: the defocus back from the Thon rings
of the amorphous LiPON, the diffractogram of the SEI with the lattice spacings it
shows, and a phase map labelling the crystallites (Li2O, Li3N, Li3P, Li3PO4) by their
spacings, with its fractions along depth beside the sample's.

Run: ``python examples/hrtem_defocus_series_phase_map.py [OUT_DIR] [--quick]``
(``--quick`` or ``INTERPHASE_SIM_QUICK=1``: a 5 nm wide, 2 nm thick lamella, 3 images).
"""

import argparse
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from interphase_sim import samples
from interphase_sim.core.fileio import write_tiff
from interphase_sim.hrtem import HRTEMModel, Microscope
from interphase_sim.hrtem.analysis import diffractogram, find_lattice_spacings, fit_defocus_thon
from interphase_sim.hrtem.phasemap import candidate_reflections, phase_map
from interphase_sim.plotting.hrtem import plot_hrtem_image, plot_phase_map

ap = argparse.ArgumentParser(description="HRTEM image, defocus series, diffractogram and phase map.")
ap.add_argument("out", nargs="?", default="example-output/hrtem_defocus_series_phase_map")
ap.add_argument("--quick", action="store_true", help="a small lamella (also INTERPHASE_SIM_QUICK=1)")
args = ap.parse_args()
quick = args.quick or os.environ.get("INTERPHASE_SIM_QUICK") == "1"
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# The lamella and the microscope
# ------------------------------
# abTEM units: eV, Å, mrad. Scherzer defocus (561 Å underfocus at 300 kV, Cs 1.2 mm) and
# aperture; 300 e/Å2 (cryo low dose). The lamella is cut from the depth window (nm) that
# holds the last nm of LiPON and the SEI; its thickness runs along the beam.
stack = samples.load("li_sei_lipon")
mic = Microscope.scherzer(energy_eV=300e3, Cs_mm=1.2, dose_e_per_A2=300.0)
lamella = dict(lateral_nm=5.0, thickness_nm=2.0, depth_range_nm=(1492.0, 1512.0), sampling_A=0.3) if quick else \
    dict(lateral_nm=8.0, thickness_nm=4.0, depth_range_nm=(1490.0, 1540.0), sampling_A=0.25)
with warnings.catch_warnings():
    # a lamella this small holds few grains: the mosaic warns that it cannot meet the fractions
    warnings.simplefilter("ignore", UserWarning)
    model = HRTEMModel.from_stack(stack, mic, seed=1, **lamella)
image = model.image(noise=True, seed=1)          # rows: depth (nm), columns: lateral (nm)
print(f"{len(model.atoms):,} atoms; image {image.values.shape} pixels of {lamella['sampling_A']} Å")
pixel_nm = lamella["sampling_A"] / 10.0
write_tiff(out / "image.tiff", image.values, pixel_nm, origin_nm=(float(image.axis("depth")[0]), 0.0))  # for Fiji
fig, ax = plt.subplots(figsize=(3, 8))
plot_hrtem_image(image, ax=ax, scale_bar_nm=2.0, interfaces_nm=stack.interfaces_nm()[:-1],
                 title=f"Scherzer, {mic.dose_e_per_A2:g} e/Å$^2$")
fig.tight_layout()
fig.savefig(out / "hrtem_image.png", dpi=100)

# %%
# A defocus series, and the defocus back from the Thon rings
# ----------------------------------------------------------
# The top 7-8 nm of the image are amorphous LiPON: its speckle carries the Thon rings
# (the fit is given the nominal defocus as a guess; without one it searches -1000 to
# 3000 Å).
defoci_A = [200.0, 600.0, 1000.0] if quick else [0.0, 300.0, 600.0, 900.0, 1200.0]
series = model.defocus_series(defoci_A, noise=True, seed=2)
lipon_rows = image.axis("depth") < 1499.0
for df, img in zip(defoci_A, series):
    thon = fit_defocus_thon(img.values[lipon_rows], sampling_A=lamella["sampling_A"], energy_eV=mic.energy_eV,
                            Cs_mm=mic.Cs_mm, defocus_guess_A=df)
    print(f"defocus {df:6.0f} Å -> Thon-ring fit {thon.defocus_A:6.0f} +/- {thon.defocus_err_A:.0f} Å")
fig2, axes = plt.subplots(1, len(series), figsize=(2.2 * len(series), 6), sharey=True)
for ax, df, img in zip(axes, defoci_A, series):
    plot_hrtem_image(img, ax=ax, title=f"{df:g} Å")
fig2.tight_layout()
fig2.savefig(out / "defocus_series.png", dpi=90)

# %%
# Diffractogram of the SEI and its lattice spacings
# -------------------------------------------------
sei_rows = image.axis("depth") >= 1500.0
sei = image.values[sei_rows]
power, (ky, kx) = diffractogram(sei, sampling_A=lamella["sampling_A"])     # 1/Å
spacings = find_lattice_spacings(sei, sampling_A=lamella["sampling_A"], d_min_A=1.5, d_max_A=5.0)
print("SEI lattice spacings (Å, relative power):", ", ".join(f"{d:.2f} ({p:.2g})" for d, p in spacings))
fig3, ax3 = plt.subplots(figsize=(4, 4))
ax3.imshow(np.log10(power + power.max() * 1e-6), extent=(kx[0], kx[-1], ky[-1], ky[0]), cmap="gray")
ax3.set(xlim=(-0.7, 0.7), ylim=(-0.7, 0.7),                # |k| up to 0.7/Å: spacings down to 1.4 Å
        xlabel="$k_x$ (1/Å)", ylabel="$k_y$ (1/Å)", title="diffractogram of the SEI")
fig3.tight_layout()
fig3.savefig(out / "diffractogram.png", dpi=100)

# %%
# Phase map
# ---------
# 3 nm windows every 1.5 nm; each is labelled with the candidate whose electron-weighted
# spacings its peaks match (one matched spacing suffices here: a nanocrystal often shows
# one fringe set, so treat such labels as hypotheses).
cands = candidate_reflections(["Li2O", "Li3N", "Li3P", "Li3PO4"], d_min_A=2.0)
pm = phase_map(image, candidates=cands, window_nm=3.0, step_nm=1.5, min_peaks=1)
print("labelled windows:", pm.counts() or "none", f"of {pm.labels.size}")
fig4 = plot_phase_map(image, pm, title="labelled windows")
fig4.savefig(out / "phase_map.png", dpi=100)

# The labelled share of the windows in each row, beside the sample's volume fractions.
fig5, ax4 = plt.subplots(figsize=(5, 4))
frac = stack.profile(pm.depth_nm)
for k, name in enumerate(pm.phase_names):
    ax4.plot(pm.depth_nm, np.mean(pm.labels == name, axis=1), "o", color=f"C{k}", label=f"{name} (map)")
    ax4.plot(pm.depth_nm, frac.fraction(name), "-", color=f"C{k}", lw=1)
ax4.set(xlabel="depth (nm)", ylabel="fraction of windows (points) / volume fraction (lines)")
ax4.legend(fontsize=7)
fig5.tight_layout()
fig5.savefig(out / "phase_map_fractions.png", dpi=100)
