"""EELS line-scan geometry: a fittable scan origin and step, nuisance instrument parameters,
and measured line scans on their own energy axis and probe positions.

The probe at nominal position ``p_i`` (what the instrument records) sits at depth
``p_i + scan_origin_nm + (scan_step_scale - 1) (p_i - p_0)`` of the stack. With the origin
free, a layer's thickness is measured only where the scan sees both of its interfaces.
"""

import warnings

import numpy as np
import pytest

from interphase_sim import Layer, Parameter, Stack, samples
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.eels.model import EELSModel
from interphase_sim.fit import Objective, fit

# few channels and positions: each fit runs in a second or two
FAST = dict(edges=["N K", "O K"], offset_eV=360.0, dispersion_eV=1.0, channels=256, probe_fwhm_nm=2.0,
            dose_e_per_A2=2e4, thickness_nm=60.0)


def three_layers(lipon_nm, sei_nm=30.0):
    return Stack([Layer("LiPON", {"LiPON": 1}, lipon_nm, roughness_nm=1.0),
                  Layer("SEI", {"Li2O": 1, "Li3N": 1}, sei_nm, roughness_nm=1.0),
                  Layer("Li", {"Li": 1}, "inf")])


def test_scan_parameters_are_nuisances_and_the_origin_is_free_by_default():
    params = EELSModel(three_layers(40.0), **FAST).parameters()
    origin, step = params["eels.scan_origin_nm"], params["eels.scan_step_scale"]
    assert origin.role == "nuisance" and step.role == "systematic"
    assert origin.vary and origin.value == 0.0 and origin.bounds == (-20.0, 20.0) and origin.units == "nm"
    # the step is calibrated to 1 %: a systematic, free within its prior, so that a distance
    # between two interfaces carries it (finding: SEI layers quoted to +-0.016 nm)
    assert step.value == 1.0 and step.bounds == (0.9, 1.1) and step.vary
    assert step.prior.mean() == 1.0 and step.prior.std() == pytest.approx(0.01)
    for name in ("probe_fwhm_nm", "background_counts", "background_exponent"):
        p = params[f"eels.{name}"]
        assert p.role == "nuisance" and np.all(np.isfinite(p.bounds)), name  # vary = True is all a fit needs


def test_origin_and_step_move_the_probe_positions():
    stack = three_layers(40.0)
    nominal = np.linspace(10.0, 90.0, 17)
    moved = EELSModel(stack, scan_origin_nm=3.0, scan_step_scale=1.04, **FAST).line_scan(nominal)
    depths = nominal + 3.0 + 0.04 * (nominal - nominal[0])
    plain = EELSModel(stack, **FAST).line_scan(depths)
    np.testing.assert_array_equal(moved.axis("depth"), nominal)  # the data keep the instrument's positions
    np.testing.assert_allclose(moved.values, plain.values, rtol=1e-9, atol=1e-9 * plain.values.max())


def test_a_scan_offset_is_fitted_with_the_thickness_when_the_scan_sees_the_surface():
    lipon = Parameter(40.0, bounds=(20.0, 60.0), vary=True)
    model = EELSModel(three_layers(lipon), scan_origin_nm=3.0, **FAST)
    data = model.line_scan(np.arange(-10.0, 90.0, 2.0), noise=True, seed=1)
    model.parameters()["eels.scan_origin_nm"].value = 0.0
    lipon.value = 43.0
    res = fit(Objective(model, data))
    origin_err, t_err = res.stderr["eels.scan_origin_nm"], res.stderr["LiPON.thickness_nm"]
    assert abs(res.values["eels.scan_origin_nm"] - 3.0) < 3 * origin_err and origin_err < 1.0
    assert abs(res.values["LiPON.thickness_nm"] - 40.0) < 3 * t_err and t_err < 1.0


def test_a_layer_whose_top_the_scan_never_sees_is_not_constrained():
    lipon = Parameter(500.0, bounds=(480.0, 520.0), vary=True)
    sei = Parameter(30.0, bounds=(10.0, 50.0), vary=True)
    model = EELSModel(three_layers(lipon, sei), **FAST)
    data = model.line_scan(np.arange(470.0, 560.0, 2.0), noise=True, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a flat direction may end at a bound
        res = fit(Objective(model, data))
    # LiPON's thickness and the scan origin are one direction the data cannot see: the error is
    # set by the bounds (uniform priors of 40 nm: 11.5 nm each, 8.2 nm together), not 0.01 nm
    assert res.stderr["LiPON.thickness_nm"] > 5.0
    assert res.stderr["SEI.thickness_nm"] < 1.0  # both of its interfaces are in the scan


def test_probe_width_and_background_are_fitted_when_freed():
    stack = three_layers(40.0)
    model = EELSModel(stack, background_counts=200.0, background_exponent=3.0, **FAST)
    for name in ("probe_fwhm_nm", "background_counts", "background_exponent"):
        getattr(model, name).vary = True
    data = model.line_scan(np.arange(20.0, 90.0, 2.0), noise=True, seed=3)
    model.probe_fwhm_nm.value, model.background_counts.value, model.background_exponent.value = 3.0, 150.0, 2.5
    res = fit(Objective(model, data))
    for name, truth in (("probe_fwhm_nm", 2.0), ("background_counts", 200.0), ("background_exponent", 3.0)):
        assert abs(res.values[f"eels.{name}"] - truth) < 3 * res.stderr[f"eels.{name}"], name


# -- measured line scans: their axes, not the model's ---------------------------------------------
def _measured(values, depth, energy, **meta):
    return Measurement(values, [Axis("depth", "nm", depth), Axis("energy", "eV", energy)], metadata=meta)


def test_expected_uses_the_measurement_s_energy_axis_and_positions():
    stack = three_layers(40.0)
    model = EELSModel(stack, edges=["N K", "O K"], thickness_nm=60.0, background_counts=50.0)  # 40-654 eV
    depth = np.array([12.5, 33.0, 41.0, 57.25, 80.0])
    energy = 372.0 + 0.45 * np.arange(400)
    data = _measured(np.zeros((depth.size, energy.size)), depth, energy, beam_energy_eV=300e3)
    got = model.expected(data)
    assert got.shape == (depth.size, energy.size)
    same = EELSModel(stack, edges=["N K", "O K"], thickness_nm=60.0, background_counts=50.0,
                     offset_eV=372.0, dispersion_eV=0.45, channels=400)
    np.testing.assert_allclose(got, same.line_scan(depth).values, rtol=1e-9, atol=1e-9 * got.max())
    # the model's own axis and positions are untouched
    assert model.simulate().values.shape == (model.default_positions().size, 2048)


def test_a_measured_line_scan_on_its_own_axis_is_fitted():
    sei = Parameter(30.0, bounds=(10.0, 60.0), vary=True)
    stack = three_layers(40.0, sei)
    truth = EELSModel(stack, **{**FAST, "offset_eV": 380.0, "dispersion_eV": 0.8, "channels": 300})
    data = truth.line_scan(np.arange(25.0, 95.0, 2.5), noise=True, seed=4)
    measured = _measured(data.values, data.axis("depth"), data.axis("energy"))
    sei.value = 26.0
    model = EELSModel(stack, **FAST)  # another axis (360 eV + 1 eV x 256): the data's is used
    res = fit(Objective(model, measured))
    assert abs(res.values["SEI.thickness_nm"] - 30.0) < 3 * res.stderr["SEI.thickness_nm"] < 3.0


def test_from_measurement_takes_the_axis_and_optics_from_the_data():
    stack = samples.load("li_sei_lipon")
    energy = 50.0 + 0.25 * np.arange(1200)
    data = _measured(np.zeros((3, energy.size)), np.array([1500.0, 1510.0, 1520.0]), energy,
                     beam_energy_eV=200e3, convergence_mrad=15.0, collection_mrad=30.0)
    model = EELSModel.from_measurement(stack, data)
    assert model.beam_energy_eV.value == 200e3 and model.convergence_mrad.value == 15.0
    assert model.collection_mrad.value == 30.0
    np.testing.assert_allclose(model.energy_axis(), energy)
    assert model.expected(data).shape == data.values.shape


def test_a_non_uniform_energy_axis_is_refused_clearly():
    from interphase_sim import InterphaseInputError

    model = EELSModel(three_layers(40.0), **FAST)
    energy = np.concatenate([360.0 + np.arange(100), 460.5 + np.arange(100)])
    with pytest.raises(InterphaseInputError, match="measurement.energy"):
        model.expected(_measured(np.zeros((2, 200)), np.array([10.0, 20.0]), energy))


def test_expected_of_a_single_spectrum_uses_its_probe_position():
    model = EELSModel(three_layers(40.0), scan_origin_nm=1.5, **FAST)
    spec = model.spectrum(38.0)
    np.testing.assert_allclose(model.expected(spec), spec.values, rtol=1e-12)
