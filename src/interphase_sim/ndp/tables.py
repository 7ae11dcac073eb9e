"""What :class:`~interphase_sim.ndp.model.NDPModel` computes before the transport: stopping
and straggling tables of the phases, the regions of constant composition, the deepest
escape and the detector's dead-layer maps.

Caching
-------
Only what cannot change between evaluations is kept, each under a key of everything it
depends on:

* per phase composition (name, formula), particle, stopping source and grid: the stopping
  and straggling tables, at the density first seen; both go with the number of atoms per
  nm, so a new density rescales them (every stopping source scales its mass stopping by
  the density);
* per particle: the u-grid and the dead-layer maps (the identity without dead layers,
  else under a key of the dead layers' compositions, densities and thicknesses, the
  path factor and the straggling settings);
* per stack structure (the layers, their phase lists and the phases, as
  :meth:`Stack.layer_arrays <interphase_sim.sample.stack.Stack.layer_arrays>` keys its
  plan): which layers carry a gradient, the phase list, the stacked tables and escape
  ranges of each particle, and the nominal atom densities per set of phase densities.

Everything that moves with a Parameter (region edges and amounts, the regions' tables,
birth points, the transport) is computed on every call by the numba kernels of
:mod:`~interphase_sim.ndp._pipeline`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from interphase_sim.ndp import _kernels as K
from interphase_sim.ndp import _pipeline as P
from interphase_sim.ndp.geometry import Particle
from interphase_sim.ndp.straggling import rate_table
from interphase_sim.sample.phases import Phase
from interphase_sim.sample.profile_kernel import layer_profile

__all__ = ["TransportTables", "N_GRID"]

N_GRID = K.N_GRID  # nodes of the sqrt(E) grid for range tables and exit maps (shared with the inversion)
_CACHE_LIMIT = 256


class TransportTables:
    """Mixin of :class:`~interphase_sim.ndp.model.NDPModel`: tables and regions (see the
    module notes for what is kept between calls). Expects ``stack``, ``stopping``,
    ``straggling``, ``straggling_model``, ``stopping_scale``, ``dead_layers``,
    ``particles`` and ``_stopping_cache``, ``_reach_cache`` dicts."""

    stack: Any
    stopping: Any
    straggling: bool
    straggling_model: str
    stopping_scale: dict
    dead_layers: list
    particles: list
    _stopping_cache: dict
    _reach_cache: dict

    # -- stopping -----------------------------------------------------------------------
    def _phase_stopping(self, ion: str, phase: Phase, e_grid: np.ndarray) -> np.ndarray:
        """Linear stopping (keV/nm) of ``phase`` at its current density on ``e_grid``."""
        key = (ion, id(self.stopping), phase.name, phase.formula, phase.density, e_grid[-1], e_grid.size)
        s = self._stopping_cache.get(key)
        if s is None:
            s = np.empty_like(e_grid)
            s[1:] = self.stopping.linear_stopping(ion, e_grid[1:], phase)
            s[0] = s[1]
            self._keep(key, s)
        return s

    def _phase_straggling(self, ion: str, phase: Phase, e_grid: np.ndarray) -> np.ndarray:
        """Straggling rate (keV^2/nm) of ``phase`` at its current density on ``e_grid``."""
        key = ("straggling", self.straggling_model, ion, phase.name, phase.formula, phase.density, e_grid[-1],
               e_grid.size)
        w = self._stopping_cache.get(key)
        if w is None:
            w = rate_table(ion, phase, e_grid, self.straggling_model)
            self._keep(key, w)
        return w

    def _keep(self, key: tuple, value: Any) -> None:
        """Store ``value`` in the table cache (emptied when it grows past its limit)."""
        if len(self._stopping_cache) > _CACHE_LIMIT:
            self._stopping_cache.clear()
        self._stopping_cache[key] = value

    def _stacked(self, part: Particle, phases: list[Phase], eg: np.ndarray, names: tuple | None = None,
                 rho: tuple[float, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(stopping keV/nm, straggling rate keV^2/nm) of ``phases`` on the grid, (P, G) each,
        unscaled. Both go with the number of atoms per nm (every stopping source scales its
        mass stopping by the density), so they are computed once per composition, at the
        density first seen, and scaled to the current one: a fit or a sampler that moves a
        density (a systematic) pays no new tables. ``names``, ``rho``: the phases' (name,
        formula) pairs and densities (g/cm3) when the caller has them."""
        s, w, rho0 = self._stacked_base(part, phases, eg, names)
        rho = tuple(ph.density for ph in phases) if rho is None else rho
        return _rescaled(s, w, rho0, rho)

    def _stacked_base(self, part: Particle, phases: list[Phase], eg: np.ndarray,
                      names: tuple | None = None) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
        """(stopping, straggling rate, densities g/cm3) of ``phases`` at the densities first
        seen (see :meth:`_stacked`)."""
        if names is None:
            names = tuple((ph.name, ph.formula) for ph in phases)
        key = ("stacked", part.ion, id(self.stopping), self.straggling, self.straggling_model, eg[-1], eg.size,
               names)
        got = self._stopping_cache.get(key)
        if got is None:
            s = np.array([self._phase_stopping(part.ion, ph, eg) for ph in phases])
            w = (np.array([self._phase_straggling(part.ion, ph, eg) for ph in phases]) if self.straggling
                 else np.zeros_like(s))
            got = (s, w, tuple(ph.density for ph in phases))
            self._stopping_cache[key] = got
        return got

    def _scales(self, names: Iterable[str]) -> np.ndarray:
        """The stopping scales of phases ``names`` (1 for a phase without one)."""
        sc = self.stopping_scale
        return np.array([sc[n].value if n in sc else 1.0 for n in names])

    def _particle_tables(self, part: Particle, st: dict[str, Any], rho: tuple[float, ...]) -> tuple:
        """(du, stopping (P, G) keV/nm, straggling rate (P, G) keV^2/nm) of ``part`` in the
        stack's phases at the densities ``rho``: :meth:`_stacked`, its base tables kept in
        the structure ``st``."""
        key = (part.name, id(self.stopping), self.straggling, self.straggling_model)
        got = st.setdefault("tables", {}).get(key)
        if got is None or got[4] is not self.stopping:
            du, eg = self._grid(part)
            got = (du,) + self._stacked_base(part, st["phases"], eg, st["names"]) + (self.stopping,)
            st["tables"][key] = got
        du, s, w, rho0, _ = got
        return (du,) + _rescaled(s, w, rho0, rho)

    def _grid(self, particle: Particle) -> tuple[float, np.ndarray]:
        """(du sqrt(keV), the energies (keV) of the u-grid) of ``particle``."""
        key = ("grid", particle.max_energy_keV)
        got = self._stopping_cache.get(key)
        if got is None:
            u_max = math.sqrt(1.02 * particle.max_energy_keV)
            du = u_max / (N_GRID - 1)
            got = (du, (np.arange(N_GRID) * du) ** 2)
            self._keep(key, got)
        return got

    def _det_maps(self, part: Particle, k_det: float) -> np.ndarray:
        """(3, G) detector dead-layer maps of ``part`` (detected energy keV, its derivative,
        the variance added keV^2) for the path factor ``k_det``; the identity without dead
        layers. Kept under a key of everything they depend on."""
        du, eg = self._grid(part)
        dead = self.dead_layers
        if not dead:
            key = ("maps", du)  # the identity
        else:
            key = ("maps", part.ion, id(self.stopping), self.straggling, self.straggling_model, du, k_det,
                   tuple([(ph.name, ph.formula, ph.density, t.value) for ph, t in dead]))
        maps = self._stopping_cache.get(key)
        if maps is None:
            if dead:
                s_dead, w_dead = self._stacked(part, [ph for ph, _ in dead], eg)
                t_dead = np.array([t.value for _, t in dead])
                maps = np.array(K.dead_layer_moments(K.range_tables(s_dead, du), s_dead,
                                                     K.straggling_tables(s_dead, w_dead, du), t_dead, k_det, du,
                                                     N_GRID))
            else:
                maps = np.array([eg, np.ones(N_GRID), np.zeros(N_GRID)])
            self._keep(key, maps)
        return maps

    # -- regions of constant composition --------------------------------------------------
    def _structure(self, plan: dict[str, Any] | None = None) -> dict[str, Any]:
        """What depends only on the stack's structure: the gradient layers, the phases (in
        stack order), their (name, formula) pairs. Kept per structure plan of the stack's
        :meth:`~interphase_sim.sample.stack.Stack.layer_arrays` (``plan``: the one its last
        call used, current by construction), else under a key of the layers, their phase
        lists and the phases."""
        stack = self.stack
        got = self._reach_cache.get("structure")
        if plan is not None:
            if got is not None and got["plan"] is plan:
                return got
            key = plan["key"]
        else:
            key = stack._arrays_plan()["key"]
            if got is not None and got["key"] == key:
                return got
        phases = list(stack.phases.values())
        got = {"key": key, "plan": plan, "phases": phases, "names": tuple((ph.name, ph.formula) for ph in phases),
               "phase_names": np.array(list(stack.phases), dtype=object), "nominal": {},
               "gradient": np.array([lay.fractions_bottom is not None for lay in stack.layers])}
        self._reach_cache["structure"] = got
        return got

    def _nominal_density(self, st: dict[str, Any], rho: tuple[float, ...]) -> np.ndarray:
        """Nominal atoms per nm3 of each phase at the densities ``rho`` (g/cm3, current)."""
        nominal = st["nominal"].get(rho)
        if nominal is None:
            nominal = np.array([ph.total_number_density() for ph in st["phases"]])
            if len(st["nominal"]) > _CACHE_LIMIT:
                st["nominal"].clear()
            st["nominal"][rho] = nominal
        return nominal

    def _regions(self, z_max: float, arrays: dict[str, Any] | None = None, st: dict[str, Any] | None = None,
                 rho: tuple[float, ...] | None = None, depth: float | None = None) -> dict[str, np.ndarray]:
        """Regions of constant composition down to ``z_max`` (nm): ``edges`` (nm),
        ``weights`` (P, R: phase amounts relative to nominal density) and ``phases``
        (``st``, ``rho``, ``depth``: :meth:`_structure`, the phase densities and the finite
        depth (nm) of the stack, when known)."""
        arrays = self.stack.layer_arrays() if arrays is None else arrays
        st = self._structure() if st is None else st
        rho = tuple(ph.density for ph in st["phases"]) if rho is None else rho
        thick = arrays["thickness_nm"]
        depth = _finite_depth(arrays) if depth is None else depth
        edges, weights = P.regions(thick, arrays["sigma_nm"], st["gradient"], float(z_max),
                                   bool(math.isinf(thick[-1])), depth, arrays["dens_top"],
                                   arrays["frac_top"], arrays["dens_bot"], arrays["frac_bot"],
                                   self._nominal_density(st, rho))
        return dict(edges=edges, weights=weights, phases=st["phase_names"])

    def _parent_profile(self, isotope: str, z: np.ndarray, arrays: dict[str, Any]) -> np.ndarray:
        """Density (atoms/nm3) of the capturing isotope at depths ``z``: only that column
        of the layer arrays goes through the profile kernel."""
        col = _parent_columns(isotope, arrays, self)
        if col is None:
            return np.zeros(z.size)
        top, bot, scale = col
        none = np.zeros((top.shape[0], 0))
        dens, _ = layer_profile(z, arrays["thickness_nm"], arrays["sigma_nm"], top, bot, none, none)
        return dens[0] * scale

    def _max_depth(self, particles: Iterable[Particle] | None = None, arrays: dict[str, Any] | None = None,
                   st: dict[str, Any] | None = None, rho: tuple[float, ...] | None = None,
                   depth: float | None = None) -> float:
        """Deepest birth depth (nm) any of ``particles`` (default the counted ones) can escape from."""
        parts = self.particles if particles is None else list(particles)
        st = self._structure() if st is None else st
        phases = st["phases"]
        rho = tuple(ph.density for ph in phases) if rho is None else rho
        key = (id(self.stopping), tuple([p.name for p in parts]))
        got = st.setdefault("reach", {}).get(key)  # per structure (hence per phase composition)
        c = got[0] if got is not None and got[1] is self.stopping else None
        if c is None:  # per phase, at the densities first seen
            reach = np.zeros(len(phases))
            for part in parts:
                du, eg = self._grid(part)
                s = np.array([self._phase_stopping(part.ion, ph, eg) for ph in phases])
                reach = np.maximum(reach, K.range_tables(s, du)[:, -1])
            c = list(zip(reach.tolist(), rho))
            st["reach"][key] = (c, self.stopping)
        # ranges go with 1 / density; a layer thinned by density_scale < 1 (or a stopping
        # scale < 1) lets particles escape from deeper
        reach = max([(r * rho0) / now for (r, rho0), now in zip(c, rho)])
        thinnest = (min([lay.density_scale.value for lay in self.stack.layers]) if arrays is None
                    else min(arrays["density_scale"].tolist()))
        weakest = min([p.value for p in self.stopping_scale.values()] + [1.0])
        if depth is None:
            depth = self.stack.finite_depth_nm() if arrays is None else _finite_depth(arrays)
        return depth + reach / min(thinnest, 1.0) / weakest

    def _tables(self, part: Particle, reg: dict[str, np.ndarray], k_det: float) -> dict[str, Any]:
        """Range, stopping and straggling tables of the regions, and the detector dead-layer
        maps (detected energy, its derivative, the variance added) for one particle."""
        du, eg = self._grid(part)
        s_phase, w_phase = self._stacked(part, [self.stack.phases[p] for p in reg["phases"]], eg)
        stop, rng, wtab, s_max = P.region_tables(reg["weights"], self._scales(reg["phases"]), s_phase, w_phase,
                                                 self.straggling, du)
        return dict(du=du, rng=rng, stop=stop, wtab=wtab, s_max=s_max, maps=self._det_maps(part, k_det))


def _rescaled(s: np.ndarray, w: np.ndarray, rho0: tuple[float, ...],
              rho: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Tables made at the densities ``rho0`` (g/cm3), at ``rho``: they go with the atoms per nm."""
    if rho == rho0:
        return s, w
    ratio = np.array(rho) / np.array(rho0)
    return s * ratio[:, None], w * ratio[:, None]


def _finite_depth(arrays: dict[str, Any]) -> float:
    """Depth (nm) of the top of a semi-infinite last layer, else of the bottom (as
    :meth:`Stack.finite_depth_nm`), from layer arrays."""
    return float(math.fsum([t for t in arrays["thickness_nm"].tolist() if not math.isinf(t)]))


def _parent_columns(isotope: str, arrays: dict[str, Any],
                    model: Any) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(top, bottom (L, 1) densities atoms/nm3, share) of the capturing isotope's column of
    the layer arrays: 6Li, or boron times the 10B abundance; None without boron."""
    if isotope == "6Li":
        return (np.ascontiguousarray(arrays["dens_top"][:, -1:]), np.ascontiguousarray(arrays["dens_bot"][:, -1:]),
                1.0)
    if "B" not in arrays["elements"]:
        return None
    i = arrays["elements"].index("B")
    return (np.ascontiguousarray(arrays["dens_top"][:, i:i + 1]), np.ascontiguousarray(arrays["dens_bot"][:, i:i + 1]),
            model.b10_abundance.value)
