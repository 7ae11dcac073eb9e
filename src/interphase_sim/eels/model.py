"""Core-loss EELS of a stack: spectra at a depth and STEM-EELS line scans across it.

Geometry: a cryo-FIB lamella of thickness ``thickness_nm`` viewed edge-on, so the beam
crosses the layers' plane and the probe position along the scan is the stack depth z
(nm). The probe at nominal scan position ``p_i`` (what the instrument records, the
``depth`` axis of a line scan) sits at stack depth
``z_i = p_i + scan_origin_nm + (scan_step_scale - 1) (p_i - p_0)``: the origin is a fit
parameter, free by default (:mod:`interphase_sim.eels.params`), so that the data, not an
assumed absolute position, place the layers; a layer's thickness is then measured only
where the scan sees both of its interfaces. At each probe position the electrons see the
composition at depth z averaged over the probe profile and the beam broadening in the
lamella (Gaussians added in quadrature; the broadening of the scan's mean composition is
used for every position).

Counts per channel at a position::

    I0 * sum over (edge, phase) a(z) dsigma/dE(E) F_phase(E) dE   (single scattering)

with ``I0`` the electrons per spectrum (dose x pixel area), ``a`` the element's areal
density in that phase along the beam (atoms/nm2 = number density x lamella thickness),
``dsigma/dE`` the hydrogenic cross-section (:mod:`interphase_sim.eels.xsec`) times the
edge's scale ``eels.xsec_scale.<edge>`` and ``F`` the phase's ELNES template
(:mod:`interphase_sim.eels.templates`); then convolved with the low-loss spectrum (plural
scattering, :mod:`interphase_sim.eels.lowloss`), plus a power-law background
``A (E / E_first)^-r`` in the recorded counts, with optional Poisson noise. The background
is added after the plural convolution: a power law describes the recorded pre-edge
background, plural scattering included (the basis of background subtraction, Egerton 2011
Ch. 4); convolving a power law cut at the axis start would miss the plural scattering
of the losses below it and bend the background over the first two plasmon energies.

A measured line scan is simulated on its own energy axis (any uniform one) and probe
positions: :meth:`EELSModel.expected` reads them from the measurement, and
:meth:`EELSModel.from_measurement` also takes the optics from its metadata.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from interphase_sim.eels import lowloss as LL
from interphase_sim.eels import xsec as XS
from interphase_sim.eels.analysis import power_law_fit
from interphase_sim.eels.params import instrument_parameter, xsec_key, xsec_scales
from interphase_sim.eels.plural import mix, plural_counts
from interphase_sim.eels.templates import ELNESTemplate, default_templates
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.core.model import prefixed, provenance
from interphase_sim.core.params import Parameter, Parameters
from interphase_sim.core.settings import EELS as EELS_SETTINGS
from interphase_sim.core import validate as V
from interphase_sim.core.validate import as_rng
from interphase_sim.sample.stack import Stack

__all__ = ["EELSModel"]

#: Probe positions of the default line scan (when the [eels] table gives none).
DEFAULT_SCAN_POSITIONS = 200

# the numbers a fit may vary, with ranges, units and defaults: core.settings.EELS
_NUMBERS = EELS_SETTINGS.numbers()
_SCAN_KEYS = ("scan_start_nm", "scan_stop_nm", "positions")


class EELSModel:
    """Core-loss EELS forward model of a :class:`Stack` (see the module docstring).

    Parameters
    ----------
    stack : Stack
    edges : sequence of str, optional
        Edges to simulate (e.g. ``["Li K", "P L2,3", "N K", "O K"]``); default every
        available edge of the stack's elements whose onset lies on the energy axis.
    beam_energy_eV : float or Parameter
        Incident energy (eV). Default 300 keV.
    convergence_mrad, collection_mrad : float or Parameter
        Probe convergence and spectrometer collection semi-angles (mrad).
    energy_resolution_eV : float or Parameter
        Zero-loss FWHM (eV).
    dispersion_eV, offset_eV : float or Parameter
        Energy axis: ``E = offset + dispersion * channel`` (eV).
    channels : int
        Channels of the default axis. Default 2048.
    thickness_nm : float or Parameter
        Lamella thickness along the beam (nm).
    dose_e_per_A2, pixel_nm : float or Parameter
        Electron dose (e/Å2) and pixel size (nm): ``I0 = dose x (10 pixel_nm)^2``.
    probe_fwhm_nm : float or Parameter
        Probe FWHM (nm); combined in quadrature with the Goldstein beam broadening.
    background_counts, background_exponent : float or Parameter
        Power-law background ``A (E / E_first)^-r`` of the recorded spectrum (counts per
        channel at the first channel of the axis simulated).
    plasmon_width_eV : float or Parameter
        FWHM of the bulk plasmon in the low-loss kernel.
    elnes, plural, beam_broadening : bool
        Switch ELNES templates, plural scattering and beam broadening on or off.
    templates : mapping, optional
        ``{(phase, edge): ELNESTemplate}`` replacing built-in templates.
    scan_start_nm, scan_stop_nm, positions : float, float, int, optional
        The default scan (:meth:`default_positions`), nominal positions (nm).
    scan_origin_nm : float or Parameter
        Stack depth (nm) of the scan's nominal zero: the probe at nominal position ``p``
        sits at depth ``p + scan_origin_nm`` (plus the step term). A plain value is free in
        fits within +-20 nm of it.
    scan_step_scale : float or Parameter
        True over nominal probe step (drift, calibration), pivoting at the scan's first
        position. A plain value is fixed, bounds +-0.1: set ``vary`` where the step is not
        calibrated; every thickness then carries the step's uncertainty.
    xsec_scale : mapping, optional
        ``{edge: scale, Parameter or {value, min, max, vary, prior}}``: systematic scales of
        the edges' cross-sections (:mod:`interphase_sim.eels.params`); default 1 for each,
        free, prior norm(1, 0.05) for K and norm(1, 0.15) for L2,3 edges.

    Every ``eels.*`` number is a Parameter with role ``"nuisance"``; given as plain
    values, the scan origin and step, probe FWHM and background get bounds for a fit, so
    that ``vary = True`` is all a fit needs (:data:`interphase_sim.eels.params.FIT_DEFAULTS`).
    """

    def __init__(
        self, stack: Stack, edges: Iterable[str] | None = None, *,
        beam_energy_eV: float | Parameter = 300e3, convergence_mrad: float | Parameter = 10.0,
        collection_mrad: float | Parameter = 20.0, energy_resolution_eV: float | Parameter = 1.0,
        dispersion_eV: float | Parameter = 0.3, offset_eV: float | Parameter = 40.0, channels: int = 2048,
        thickness_nm: float | Parameter = 60.0, dose_e_per_A2: float | Parameter = 1000.0,
        pixel_nm: float | Parameter = 1.0, probe_fwhm_nm: float | Parameter = 1.0,
        background_counts: float | Parameter = 0.0, background_exponent: float | Parameter = 3.0,
        plasmon_width_eV: float | Parameter = 6.0, elnes: bool = True, plural: bool = True,
        beam_broadening: bool = True, templates: Mapping[tuple[str, str], ELNESTemplate] | None = None,
        scan_start_nm: float | None = None, scan_stop_nm: float | None = None, positions: int | None = None,
        scan_origin_nm: float | Parameter = 0.0, scan_step_scale: float | Parameter = 1.0,
        xsec_scale: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(stack, Stack):
            raise InterphaseInputError("stack", f"expected a Stack, got {type(stack).__name__}")
        self.stack = stack
        numbers = dict(
            beam_energy_eV=beam_energy_eV, convergence_mrad=convergence_mrad, collection_mrad=collection_mrad,
            energy_resolution_eV=energy_resolution_eV, dispersion_eV=dispersion_eV, offset_eV=offset_eV,
            thickness_nm=thickness_nm, dose_e_per_A2=dose_e_per_A2, pixel_nm=pixel_nm,
            probe_fwhm_nm=probe_fwhm_nm, background_counts=background_counts,
            background_exponent=background_exponent, plasmon_width_eV=plasmon_width_eV,
            scan_origin_nm=scan_origin_nm, scan_step_scale=scan_step_scale)
        for name, value in numbers.items():
            setattr(self, name, instrument_parameter(name, value))
        others = EELS_SETTINGS.read(dict(channels=channels, elnes=elnes, plural=plural,
                                         beam_broadening=beam_broadening))
        self.channels = others["channels"]
        self.elnes, self.plural, self.beam_broadening = others["elnes"], others["plural"], others["beam_broadening"]
        scan = dict(scan_start_nm=scan_start_nm, scan_stop_nm=scan_stop_nm, positions=positions)
        self.scan = EELS_SETTINGS.read({k: v for k, v in scan.items() if v is not None})
        self._template_files: dict[str, dict[str, str]] = {}
        energy = self.energy_axis()
        available = XS.edges_for(stack.elements())
        if edges is None:
            self.edges = sorted((e for e in available if energy[0] < XS.edge(e).onset_eV < energy[-1]),
                                key=lambda e: XS.edge(e).onset_eV)
        else:
            self.edges = []
            for name in edges:
                rec = XS.edge(name)
                if not energy[0] < rec.onset_eV < energy[-1]:
                    raise InterphaseInputError(
                        "eels.edges", f"{rec.name} (onset {rec.onset_eV:g} eV) is outside the energy axis "
                        f"[{energy[0]:g}, {energy[-1]:g}] eV; change offset_eV / dispersion_eV / channels")
                if rec.element not in stack.elements():
                    raise InterphaseInputError("eels.edges", f"{rec.name}: the stack has no {rec.element}")
                self.edges.append(rec.name)
        if not self.edges:
            raise InterphaseInputError("eels.edges", "no edge of the stack's elements lies on the energy axis")
        if xsec_scale is not None and not isinstance(xsec_scale, Mapping):
            raise InterphaseInputError("eels.xsec_scale", f"expected a table {{edge = scale}}, got {xsec_scale!r}")
        #: Cross-section scale Parameter of each edge (canonical edge name -> Parameter).
        self.xsec_scale: dict[str, Parameter] = xsec_scales(self.edges, xsec_scale)
        self.templates: dict[tuple[str, str], ELNESTemplate] = {}
        self._custom_templates = {}
        for (phase, edge_name), tpl in dict(templates or {}).items():
            self._custom_templates[(self._phase_key(phase), XS.edge(edge_name).name)] = tpl
        self._basis_cache: dict[tuple, Any] = {}
        self._kernel_cache: dict[tuple, np.ndarray] = {}

    # -- construction from a sample file -------------------------------------------------
    @classmethod
    def from_stack(cls, stack: Stack, **settings: Any) -> EELSModel:
        """The model described by the stack's ``[eels]`` table; keyword settings override it.

        Every key of :data:`interphase_sim.core.settings.EELS` is accepted; ``templates``
        there names ELNES files ``{phase = {edge = path}}``, read with
        :meth:`set_template_file`.
        """
        kw = EELS_SETTINGS.read(dict(stack.sections.get("eels", {})))
        kw.update(settings)
        files = kw.pop("templates", None)
        if files is not None and not all(isinstance(v, Mapping) and all(isinstance(p, (str, os.PathLike))
                                                                       for p in v.values())
                                         for v in dict(files).values()):
            kw["templates"] = files  # ELNESTemplate objects keyed by (phase, edge)
            files = None
        model = cls(stack, **kw)
        for phase, per_edge in dict(files or {}).items():
            for edge_name, path in dict(per_edge).items():
                model.set_template_file(phase, edge_name, path)
        return model

    @classmethod
    def from_measurement(cls, stack: Stack, measurement: Measurement, **settings: Any) -> EELSModel:
        """The model of the stack's ``[eels]`` table on a measured line scan's axes and optics.

        The energy axis (``offset_eV``, ``dispersion_eV``, ``channels``), the scan
        (``scan_start_nm``, ``scan_stop_nm``, ``positions``, from a ``depth`` axis) and the
        metadata ``beam_energy_eV``, ``convergence_mrad`` and ``collection_mrad`` (where
        known) replace the table's; keyword settings override both.
        """
        energy = _measured_energy(measurement)
        kw: dict[str, Any] = {"offset_eV": float(energy[0]), "dispersion_eV": float(_step(energy)),
                              "channels": int(energy.size)}
        for key in ("beam_energy_eV", "convergence_mrad", "collection_mrad"):
            if measurement.metadata.get(key) is not None:
                kw[key] = float(measurement.metadata[key])
        try:
            depth = np.asarray(measurement.axis("depth"), dtype=float)
        except KeyError:
            depth = np.empty(0)
        if depth.size >= 2:
            kw.update(scan_start_nm=float(depth[0]), scan_stop_nm=float(depth[-1]), positions=int(depth.size))
        return cls.from_stack(stack, **{**kw, **settings})

    def _phase_key(self, phase: str) -> str:
        """The stack's name for ``phase`` (built-in aliases resolved); error if absent."""
        if phase in self.stack.phases:
            return phase
        from interphase_sim.sample import phases as _phases

        try:
            canon = _phases.resolve(phase)
        except InterphaseInputError:
            canon = phase
        if canon not in self.stack.phases:
            raise InterphaseInputError("templates", f"phase {phase!r} is not in the stack ({', '.join(self.stack.phases)})")
        return canon

    def set_template_file(self, phase: str, edge: str, path: Any) -> None:
        """Replace the template of ``edge`` in ``phase`` by a measured reference spectrum file."""
        phase = self._phase_key(phase)
        rec = XS.edge(edge)
        tpl = ELNESTemplate.from_file(path, rec.name, phase, rec.onset_eV, atomic=lambda e: self._atomic(rec.name, e))
        self._custom_templates[(phase, rec.name)] = tpl
        self._template_files.setdefault(phase, {})[rec.name] = os.fspath(path)
        self._basis_cache.clear()

    # -- parameters and axes ---------------------------------------------------------------
    def parameters(self) -> Parameters:
        """The stack's Parameters (but the 6Li abundances: EELS does not see isotopes) and this
        model's (``eels.thickness_nm``, ...)."""
        items = list(self.stack.parameters(isotopes=False).items())
        items += prefixed("eels", [(name, getattr(self, name)) for name in _NUMBERS])
        items += prefixed("eels", [(f"xsec_scale.{xsec_key(e)}", p) for e, p in self.xsec_scale.items()])
        return Parameters(items)

    def settings(self) -> dict[str, Any]:
        """Current settings as plain JSON-able values: ``EELSModel.from_stack(stack, **settings)``
        rebuilds this model (templates given as objects rather than files excepted)."""
        out = {name: getattr(self, name).value for name in _NUMBERS}
        out.update(edges=list(self.edges), channels=self.channels, elnes=self.elnes, plural=self.plural,
                   beam_broadening=self.beam_broadening, **self.scan,
                   xsec_scale={e: p.value for e, p in self.xsec_scale.items()})
        if self._template_files:
            out["templates"] = {ph: dict(per) for ph, per in self._template_files.items()}
        return out

    def energy_axis(self) -> np.ndarray:
        """Channel energies (eV)."""
        return self.offset_eV.value + self.dispersion_eV.value * np.arange(self.channels)

    def electrons(self) -> float:
        """Incident electrons per spectrum: dose (e/Å2) x pixel area (Å2)."""
        return self.dose_e_per_A2.value * (10.0 * self.pixel_nm.value) ** 2

    def probe_depths(self, positions_nm: Any) -> np.ndarray:
        """Stack depths (nm) of the probe at nominal scan positions (nm, first = pivot).

        ``z = p + scan_origin_nm + (scan_step_scale - 1) (p - p[0])``.
        """
        p = np.atleast_1d(np.asarray(positions_nm, dtype=float))
        if p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p)):
            raise InterphaseInputError("positions_nm", "a 1-D array of finite probe positions (nm)")
        return p + self.scan_origin_nm.value + (self.scan_step_scale.value - 1.0) * (p - p[0])

    def default_positions(self, n: int | None = None) -> np.ndarray:
        """Nominal probe positions (nm): the scan in the ``[eels]`` table, else across the
        interfaces (from half their span, at least 10 nm, above the first to as far below
        the last), so a thin interphase under a thick film gets the scan's positions."""
        scan = self.scan
        depth = self.stack.finite_depth_nm()
        inner = [b for b in self.stack.interfaces_nm()[:-1] if math.isfinite(b)]
        if inner:
            pad = max(10.0, 0.5 * (inner[-1] - inner[0]))
            lo, hi = max(inner[0] - pad, 0.0), inner[-1] + pad
        else:  # one layer: across it
            lo, hi = 0.0, depth + max(0.1 * depth, 10.0)
        start = float(scan.get("scan_start_nm", lo))
        stop = float(scan.get("scan_stop_nm", hi))
        n = int(scan.get("positions", DEFAULT_SCAN_POSITIONS)) if n is None else n
        if not stop > start or n < 2:
            raise InterphaseInputError("eels.scan", "need scan_stop_nm > scan_start_nm and >= 2 positions")
        return np.linspace(start, stop, n)

    # -- cross-sections ---------------------------------------------------------------------
    def _atomic(self, edge: str, energy_eV: np.ndarray) -> np.ndarray:
        return XS.differential_cross_section(
            edge, np.asarray(energy_eV, dtype=float), self.beam_energy_eV.value,
            self.collection_mrad.value, self.convergence_mrad.value,
        )

    def _basis(self, energy: np.ndarray) -> dict[str, Any]:
        """Per (edge, phase) cross-section per channel (barn) on a uniform ``energy`` axis
        (eV), cached per optics and axis; the edges' scales are applied by the caller."""
        key = (self.beam_energy_eV.value, self.collection_mrad.value, self.convergence_mrad.value,
               float(energy[0]), float(energy[-1]), energy.size, self.elnes,
               tuple(self.edges), tuple(self.stack.phases))
        hit = self._basis_cache.get(key)
        if hit is not None:
            return hit
        # the built-in templates are normalised against the atomic shape at these optics
        self.templates = default_templates(atomic=lambda e, x: self._atomic(e, XS.edge(e).onset_eV + x))
        self.templates.update(self._custom_templates)
        step = _step(energy)
        rows, species = [], []
        for name in self.edges:
            rec = XS.edge(name)
            atomic = self._atomic(name, energy)
            for phase_name, phase in self.stack.phases.items():
                if rec.element not in phase.elements:
                    continue
                shape = atomic
                tpl = self.templates.get((phase_name, name)) if self.elnes else None
                if tpl is not None:
                    shape = tpl.apply(energy, rec.onset_eV, atomic)
                rows.append(shape * step)
                species.append((name, rec.element, phase_name))
        out = {"matrix": np.array(rows), "species": species}
        if len(self._basis_cache) > 16:
            self._basis_cache.clear()
        self._basis_cache[key] = out
        return out

    # -- composition along the scan -------------------------------------------------------------
    def _local(self, positions: np.ndarray) -> dict[str, Any]:
        """Blurred phase amounts and element densities at stack depths ``positions`` (nm).

        A Gaussian blur of the depth profile turns each interface of width sigma_k into
        one of width sqrt(sigma_k^2 + sigma_b^2) (the convolution of two Gaussians), so
        the blur is applied exactly, and smoothly in every Parameter, by widening the
        interfaces. sigma_b combines the probe FWHM with the Goldstein broadening of the
        mean composition along the scan. The top surface (sharp in the stack) is blurred
        too, as an interface below a vacuum layer placed above every probe depth: a probe
        half in vacuum sees half the sample, so the surface places the scan.
        """
        stack = self.stack
        arrays = stack.layer_arrays()
        probe = self.probe_fwhm_nm.value
        blur = probe
        if self.beam_broadening:
            mean = stack.profile(positions, layer_arrays=arrays)
            dens = {e: float(np.mean(mean.densities[k])) for k, e in enumerate(mean.elements)}
            b90 = LL.beam_broadening_nm(dens, self.beam_energy_eV.value, self.thickness_nm.value)
            blur = math.hypot(probe, b90 * 2.3548 / 3.2897)  # b contains 90 %: 2 x 1.645 sigma
        sig_b = blur / 2.3548
        vacuum = max(0.0, -float(np.min(positions))) + 10.0 * sig_b + 10.0  # nm above the surface
        widened = dict(arrays)
        widened["thickness_nm"] = np.concatenate([[vacuum], arrays["thickness_nm"]])
        widened["sigma_nm"] = np.concatenate([[0.0], np.hypot(arrays["sigma_nm"], sig_b)])
        for key in ("dens_top", "dens_bot", "frac_top", "frac_bot"):
            widened[key] = np.vstack([np.zeros((1, arrays[key].shape[1])), arrays[key]])
        prof = stack.profile(positions + vacuum, layer_arrays=widened)
        nominal = np.array([stack.phases[p].total_number_density() for p in prof.phases])
        filled = (nominal[:, None] * prof.fractions).sum(axis=0)  # not BLAS (see eels._kernels)
        ds = np.where(filled > 0, prof.total_density() / np.where(filled > 0, filled, 1.0), 0.0)
        return {"phases": list(prof.phases), "amount": (prof.fractions * ds).T, "elements": list(prof.elements),
                "densities": prof.densities.T, "blur_fwhm_nm": blur}

    # -- the forward model ------------------------------------------------------------------
    def single_scattering(self, positions_nm: Any, energy_eV: Any = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Single-scattering core-loss counts (positions x channels) and the local composition.

        Parameters
        ----------
        positions_nm : array
            Nominal probe positions (nm; :meth:`probe_depths` places them on the stack).
        energy_eV : array, optional
            A uniform energy axis (eV); default :meth:`energy_axis`.
        """
        energy = self.energy_axis() if energy_eV is None else _uniform_energy(energy_eV, "energy_eV")
        return self._single_scattering(self.probe_depths(positions_nm), energy)

    def _single_scattering(self, depths: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """:meth:`single_scattering` at stack depths (nm) on a checked energy axis (eV)."""
        basis = self._basis(energy)
        local = self._local(depths)
        amounts, weights = self._amounts(basis, local)
        return mix(amounts, mix(weights, basis["matrix"])), local

    def _amounts(self, basis: dict[str, Any], local: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Counts per channel ``amounts @ weights @ basis["matrix"]``: (positions x phases)
        amounts of the phases with an edge, and (phases x species) weights.

        A species (an edge in a phase) scales with its phase's amount, so the spectra are
        sums over the phases present (one or two at a position), not over every species:
        weight = electrons x number density x thickness (atoms/nm2) x the edge's scale
        x 1e-10 (atoms/nm2 x barn = 1e14 cm^-2 x 1e-24 cm2).
        """
        pidx = {p: i for i, p in enumerate(local["phases"])}
        scale = self.electrons() * 1e-10 * self.thickness_nm.value
        weights = np.zeros((len(pidx), len(basis["species"])))
        for j, (edge, element, phase) in enumerate(basis["species"]):
            n_el = self.stack.phases[phase].number_density()[element]
            weights[pidx[phase], j] = n_el * scale * self.xsec_scale[edge].value
        keep = np.flatnonzero(np.any(weights != 0.0, axis=1))
        return np.ascontiguousarray(local["amount"][:, keep]), np.ascontiguousarray(weights[keep])

    def _kernels(self, local: dict[str, Any], n_fft: int, step_eV: float, transform: bool = False) -> np.ndarray:
        """Low-loss kernels (positions x n_fft) on channels of ``step_eV``, or their rffts
        (``transform``); zero-loss only without plural scattering. Transforms are cached
        per exact (t/lambda, plasmon energy, axis, widths): positions inside one homogeneous
        layer share one, and the model stays smooth in its parameters (a fit differentiates
        it); the missing ones are computed together (:func:`~.lowloss.lowloss_kernels_ft`)."""
        width, res = self.plasmon_width_eV.value, self.energy_resolution_eV.value
        keys = [k + (n_fft, step_eV, res, width) for k in self._kernel_keys(local)]
        missing = list(dict.fromkeys(k for k in keys if k not in self._kernel_cache))
        if missing:
            if len(self._kernel_cache) + len(missing) > 2048:  # ~70 MB of transforms at 4096 channels
                self._kernel_cache.clear()
                missing = list(dict.fromkeys(keys))
            tau = np.array([k[0] for k in missing])
            ep = np.array([k[1] for k in missing])
            for k, ft in zip(missing, LL.lowloss_kernels_ft(n_fft, step_eV, tau, ep, width, res, LL.PLASMON_GRID_EV)):
                self._kernel_cache[k] = ft
        ft = np.array([self._kernel_cache[k] for k in keys])
        if transform:
            return ft
        kern = np.maximum(LL.sfft.irfft(ft, n_fft, axis=1), 0.0)
        return kern / kern.sum(axis=1, keepdims=True)

    def _kernel_keys(self, local: dict[str, Any]) -> list[tuple[float, float]]:
        """(t / lambda, plasmon energy eV) per position from its element densities; (0, 1)
        where there is no plural scattering (vacuum, or ``plural`` off)."""
        n = local["densities"].shape[0]
        if not self.plural:
            return [(0.0, 1.0)] * n
        lam, ep = LL.plural_parameters(local["densities"], local["elements"], self.beam_energy_eV.value,
                                       self.collection_mrad.value)
        # rounded far below what a fit resolves (a Jacobian step moves t/lambda by ~1e-8),
        # so that positions deep in one layer, whose compositions differ only in the
        # interfaces' vanishing tails, share one kernel
        tau = np.round(self.thickness_nm.value / lam, 12)
        ep = np.round(ep, 10)
        return [(t, e) if t > 0 else (0.0, 1.0) for t, e in zip(tau.tolist(), ep.tolist())]

    def deconvolve(self, measurement: Measurement) -> Measurement:
        """Single-scattering estimate of a measured line scan (Fourier-ratio deconvolution).

        Uses this model's low-loss spectra at the scan's probe positions, on the
        measurement's energy axis, reconvolved with the zero-loss width. The ratio would
        need the spectrum below the recorded range: it is taken to be zero there, and the
        recorded background (a power law fitted below the first edge on the axis, from the
        axis start to 2 eV before the onset, at least 5 channels) is subtracted first and
        added back after, so that nothing but edges is left to deconvolve (the Fourier
        ratio of background-subtracted core-loss intensity, as exspy's
        ``fourier_ratio_deconvolution`` asks). Padding below the axis start with a roll-off
        of the first channel's counts instead, as before, deconvolved counts that were never
        there and bent the background under the first tens of eV: Li K (55 eV, on a 40 eV
        axis start) came out 3-4 % high in LiPON and Li3PO4, -1.6 % in Li.
        Without plural scattering only the zero-loss width is removed and restored.
        """
        if measurement.values.ndim != 2:
            raise InterphaseInputError("measurement", "a line scan (position x energy) is required")
        energy = _measured_energy(measurement)
        step = _step(energy)
        counts = np.asarray(measurement.values, dtype=float)
        n_fft = 1 << int(math.ceil(math.log2(2 * counts.shape[1])))
        kern = self._kernels(self._local(self.probe_depths(measurement.axis("depth"))), n_fft, step)
        background = self._pre_edge_background(energy, counts)
        ssd, gain = LL.fourier_ratio(counts - background, kern, step, self.energy_resolution_eV.value,
                                     return_gain=True)
        return Measurement(ssd + background, list(measurement.axes), None,
                           {**measurement.metadata, "analysis": "Fourier-ratio deconvolution",
                            "noise_gain": gain.tolist()}, measurement.quantity)

    def _pre_edge_background(self, energy: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Power law fitted below the first edge on the axis (zeros where there is no room)."""
        onsets = [XS.edge(e).onset_eV for e in self.edges if XS.edge(e).onset_eV > energy[0]]
        if not onsets:
            return np.zeros_like(counts)
        window = (float(energy[0]), min(onsets) - 2.0)
        if np.count_nonzero((energy >= window[0]) & (energy <= window[1])) < 5:
            return np.zeros_like(counts)
        ln_a, r, _ = power_law_fit(energy, counts, window)
        return np.exp(ln_a[:, None] - r[:, None] * np.log(energy)[None, :])

    def lowloss_fraction(self, positions_nm: Any, window_eV: float) -> np.ndarray:
        """Fraction of the low-loss intensity within ``[0, window_eV]`` at each position.

        The ratio method of quantification divides by it (Egerton 2011, eq. 4.65); it is 1
        without plural scattering. ``positions_nm`` are nominal probe positions.
        """
        positions = self.probe_depths(positions_nm)
        if not self.plural:
            return np.ones(positions.size)
        n_fft = 1 << int(math.ceil(math.log2(2 * self.channels)))
        kern = self._kernels(self._local(positions), n_fft, self.dispersion_eV.value)
        n_in = int(window_eV / self.dispersion_eV.value) + 1
        return kern[:, :n_in].sum(axis=1) + kern[:, n_fft // 2:].sum(axis=1)  # + the ZLP's negative half

    def expected_counts(self, positions_nm: Any, energy_eV: Any = None) -> np.ndarray:
        """Expected counts (positions x channels): plural scattering and background included.

        The plural convolution is :func:`~interphase_sim.eels.plural.plural_counts`: the
        single-scattering transforms from cached per-species transforms, kernels shared
        by the positions of a homogeneous layer, no BLAS.

        Parameters
        ----------
        positions_nm : array
            Nominal probe positions (nm).
        energy_eV : array, optional
            A uniform energy axis (eV); default :meth:`energy_axis`.
        """
        energy = self.energy_axis() if energy_eV is None else _uniform_energy(energy_eV, "energy_eV")
        basis = self._basis(energy)
        local = self._local(self.probe_depths(positions_nm))
        amounts, weights = self._amounts(basis, local)
        a = self.background_counts.value
        background = np.zeros(energy.size)
        if a > 0:  # the recorded background (module notes)
            background = a * (energy / energy[0]) ** (-self.background_exponent.value)
        if not self.plural:
            return mix(amounts, mix(weights, basis["matrix"]), background)
        n_fft = 1 << int(math.ceil(math.log2(2 * energy.size)))
        return plural_counts(amounts, weights, self._kernel_keys(local), basis, n_fft, _step(energy),
                             self.plasmon_width_eV.value, self.energy_resolution_eV.value, background)

    def line_scan(self, positions_nm: Any = None, noise: bool = False, seed: Any = None) -> Measurement:
        """A STEM-EELS line scan: counts on (nominal position nm, energy eV); Poisson noise on request."""
        positions = self.default_positions() if positions_nm is None else np.asarray(positions_nm, dtype=float)
        counts = self.expected_counts(positions)
        if noise:
            counts = as_rng(seed).poisson(counts).astype(float)
        return Measurement(
            values=counts,
            axes=[Axis("depth", "nm", positions), Axis("energy", "eV", self.energy_axis())],
            uncertainties=np.sqrt(np.maximum(counts, 1.0)) if noise else None,
            metadata={**provenance("eels", self.settings(), self.stack.name or "", noise, seed),
                      "beam_energy_eV": self.beam_energy_eV.value,
                      "collection_mrad": self.collection_mrad.value,
                      "convergence_mrad": self.convergence_mrad.value,
                      "electrons": self.electrons()},
        )

    def spectrum(self, depth_nm: float, noise: bool = False, seed: Any = None) -> Measurement:
        """One spectrum with the probe at nominal position ``depth_nm`` (the stack depth
        ``depth_nm + scan_origin_nm``)."""
        scan = self.line_scan([float(depth_nm)], noise=noise, seed=seed)
        return Measurement(scan.values[0], [scan.axes[1]],
                           None if scan.uncertainties is None else scan.uncertainties[0],
                           {**scan.metadata, "depth_nm": float(depth_nm)})

    def simulate(self, noise: bool = False, seed: Any = None) -> Measurement:
        """The line scan over :meth:`default_positions`."""
        return self.line_scan(noise=noise, seed=seed)

    def expected(self, measurement: Measurement) -> np.ndarray:
        """Expected counts on a measurement's own probe positions and energy axis (the
        fitting protocol): a measured scan need not match :meth:`energy_axis` or the default
        scan. A line scan has axes ``depth`` (nm) and ``energy`` (eV); a single spectrum
        (``energy`` only) gives its nominal probe position as metadata ``depth_nm``."""
        energy = _measured_energy(measurement)
        if measurement.values.ndim == 1 and measurement.metadata.get("depth_nm") is not None:
            return self.expected_counts([float(measurement.metadata["depth_nm"])], energy)[0]
        if measurement.values.ndim != 2:
            raise InterphaseInputError("measurement", "a line scan (depth x energy), or a spectrum with "
                                       "metadata depth_nm, is required")
        try:
            depth = measurement.axis("depth")
        except KeyError:
            raise InterphaseInputError("measurement", "a line scan needs a 'depth' axis (nm)") from None
        return self.expected_counts(depth, energy)

    def elemental_profiles(self, positions_nm: Any) -> dict[str, np.ndarray]:
        """Areal density (atoms/nm2 along the beam) of each element at each nominal probe
        position, blurred like the spectra: what quantification should return."""
        local = self._local(self.probe_depths(positions_nm))
        t = self.thickness_nm.value
        return {e: local["densities"][:, k] * t for k, e in enumerate(local["elements"])}

    def to_hyperspy(self, measurement: Measurement):
        """An exspy ``EELSSpectrum`` with axes and microscope metadata (needs exspy)."""
        return to_hyperspy(measurement)


def to_hyperspy(measurement: Measurement):
    """Convert an EELS Measurement (energy last) to an exspy ``EELSSpectrum``.

    Beam energy (keV), convergence and collection angles (mrad) go into HyperSpy's
    ``Acquisition_instrument.TEM`` metadata (those unknown are left out); the whole
    Measurement is kept for :meth:`Measurement.from_hyperspy
    <interphase_sim.core.measurement.Measurement.from_hyperspy>` (see
    :func:`~interphase_sim.core.measurement.store_in_hyperspy`).
    """
    from interphase_sim.core.measurement import set_hyperspy_axes, store_in_hyperspy

    try:
        import exspy
    except ImportError:
        raise ImportError("to_hyperspy needs exspy: pip install 'interphase_sim[eels]'") from None
    sig = exspy.signals.EELSSpectrum(np.array(measurement.values, dtype=float))
    set_hyperspy_axes(sig, measurement.axes)  # axis i of the Measurement: array axis i
    md = measurement.metadata
    beam_eV = md.get("beam_energy_eV")
    sig.set_microscope_parameters(
        beam_energy=None if beam_eV is None else beam_eV / 1000.0,
        convergence_angle=md.get("convergence_mrad"),
        collection_angle=md.get("collection_mrad"),
    )
    sig.metadata.General.title = f"interphase_sim EELS: {md.get('sample', '')}"
    return store_in_hyperspy(sig, measurement)


def _uniform_energy(values: Any, field: str) -> np.ndarray:
    """A uniform, increasing energy axis (eV) of at least 2 positive channels."""
    energy = V.increasing_axis(values, field, "eV")
    if energy[0] <= 0:
        raise InterphaseInputError(field, f"energy losses must be > 0 eV, got {energy[0]:g} eV first")
    step = _step(energy)
    if not np.allclose(np.diff(energy), step, rtol=0.0, atol=1e-4 * step):
        raise InterphaseInputError(
            field, f"the energy axis must be uniform (channels of equal width); steps range over "
            f"{np.diff(energy).min():g}-{np.diff(energy).max():g} eV")
    return energy


def _step(energy: np.ndarray) -> float:
    return float((energy[-1] - energy[0]) / (energy.size - 1))


def _measured_energy(measurement: Measurement) -> np.ndarray:
    try:
        energy = measurement.axis("energy")
    except KeyError:
        raise InterphaseInputError("measurement.energy", "the measurement has no 'energy' axis (eV)") from None
    return _uniform_energy(energy, "measurement.energy")
