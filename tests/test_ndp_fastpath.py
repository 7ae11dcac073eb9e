"""The NDP forward model's fast paths: what is kept between evaluations follows every
Parameter and every change of structure, and the windowed cone transport gives the numbers
of the whole-grid recursion it replaces."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from interphase_sim import Layer, Parameter, Stack, samples
from interphase_sim.ndp import NDPModel
from interphase_sim.ndp import _kernels as K
from interphase_sim.ndp.geometry import get_particle


def _stack() -> Stack:
    return Stack([
        Layer("top", {"LiPON": 1.0}, 200, roughness_nm=3.0),
        Layer("grad", {"Li2O": 0.7, "Li3N": 0.3}, 60, roughness_nm=2.0, phases_bottom={"Li2O": 0.2, "LiF": 0.8},
              density_scale=0.95),
        Layer("mid", {"LNMO": 1.0}, 120, roughness_nm=4.0),
        Layer("sub", {"Si": 1.0}, "inf"),
    ])


def _model(stack: Stack) -> NDPModel:
    return NDPModel(stack, dead_layers=[("Au", 20)], acceptance_half_angle_deg=4.0, angle_nodes=3)


def _fresh(model: NDPModel) -> np.ndarray:
    """The spectrum of a new model on a copy of the stack: nothing kept from before."""
    return NDPModel.from_stack(copy.deepcopy(model.stack), **model.settings()).simulate().values


def _set(p: Parameter, v: float) -> None:
    p.bounds = (None, None)
    p.value = v


MUTATIONS = {
    "thickness": lambda m: _set(m.stack["top"].thickness_nm, 230.0),
    "roughness": lambda m: _set(m.stack["grad"].roughness_nm, 6.0),
    "fraction": lambda m: _set(m.stack["grad"].fractions["Li3N"], 0.6),
    "bottom fraction": lambda m: _set(m.stack["grad"].fractions_bottom["LiF"], 0.3),
    "density scale": lambda m: _set(m.stack["mid"].density_scale, 0.8),
    "6Li abundance": lambda m: _set(m.stack.li6_abundance, 0.5),
    "stopping scale": lambda m: _set(m.stopping_scale["LiPON"], 1.1),
    "resolution": lambda m: _set(m.fwhm_keV, 25.0),
    "detector angle": lambda m: _set(m.detector_angle_deg, 15.0),
    "dead layer": lambda m: _set(m.dead_layers[0][1], 45.0),
    "cutoff": lambda m: _set(m.low_energy_cutoff_keV, 1900.0),
}


@pytest.mark.parametrize("what", list(MUTATIONS))
def test_a_changed_parameter_is_seen_as_by_a_new_model(what):
    model = _model(_stack())
    before = model.simulate().values
    model.simulate()  # everything that is kept, kept
    MUTATIONS[what](model)
    after = model.simulate().values
    assert not np.array_equal(after, before)
    np.testing.assert_array_equal(after, _fresh(model))


def test_a_phase_density_rescales_the_kept_tables():
    lipon = copy.deepcopy(samples.load("li_sei_lipon").phases["LiPON"])
    stack = Stack([Layer("a", {lipon: 1.0}, 300, roughness_nm=2.0), Layer("b", {"Si": 1.0}, "inf")])
    model = NDPModel(stack)
    before = model.simulate().values
    _set(lipon.density_parameter, 0.9 * lipon.density)
    after = model.simulate().values
    assert not np.array_equal(after, before)
    # tables made at the first density, scaled: equal to a new model's up to rounding
    np.testing.assert_allclose(after, _fresh(model), rtol=1e-12, atol=1e-12 * after.max())


def test_a_new_stopping_source_is_seen():
    from interphase_sim.ndp.stopping import ICRU49

    model = _model(_stack())
    before = model.simulate().values
    model.stopping = ICRU49(nuclear=False)
    after = model.simulate().values
    assert not np.array_equal(after, before)
    fresh = NDPModel.from_stack(copy.deepcopy(model.stack), stopping=ICRU49(nuclear=False),
                                **model.settings()).simulate().values
    np.testing.assert_array_equal(after, fresh)


def test_a_changed_structure_is_seen():
    stack = _stack()
    model = _model(stack)
    model.simulate()
    stack["grad"].fractions["LiF"] = Parameter(0.4)  # a new phase in a layer
    stack["top"].thickness_nm = Parameter(150.0)  # a new Parameter object
    np.testing.assert_array_equal(model.simulate().values, _fresh(model))
    stack.layers.insert(1, Layer("extra", {"LNMO": 1.0}, 25, roughness_nm=1.0))  # a new layer
    np.testing.assert_array_equal(model.simulate().values, _fresh(model))
    stack.layers[2].fractions_bottom = None  # a gradient gone
    np.testing.assert_array_equal(model.simulate().values, _fresh(model))


def _whole_grid_moments(e0, k, du, rng, stop, wtab, thick, region, depth, g0, a0, v0):
    """The exit-moment recursion on the whole grid, node by node, in plain Python (the
    forward model before its windows; no cutoff)."""
    def at(t, u):
        x = u / du
        i = min(int(x), t.size - 2)
        f = 1.0 if int(x) >= t.size - 1 else x - int(x)
        return (1.0 - f) * t[i] + f * t[i + 1]

    def inverse(rr, y):
        if y <= 0.0:
            return 0.0
        lo = max(int(np.searchsorted(rr, y, side="right")) - 1, 0)
        lo = min(lo, rr.size - 2)
        return (lo + (y - rr[lo]) / (rr[lo + 1] - rr[lo])) * du

    g, a, v = g0.copy(), a0.copy(), v0.copy()
    u0 = math.sqrt(e0)
    out, var = np.zeros(region.size), np.zeros(region.size)
    for r in range(int(region.max()) + 1):
        rr, sr, wr = rng[r], stop[r], wtab[r]
        r0, w0 = at(rr, u0), at(wr, u0)
        for j in np.flatnonzero(region == r):
            y = r0 - depth[j] * k
            if y <= 0.0:
                continue
            ue = inverse(rr, y)
            out[j] = at(g, ue)
            var[j] = at(a, ue) ** 2 * at(sr, ue) ** 2 * (at(wr, ue) - w0) + at(v, ue)
        g_n, a_n, v_n = np.zeros_like(g), np.zeros_like(a), np.zeros_like(v)
        for i in range(1, g.size):
            y = rr[i] - thick[r] * k
            if y <= 0.0:
                continue
            ue = inverse(rr, y)
            g_n[i] = at(g, ue)
            a_n[i] = at(a, ue) * at(sr, ue) / sr[i]
            v_n[i] = at(a, ue) ** 2 * at(sr, ue) ** 2 * (at(wr, ue) - wr[i]) + at(v, ue)
        g, a, v = g_n, a_n, v_n
    return out, var


@pytest.mark.parametrize("particle", ["alpha", "triton"])
def test_windowed_transport_matches_the_whole_grid(particle):
    model = _model(_stack())
    part = get_particle(particle)
    _, tab, thick, z, region, depth, k = model._axis_tables(
        particle, np.unique(np.concatenate([np.linspace(0.0, 6e3, 60), np.linspace(6e3, 6e4, 30)])), 0)
    e, var = np.empty(z.size), np.zeros(z.size)
    K.exit_moments(part.max_energy_keV, 1.05 * k, tab["du"], tab["rng"], tab["stop"], tab["wtab"], thick, region,
                   depth, tab["maps"][0], tab["maps"][1], tab["maps"][2], 0.0, e, var)
    e_ref, var_ref = _whole_grid_moments(part.max_energy_keV, 1.05 * k, tab["du"], tab["rng"], tab["stop"],
                                         tab["wtab"], thick, region, depth, *tab["maps"])
    live = e_ref > 1.0
    assert live.sum() > 20 and (~live).sum() > 0  # some escape, some stop
    np.testing.assert_allclose(e[live], e_ref[live], rtol=1e-12)
    np.testing.assert_allclose(var[live], var_ref[live], rtol=1e-9, atol=1e-9 * var_ref.max())
    assert np.all(e[~live] <= 1.0)
