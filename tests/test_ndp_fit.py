"""NDP parameters a fit can move: the energy calibration, dead layers, stopping-power scales."""

import warnings

import numpy as np
import pytest
import scipy.stats

from interphase_sim import Layer, Parameter, Stack, samples
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.fit import Objective, fit, hold_systematics
from interphase_sim.ndp import NDPModel


def lipon_stack(t=1000.0, vary=True):
    return Stack([Layer("LiPON", {"LiPON": 1}, Parameter(t, bounds=(500.0, 1500.0), vary=vary)),
                  Layer("Si", {"Si": 1}, "inf")])


def hold_stopping_scales(model):
    """Take the systematics (stopping scales, 6Li abundance, density) as exact: isolate what
    a test is about."""
    hold_systematics(model)


def quiet_fit(objective):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fit(objective)


# -- calibration ---------------------------------------------------------------------------
def test_calibration_parameters_are_nuisances_and_simulate_records_them():
    m = NDPModel(lipon_stack(), channels=512, gain_keV=5.0, offset_keV=12.0)
    ps = m.parameters()
    assert ps["ndp.gain_keV"].role == "nuisance" and ps["ndp.offset_keV"].role == "nuisance"
    meas = m.simulate()
    assert meas.metadata["gain_keV"] == 5.0 and meas.metadata["offset_keV"] == 12.0
    np.testing.assert_array_equal(meas.axis("energy"), 5.0 * np.arange(512) + 12.0)


def test_a_free_offset_moves_the_prediction_on_an_energy_axis():
    m = NDPModel(lipon_stack(), particles=["alpha"], channels=512, gain_keV=5.0)
    data = m.simulate()
    before = m.expected(data)
    np.testing.assert_array_equal(before, data.values)
    m.offset_keV.value = 25.0  # the model now says channel c sits at 5 c + 25 keV
    after = m.expected(data)
    assert not np.allclose(after, before)
    # the prediction moved down by 5 channels: the surface edge sits 25 keV lower on the axis
    e = data.axis("energy")
    edge = lambda y: e[np.flatnonzero(y > 0.5 * y.max())[-1]]  # noqa: E731
    assert edge(before) - edge(after) == pytest.approx(25.0, abs=5.0)


def test_a_channel_axis_is_calibrated_by_the_model():
    m = NDPModel(lipon_stack(), particles=["alpha"], channels=512, gain_keV=5.0, offset_keV=10.0)
    on_energy = m.simulate()
    channels = Measurement(on_energy.values, [Axis("channel", "", np.arange(512.0))])
    np.testing.assert_allclose(m.expected(channels), on_energy.values, rtol=1e-12)


def test_an_energy_axis_without_metadata_is_read_as_a_linear_channel_map():
    m = NDPModel(lipon_stack(), particles=["alpha"], channels=512, gain_keV=5.0, offset_keV=10.0)
    bare = Measurement(m.simulate().values, [Axis("energy", "keV", 5.0 * np.arange(512) + 10.0)])
    np.testing.assert_allclose(m.expected(bare), bare.values, rtol=1e-12)
    m.gain_keV.value = 5.02
    shifted = m.expected(bare)
    m.gain_keV.value = 5.0
    assert not np.allclose(shifted, bare.values)


def test_fit_recovers_offset_gain_and_thickness_from_a_miscalibrated_spectrum():
    truth = NDPModel(lipon_stack(1000.0), channels=1024, gain_keV=3.0 * 1.004, offset_keV=6.0, fluence=2e12)
    data = truth.simulate(noise=True, seed=21)
    # the analyst's nominal calibration: 3 keV/channel from 0, on the same channels
    data.metadata.update(gain_keV=3.0, offset_keV=0.0)
    data.axes[0] = Axis("energy", "keV", 3.0 * np.arange(1024.0))
    stack = lipon_stack(1080.0)
    m = NDPModel(stack, channels=1024, fluence=2e12,
                 gain_keV=Parameter(3.0, bounds=(2.9, 3.1), vary=True),
                 offset_keV=Parameter(0.0, bounds=(-30.0, 30.0), vary=True))
    res = quiet_fit(Objective(m, data))  # the stopping scales free too, as in every NDP fit
    assert res.success
    for name, value in (("ndp.gain_keV", 3.012), ("ndp.offset_keV", 6.0), ("LiPON.thickness_nm", 1000.0)):
        assert abs(res.values[name] - value) < 3 * res.stderr[name], (name, res.values[name], res.stderr[name])
    assert res.values["ndp.offset_keV"] != 0.0 and res.stderr["ndp.offset_keV"] < 3.0


def test_a_free_offset_is_not_returned_at_its_start_value():
    truth = NDPModel(lipon_stack(vary=False), particles=["alpha"], channels=512, gain_keV=5.0, offset_keV=8.0)
    data = truth.simulate(noise=True, seed=5)
    data.metadata.update(gain_keV=5.0, offset_keV=0.0)  # nominal: channel 0 at 0 keV
    data.axes[0] = Axis("energy", "keV", 5.0 * np.arange(512.0))
    m = NDPModel(lipon_stack(vary=False), particles=["alpha"], channels=512, gain_keV=5.0,
                 offset_keV=Parameter(0.0, bounds=(-20.0, 20.0), vary=True))
    res = quiet_fit(Objective(m, data))
    assert res.values["ndp.offset_keV"] == pytest.approx(8.0, abs=3 * res.stderr["ndp.offset_keV"])
    assert abs(res.values["ndp.offset_keV"]) > 4.0


# -- dead layers -----------------------------------------------------------------------------
def test_dead_layer_thickness_is_a_named_nuisance_parameter():
    m = NDPModel(lipon_stack(), dead_layers=[("Au", 40.0), {"material": "Si", "thickness_nm": 20.0}])
    ps = m.parameters()
    assert ps["ndp.dead_layers.0.thickness_nm"].value == 40.0
    assert ps["ndp.dead_layers.1.thickness_nm"].value == 20.0
    assert ps["ndp.dead_layers.0.thickness_nm"].role == "nuisance"
    assert ps["ndp.dead_layers.0.thickness_nm"].units == "nm"


def test_fit_recovers_a_dead_layer_thickness():
    truth = NDPModel(lipon_stack(vary=False), channels=1024, dead_layers=[("Au", 40.0)], fluence=2e12)
    data = truth.simulate(noise=True, seed=13)
    dead = Parameter(25.0, bounds=(0.0, 100.0), vary=True)
    m = NDPModel(lipon_stack(vary=False), channels=1024, dead_layers=[("Au", dead)], fluence=2e12,
                 scale=Parameter(1.0, bounds=(0.5, 2.0), vary=True))
    res = quiet_fit(Objective(m, data))
    name = "ndp.dead_layers.0.thickness_nm"
    assert abs(res.values[name] - 40.0) < 3 * res.stderr[name], (res.values[name], res.stderr[name])
    assert res.stderr[name] < 5.0


# -- stopping-power scales -------------------------------------------------------------------
def test_every_phase_gets_a_systematic_stopping_scale_with_a_prior():
    stack = samples.load("lnmo_lipon")
    m = NDPModel.from_stack(stack)
    ps = m.parameters()
    names = [n for n in ps if n.startswith("ndp.stopping_scale.")]
    assert sorted(names) == sorted(f"ndp.stopping_scale.{p}" for p in stack.phases)
    for name in names:
        p = ps[name]
        phase = stack.phases[name.rsplit(".", 1)[1]]
        sigma = 0.02 if len(phase.number_density()) == 1 else 0.03  # element / Bragg's-rule compound
        assert p.value == 1.0 and p.vary and p.role == "systematic" and p.bounds == (0.8, 1.2)
        assert p.prior.mean() == pytest.approx(1.0) and p.prior.std() == pytest.approx(sigma)
    assert ps["ndp.stopping_scale.Au"].prior.std() == pytest.approx(0.02)
    assert ps["ndp.stopping_scale.LiPON"].prior.std() == pytest.approx(0.03)


def test_stopping_scale_settings_round_trip_and_override():
    stack = lipon_stack()
    m = NDPModel(stack, stopping_scale={"LiPON": 1.05, "Si": Parameter(1.0, vary=False)})
    assert m.stopping_scale["LiPON"].value == 1.05 and m.stopping_scale["LiPON"].vary
    assert not m.stopping_scale["Si"].vary and m.stopping_scale["Si"].role == "systematic"
    assert m.settings()["stopping_scale"] == {"LiPON": 1.05, "Si": 1.0}
    again = NDPModel.from_stack(stack, **m.settings())
    np.testing.assert_array_equal(again.simulate().values, m.simulate().values)
    custom = Parameter(1.0, bounds=(0.9, 1.1), vary=True, prior=scipy.stats.norm(1.0, 0.05))
    m2 = NDPModel(stack, stopping_scale={"LiPON": custom})
    assert m2.parameters()["ndp.stopping_scale.LiPON"] is custom and custom.prior.std() == pytest.approx(0.05)
    from interphase_sim import InterphaseInputError

    with pytest.raises(InterphaseInputError, match="ndp.stopping_scale.Glass"):
        NDPModel(stack, stopping_scale={"Glass": 1.0})


def test_a_stopping_scale_multiplies_the_energy_loss():
    stack = lipon_stack(vary=False)
    base = NDPModel(stack, particles=["alpha"], acceptance_half_angle_deg=0.5)
    z = np.array([200.0, 600.0])
    _, e1 = base.energy_depth_map("alpha", z)
    base.stopping_scale["LiPON"].value = 1.1
    _, e2 = base.energy_depth_map("alpha", z)
    e0 = base.particles[0].max_energy_keV
    # a thin-ish layer loses ~10 % more energy (not exactly: S varies along the path)
    np.testing.assert_allclose((e0 - e2) / (e0 - e1), 1.1, rtol=0.02)


def test_a_three_percent_stopping_scale_moves_the_fitted_thickness_by_three_percent():
    truth = NDPModel(lipon_stack(1000.0, vary=False), particles=["alpha"], channels=1024, fluence=3e12)
    data = truth.simulate(noise=True, seed=17)
    m = NDPModel(lipon_stack(1000.0), particles=["alpha"], channels=1024, fluence=3e12,
                 scale=Parameter(1.0, bounds=(0.5, 2.0), vary=True))
    hold_stopping_scales(m)
    m.stopping_scale["LiPON"].value = 1.03  # the model's LiPON stops 3 % harder than the truth
    res = quiet_fit(Objective(m, data))
    # the energy width of the layer is rho t S: the same width needs a 3 % thinner layer
    assert res.values["LiPON.thickness_nm"] == pytest.approx(1000.0 / 1.03, rel=0.004)


def test_with_free_stopping_scales_the_thickness_error_includes_the_stopping_systematic():
    truth = NDPModel(lipon_stack(1000.0, vary=False), particles=["alpha"], channels=1024, fluence=3e12)
    data = truth.simulate(noise=True, seed=19)
    m = NDPModel(lipon_stack(1000.0), particles=["alpha"], channels=1024, fluence=3e12,
                 scale=Parameter(1.0, bounds=(0.5, 2.0), vary=True))
    res = quiet_fit(Objective(m, data))
    assert "ndp.stopping_scale.LiPON" in res.names
    # with a free yield only the energy width rho t S measures the layer: the depth scale is
    # known to the 3 % of the LiPON stopping prior, not better
    assert res.stderr["LiPON.thickness_nm"] > 0.02 * 1000.0
    assert abs(res.values["LiPON.thickness_nm"] - 1000.0) < 3 * res.stderr["LiPON.thickness_nm"]


def test_the_classical_conversion_uses_the_model_s_matrix_stopping_scale():
    from interphase_sim.ndp import spectrum_to_depth

    m = NDPModel(lipon_stack(1000.0, vary=False), particles=["alpha"], fluence=3e12)
    spec = m.simulate()
    plain = spectrum_to_depth(spec, "LiPON", "alpha", model=m)
    m.stopping_scale["LiPON"].value = 1.03
    scaled = spectrum_to_depth(spec, "LiPON", "alpha", model=m)
    assert scaled.metadata["stopping_scale"] == 1.03
    # 3 % more stopping: every depth 3 % shallower, every density 3 % higher
    np.testing.assert_allclose(scaled.axis("depth"), plain.axis("depth") / 1.03, rtol=1e-3)
    np.testing.assert_allclose(scaled.values, plain.values * 1.03, rtol=1e-3)
