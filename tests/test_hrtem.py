"""HRTEM forward model (groundwork): optics, caching, ensembles, bad input. CPU only."""

import math

import numpy as np
import pytest

from interphase_sim import InterphaseInputError, phases
from interphase_sim.hrtem.model import HRTEMModel, Microscope, scherzer_defocus_A, wavelength_A


@pytest.fixture(scope="module")
def li2o():
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_atoms(phases.get("Li2O").structure) * (4, 4, 3)


def test_wavelength_and_scherzer_match_the_formulas():
    assert wavelength_A(300e3) == pytest.approx(0.019687, abs=1e-5)  # textbook value
    assert wavelength_A(200e3) == pytest.approx(0.025079, abs=1e-5)
    lam = wavelength_A(300e3)
    assert scherzer_defocus_A(300e3, 1.2) == pytest.approx(math.sqrt(4 / 3 * 1.2e7 * lam))
    mic = Microscope.scherzer(300e3, 1.2)
    assert mic.aperture_mrad == pytest.approx((6 * lam / 1.2e7) ** 0.25 * 1e3)


def test_a_defocus_series_runs_one_multislice(li2o):
    model = HRTEMModel(li2o, Microscope.scherzer(), sampling_A=0.12)
    images = model.defocus_series(np.linspace(0.0, 600.0, 10))
    assert model.multislice_runs == 1 and len(images) == 10
    assert not np.allclose(images[0].values, images[-1].values)


def test_gaussian_defocus_ensemble_is_the_weighted_sum_of_images(li2o):
    from abtem.distributions import gaussian

    model = HRTEMModel(li2o, Microscope.scherzer(focal_spread_A=0.0), sampling_A=0.12)
    dist = gaussian(standard_deviation=40.0, num_samples=7, center=model.microscope.defocus_A, ensemble_mean=True)
    waves = model.exit_wave()
    ensemble = waves.apply_ctf(model.microscope.ctf(defocus_A=dist)).intensity().reduce_ensemble()
    ensemble = np.asarray(ensemble.compute(progress_bar=False).array if ensemble.is_lazy else ensemble.array)
    manual = sum(w * np.asarray(waves.apply_ctf(model.microscope.ctf(defocus_A=d)).intensity().compute(
        progress_bar=False).array) for d, w in zip(dist.values, dist.weights))
    np.testing.assert_allclose(ensemble, manual / np.sum(dist.weights), rtol=1e-5, atol=1e-6)


def test_shot_noise_is_seeded_and_scales_with_dose(li2o):
    perfect = Microscope.scherzer(dose_e_per_A2=50.0, mtf=(math.inf, 1.0, 0.0))
    model = HRTEMModel(li2o, perfect, sampling_A=0.12)
    a, b = (model.image(noise=True, seed=3).values for _ in range(2))
    np.testing.assert_array_equal(a, b)
    clean = model.image().values
    px, py = model.pixel_A
    per_pixel = 50.0 * px * py
    assert np.std(a - clean) == pytest.approx(np.sqrt(np.mean(clean) / per_pixel), rel=0.1)
    # a real detector spreads the shot noise too (noise first, then the MTF): less per-pixel scatter
    blurred = HRTEMModel(li2o, Microscope.scherzer(dose_e_per_A2=50.0), sampling_A=0.12)
    noisy = blurred.image(noise=True, seed=3).values - blurred.image().values
    assert np.std(noisy) < 0.8 * np.std(a - clean)


def test_bad_input_is_named(li2o):
    skew = li2o.copy()
    skew.set_cell(skew.cell.array + np.array([[0, 1.0, 0], [0, 0, 0], [0, 0, 0]]), scale_atoms=False)
    with pytest.raises(InterphaseInputError, match="orthogonal cell"):
        HRTEMModel(skew)
    with pytest.raises(InterphaseInputError, match="dose_e_per_A2"):
        Microscope(dose_e_per_A2=0.0)
    with pytest.raises(InterphaseInputError, match="mtf"):
        Microscope(mtf=(0.5, 2.5))
    with pytest.raises(InterphaseInputError, match="mtf"):
        Microscope(mtf=(0.0, 2.5, 0.1))
    with pytest.raises(InterphaseInputError, match="energy_eV"):
        Microscope(energy_eV="300 kV")
    with pytest.raises(InterphaseInputError, match="Cs_mm"):
        Microscope.scherzer(Cs_mm=-1.0)
    with pytest.raises(InterphaseInputError, match="energy_eV: expected a number"):
        Microscope(energy_eV="200e3")  # a string is refused, not parsed
    with pytest.raises(InterphaseInputError, match="about .* GB"):
        HRTEMModel(li2o, sampling_A=0.001, max_memory_gb=1.0)
    try:
        import cupy  # noqa: F401

        has_gpu = cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        has_gpu = False
    if not has_gpu:
        with pytest.raises(InterphaseInputError, match="GPU was asked for"):
            HRTEMModel(li2o, device="gpu")
    with pytest.warns(UserWarning, match="2/3 of Nyquist"):
        HRTEMModel(li2o, Microscope(aperture_mrad=40.0), sampling_A=0.3)


def test_image_fit_recovers_the_defocus_through_the_objective(li2o):
    """The forward-model protocol: parameters(), simulate(), expected(); the exit wave is cached."""
    from interphase_sim.fit import Objective, fit
    from interphase_sim.core.measurement import Measurement

    perfect = Microscope.scherzer(dose_e_per_A2=2000.0, mtf=(math.inf, 1.0, 0.0))
    truth = HRTEMModel(li2o, perfect.with_defocus(640.0), sampling_A=0.12)
    data = truth.simulate(noise=True, seed=5)
    per_pixel = 2000.0 * truth.pixel_A[0] * truth.pixel_A[1]
    sigma = np.sqrt(np.maximum(truth.image().values, 1e-3) / per_pixel)
    data = Measurement(values=data.values, axes=data.axes, uncertainties=sigma, metadata=data.metadata)
    model = HRTEMModel(li2o, perfect.with_defocus(600.0), sampling_A=0.12)
    model.defocus_A.bounds, model.defocus_A.vary = (500.0, 700.0), True
    result = fit(Objective(model, data, loss="gaussian"))
    assert abs(model.defocus_A.value - 640.0) < 3 * result.stderr["hrtem.defocus_A"] + 1.0
    assert model.multislice_runs == 1
    assert "hrtem.defocus_A" in model.parameters() and "hrtem.scale" in model.parameters()
