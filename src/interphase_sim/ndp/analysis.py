"""The classical NDP analysis: spectrum -> depth profile through one matrix's stopping.

Each channel's energy is traced back through the detector dead layers to the energy
the particle had at the sample surface, then converted to the depth at which a particle
of the birth energy must have been born in a homogeneous ``matrix`` (range-energy
relation along the detector axis). Counts divided by the channel's depth width and the
absolute yield give the parent-isotope density; Poisson uncertainties are propagated.
No deconvolution of the resolution is attempted: this is what NIST-style reductions do,
and what a forward fit (:class:`~interphase_sim.ndp.model.NDPModel`) is compared against.

The conversion assumes that one particle made every count. With a model (which knows the
stack) the channels that another particle can reach are found first
(:func:`~interphase_sim.ndp.overlap.clean_ranges`): tritons from a Li-rich substrate land
under the alphas of the layers above, and converting those alphas would count them too.
Such channels are left out with a warning naming the clean range, and a particle with no
clean channel is refused.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from interphase_sim.ndp import _kernels as K
from interphase_sim.core.measurement import Axis, Measurement, bin_edges
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.ndp.geometry import Particle, cone_nodes, get_particle, solid_angle_fraction

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
    stopping_scale: float | None = None,
    overlap: str = "restrict",
) -> Measurement:
    """Convert an NDP spectrum to the parent isotope's density versus depth.

    Parameters
    ----------
    measurement : Measurement
        Counts on an ``energy`` axis (keV), e.g. from :func:`~interphase_sim.ndp.io.load_spectrum_csv`.
    matrix, particle : str or Phase, str
        The material all the depth is assumed to be (e.g. ``"LiPON"``), and ``"alpha"``,
        ``"triton"`` or ``"boron-alpha"`` (its main branch).
    model : NDPModel, optional
        Take the geometry, dead layers, absolute scale, background, cutoff and stopping
        source from this model instead of the keywords below.
    detector_angle_deg, acceptance_half_angle_deg : float
        Detector axis from the sample normal, and its acceptance half-angle (degrees).
    dead_layers : sequence of (material, thickness_nm)
        Layers on the detector face.
    fluence, area_cm2, scale : float
        Absolute yield: neutrons/cm2 over the live time, irradiated area, multiplier.
    background, low_energy_cutoff_keV : float
        Counts per channel to subtract; channels below the cutoff (keV) are not converted.
    species, li6_abundance : str, float, optional
        ``"6Li"`` (default for Li particles), ``"Li"`` (needs the 6Li atom fraction
        ``li6_abundance``) or ``"10B"``.
    stopping, stopping_scale : StoppingSource, float, optional
        Stopping source (default ICRU 49) and a multiplier on the matrix's stopping
        (default the model's ``ndp.stopping_scale.<matrix>``, else 1).
    overlap : {"restrict", "raise", "ignore"}
        Where other particles of the stack reach this one's energies (checked with a
        ``model``, which knows the stack; the 6Li partner always counts): convert only the
        clean channels with a warning (an error if none is clean), refuse, or convert all.

    Returns
    -------
    Measurement
        Density (atoms/nm3) on a ``depth`` axis (nm), increasing depth, with 1-sigma
        Poisson uncertainties; metadata record the assumptions.
    """
    from interphase_sim.ndp.materials import resolve_material

    if not isinstance(measurement, Measurement) or measurement.values.ndim != 1:
        raise InterphaseInputError("measurement", "a 1-D Measurement with an energy axis (keV) is required")
    part = get_particle(particle)
    cfg = _checked(_Settings.from_model(model) if model is not None else _Settings(
        detector_angle_deg, acceptance_half_angle_deg, tuple(dead_layers), fluence, area_cm2, scale, background,
        low_energy_cutoff_keV, stopping))
    phase = resolve_material(matrix, "matrix")
    species = _check_species(species, part.parent, li6_abundance)
    dead = [(resolve_material(m, f"dead_layers[{i}].material"), float(t)) for i, (m, t) in enumerate(cfg.dead_layers)]
    s_scale = _matrix_scale(model, phase, stopping_scale, overlap)
    depth, e0, prob = _depth_scale(part, phase, dead, cfg, s_scale)
    energy = measurement.axis("energy")
    clean = _clean(model, part.name, energy, overlap) if model is not None and overlap != "ignore" else None
    z_c, dz, ok = _channel_depths(depth, energy, cfg.low_energy_cutoff_keV, part.name, clean)
    dens, err = _densities(measurement, ok, dz, part, prob, cfg, li6_abundance if species == "Li" else None)
    out = _package(z_c[ok], dens, err, species, phase, part.name, e0, dead, cfg, s_scale)
    if clean is not None:
        out.metadata["clean_energy_keV"] = clean[1]
    return out


def _matrix_scale(model: Any, phase: Any, given: float | None, overlap: str) -> float:
    """The matrix's stopping scale: ``given``, else the model's for that phase, else 1
    (and a check of the ``overlap`` choice)."""
    if overlap not in ("restrict", "raise", "ignore"):
        raise InterphaseInputError("overlap", f"choose restrict, raise or ignore, got {overlap!r}")
    if given is None:
        own = getattr(model, "stopping_scale", {}).get(phase.name) if model is not None else None
        given = 1.0 if own is None else own.value
    if not (math.isfinite(given) and given > 0):
        raise InterphaseInputError("stopping_scale", f"must be a finite number > 0, got {given}")
    return float(given)


# -- parse ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Settings:
    """Geometry, absolute scale and stopping source of one inversion (keyword units)."""

    detector_angle_deg: float
    acceptance_half_angle_deg: float
    dead_layers: tuple[Any, ...]  # (material, thickness_nm), materials not yet resolved
    fluence: float  # neutrons/cm2
    area_cm2: float
    scale: float
    background: float  # counts per channel
    low_energy_cutoff_keV: float
    stopping: Any

    @classmethod
    def from_model(cls, model: Any) -> _Settings:
        """The settings of an :class:`~interphase_sim.ndp.model.NDPModel`."""
        from interphase_sim.ndp.model import NDPModel

        if not isinstance(model, NDPModel):
            raise InterphaseInputError("model", f"expected an NDPModel, got {type(model).__name__}")
        return cls(
            detector_angle_deg=model.detector_angle_deg.value,
            acceptance_half_angle_deg=model.acceptance_half_angle_deg.value,
            dead_layers=tuple((ph, t.value) for ph, t in model.dead_layers),
            fluence=model.fluence.value,
            area_cm2=model.area_cm2.value,
            scale=model.scale.value,
            background=model.background.value,
            low_energy_cutoff_keV=model.low_energy_cutoff_keV.value,
            stopping=model.stopping,
        )


def _checked(cfg: _Settings) -> _Settings:
    """``cfg`` validated, with the default stopping source (ICRU 49) filled in."""
    for name in ("fluence", "area_cm2", "scale"):
        v, lo = getattr(cfg, name), 0.0
        if not (math.isfinite(v) and v > lo):
            raise InterphaseInputError(name, f"must be a finite number > {lo}, got {v}")
    if not 0.0 <= cfg.detector_angle_deg < 89.0:
        raise InterphaseInputError("detector_angle_deg", f"must be in [0, 89), got {cfg.detector_angle_deg}")
    if not 0.0 < cfg.acceptance_half_angle_deg < 89.0:
        raise InterphaseInputError(
            "acceptance_half_angle_deg", f"must be in (0, 89), got {cfg.acceptance_half_angle_deg}"
        )
    if cfg.stopping is None:
        from interphase_sim.ndp.stopping import ICRU49

        cfg = replace(cfg, stopping=ICRU49())
    return cfg


def _check_species(species: str | None, parent: str, li6_abundance: float | None) -> str:
    """The reported species (default from the particle's parent isotope ``parent``)."""
    if species is None:
        species = "6Li" if parent == "6Li" else "10B"
    if species not in ("6Li", "Li", "10B"):
        raise InterphaseInputError("species", f"choose 6Li, Li or 10B, got {species!r}")
    if species == "Li":
        if li6_abundance is None or not 0.0 < li6_abundance <= 1.0:
            raise InterphaseInputError("li6_abundance", "give the 6Li atom fraction (0, 1] to report total Li")
    return species


# -- compute --------------------------------------------------------------------------------
def _stopping_rows(stopping: Any, ion: str, eg: np.ndarray, materials: list[Any]) -> np.ndarray:
    """Linear stopping (keV/nm) of each material on the grid ``eg`` (keV), shape (M, G).

    The ``E = 0`` node takes the value of the first node (the range integrand is finite
    there, see :func:`~interphase_sim.ndp._kernels.range_tables`).
    """
    s = np.empty((len(materials), eg.size))
    for i, ph in enumerate(materials):
        s[i, 1:] = stopping.linear_stopping(ion, eg[1:], ph)
        s[i, 0] = s[i, 1]
    return s


def _depth_scale(
    part: Particle, phase: Any, dead: list[tuple[Any, float]], cfg: _Settings, scale: float = 1.0
) -> tuple[Callable[[np.ndarray], np.ndarray], float, float]:
    """Birth depth (nm, NaN above the surface energy) of a detected energy (keV), with the
    matrix's stopping times ``scale``.

    Returns the map, the birth energy (keV) of the particle's main branch and that
    branch's probability.
    """
    e0, prob = max(part.branches, key=lambda b: b[1])
    n = K.N_GRID  # the nodes of the forward model (NDPModel), so both see the same range tables
    du = math.sqrt(1.02 * part.max_energy_keV) / (n - 1)
    u_grid = np.arange(n) * du
    eg = u_grid**2
    r_m = K.range_tables(scale * _stopping_rows(cfg.stopping, part.ion, eg, [phase]), du)[0]
    _, _, k_det = cone_nodes(float(cfg.detector_angle_deg), float(cfg.acceptance_half_angle_deg), 1)
    if dead:
        s_dead = _stopping_rows(cfg.stopping, part.ion, eg, [ph for ph, _ in dead])
        g0 = K.dead_layer_map(K.range_tables(s_dead, du), np.array([t for _, t in dead]), k_det, du, n)
    else:
        g0 = eg.copy()
    first = max(int(np.argmax(g0 > 0)) - 1, 0)
    k = 1.0 / math.cos(math.radians(cfg.detector_angle_deg))
    r0 = float(np.interp(math.sqrt(e0), u_grid, r_m))

    def depth(e_det: np.ndarray) -> np.ndarray:
        # surface energy for each detected energy: invert the (increasing) dead-layer map
        es = np.interp(e_det, g0[first:], eg[first:], right=np.inf)
        r = np.interp(np.sqrt(np.minimum(es, eg[-1])), u_grid, r_m)
        return np.where(es < e0, (r0 - r) / k, np.nan)

    return depth, e0, prob


def _clean(model: Any, particle: str, energy: np.ndarray, overlap: str) -> tuple[np.ndarray, list]:
    """(channels free of other particles, the clean intervals keV); warns or raises per ``overlap``."""
    from interphase_sim.ndp.overlap import clean_ranges

    own, clean, others = clean_ranges(model, particle)
    if own is None:
        return np.ones(energy.size, dtype=bool), []
    edges = bin_edges(energy)
    hit = np.zeros(energy.size, dtype=bool)  # channels another particle's (widened) band touches
    for band in others.values():
        lo, hi = band.padded
        hit |= (edges[1:] > lo) & (edges[:-1] < hi)
    lo, hi = own.padded
    in_band = (edges[1:] > lo) & (edges[:-1] < hi)
    inside = ~hit
    if not np.any(in_band & hit):
        return inside, clean
    who = "; ".join(f"{n} reaches {b.lo:.0f}-{b.hi:.0f} keV (born {b.depth_nm[0]:.0f}-{b.depth_nm[1]:.0f} nm)"
                    for n, b in others.items())
    ranges = ", ".join(f"{a:.0f}-{b:.0f} keV" for a, b in clean)
    if not np.any(in_band & inside):
        alone = []
        for n, band in others.items():
            _, c, _ = clean_ranges(model, n)
            alone += [f"{n} alone above {c[0][0]:.0f} keV" if c[0][1] >= band.hi else
                      f"{n} alone in {c[0][0]:.0f}-{c[0][1]:.0f} keV"] if c else []
        hint = ("; " + ", ".join(alone) + ": convert that particle instead") if alone else ""
        raise InterphaseInputError(
            "measurement", f"no {particle} energy is free of other particles ({who}): the {particle} band "
            f"{own.lo:.0f}-{own.hi:.0f} keV is overlapped throughout{hint}; overlap='ignore' converts it anyway")
    message = (f"only {ranges} of the {particle} band ({own.lo:.0f}-{own.hi:.0f} keV) is free of "
               f"{', '.join(others)} ({who})")
    if overlap == "raise":
        raise InterphaseInputError("measurement", message + "; overlap='restrict' converts those channels only")
    warnings.warn(message + ": converting those channels only (overlap='ignore' converts all)", UserWarning, stacklevel=3)
    return inside, clean


def _channel_depths(
    depth: Callable[[np.ndarray], np.ndarray], energy: np.ndarray, cutoff_keV: float, particle_name: str,
    clean: tuple[np.ndarray, list] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depths (nm) of the channel centres, depth widths (nm) of the converted channels,
    and which channels (above the cutoff, below the surface energy, and among the
    ``clean`` ones where given) are converted."""
    edges = bin_edges(energy)
    z_c, z_lo, z_hi = depth(energy), depth(edges[:-1]), depth(edges[1:])
    z_hi = np.where(np.isnan(z_hi), 0.0, z_hi)  # a channel straddling the surface edge
    ok = (energy >= cutoff_keV) & np.isfinite(z_c) & np.isfinite(z_lo) & (z_lo > z_hi)
    if clean is not None:
        ok &= clean[0]
    if not np.any(ok):
        raise InterphaseInputError(
            "measurement", f"no channel between the cutoff ({cutoff_keV} keV) and the {particle_name} surface energy"
        )
    return z_c, (z_lo - z_hi)[ok], ok


def _densities(
    measurement: Measurement, ok: np.ndarray, dz: np.ndarray, part: Particle, prob: float, cfg: _Settings,
    li6_abundance: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Parent density (atoms/nm3) and its 1-sigma error in the converted channels ``ok``;
    divided by ``li6_abundance`` (to total Li) when given."""
    omega = solid_angle_fraction(cfg.acceptance_half_angle_deg)
    yield_per_atom_nm2 = cfg.scale * cfg.fluence * cfg.area_cm2 * part.cross_section_b * 1e-24 * omega * prob * 1e14
    counts = measurement.values
    c = counts[ok] - cfg.background
    if measurement.uncertainties is not None:
        sig = measurement.uncertainties[ok]
    else:
        sig = np.sqrt(np.maximum(counts[ok], 1.0))
    dens = c / (yield_per_atom_nm2 * dz)
    err = sig / (yield_per_atom_nm2 * dz)
    if li6_abundance is not None:
        dens, err = dens / li6_abundance, err / li6_abundance
    return dens, err


# -- package --------------------------------------------------------------------------------
def _package(
    z: np.ndarray, dens: np.ndarray, err: np.ndarray, species: str, phase: Any, particle_name: str, e0: float,
    dead: list[tuple[Any, float]], cfg: _Settings, scale: float = 1.0,
) -> Measurement:
    """The density profile on increasing depth ``z`` (nm), with the assumptions as metadata."""
    order = np.argsort(z)
    return Measurement(
        values=dens[order],
        axes=[Axis("depth", "nm", z[order])],
        uncertainties=err[order],
        quantity=f"{species}_atoms_per_nm3",
        metadata={
            "analysis": "NDP spectrum to depth (no deconvolution)",
            "matrix": phase.name,
            "matrix_density_g_cm3": phase.density,
            "particle": particle_name,
            "birth_energy_keV": e0,
            "detector_angle_deg": cfg.detector_angle_deg,
            "acceptance_half_angle_deg": cfg.acceptance_half_angle_deg,
            "dead_layers": [{"material": ph.name, "thickness_nm": t} for ph, t in dead],
            "background_per_channel": cfg.background,
            "stopping_scale": scale,
            "species": species,
        },
    )
