"""Energy-loss straggling: Bohr with the Lindhard-Scharff correction, propagated along the path."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from interphase_sim import Layer, Stack, phases
from interphase_sim.ndp import NDPModel
from interphase_sim.ndp.geometry import BOHR_KEV2_PER_E_NM2, PARTICLES
from interphase_sim.ndp.stopping import exit_energy, linear_stopping_power

E_ALPHA = PARTICLES["alpha"].max_energy_keV


def electrons_per_nm3(name):
    from pymatgen.core import Element

    return sum(n * Element(el).Z for el, n in phases.get(name).number_density().items())


def bohr(z1, material, path_nm):
    """Plain Bohr variance (keV^2): energy-independent, not propagated."""
    return BOHR_KEV2_PER_E_NM2 * z1**2 * electrons_per_nm3(material) * path_nm


def tschalaer_ode(ion, e0, material, thickness_nm, factor):
    """Reference: integrate dE/dx = -S(E), d(var)/dx = omega^2(E) - 2 S'(E) var (Tschalaer)."""
    z1 = 2 if ion == "alpha" else 1

    def rhs(_, y):
        e, var = y
        e = max(e, 1.0)
        s = linear_stopping_power(ion, e, material)
        ds = (linear_stopping_power(ion, e * 1.001, material) - linear_stopping_power(ion, e * 0.999, material)) / (0.002 * e)
        omega2 = BOHR_KEV2_PER_E_NM2 * z1**2 * factor(e)
        return [-s, omega2 - 2.0 * ds * var]

    sol = solve_ivp(rhs, (0.0, thickness_nm), [e0, 0.0], rtol=1e-8, atol=1e-10, max_step=thickness_nm / 400)
    return sol.y[0, -1], sol.y[1, -1]


def test_lindhard_scharff_factor_is_one_at_high_velocity_and_below_one_at_low():
    from interphase_sim.ndp.straggling import lindhard_scharff_factor

    assert lindhard_scharff_factor(5000.0, 8) == 1.0  # keV/u: chi = 25 > 3
    # chi = E / (24.8 keV/u Z2) = 1: L / 2 = (1.36 - 0.016) / 2
    assert lindhard_scharff_factor(24.80 * 8, 8) == pytest.approx(0.672, abs=2e-3)
    low = lindhard_scharff_factor(np.array([10.0, 50.0, 100.0]), 14)
    assert np.all(np.diff(low) > 0) and np.all(low < 1.0)


def test_high_energy_thin_layer_limit_is_bohr():
    from interphase_sim.ndp.straggling import straggling_variance

    # 20 MeV protons through 200 nm Si: chi >> 3 and S constant over the layer
    var = straggling_variance("proton", 20000.0, [("Si", 200.0)])
    assert var == pytest.approx(bohr(1, "Si", 200.0), rel=2e-3)


def test_thin_layer_limit_is_the_local_rate_times_the_path():
    from interphase_sim.ndp.straggling import straggling_rate, straggling_variance

    # 2 nm of LiPON: no propagation to speak of, variance = rate(E) x path
    for e in (E_ALPHA, 600.0):
        var = straggling_variance("alpha", e, [("LiPON", 2.0)], angle_deg=30.0)
        assert var == pytest.approx(straggling_rate("alpha", e, "LiPON") * 2.0 / math.cos(math.radians(30.0)), rel=2e-3)
    # alphas at 600 keV in LiPON are slow: the Lindhard-Scharff factor lowers Bohr's rate
    assert straggling_rate("alpha", 600.0, "LiPON") < bohr(2, "LiPON", 1.0)
    assert straggling_rate("alpha", E_ALPHA, "LiPON", model="bohr") == pytest.approx(bohr(2, "LiPON", 1.0))


def test_propagated_variance_matches_tschalaer_s_equation():
    from interphase_sim.ndp.straggling import lindhard_scharff_factor, straggling_variance

    def factor(e):  # LiPON: Bragg sum over its elements
        from pymatgen.core import Element

        dens = phases.get("LiPON").number_density()
        return sum(n * Element(el).Z * lindhard_scharff_factor(e / 4.001506179, Element(el).Z) for el, n in dens.items())

    t = 4000.0  # nm: alphas leave at ~700 keV, near the stopping maximum
    e_out, var_ode = tschalaer_ode("alpha", E_ALPHA, "LiPON", t, factor)
    assert e_out == pytest.approx(float(exit_energy("alpha", E_ALPHA, [("LiPON", t)])), rel=2e-3)
    assert straggling_variance("alpha", E_ALPHA, [("LiPON", t)]) == pytest.approx(var_ode, rel=0.01)


def test_near_the_end_of_range_the_variance_departs_from_bohr_with_the_sign_of_dS_dE():
    from interphase_sim.ndp.straggling import straggling_variance

    # Alpha stopping in LiPON peaks near 700 keV. Alphas leaving 3 um of LiPON at ~1040 keV
    # are above the peak (dS/dE < 0): a spread made early is stretched by S(E_out) / S(E) > 1
    # (Tschalaer), which outweighs the Lindhard-Scharff reduction of the rate at low velocity.
    b3 = bohr(2, "LiPON", 3000.0)
    ratio3 = straggling_variance("alpha", E_ALPHA, [("LiPON", 3000.0)]) / b3
    assert 1.1 < ratio3 < 1.6, ratio3
    # without propagation the low-velocity correction alone lowers the variance
    assert straggling_variance("alpha", E_ALPHA, [("LiPON", 3000.0)], propagate=False) < b3
    # 5 um: the alphas leave at ~240 keV, below the stopping maximum (dS/dE > 0): the spread
    # is squeezed, the variance falls below Bohr's
    ratio5 = straggling_variance("alpha", E_ALPHA, [("LiPON", 5000.0)]) / bohr(2, "LiPON", 5000.0)
    assert 0.4 < ratio5 < 0.9, ratio5
    # a thin layer at the birth energy sits at the Bohr value (chi ~ 2.6 in LiPON, factor ~ 1)
    assert straggling_variance("alpha", E_ALPHA, [("LiPON", 50.0)]) == pytest.approx(bohr(2, "LiPON", 50.0), rel=0.06)


def test_forward_model_straggling_agrees_with_the_path_integral():
    from interphase_sim.ndp.straggling import straggling_variance

    stack = Stack([Layer("LiPON", {"LiPON": 1}, 3000), Layer("Li2O", {"Li2O": 1}, 500), Layer("sub", {"Si": 1}, "inf")])
    m = NDPModel(stack, particles=["alpha"], dead_layers=[("Au", 20.0)], detector_angle_deg=20.0,
                 acceptance_half_angle_deg=0.5)
    z = np.array([10.0, 1000.0, 2500.0, 3200.0])
    depth, energy, sigma = m.energy_spread_map("alpha", z)
    for zi, ei, si in zip(depth, energy, sigma):
        path = [("Li2O", max(zi - 3000.0, 0.0)), ("LiPON", min(zi, 3000.0))]
        ref = straggling_variance("alpha", E_ALPHA, path, angle_deg=20.0)
        e_surface = float(exit_energy("alpha", E_ALPHA, path, angle_deg=20.0))
        # then the dead layer, crossed at normal incidence along the detector axis
        s_in = linear_stopping_power("alpha", e_surface, "Au")
        s_out = linear_stopping_power("alpha", ei, "Au")
        ref = ref * (s_out / s_in) ** 2 + straggling_variance("alpha", e_surface, [("Au", 20.0)])
        assert si**2 == pytest.approx(ref, rel=0.005), zi


def test_the_back_edge_of_a_thick_layer_is_as_wide_as_the_propagated_straggling():
    from interphase_sim.ndp.straggling import straggling_variance

    t = 3000.0
    stack = Stack([Layer("LiPON", {"LiPON": 1}, t), Layer("sub", {"Si": 1}, "inf")])
    e_axis = np.arange(500.0, 2200.0, 1.0)
    m = NDPModel(stack, particles=["alpha"], energy_keV=e_axis, fwhm_keV=2.0, low_energy_cutoff_keV=0.0,
                 acceptance_half_angle_deg=0.2, angle_nodes=1)
    e, comps = m.simulate_components()
    y = comps["alpha"]
    back = float(exit_energy("alpha", E_ALPHA, [("LiPON", t)]))
    plateau = np.median(y[(e > back + 60) & (e < back + 100)])
    # 16 %-84 % rise of the edge: 2 sigma for an erf edge on a locally flat plateau
    win = (e > back - 80) & (e < back + 40)
    lo = np.interp(0.16 * plateau, y[win], e[win])
    hi = np.interp(0.84 * plateau, y[win], e[win])
    sigma_edge = 0.5 * (hi - lo)
    expected = math.sqrt(straggling_variance("alpha", E_ALPHA, [("LiPON", t)]) + (2.0 / 2.3548) ** 2)
    assert sigma_edge == pytest.approx(expected, rel=0.1)
    assert sigma_edge > 1.05 * math.sqrt(bohr(2, "LiPON", t))  # wider than plain Bohr
