"""The classical NDP analysis: spectrum -> depth profile through one matrix's stopping.

Each channel's energy is traced back through the detector dead layers to the energy
the particle had at the sample surface, then converted to the depth at which a particle
of the birth energy must have been born in a homogeneous ``matrix`` (range-energy
relation along the detector axis). Counts divided by the channel's depth width and the
absolute yield give the parent-isotope density; Poisson uncertainties are propagated.
No deconvolution of the resolution is attempted: this is what NIST-style reductions do,
and what a forward fit (:class:`~interphase_sim.ndp.model.NDPModel`) is compared against.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from interphase_sim.ndp import _kernels as K
from interphase_sim.core.measurement import Axis, Measurement, bin_edges
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.ndp.geometry import cone_nodes, get_particle, solid_angle_fraction

__all__ = ["spectrum_to_depth"]


def spectrum_to_depth(
    measurement: Measurement,
    matrix: Any,
    particle: str = "alpha",
    *,
    model: Any = None,
    detector_angle_deg: float = 0.0,
    acceptance_half_angle_deg: float = 3.0,
    dead_layers: Iterable[Any] = (),
    fluence: float = 1e12,
    area_cm2: float = 1.0,
    scale: float = 1.0,
    background: float = 0.0,
    low_energy_cutoff_keV: float = 100.0,
    species: str | None = None,
    li6_abundance: float | None = None,
    stopping: Any = None,
) -> Measurement:
    """Convert an NDP spectrum to the parent isotope's density versus depth.

    Parameters
    ----------
    measurement : Measurement
        Counts on an ``energy`` axis (keV), e.g. from :func:`~interphase_sim.core.measurement.load_spectrum_csv`.
    matrix : str or Phase
        The material all the depth is assumed to be (e.g. ``"LiPON"``).
    particle : str
        ``"alpha"``, ``"triton"`` or ``"boron-alpha"`` (its main branch).
    model : NDPModel, optional
        Take the geometry, dead layers, absolute scale, background, cutoff and stopping
        source from this model instead of the keywords below.
    detector_angle_deg, acceptance_half_angle_deg : float
        Detector axis from the sample normal, and its acceptance half-angle (degrees).
    dead_layers : sequence of (material, thickness_nm)
        Layers on the detector face.
    fluence, area_cm2, scale : float
        Absolute yield: neutrons/cm2 over the live time, irradiated area, multiplier.
    background : float
        Counts per channel to subtract.
    low_energy_cutoff_keV : float
        Channels below this energy are not converted.
    species : str, optional
        ``"6Li"`` (default for Li particles) or ``"Li"`` (needs ``li6_abundance``);
        ``"10B"`` for boron.
    li6_abundance : float, optional
        6Li atom fraction, to report total Li.
    stopping : StoppingSource, optional
        Stopping source (default ICRU 49).

    Returns
    -------
    Measurement
        Density (atoms/nm3) on a ``depth`` axis (nm), increasing depth, with 1-sigma
        Poisson uncertainties; metadata record the assumptions.
    """
    from interphase_sim.ndp.model import NDPModel, resolve_material

    if not isinstance(measurement, Measurement) or measurement.values.ndim != 1:
        raise InterphaseInputError("measurement", "a 1-D Measurement with an energy axis (keV) is required")
    part = get_particle(particle)
    if model is not None:
        if not isinstance(model, NDPModel):
            raise InterphaseInputError("model", f"expected an NDPModel, got {type(model).__name__}")
        detector_angle_deg = model.detector_angle_deg.value
        acceptance_half_angle_deg = model.acceptance_half_angle_deg.value
        dead_layers = [(ph, t.value) for ph, t in model.dead_layers]
        fluence, area_cm2, scale = model.fluence.value, model.area_cm2.value, model.scale.value
        background = model.background.value
        low_energy_cutoff_keV = model.low_energy_cutoff_keV.value
        stopping = model.stopping
    for name, v, lo in (("fluence", fluence, 0.0), ("area_cm2", area_cm2, 0.0), ("scale", scale, 0.0)):
        if not (math.isfinite(v) and v > lo):
            raise InterphaseInputError(name, f"must be a finite number > {lo}, got {v}")
    if not 0.0 <= detector_angle_deg < 89.0:
        raise InterphaseInputError("detector_angle_deg", f"must be in [0, 89), got {detector_angle_deg}")
    if not 0.0 < acceptance_half_angle_deg < 89.0:
        raise InterphaseInputError("acceptance_half_angle_deg", f"must be in (0, 89), got {acceptance_half_angle_deg}")
    if stopping is None:
        from interphase_sim.ndp.stopping import ICRU49

        stopping = ICRU49()
    phase = resolve_material(matrix, "matrix")
    if species is None:
        species = "6Li" if part.parent == "6Li" else "10B"
    if species not in ("6Li", "Li", "10B"):
        raise InterphaseInputError("species", f"choose 6Li, Li or 10B, got {species!r}")
    if species == "Li":
        if li6_abundance is None or not 0.0 < li6_abundance <= 1.0:
            raise InterphaseInputError("li6_abundance", "give the 6Li atom fraction (0, 1] to report total Li")

    energy = measurement.axis("energy")
    counts = measurement.values
    edges = bin_edges(energy)
    e0, prob = max(part.branches, key=lambda b: b[1])
    u_max = math.sqrt(1.02 * part.max_energy_keV)
    du = u_max / 399
    eg = (np.arange(400) * du) ** 2
    s = np.empty(400)
    s[1:] = stopping.linear_stopping(part.ion, eg[1:], phase)
    s[0] = s[1]
    r_m = K.range_tables(s[None, :], du)[0]
    _, _, k_det = cone_nodes(float(detector_angle_deg), float(acceptance_half_angle_deg), 1)
    dead = [(resolve_material(m, f"dead_layers[{i}].material"), float(t)) for i, (m, t) in enumerate(dead_layers)]
    if dead:
        s_dead = np.empty((len(dead), 400))
        for i, (ph, _) in enumerate(dead):
            s_dead[i, 1:] = stopping.linear_stopping(part.ion, eg[1:], ph)
            s_dead[i, 0] = s_dead[i, 1]
        g0 = K.dead_layer_map(K.range_tables(s_dead, du), np.array([t for _, t in dead]), k_det, du, 400)
    else:
        g0 = eg.copy()
    alive = g0 > 0
    first = max(int(np.argmax(alive)) - 1, 0)
    # surface energy for each detected energy: invert the (increasing) dead-layer map
    surface = lambda e: np.interp(e, g0[first:], eg[first:], right=np.inf)  # noqa: E731
    k = 1.0 / math.cos(math.radians(detector_angle_deg))
    u_grid = np.arange(400) * du
    r0 = float(np.interp(math.sqrt(e0), u_grid, r_m))

    def depth(e_det: np.ndarray) -> np.ndarray:
        es = surface(e_det)
        r = np.interp(np.sqrt(np.minimum(es, eg[-1])), u_grid, r_m)
        return np.where(es < e0, (r0 - r) / k, np.nan)

    z_c, z_lo, z_hi = depth(energy), depth(edges[:-1]), depth(edges[1:])
    z_hi = np.where(np.isnan(z_hi), 0.0, z_hi)  # a channel straddling the surface edge
    ok = (energy >= low_energy_cutoff_keV) & np.isfinite(z_c) & np.isfinite(z_lo) & (z_lo > z_hi)
    if not np.any(ok):
        raise InterphaseInputError(
            "measurement", f"no channel between the cutoff ({low_energy_cutoff_keV} keV) and the {part.name} surface energy"
        )
    dz = (z_lo - z_hi)[ok]
    omega = solid_angle_fraction(acceptance_half_angle_deg)
    yield_per_atom_nm2 = scale * fluence * area_cm2 * part.cross_section_b * 1e-24 * omega * prob * 1e14
    c = counts[ok] - background
    sig = measurement.uncertainties[ok] if measurement.uncertainties is not None else np.sqrt(np.maximum(counts[ok], 1.0))
    dens = c / (yield_per_atom_nm2 * dz)
    err = sig / (yield_per_atom_nm2 * dz)
    if species == "Li":
        dens, err = dens / li6_abundance, err / li6_abundance
    order = np.argsort(z_c[ok])
    return Measurement(
        values=dens[order],
        axes=[Axis("depth", "nm", z_c[ok][order])],
        uncertainties=err[order],
        quantity=f"{species}_atoms_per_nm3",
        metadata={
            "analysis": "NDP spectrum to depth (no deconvolution)",
            "matrix": phase.name,
            "matrix_density_g_cm3": phase.density,
            "particle": part.name,
            "birth_energy_keV": e0,
            "detector_angle_deg": detector_angle_deg,
            "acceptance_half_angle_deg": acceptance_half_angle_deg,
            "dead_layers": [{"material": ph.name, "thickness_nm": t} for ph, t in dead],
            "background_per_channel": background,
            "species": species,
        },
    )
