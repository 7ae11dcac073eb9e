"""Neutron depth profiling: the forward model of a layered stack's charged-particle spectrum.

A thermal neutron captured by 6Li (or 10B) makes charged particles with fixed energies,
emitted isotropically (birth energies from :mod:`interphase_sim.ndp.kinematics`). Those
heading into the detector's acceptance cone lose energy on their way out (stopping powers
from :mod:`interphase_sim.ndp.stopping`, each phase's scaled by its systematic
``ndp.stopping_scale.<phase>``) and through the detector's dead layers, straggle (Bohr
with the Lindhard-Scharff correction, propagated along the path:
:mod:`interphase_sim.ndp.straggling`), and are recorded with the detector's resolution
and calibration (:mod:`interphase_sim.ndp.calibration`). The spectrum therefore maps
parent-isotope density versus depth.

Expected counts in a channel::

    scale * fluence * area * sigma * (Omega / 4 pi) * sum over depth of N_parent(z) dz,

with the fluence in neutrons/cm2 over the live time, sigma the thermal cross-section and
Omega the detector's solid angle (its acceptance half-angle). See
:class:`NDPModel` for every setting, and :func:`interphase_sim.ndp.analysis.spectrum_to_depth`
for the classical spectrum-to-depth analysis.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from interphase_sim.ndp import _kernels as K
from interphase_sim.ndp import _pipeline as P
from interphase_sim.ndp import calibration as cal
from interphase_sim.core.measurement import Axis, Measurement, bin_edges
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.ndp.geometry import PARTICLES, Particle, cone_nodes, get_particle, solid_angle_fraction
from interphase_sim.ndp.parameters import assign_roles, dead_layer_parameters, stopping_scale_parameters
from interphase_sim.ndp.materials import resolve_material
from interphase_sim.ndp.tables import TransportTables, _finite_depth, _parent_columns
from interphase_sim.core.model import prefixed, provenance
from interphase_sim.core.params import Parameter, Parameters
from interphase_sim.core.settings import NDP as NDP_SETTINGS
from interphase_sim.core.validate import as_rng
from interphase_sim.sample.phases import Phase
from interphase_sim.sample.stack import Stack

__all__ = ["NDPModel", "PARTICLES", "resolve_material"]

N_GRID = K.N_GRID  # nodes of the sqrt(E) grid for range tables and exit maps (shared with the inversion)
ROUGH_SLABS = tuple(P.ROUGH_SLABS.tolist())  # sub-slab edges across a rough interface, in sigma (symmetric:
# the energy lost crossing the interface is then exact to first order)
GRADIENT_SLABS = P.GRADIENT_SLABS  # sub-slabs through a layer with a phase gradient
MAX_BIRTH_POINTS = 20000

# the numbers a fit may vary, with their ranges and units: core.settings.NDP
_NUMBERS = NDP_SETTINGS.numbers()


def _finite_floats(x: Any, field: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InterphaseInputError(field, f"expected numbers (keV), got {x!r}") from None
    if arr.size < 2 or not np.all(np.isfinite(arr)) or np.any(np.diff(arr) <= 0):
        raise InterphaseInputError(field, "needs at least 2 finite energies (keV) increasing strictly")
    return arr


class NDPModel(TransportTables):
    """Expected NDP spectrum of a :class:`Stack`.

    Parameters
    ----------
    stack : Stack
        The sample; z = 0 faces the detector. Its 6Li (and B) densities set the yield.
    particles : sequence of str
        Which particles to count: ``"alpha"`` and ``"triton"`` (6Li(n,alpha)3H),
        ``"boron-alpha"`` (10B(n,alpha)7Li, both branches).
    fwhm_keV : float or Parameter
        Detector resolution, FWHM (keV). Default 15.
    detector_angle_deg : float or Parameter
        Angle of the detector axis from the sample normal (degrees). Default 0.
    acceptance_half_angle_deg : float or Parameter
        Half-angle of the detector's acceptance cone (degrees), > 0; sets the solid
        angle and the spread of path lengths. Default 3.
    dead_layers : sequence of (material, thickness_nm) or {material, thickness_nm}
        Layers on the detector face that particles cross after leaving the sample
        (e.g. ``[("Au", 40)]``); material a phase name or Phase. Each thickness is the
        nuisance Parameter ``ndp.dead_layers.<i>.thickness_nm`` (i from 0, nm).
    fluence : float or Parameter
        Neutron fluence over the live time, neutrons/cm2. Default 1e12.
    area_cm2 : float or Parameter
        Irradiated sample area (cm2). Default 1.
    scale : float or Parameter
        Free multiplier on the absolute yield (1 for the absolute scale). Default 1.
    background : float or Parameter
        Flat background, counts per channel. Default 0.
    channels : int or sequence
        Number of channels (or the channel numbers) of the default energy axis
        ``E = gain_keV * channel + offset_keV``. Default 1024.
    gain_keV, offset_keV : float or Parameter, optional
        Energy calibration (keV per channel, keV; nuisance Parameters). Default 3 and 0,
        or with ``energy_keV`` that axis' own linear calibration. :meth:`expected` applies
        them to a measurement's channels (see :mod:`~interphase_sim.ndp.calibration`), so
        a fit may move them.
    energy_keV : array, optional
        The nominal channel-centre energies (keV), e.g. a measured spectrum's axis: they
        define the channels ``c = (E - E_0) / g_0`` (``g_0`` the mean spacing), which the
        calibration maps back onto energies.
    low_energy_cutoff_keV : float or Parameter
        Channels below this energy record nothing (the discriminator). Default 100.
    straggling : bool
        Include energy-loss straggling. Default True.
    straggling_model : {"lindhard-scharff", "bohr"}
        The straggling rate: Bohr with the Lindhard-Scharff low-velocity correction
        (default), or plain Bohr; either is propagated along the outgoing path with the
        stopping-power ratio (:mod:`~interphase_sim.ndp.straggling`).
    angle_nodes : int
        Path-length groups the acceptance cone is integrated with. Default 3.
    b10_abundance : float or Parameter
        10B atom fraction of boron (for ``boron-alpha``). Default 0.199.
    stopping : StoppingSource, optional
        Where stopping powers come from (default ICRU 49 with Bragg's rule).
    energy_step_keV : float, optional
        Energy lost between birth points (keV); default min(channel width, FWHM / 2).
    stopping_scale : mapping of phase name -> float or Parameter, optional
        Multipliers on each stack phase's stopping power: systematic Parameters
        ``ndp.stopping_scale.<phase>``, value 1, bounds (0.8, 1.2), free with the prior
        norm(1, 0.02) for an element and norm(1, 0.03) for a compound (Bragg's rule); see
        :mod:`~interphase_sim.ndp.parameters`.

    Notes
    -----
    Roles: the instrument numbers (calibration, resolution, geometry, yield, background,
    cutoff) and the dead-layer thicknesses are ``"nuisance"`` Parameters, the stopping
    scales ``"systematic"``; ``b10_abundance`` stays ``"physical"``.
    """

    def __init__(
        self,
        stack: Stack,
        particles: Iterable[str] = ("alpha", "triton"),
        fwhm_keV: float | Parameter = 15.0,
        detector_angle_deg: float | Parameter = 0.0,
        acceptance_half_angle_deg: float | Parameter = 3.0,
        dead_layers: Iterable[Any] = (),
        fluence: float | Parameter = 1e12,
        area_cm2: float | Parameter = 1.0,
        scale: float | Parameter = 1.0,
        background: float | Parameter = 0.0,
        channels: int | Iterable[float] = 1024,
        gain_keV: float | Parameter | None = None,
        offset_keV: float | Parameter | None = None,
        energy_keV: Any = None,
        low_energy_cutoff_keV: float | Parameter = 100.0,
        straggling: bool = True,
        angle_nodes: int = 3,
        b10_abundance: float | Parameter = 0.199,
        stopping: Any = None,
        energy_step_keV: float | None = None,
        straggling_model: str = "lindhard-scharff",
        stopping_scale: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(stack, Stack):
            raise InterphaseInputError("stack", f"expected a Stack, got {type(stack).__name__}")
        self.stack = stack
        self.particles: list[Particle] = _read_particles(particles, stack)
        self.energy_keV = None if energy_keV is None else _finite_floats(energy_keV, "ndp.energy_keV")
        self._nominal = None if self.energy_keV is None else cal.axis_calibration(self.energy_keV)
        default_gain, default_offset = self._nominal or (NDP_SETTINGS["gain_keV"].default,
                                                         NDP_SETTINGS["offset_keV"].default)
        local = dict(
            fwhm_keV=fwhm_keV, detector_angle_deg=detector_angle_deg,
            acceptance_half_angle_deg=acceptance_half_angle_deg, fluence=fluence, area_cm2=area_cm2,
            scale=scale, background=background,
            gain_keV=default_gain if gain_keV is None else gain_keV,
            offset_keV=default_offset if offset_keV is None else offset_keV,
            low_energy_cutoff_keV=low_energy_cutoff_keV, b10_abundance=b10_abundance,
        )
        for name, value in local.items():
            setattr(self, name, NDP_SETTINGS.parameter(name, value))
        NDP_SETTINGS.check_all(local, "ndp")  # the detector cone must stay below grazing exit
        assign_roles({name: getattr(self, name) for name in local})
        self.dead_layers: list[tuple[Phase, Parameter]] = dead_layer_parameters(
            NDP_SETTINGS["dead_layers"].read(list(dead_layers), "ndp.dead_layers"), resolve_material)
        self.stopping_scale: dict[str, Parameter] = stopping_scale_parameters(
            stack.phases, NDP_SETTINGS["stopping_scale"].read(dict(stopping_scale or {}), "ndp.stopping_scale"))
        channels = NDP_SETTINGS["channels"].read(channels, "ndp.channels")
        if isinstance(channels, int):
            self.channels = np.arange(channels, dtype=float)
        else:
            self.channels = np.asarray(channels, dtype=float)
        self.straggling = NDP_SETTINGS["straggling"].read(straggling, "ndp.straggling")
        self.straggling_model = NDP_SETTINGS["straggling_model"].read(straggling_model, "ndp.straggling_model")
        self.angle_nodes = NDP_SETTINGS["angle_nodes"].read(angle_nodes, "ndp.angle_nodes")
        if energy_step_keV is not None:
            energy_step_keV = NDP_SETTINGS["energy_step_keV"].read(energy_step_keV, "ndp.energy_step_keV")
        self.energy_step_keV = energy_step_keV
        if stopping is None:
            from interphase_sim.ndp.stopping import ICRU49

            stopping = ICRU49()
        self.stopping = stopping
        self._stopping_cache: dict[tuple, np.ndarray] = {}
        self._reach_cache: dict[str, Any] = {}
        self._axis_checked: tuple[Any, np.ndarray] | None = None
        self._channels_checked: dict[str, Any] | None = None
        # (axis copy, edges, narrowest channel, increasing, the axis object last taken, uniform)
        self._edges_checked: tuple | None = None

    # -- construction from a sample file -----------------------------------------------
    @classmethod
    def from_stack(cls, stack: Stack, **settings: Any) -> NDPModel:
        """The model described by the stack's ``[ndp]`` table; keyword settings override it.

        Every key of :data:`interphase_sim.core.settings.NDP` is accepted, plus
        ``energy_keV`` (a measured spectrum's axis) and ``stopping`` (a StoppingSource).
        An ``energy_keV`` keyword without ``gain_keV``/``offset_keV`` keywords replaces the
        file's plain-number calibration by that axis' own (a calibration Parameter of the
        file, e.g. ``{value, min, max, vary}``, is kept).
        """
        kw = NDP_SETTINGS.read(dict(stack.sections.get("ndp", {})))
        if settings.get("energy_keV") is not None:
            for key in ("gain_keV", "offset_keV"):
                if key not in settings and not isinstance(kw.get(key), Parameter):
                    kw.pop(key, None)
        kw.update(settings)
        return cls(stack, **kw)

    # -- parameters ---------------------------------------------------------------------
    def parameters(self) -> Parameters:
        """The stack's Parameters and this model's (``ndp.fwhm_keV``, ...,
        ``ndp.dead_layers.<i>.thickness_nm``, ``ndp.stopping_scale.<phase>``), each once."""
        items = list(self.stack.parameters().items())
        items += prefixed("ndp", [(name, getattr(self, name)) for name in _NUMBERS])
        items += [(f"ndp.dead_layers.{i}.thickness_nm", t) for i, (_, t) in enumerate(self.dead_layers)]
        items += [(f"ndp.stopping_scale.{name}", p) for name, p in self.stopping_scale.items()]
        return Parameters(items)

    def settings(self) -> dict[str, Any]:
        """Current settings as plain JSON-able values: ``NDPModel.from_stack(stack, **settings)``
        rebuilds this model (a custom ``stopping`` source excepted: it is recorded by name)."""
        out: dict[str, Any] = {name: getattr(self, name).value for name in _NUMBERS}
        out["particles"] = [p.name for p in self.particles]
        out["dead_layers"] = [{"material": ph.name, "thickness_nm": t.value} for ph, t in self.dead_layers]
        arange = np.array_equal(self.channels, _arange(self.channels.size))
        out["channels"] = int(self.channels.size) if arange else self.channels.tolist()
        out["straggling"] = self.straggling
        out["straggling_model"] = self.straggling_model
        out["angle_nodes"] = self.angle_nodes
        if self.energy_step_keV is not None:
            out["energy_step_keV"] = float(self.energy_step_keV)
        if self.energy_keV is not None:
            out["energy_keV"] = self.energy_keV.tolist()
        out["stopping_scale"] = {name: p.value for name, p in self.stopping_scale.items()}
        return out

    # -- energy axis --------------------------------------------------------------------
    def energy_axis(self, energy_keV: Any = None) -> np.ndarray:
        """Channel-centre energies (keV): the argument as it is, else the model's channels
        (``channels``, or those of ``energy_keV``) through the calibration."""
        if energy_keV is not None:
            # a fit passes the same axis every call: validate it once
            if (self._axis_checked is not None and self._axis_checked[0] is energy_keV
                    and np.array_equal(self._axis_checked[1], energy_keV)):
                return self._axis_checked[1]
            checked = _finite_floats(energy_keV, "energy_keV")
            self._axis_checked = (energy_keV, checked)
            return checked
        if self.energy_keV is not None:
            g0, o0 = self._nominal
            if self.gain_keV.value == g0 and self.offset_keV.value == o0:
                return self.energy_keV  # the axis itself, not its round trip through channels
            return cal.calibrated_energy((self.energy_keV - o0) / g0, self.gain_keV.value, self.offset_keV.value)
        return cal.calibrated_energy(self.channels, self.gain_keV.value, self.offset_keV.value)

    def calibrated_energy(self, measurement: Measurement) -> np.ndarray:
        """Channel-centre energies (keV) of ``measurement`` under this model's calibration.

        A ``channel`` axis: ``gain_keV * channel + offset_keV``. An ``energy`` axis: its
        nominal calibration (metadata ``gain_keV``/``offset_keV``, else the axis' linear
        map onto channel indices) is undone and the model's applied instead; where the two
        agree the axis is returned as it is. Warns (once per axis) if they differ by more
        than any drift would (5 % in gain or 50 keV in offset): set the model's calibration.
        """
        axis = measurement.axes[0].values if measurement.axes else None
        meta = measurement.metadata or {}
        key = (meta.get("gain_keV"), meta.get("offset_keV"), tuple(a.name for a in measurement.axes))
        c = self._channels_checked
        # a fit passes the same measurement every call: convert its axis once
        if c is None or c["axis"] is not axis or c["key"] != key or not np.array_equal(c["copy"], axis):
            chans, nominal = cal.channels(measurement)
            c = {"axis": axis, "copy": np.array(axis, dtype=float), "key": key, "chans": chans, "nominal": nominal}
            self._channels_checked = c
            self._warn_far_calibration(nominal)
        gain, offset = self.gain_keV.value, self.offset_keV.value
        if c["nominal"] is not None and (gain, offset) == c["nominal"]:
            return c["copy"]  # exactly the measurement's energies
        return cal.calibrated_energy(c["chans"], gain, offset)

    def fit_mask(self, measurement: Measurement, energy_min_keV: float | None = None,
                 energy_max_keV: float | None = None) -> np.ndarray:
        """The channels of ``measurement`` a fit should take: inside the energy window (keV,
        at the current calibration) and above the low-energy cutoff for *every* gain,
        offset and cutoff within their bounds when free.

        The model zeroes channels below the cutoff, so a channel that a free calibration
        could move across it would be a wall in the statistic (counts against 0) and
        freeze the fit at its start.
        """
        def span(p: Parameter) -> tuple[float, float]:
            lo, hi = p.bounds if p.vary else (p.value, p.value)
            return (lo if np.isfinite(lo) else p.value, hi if np.isfinite(hi) else p.value)

        energy = self.calibrated_energy(measurement)
        chans = cal.channels(measurement)[0]
        lowest = np.min([g * chans + o for g in span(self.gain_keV) for o in span(self.offset_keV)], axis=0)
        lo = float(energy_min_keV or 0.0)
        hi = float(energy_max_keV) if energy_max_keV is not None else np.inf
        return (energy >= lo) & (energy <= hi) & (lowest >= span(self.low_energy_cutoff_keV)[1])

    def _warn_far_calibration(self, nominal: tuple[float, float] | None) -> None:
        if nominal is None:
            return
        g0, o0 = nominal
        if abs(self.gain_keV.value / g0 - 1.0) > 0.05 or abs(self.offset_keV.value - o0) > 50.0:
            warnings.warn(
                f"the spectrum's energy axis was made with {g0:.6g} keV/channel and offset {o0:.6g} keV, the "
                f"model's calibration is {self.gain_keV.value:.6g} keV/channel and {self.offset_keV.value:.6g} keV: "
                "the model's applies (set ndp.gain_keV and ndp.offset_keV to the spectrum's calibration)",
                UserWarning, stacklevel=3,
            )

    # -- the forward model ----------------------------------------------------------------
    def simulate_components(self, energy_keV: Any = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Expected counts per channel of each particle (no background, no cutoff).

        Parameters
        ----------
        energy_keV : array, optional
            Channel-centre energies (keV) to evaluate at, taken as they are; default the
            model's calibrated axis (:meth:`energy_axis`).

        Returns
        -------
        energy : (C,) array
            Channel-centre energies (keV).
        components : dict
            Particle name -> expected counts per channel.
        """
        return self._components(self.energy_axis(energy_keV))

    def _components(self, energy: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """:meth:`simulate_components` on a checked, increasing energy axis (keV)."""
        edges, narrowest = self._channel_edges(energy)
        alpha_acc = self.acceptance_half_angle_deg.value
        theta = self.detector_angle_deg.value
        if not (theta + alpha_acc < 89.9 and alpha_acc > 0):
            raise InterphaseInputError(
                "ndp.acceptance_half_angle_deg",
                "acceptance half-angle must be > 0 and, with the detector angle, below 90 deg")
        k_nodes, k_weights, k_det = cone_nodes(float(theta), float(alpha_acc), self.angle_nodes)
        arrays = self.stack.layer_arrays()  # once per evaluation: regions and births share it
        plan = self.stack._arrays_cache  # the structure and phase densities that call used
        st = self._structure(plan)
        rho = plan["nd"][0]
        depth = _finite_depth(arrays)
        reg = self._regions(self._max_depth(arrays=arrays, st=st, rho=rho, depth=depth), arrays, st, rho, depth)
        if reg["edges"].size < 2:
            return energy, {p.name: np.zeros_like(energy) for p in self.particles}
        fwhm = self.fwhm_keV.value
        # energy lost between birth points: a channel (the deposit is exact for a linear
        # energy-depth map within a step, so finer steps change nothing visible)
        step = self.energy_step_keV or min(narrowest, 0.5 * fwhm)
        cutoff = 0.5 * max(self.low_energy_cutoff_keV.value, 0.0)
        absolute = (self.scale.value * self.fluence.value * self.area_cm2.value
                    * solid_angle_fraction(alpha_acc) * 1e-24 * 1e14)  # barn -> cm2; atoms/nm2 -> /cm2
        sigma_det2 = (fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))) ** 2
        scales = self._scales(reg["phases"])
        parents = {iso: _parent_columns(iso, arrays, self) for iso in {p.parent for p in self.particles}}
        out: dict[str, np.ndarray] = {}
        for part in self.particles:
            col = parents[part.parent]
            if col is None:  # no boron in the stack
                out[part.name] = np.zeros_like(energy)
                continue
            du, s_phase, w_phase = self._particle_tables(part, st, rho)
            e0s, probs = _branches(part)
            out[part.name] = P.particle_counts(
                reg["edges"], reg["weights"], scales, s_phase, w_phase, self.straggling, du, step,
                MAX_BIRTH_POINTS, k_nodes, k_weights, self._det_maps(part, k_det), e0s, probs,
                absolute * part.cross_section_b, cutoff, arrays["thickness_nm"], arrays["sigma_nm"],
                col[0], col[1], col[2], edges, energy, sigma_det2, self._edges_checked[5])
        return energy, out

    def simulate(self, noise: bool = False, seed: Any = None, energy_keV: Any = None) -> Measurement:
        """Expected (or, with ``noise=True``, Poisson-drawn) counts per channel.

        Parameters
        ----------
        noise : bool
            Draw Poisson counts around the expectation.
        seed : int or numpy Generator, optional
            Random source for the noise (required for reproducible noise).
        energy_keV : array, optional
            Channel-centre energies (keV), e.g. a measured spectrum's axis, taken as they are.

        Returns
        -------
        Measurement
            Counts on an ``energy`` axis (keV); the metadata hold the provenance and the
            calibration (``gain_keV``, ``offset_keV``) that maps channels onto the axis.
        """
        energy, comps = self.simulate_components(energy_keV)
        total = self._total(energy, comps)
        if noise:
            total = as_rng(seed).poisson(total).astype(float)
        meta = {**provenance("ndp", self.settings(), self.stack.name or "", noise, seed),
                "components": sorted(comps), **cal.describe(self.gain_keV.value, self.offset_keV.value)}
        return Measurement(
            values=total,
            axes=[Axis("energy", "keV", energy)],
            uncertainties=np.sqrt(np.maximum(total, 1.0)) if noise else None,
            metadata=meta,
        )

    def expected(self, measurement: Measurement) -> np.ndarray:
        """Expected counts in ``measurement``'s channels (the fitting protocol).

        The channel energies come from this model's calibration (:meth:`calibrated_energy`),
        so free ``ndp.gain_keV`` / ``ndp.offset_keV`` move the prediction.
        """
        return self._total(*self._components(self.calibrated_energy(measurement)))

    def _channel_edges(self, energy: np.ndarray) -> tuple[np.ndarray, float]:
        """(channel edges keV, the narrowest channel keV) of ``energy``; kept for the last
        axis seen (compared by value: a fit passes the same axis every call). Also notes
        ``energy`` itself, so that :meth:`_total` knows it is increasing."""
        c = self._edges_checked
        if c is None or c[0].shape != energy.shape or not np.array_equal(c[0], energy):
            edges = bin_edges(energy)
            c = (energy.copy(), edges, float(np.min(np.diff(edges))), bool(np.all(energy[1:] > energy[:-1])), energy,
                 bool(K._uniform(edges)))
        elif c[4] is not energy:
            c = c[:4] + (energy,) + c[5:]
        self._edges_checked = c
        return c[1], c[2]

    def _total(self, energy: np.ndarray, comps: dict[str, np.ndarray]) -> np.ndarray:
        """Sum of the components, plus background, zero below the cutoff."""
        total = np.full(energy.size, self.background.value)
        for c in comps.values():
            total += c
        cutoff = self.low_energy_cutoff_keV.value
        c = self._edges_checked
        if c is not None and c[4] is energy and c[3]:  # the axis _components just took, increasing
            total[: np.searchsorted(energy, cutoff, side="left")] = 0.0  # a prefix
        else:
            total[energy < cutoff] = 0.0
        return total

    def _axis_tables(self, particle: str, depth_nm: Any, n: int) -> tuple[Particle, dict, np.ndarray, np.ndarray,
                                                                          np.ndarray, np.ndarray, float]:
        """Tables along the detector axis: (particle, tables, thicknesses, depths, region,
        depth in region, path factor)."""
        part = get_particle(particle)
        reg = self._regions(self._max_depth())
        thick = np.diff(reg["edges"])
        tab = self._tables(part, reg, 1.0)
        if depth_nm is None:
            z = np.linspace(0.0, reg["edges"][-1], n)
        else:
            z = np.clip(_finite_floats(depth_nm, "depth_nm"), 0.0, reg["edges"][-1])
        region = np.clip(np.searchsorted(reg["edges"], z, side="right") - 1, 0, thick.size - 1)
        k = 1.0 / math.cos(math.radians(self.detector_angle_deg.value))
        return part, tab, thick, z, region, z - reg["edges"][region], k

    def energy_depth_map(self, particle: str = "alpha", depth_nm: Any = None, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
        """Detected energy (keV) versus birth depth (nm) along the detector axis (no broadening).

        ``depth_nm`` (increasing, nm) defaults to ``n`` depths down to where the particle
        can no longer escape.
        """
        part, tab, thick, z, region, depth_in, k = self._axis_tables(particle, depth_nm, n)
        e = np.empty(z.size)
        K.exit_energies(part.max_energy_keV, k, tab["du"], tab["rng"], thick, region, depth_in, tab["maps"][0], 0.0, e)
        return z, e

    def energy_spread_map(self, particle: str = "alpha", depth_nm: Any = None,
                          n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Detected energy and straggling along the detector axis, versus birth depth.

        Parameters
        ----------
        particle : str
            A counted particle's name (its highest-energy branch).
        depth_nm : array, optional
            Increasing birth depths (nm); default ``n`` depths down to where the particle
            can no longer escape.
        n : int
            Number of default depths.

        Returns
        -------
        depth : array
            Birth depths (nm).
        energy : array
            Detected energy (keV), before the detector resolution.
        sigma : array
            Straggling standard deviation (keV) at the detector, dead layers included (0
            where the particle stops, or with ``straggling=False``).
        """
        part, tab, thick, z, region, depth_in, k = self._axis_tables(particle, depth_nm, n)
        e, var = np.empty(z.size), np.zeros(z.size)
        if self.straggling:
            K.exit_moments(part.max_energy_keV, k, tab["du"], tab["rng"], tab["stop"], tab["wtab"], thick, region,
                           depth_in, tab["maps"][0], tab["maps"][1], tab["maps"][2], 0.0, e, var)
        else:
            K.exit_energies(part.max_energy_keV, k, tab["du"], tab["rng"], thick, region, depth_in, tab["maps"][0],
                            0.0, e)
        return z, e, np.sqrt(np.maximum(var, 0.0))


@functools.lru_cache(maxsize=16)
def _arange(n: int) -> np.ndarray:
    """``0, 1, ..., n - 1`` as floats (read only: shared)."""
    a = np.arange(n, dtype=float)
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=16)
def _branches(part: Particle) -> tuple[np.ndarray, np.ndarray]:
    """(birth energies keV, branching ratios) of a particle, as arrays."""
    return np.array([e for e, _ in part.branches]), np.array([p for _, p in part.branches])


def _read_particles(particles: Iterable[str] | str, stack: Stack) -> list[Particle]:
    """The counted particles; warns for a parent isotope the stack lacks."""
    if isinstance(particles, str):
        particles = [particles]
    out = [get_particle(p) for p in particles]
    if not out:
        raise InterphaseInputError("ndp.particles", "count at least one particle")
    elements = set(stack.elements())
    for parent, element in (("6Li", "Li"), ("10B", "B")):
        asked = [p.name for p in out if p.parent == parent]
        if asked and element not in elements:
            warnings.warn(f"the stack contains no {element}: {', '.join(asked)} counts will be zero",
                          UserWarning, stacklevel=3)
    return out

