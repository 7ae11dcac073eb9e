"""Which energies of an NDP spectrum only one particle can reach.

A spectrum holds every particle the sample emits: 6Li always gives both its alpha and
its triton, and a Li-rich substrate (semi-infinite Li metal) sends tritons from deep
below at every energy down to zero, right under the alphas of the layers above. The
classical spectrum-to-depth conversion (:func:`~interphase_sim.ndp.analysis.spectrum_to_depth`)
assumes one particle; it is only right where no other particle lands.

:func:`particle_band` gives the energies a particle can be detected at: from the
shallowest to the deepest depth where its parent isotope is in the stack (down to where
it can no longer escape), over the detector's acceptance cone, through the dead layers.
:func:`clean_ranges` removes from a particle's band the bands of every other particle,
widened by 3 standard deviations of the detector resolution and the straggling at their
edges. Units: keV, nm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from interphase_sim.ndp import _kernels as K
from interphase_sim.ndp.geometry import get_particle

__all__ = ["Band", "clean_ranges", "contaminants", "particle_band"]

#: Width of the margin around another particle's band, in standard deviations.
MARGIN_SIGMA = 3.0
#: Relative parent density below which a region counts as free of the parent.
PRESENT = 1e-6


@dataclass(frozen=True)
class Band:
    """Detected energies of one particle (keV) and its margins (keV, 3 sigma) at both ends."""

    particle: str
    lo: float
    hi: float
    margin_lo: float
    margin_hi: float
    depth_nm: tuple[float, float]  # where its parent is: shallowest and deepest (nm)

    @property
    def padded(self) -> tuple[float, float]:
        """(lo - margin, hi + margin), keV."""
        return self.lo - self.margin_lo, self.hi + self.margin_hi


def _edge(model: Any, part: Any, reg: dict, z: float, e0: float, k: float, k_det: float) -> tuple[float, float]:
    """(energy keV, straggling sigma keV) of ``part`` born at depth ``z`` with ``e0``, path factor ``k``."""
    tab = model._tables(part, reg, k_det)
    thick = np.diff(reg["edges"])
    r = int(np.clip(np.searchsorted(reg["edges"], z, side="right") - 1, 0, thick.size - 1))
    region, depth = np.array([r]), np.array([z - reg["edges"][r]])
    e, var = np.empty(1), np.zeros(1)
    if model.straggling:
        K.exit_moments(e0, k, tab["du"], tab["rng"], tab["stop"], tab["wtab"], thick, region, depth,
                       tab["maps"][0], tab["maps"][1], tab["maps"][2], 0.0, e, var)
    else:
        K.exit_energies(e0, k, tab["du"], tab["rng"], thick, region, depth, tab["maps"][0], 0.0, e)
    return float(e[0]), math.sqrt(max(float(var[0]), 0.0))


def particle_band(model: Any, particle: str) -> Band | None:
    """The energies (keV) at which ``model``'s stack can send ``particle`` to the detector.

    Parameters
    ----------
    model : NDPModel
        The stack, geometry, dead layers, stopping and resolution.
    particle : str
        ``"alpha"``, ``"triton"`` or ``"boron-alpha"`` (whether or not the model counts it).

    Returns
    -------
    Band or None
        None when the stack holds none of the particle's parent isotope.
    """
    part = get_particle(particle)
    arrays = model.stack.layer_arrays()
    reg = model._regions(model._max_depth([part]), arrays)
    edges = reg["edges"]
    if edges.size < 2:
        return None
    dens = model._parent_profile(part.parent, 0.5 * (edges[1:] + edges[:-1]), arrays)
    present = np.flatnonzero(dens > PRESENT * max(float(dens.max()), 1e-300))
    if present.size == 0 or dens.max() <= 0.0:
        return None
    z_top, z_bot = float(edges[present[0]]), float(edges[present[-1] + 1])
    theta, acc = model.detector_angle_deg.value, model.acceptance_half_angle_deg.value
    k_min = 1.0 / math.cos(math.radians(max(theta - acc, 0.0)))
    k_max = 1.0 / math.cos(math.radians(theta + acc))
    energies = [e for e, _ in part.branches]
    hi, s_hi = _edge(model, part, reg, z_top, max(energies), k_min, 1.0)
    lo, s_lo = _edge(model, part, reg, z_bot, min(energies), k_max, 1.0 / math.cos(math.radians(acc)))
    sigma_det = model.fwhm_keV.value / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    return Band(part.name, lo, hi, MARGIN_SIGMA * math.hypot(sigma_det, s_lo),
                MARGIN_SIGMA * math.hypot(sigma_det, s_hi), (z_top, z_bot))


def contaminants(model: Any, particle: str) -> list[str]:
    """The other particles a measured spectrum of ``model``'s stack holds: those the model
    counts, the 6Li partner (alpha <-> triton, always emitted together), and boron alphas
    where the stack has B."""
    names = [p.name for p in model.particles]
    if particle in ("alpha", "triton"):
        names += ["alpha", "triton"]
    if "B" in model.stack.elements():
        names.append("boron-alpha")
    return [n for n in dict.fromkeys(names) if n != get_particle(particle).name]


def clean_ranges(model: Any, particle: str) -> tuple[Band | None, list[tuple[float, float]], dict[str, Band]]:
    """The parts of ``particle``'s band that no other particle reaches.

    Returns
    -------
    own : Band or None
        The particle's own band.
    clean : list of (lo, hi)
        Energy intervals (keV) of the own band, widened by its margins, that lie outside
        every other particle's widened band; highest first.
    others : dict
        Particle name -> Band of each other particle the stack emits.
    """
    own = particle_band(model, particle)
    others = {n: b for n in contaminants(model, particle) if (b := particle_band(model, n)) is not None}
    if own is None:
        return None, [], others
    pieces = [own.padded]
    for band in others.values():
        lo, hi = band.padded
        pieces = [q for a, b in pieces for q in ((a, min(b, lo)), (max(a, hi), b)) if q[1] > q[0]]
    return own, sorted(((float(a), float(b)) for a, b in pieces), reverse=True), others
