"""Convergent-probe cross-sections against a brute-force 2-D angular average.

Independent of the implementation's angular integral: incident directions fill the
illumination disc (radius alpha) uniformly; for each, the scattered directions are a 2-D
polar grid (scattering angle x azimuth) and a direction counts when it lands inside the
collection aperture (radius beta, on axis). Only the hydrogenic angular distribution
d sigma / dE dOmega (the GOS per steradian) is shared with the code under test. The
aperture is round and centred, so the incident azimuth is fixed (the average over it is
the same for every azimuth).
"""

import math

import numpy as np
import pytest
from scipy import integrate

from interphase_sim.core.constants import ELECTRON_REST_ENERGY_EV, RYDBERG_EV
from interphase_sim.eels import xsec as xs

_A0_CM = 5.29177210903e-9  # Bohr radius (CODATA 2018)
_PREFACTOR_BARN = 4.0 * math.pi * _A0_CM**2 / 1e-24


def _accepted_fraction(alpha, beta, theta, n_incident=64, n_azimuth=512):
    """(theta,) fraction of incident electrons scattered by |theta| (random azimuth) into the aperture."""
    u = (np.arange(n_incident) + 0.5) / n_incident  # uniform in area: r = alpha sqrt(u)
    r = alpha * np.sqrt(u)
    phi = 2.0 * math.pi * (np.arange(n_azimuth) + 0.5) / n_azimuth
    out = np.zeros(theta.size)
    for ri in r:
        x = ri + theta[:, None] * np.cos(phi)[None, :]
        y = theta[:, None] * np.sin(phi)[None, :]
        out += np.mean(x * x + y * y <= beta * beta, axis=1)
    return out / n_incident


def _brute_force(name, e0, beta_mrad, alpha_mrad, energies):
    """dsigma/dE (barn/eV) per incident electron, by the 2-D average above."""
    e = xs.edge(name)
    gamma = 1.0 + e0 / ELECTRON_REST_ENERGY_EV
    t = 0.5 * ELECTRON_REST_ENERGY_EV * (1.0 - 1.0 / gamma**2)  # m0 v^2 / 2
    p02 = gamma**2 * t / RYDBERG_EV
    alpha, beta = alpha_mrad * 1e-3, beta_mrad * 1e-3
    theta = np.geomspace(1e-8, alpha + beta, 1000)
    accepted = _accepted_fraction(alpha, beta, theta)
    gos_fn = xs._gos_k if e.shell == "K" else xs._gos_l
    out = []
    for energy in energies:
        pp2 = p02 - energy / RYDBERG_EV * (gamma - energy / (2 * ELECTRON_REST_ENERGY_EV))
        k0, k1 = math.sqrt(p02), math.sqrt(pp2)
        q2 = (k0 - k1) ** 2 + 4 * k0 * k1 * np.sin(theta / 2) ** 2
        per_sr = gos_fn(np.array([[energy]]), q2[None, :], e)[0] * k0 * k1 / (math.pi * q2)
        # d Omega = 2 pi sin(theta) d theta = 2 pi sin(theta) theta d ln(theta)
        collected = integrate.trapezoid(per_sr * accepted * 2 * math.pi * np.sin(theta) * theta, np.log(theta))
        out.append(_PREFACTOR_BARN * RYDBERG_EV**2 / (energy * t) * collected)
    return np.array(out)


CASES = [  # alpha = 2-4 beta at 200 and 300 kV
    ("O K", 300e3, 10.0, 20.0),
    ("O K", 300e3, 10.0, 40.0),
    ("Li K", 300e3, 8.0, 24.0),
    ("N K", 200e3, 10.0, 30.0),
    ("C K", 200e3, 10.0, 40.0),
    ("P L2,3", 200e3, 10.0, 20.0),
    ("Mn L2,3", 300e3, 15.0, 45.0),
]


@pytest.mark.parametrize("name, e0, beta, alpha", CASES)
def test_convergence_wider_than_the_aperture_matches_the_2d_average_within_1_percent(name, e0, beta, alpha):
    onset = xs.edge(name).onset_eV
    energies = onset + np.array([2.0, 20.0, 80.0, 300.0])
    exact = _brute_force(name, e0, beta, alpha, energies)
    got = xs.differential_cross_section(name, energies, e0, beta, alpha)
    np.testing.assert_allclose(got, exact, rtol=0.01)


@pytest.mark.parametrize("name, e0, beta, alpha", [("O K", 300e3, 20.0, 0.5), ("Li K", 200e3, 30.0, 1.0)])
def test_small_convergence_is_the_parallel_beam_limit(name, e0, beta, alpha):
    onset = xs.edge(name).onset_eV
    energies = onset + np.array([2.0, 50.0, 200.0])
    got = xs.differential_cross_section(name, energies, e0, beta, alpha)
    parallel = xs.differential_cross_section(name, energies, e0, beta)
    np.testing.assert_allclose(got, parallel, rtol=2e-3)
    np.testing.assert_allclose(got, _brute_force(name, e0, beta, alpha, energies), rtol=0.01)


def test_the_low_loss_normalisation_undoes_the_beam_lost_outside_the_aperture():
    kw = dict(edge="O K", energy_loss_eV=[540.0, 600.0], beam_energy_eV=300e3, collection_mrad=10.0)
    f1 = xs.differential_cross_section(**kw, convergence_mrad=30.0)
    f2 = xs.differential_cross_section(**kw, convergence_mrad=30.0, normalization="low-loss")
    np.testing.assert_allclose(f2, f1 * 9.0, rtol=1e-12)


def test_convergence_correction_with_an_edge_is_the_exact_ratio():
    energies = np.array([540.0, 600.0, 800.0])
    c = xs.convergence_correction(energies, 300e3, 10.0, 30.0, edge="O K")
    ratio = xs.differential_cross_section("O K", energies, 300e3, 10.0, 30.0) / \
        xs.differential_cross_section("O K", energies, 300e3, 10.0)
    np.testing.assert_allclose(c.f1, ratio, rtol=1e-3)
    np.testing.assert_allclose(c.f2, ratio * 9.0, rtol=1e-3)
