"""Make a synthetic NDP + EELS dataset and read it in numpy batches
================================================================

Training a network to read SEI thicknesses off spectra needs thousands of labelled
spectra. A sweep draws the sample's and the instruments' parameters from
distributions (here a Sobol' design over the two SEI sublayer thicknesses and the NDP
detector resolution), simulates noisy and expected NDP spectra and EELS line scans for
each draw, and writes them batch by batch into one Zarr store. We then read the store
back lazily in batches of 16, as a training loop would, and recompute one sample from
what the store records, bit for bit.

Run: ``python examples/dataset_sweep.py [OUT_DIR] [--quick] [--samples N] [--workers N]``
(``--quick`` or ``INTERPHASE_SIM_QUICK=1``: 16 samples instead of 64).
"""

import argparse
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from interphase_sim import samples
from interphase_sim.sweep import SweepDesign, open_dataset, run_sweep, simulate_one

ap = argparse.ArgumentParser(description="A synthetic NDP + EELS dataset, read back in numpy batches.")
ap.add_argument("out", nargs="?", default="example-output/dataset_sweep")
ap.add_argument("--quick", action="store_true", help="16 samples (also INTERPHASE_SIM_QUICK=1)")
ap.add_argument("--samples", type=int, default=None, help="samples in the design (default 64, quick 16)")
ap.add_argument("--workers", type=int, default=None, help="dask worker processes (default: this process)")
args = ap.parse_args()
quick = args.quick or os.environ.get("INTERPHASE_SIM_QUICK") == "1"
n_samples = args.samples or (16 if quick else 64)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# The sample and the design
# -------------------------
# Li | SEI | LiPON, with a short EELS scan across the SEI (40 positions from 1480 to
# 1600 nm; N K and O K on 512 channels of 0.5 eV from 380 eV), fast to simulate.
stack = samples.load("li_sei_lipon")
stack.sections["eels"] = {"positions": 40, "channels": 512, "offset_eV": 380.0, "dispersion_eV": 0.5,
                          "edges": ["N K", "O K"], "plural": False,
                          "scan_start_nm": 1480.0, "scan_stop_nm": 1600.0}

# What varies, and how: scipy.stats distributions by name (thicknesses in nm, FWHM in keV).
design = SweepDesign.from_table({
    "samples": n_samples, "seed": 2026, "design": "sobol",
    "instruments": ["ndp", "eels"], "outputs": ["noisy", "expected"], "batch_size": 16,
    "parameters": {
        "SEI-outer.thickness_nm": {"dist": "uniform", "low": 10, "high": 60},
        "SEI-inner.thickness_nm": {"dist": "uniform", "low": 20, "high": 80},
        "ndp.fwhm_keV": {"dist": "norm", "loc": 20, "scale": 2},
    },
})

# %%
# Simulate into the store
# -----------------------
# Run it again and it resumes, computing nothing twice (a store of another sweep is
# refused unless ``overwrite=True``: hence one store per design size); ``--workers N``
# spreads the batches over N dask worker processes.
store = out / f"sei-{n_samples}.zarr"
run = run_sweep(stack, design, store, workers=args.workers)
print(run.summary())

# %%
# Read it back in batches
# -----------------------
# Inputs: the noisy spectra (counts); targets: the two thicknesses (nm).
ds = open_dataset(store)                       # a lazy xarray.Dataset
targets = np.stack([ds["SEI-outer.thickness_nm"].values, ds["SEI-inner.thickness_nm"].values], axis=1)
for start in range(0, design.samples, 16):
    ndp = ds["ndp_counts"][start:start + 16].values          # (16, channels)
    eels = ds["eels_counts"][start:start + 16].values        # (16, positions, channels)
    y = targets[start:start + 16]                            # (16, 2) nm
    print(f"batch {start // 16}: NDP {ndp.shape}, EELS {eels.shape}, SEI-outer "
          f"{y[:, 0].min():.0f}-{y[:, 0].max():.0f} nm")

# Any sample can be recomputed from what the store records, bit for bit.
again = simulate_one(store, 5)
assert np.array_equal(again["ndp_counts"], ds["ndp_counts"][5].values)
print(f"sample 5 recomputed from the store: identical; store {store}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
ax1.scatter(targets[:, 0], targets[:, 1], c=ds["ndp.fwhm_keV"].values, s=12)
ax1.set_xlabel("SEI-outer thickness (nm)")
ax1.set_ylabel("SEI-inner thickness (nm)")
ax1.set_title("Sobol' design (colour: NDP FWHM)", fontsize=10)
expected = ds["ndp_expected"][:4].values
for k in range(expected.shape[0]):
    ax2.semilogy(np.maximum(expected[k], 1e-1), lw=0.8, label=f"sample {k}: {targets[k, 0]:.0f} / {targets[k, 1]:.0f} nm")
ax2.set_xlabel("NDP channel")
ax2.set_ylabel("expected counts")
ax2.legend(fontsize=7)
fig.tight_layout()
fig.savefig(out / "dataset_overview.png", dpi=100)
