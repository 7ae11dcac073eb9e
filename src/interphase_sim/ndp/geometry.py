"""NDP reactions, detector geometry and settings parsing (no stopping, no stack).

Reaction data: docs/references.md. Birth energies come from the Q-values and AME2020
masses by two-body kinematics (:mod:`~interphase_sim.ndp.kinematics`): 6Li(n,alpha)3H
alpha 2055.9 keV, triton 2727.6 keV, 940 b thermal; 10B(n,alpha)7Li alpha 1472.3 keV
(to 7Li*, 94 %) and 1776.4 keV (ground state, 6 %), 3837 b.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.ndp.kinematics import reaction_products

__all__ = ["Particle", "PARTICLES", "get_particle", "cone_nodes", "solid_angle_fraction", "BOHR_KEV2_PER_E_NM2"]

#: Bohr straggling: sigma^2 [keV^2] = 0.2606 Z1^2 (N_e dx / 1e18 cm^-2); with N_e dx in
#: electrons/nm^2 (1 e/nm^2 = 1e14 e/cm^2) the factor per Z1^2 is 0.2606e-4.
BOHR_KEV2_PER_E_NM2 = 0.2606e-4


@dataclass(frozen=True)
class Particle:
    """A charged particle an NDP detector counts.

    Attributes
    ----------
    name : str
        Key users type (``"alpha"``, ``"triton"``, ``"boron-alpha"``).
    ion : str
        Ion name for :mod:`interphase_sim.ndp.stopping`.
    z : int
        Charge number (Bohr straggling scales with z^2).
    parent : str
        The capturing isotope whose density sets the yield (``"6Li"`` or ``"10B"``).
    branches : tuple of (energy keV, probability)
        Birth energies and their branching ratios.
    cross_section_b : float
        Thermal (2200 m/s) capture cross-section of the parent, barn.
    reaction : str
    """

    name: str
    ion: str
    z: int
    parent: str
    branches: tuple[tuple[float, float], ...]
    cross_section_b: float
    reaction: str

    @property
    def max_energy_keV(self) -> float:
        """Highest birth energy (keV)."""
        return max(e for e, _ in self.branches)


_LI6 = reaction_products("6Li")
PARTICLES: dict[str, Particle] = {
    "alpha": Particle("alpha", "alpha", 2, "6Li", ((_LI6["alpha"], 1.0),), 940.0, "6Li(n,alpha)3H"),
    "triton": Particle("triton", "triton", 1, "6Li", ((_LI6["triton"], 1.0),), 940.0, "6Li(n,alpha)3H"),
    "boron-alpha": Particle(
        "boron-alpha", "alpha", 2, "10B",
        ((reaction_products("10B*")["alpha"], 0.94), (reaction_products("10B")["alpha"], 0.06)),
        3837.0, "10B(n,alpha)7Li",
    ),
}


def get_particle(name: str) -> Particle:
    """The :class:`Particle` called ``name``; a clear error listing the choices."""
    try:
        return PARTICLES[str(name).lower()]
    except KeyError:
        raise InterphaseInputError(
            "ndp.particles", f"unknown particle {name!r}; choose from {', '.join(PARTICLES)}"
        ) from None


def solid_angle_fraction(half_angle_deg: float) -> float:
    """Fraction of 4 pi in a cone of the given half-angle: (1 - cos a) / 2."""
    return 0.5 * (1.0 - math.cos(math.radians(half_angle_deg)))


@functools.lru_cache(maxsize=64)
def cone_nodes(theta_deg: float, half_angle_deg: float, n_nodes: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Path-length factors over a detector's acceptance cone.

    The detector axis makes ``theta_deg`` with the sample normal; it accepts directions
    within ``half_angle_deg`` of its axis, uniformly in solid angle (isotropic emission).
    The cone is integrated with Gauss-Legendre nodes in cos(u) x 48 azimuths; the
    resulting distribution of ``k = 1/cos(phi)`` (phi from the normal) is cut into
    ``n_nodes`` groups of equal solid angle, each represented by its mean ``k``.

    Returns
    -------
    k : (n,) array
        Path-length factors through the sample.
    w : (n,) array
        Their weights (sum 1).
    k_det : float
        Mean ``1/cos(u)``: the path factor through a dead layer on the detector face.
    """
    th = math.radians(theta_deg)
    a = math.radians(half_angle_deg)
    if a == 0.0:
        return np.array([1.0 / math.cos(th)]), np.array([1.0]), 1.0
    x, wx = np.polynomial.legendre.leggauss(16)
    cos_u = 0.5 * (1.0 + math.cos(a)) + 0.5 * (1.0 - math.cos(a)) * x  # nodes in [cos a, 1]
    psi = (np.arange(48) + 0.5) * (2 * math.pi / 48)
    cu, ps = np.meshgrid(cos_u, psi, indexing="ij")
    su = np.sqrt(1.0 - cu**2)
    cos_phi = math.cos(th) * cu + math.sin(th) * su * np.cos(ps)
    k = 1.0 / cos_phi.ravel()
    w = np.repeat(wx, psi.size) / (wx.sum() * psi.size)
    order = np.argsort(k)
    k, w = k[order], w[order]
    cum = np.cumsum(w)
    groups = np.minimum((cum - 0.5 * w) * n_nodes, n_nodes - 1e-9).astype(int)
    kk = np.array([np.sum(k[groups == g] * w[groups == g]) / np.sum(w[groups == g]) for g in range(n_nodes)])
    ww = np.array([np.sum(w[groups == g]) for g in range(n_nodes)])
    k_det = float(np.sum(np.repeat(wx, psi.size) / cu.ravel()) / (wx.sum() * psi.size))
    return kk, ww / ww.sum(), k_det
