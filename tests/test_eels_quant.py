"""Li K quantification after plural scattering and Fourier-ratio deconvolution.

The Li K edge (55 eV) sits 15 eV above the start of the demo's energy axis (40 eV), under
a strong power-law background. Noise-free spectra: the areal density must come out within
the uncertainty the quantification reports at this dose.
"""

import numpy as np
import pytest

from interphase_sim import Layer, Stack, samples
from interphase_sim.eels.analysis import edge_areal_density
from interphase_sim.eels.model import EELSModel

DEMO = dict(thickness_nm=80.0, dose_e_per_A2=1e5, background_counts=500.0, background_exponent=3.0)


@pytest.mark.parametrize("phase", ["Li3PO4", "LiPON", "Li2O", "Li"])
@pytest.mark.parametrize("window", [30.0, 50.0])
def test_li_k_after_deconvolution_is_within_its_reported_error(phase, window):
    model = EELSModel(Stack([Layer(phase, {phase: 1}, "inf")]), **DEMO)  # 40-654 eV, Li K to O K
    depth = np.array([100.0])
    single = model.deconvolve(model.line_scan(depth))
    li, err = edge_areal_density(single, "Li K", window_eV=window, pre_edge_eV=(-14.0, -2.0))
    truth = model.elemental_profiles(depth)["Li"][0]
    assert err[0] < 0.01 * truth  # the dose makes it a sub-percent measurement
    assert abs(li[0] - truth) < err[0], (li[0] / truth - 1, err[0] / truth)


def test_li_k_across_the_demo_interphase_is_within_its_reported_error():
    model = EELSModel.from_stack(samples.load("li_sei_lipon"))
    depth = np.array([1460.0, 1480.0, 1600.0, 1615.0])  # LiPON and Li metal, away from interfaces
    single = model.deconvolve(model.line_scan(depth))
    li, err = edge_areal_density(single, "Li K", window_eV=30.0, pre_edge_eV=(-14.0, -2.0))
    truth = model.elemental_profiles(depth)["Li"]
    assert np.all(np.abs(li - truth) < err), (li / truth - 1, err / truth)


def test_deconvolving_a_single_scattering_simulation_changes_nothing_but_the_zero_loss_width():
    model = EELSModel(Stack([Layer("Li3PO4", {"Li3PO4": 1}, "inf")]), plural=False, **DEMO)
    scan = model.line_scan(np.array([100.0]))
    single = model.deconvolve(scan)
    li0, _ = edge_areal_density(scan, "Li K", window_eV=30.0, pre_edge_eV=(-14.0, -2.0))
    li1, err = edge_areal_density(single, "Li K", window_eV=30.0, pre_edge_eV=(-14.0, -2.0))
    assert abs(li1[0] - li0[0]) < 0.2 * err[0]
