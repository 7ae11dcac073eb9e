"""HRTEM fitting hooks: power-spectrum phase fractions, Thon-ring defocus, phase map vs stack."""

import numpy as np
import pytest

from interphase_sim import InterphaseInputError
from interphase_sim.build.amorphous import amorphous
from interphase_sim.fit import Objective, fit
from interphase_sim.hrtem.model import HRTEMModel, Microscope
from interphase_sim.hrtem.analysis import fit_defocus_thon
from interphase_sim.hrtem.fitting import (
    PowerSpectrumMixture,
    StackPhaseFractions,
    ThonRingModel,
    basis_power_spectra,
    nnls_phase_fractions,
    phase_map_depth_fractions,
    welch_power_spectrum,
)
from interphase_sim.sample.stack import Layer, Stack

MIC = Microscope.scherzer(aperture_mrad=20.0)


def single_phase_image(name, seed, side_nm=8.0):
    from interphase_sim import phases

    grain = None if phases.get(name).amorphous else 4.0
    stack = Stack([Layer(name, {name: 1.0}, thickness_nm=side_nm, grain_size_nm=grain)])
    model = HRTEMModel.from_stack(stack, MIC, lateral_nm=side_nm, thickness_nm=4.0,
                                  depth_range_nm=(0.0, side_nm), seed=seed, sampling_A=0.2)
    img = model.image()
    return np.asarray(img.values)[img.axis("depth") < side_nm]


@pytest.fixture(scope="module")
def two_phases():
    return single_phase_image("LiPON", 5), single_phase_image("Li2O", 5)


@pytest.mark.parametrize("columns", [100, 200, 300])
def test_nnls_recovers_the_area_fraction_of_a_side_by_side_mixture(two_phases, columns):
    """Left ``columns`` of 400 from the LiPON image, the rest from the Li2O polycrystal.

    The basis is the two images' own spectra, so this checks that Welch spectra add by
    area and that NNLS and the Objective recover it; an independent basis adds the
    field-to-field scatter of polycrystal spectra (see basis_power_spectra)."""
    a, b = two_phases
    basis = {"LiPON": welch_power_spectrum(a, 0.2, tile_nm=2.0), "Li2O": welch_power_spectrum(b, 0.2, tile_nm=2.0)}
    mix = np.concatenate([a[:, :columns], b[:, columns:]], axis=1)
    spec = welch_power_spectrum(mix, 0.2, tile_nm=2.0)
    res = nnls_phase_fractions(spec, basis)
    assert res["fractions"]["LiPON"] == pytest.approx(columns / 400, abs=0.1)
    assert 0 < res["fraction_errors"]["LiPON"] < 0.2
    # the same problem through the Objective (bases' errors added): same answer, with errors
    model = PowerSpectrumMixture.from_nnls(spec, basis)
    result = fit(Objective(model, model.with_basis_errors(spec), loss="gaussian"))
    fractions, errors = model.fractions(result)
    assert fractions["LiPON"] == pytest.approx(res["fractions"]["LiPON"], abs=0.03)
    assert errors["LiPON"] == pytest.approx(errors["Li2O"])  # two fractions that sum to one
    assert 0 < errors["LiPON"] < 0.2


def test_pure_spectra_pick_their_own_phase(two_phases):
    a, b = two_phases
    basis = {"LiPON": welch_power_spectrum(a, 0.2, tile_nm=2.0), "Li2O": welch_power_spectrum(b, 0.2, tile_nm=2.0)}
    assert nnls_phase_fractions(basis["LiPON"], basis)["fractions"]["LiPON"] == pytest.approx(1.0, abs=1e-6)
    assert nnls_phase_fractions(basis["Li2O"], basis)["fractions"]["Li2O"] == pytest.approx(1.0, abs=1e-6)


def test_basis_spectra_average_realizations_and_check_inputs():
    basis = basis_power_spectra(["LiPON"], MIC, lateral_nm=6.0, depth_nm=6.0, thickness_nm=3.0, tile_nm=2.0,
                                realizations=2, seed=3)
    b = basis["LiPON"]
    assert b.metadata["realizations"] == 2 and np.all(b.uncertainties > 0)
    # amorphous speckle: broad, no sharp rings; the power falls beyond the aperture (1.02 1/Å)
    k = b.axis("k")
    assert b.values[k > 1.1].max() < 0.05 * b.values.max()
    with pytest.raises(InterphaseInputError, match="realizations"):
        basis_power_spectra(["LiPON"], MIC, realizations=0)
    with pytest.raises(InterphaseInputError, match="tile_nm"):
        welch_power_spectrum(np.zeros((64, 64)), 0.2, tile_nm=40.0)


def test_thon_ring_model_fits_defocus_through_the_objective():
    atoms = amorphous("LiPON", (8.0, 8.0, 1.5), seed=4)
    mic = Microscope(defocus_A=900.0, aperture_mrad=30.0, focal_spread_A=20.0, dose_e_per_A2=500.0)
    img = HRTEMModel(atoms, mic, sampling_A=0.15).image(noise=True, seed=3)
    start = fit_defocus_thon(img, energy_eV=300e3, Cs_mm=1.2)
    spec = welch_power_spectrum(img, tile_nm=4.0, k_range=(0.08, 0.6))
    model = ThonRingModel(300e3, defocus_A=start.defocus_A + 30.0, Cs_mm=1.2)
    result = fit(Objective(model, spec, loss="gaussian"))
    err = result.stderr["defocus_A"]
    assert 0 < err < 20.0
    assert abs(model.defocus_A.value - 900.0) < max(3 * err, 0.02 * 900.0)
    assert result.reduced_statistic < 3.0  # the right ring count: a neighbouring minimum fits far worse


def _phase_map(labels, depth_nm):
    """A PhaseMap of given labels (windows of 1 nm at a 1 nm step: independent windows)."""
    from interphase_sim.hrtem.phasemap import PhaseMap

    zeros = np.zeros(labels.shape)
    return PhaseMap(labels=labels, confidence=zeros, probability=zeros[..., None], phase_names=["Li2O"],
                    score=zeros, depth_nm=np.asarray(depth_nm), lateral_nm=np.arange(labels.shape[1], dtype=float),
                    window_nm=1.0, step_nm=1.0)


def test_phase_map_fractions_compare_with_the_stack():
    stack = Stack([
        Layer("top", {"Li3N": 0.8, "LiPON": 0.2}, thickness_nm=10.0, grain_size_nm=4.0),
        Layer("bottom", {"Li2O": 0.6, "Li3N": 0.2, "LiPON": 0.2}, thickness_nm=10.0, grain_size_nm=4.0),
    ])
    labels = np.array([["Li3N", "", "Li3N", "Li3N"], ["Li3N", "Li3N", "", "Li3N"],
                       ["Li2O", "Li2O", "Li3N", "Li2O"], ["Li2O", "", "Li2O", "Li2O"]], dtype=object)
    pm = _phase_map(labels, [3.0, 7.0, 13.0, 17.0])
    meas = phase_map_depth_fractions(pm, ["Li2O", "Li3N"])
    np.testing.assert_allclose(meas.values.sum(axis=1), 1.0)
    np.testing.assert_allclose(meas.values[:, 0], [0.0, 0.0, 0.75, 1.0])
    model = StackPhaseFractions(stack, window_nm=2.0)
    exp = model.expected(meas)
    # top layer: Li3N only among the imaged crystals; bottom: Li2O 0.6 / (0.6 + 0.2) = 0.75
    np.testing.assert_allclose(exp[:2, 1], 1.0, atol=1e-6)
    np.testing.assert_allclose(exp[2:, 0], 0.75, atol=1e-6)
    assert "top.thickness_nm" in model.parameters()
    with pytest.raises(InterphaseInputError, match="no window is labelled"):
        phase_map_depth_fractions(_phase_map(np.full((2, 2), "", dtype=object), np.zeros(2)))
