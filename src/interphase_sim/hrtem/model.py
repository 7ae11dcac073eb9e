"""HRTEM of built interphases on abTEM: microscope, cached exit waves, images.

Pipeline (abTEM's): Potential (atoms, Å) -> PlaneWave -> multislice exit wave (computed
once and cached) -> contrast transfer function -> intensity -> detector MTF -> shot
noise at the dose. A defocus (or any aberration) series reuses the cached exit wave.

Conventions are abTEM's: lengths in Å, energies in eV, angles in mrad, and
``defocus = -C10`` (a positive defocus is underfocus). The partial spatial coherence
(``angular_spread_mrad``) and temporal coherence (``focal_spread_A``, a 1/e width) are
quasi-coherent envelopes. A probability-weighted ensemble (e.g. frozen phonons, or a
Gaussian distribution of defocus) is reduced with ``reduce_ensemble``, never a plain mean.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.hrtem._spectra import (
    wavelength_A,
)
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.core.model import prefixed, provenance
from interphase_sim.core.settings import ANALYSIS_KEYS, LAMELLA_KEYS, MICROSCOPE_KEYS
from interphase_sim.core.settings import HRTEM as HRTEM_SETTINGS
from interphase_sim.core.validate import as_rng

__all__ = ["Microscope", "HRTEMModel", "build_lamella", "resolve_hrtem_settings",
           "microscope_from_settings", "wavelength_A", "scherzer_defocus_A",
           "to_abtem_images", "to_hyperspy_signal"]


def scherzer_defocus_A(energy_eV: float, Cs_mm: float) -> float:
    """Scherzer defocus ``sqrt(4/3 Cs lambda)`` in Å (underfocus, abTEM sign; Cs in mm)."""
    return math.sqrt(4.0 / 3.0 * Cs_mm * 1e7 * wavelength_A(energy_eV))


def _read(name: str, value: Any) -> Any:
    """``value`` checked as the ``[hrtem]`` key ``name`` (errors name ``hrtem.<name>``)."""
    return HRTEM_SETTINGS[name].read(value, f"hrtem.{name}")


@dataclass(frozen=True)
class Microscope:
    """Objective-lens and detector settings (abTEM units: eV, Å, mrad).

    Attributes
    ----------
    energy_eV : float
        Beam energy.
    Cs_mm, C5_mm : float
        Spherical aberrations (mm).
    defocus_A : float
        Defocus (Å); positive is underfocus (abTEM: ``defocus = -C10``).
    astigmatism_A, astigmatism_angle_deg : float
        Two-fold astigmatism C12 (Å) and its azimuth.
    focal_spread_A : float
        Focal spread (1/e width, Å): temporal-coherence envelope.
    angular_spread_mrad : float
        Beam divergence (mrad): spatial-coherence envelope.
    aperture_mrad : float
        Objective aperture semi-angle (mrad); ``inf`` for none.
    mtf : (float, float, float)
        Detector MTF ``(1 - c) / (1 + (q / (2 a))^b) + c`` with q in cycles/pixel / Nyquist
        fraction: (a, b, c); (inf, 1, 0) is a perfect detector.
    dose_e_per_A2 : float
        Electrons per Å2 for the shot noise (cryo: tens to hundreds).
    """

    energy_eV: float = 300e3
    Cs_mm: float = 1.2
    C5_mm: float = 0.0
    defocus_A: float = 0.0
    astigmatism_A: float = 0.0
    astigmatism_angle_deg: float = 0.0
    focal_spread_A: float = 30.0
    angular_spread_mrad: float = 0.1
    aperture_mrad: float = 20.0
    mtf: tuple[float, float, float] = field(default=(0.5, 2.5, 0.1))
    dose_e_per_A2: float = 200.0

    def __post_init__(self) -> None:
        # checked through the [hrtem] vocabulary (core.settings.HRTEM): a string from a
        # settings file or an out-of-range value fails here, naming its field
        for name in MICROSCOPE_KEYS:
            object.__setattr__(self, name, _read(name, getattr(self, name)))

    def settings(self) -> dict[str, Any]:
        """The microscope's fields as plain JSON-able values (``mtf`` as a list)."""
        out = {name: getattr(self, name) for name in MICROSCOPE_KEYS}
        out["mtf"] = list(self.mtf)
        return out

    @classmethod
    def scherzer(cls, energy_eV: float = 300e3, Cs_mm: float = 1.2, **kw: Any) -> Microscope:
        """A microscope at Scherzer defocus ``sqrt(4/3 Cs lambda)`` (Scherzer 1949; the
        often quoted "extended" value is ``1.2 sqrt(Cs lambda)``) with Kirkland's aperture
        ``(6 lambda / Cs)^(1/4)``, near the first zero of the CTF (9.96 mrad at 300 kV and
        1.2 mm, where that zero is at 9.7 mrad). Other keywords are Microscope fields."""
        cs = _read("Cs_mm", Cs_mm)
        lam = wavelength_A(_read("energy_eV", energy_eV))
        aperture = (6.0 * lam / (cs * 1e7)) ** 0.25 * 1e3 if cs > 0 else 20.0
        return cls(energy_eV=energy_eV, Cs_mm=cs, defocus_A=scherzer_defocus_A(energy_eV, cs),
                   aperture_mrad=kw.pop("aperture_mrad", aperture), **kw)

    def with_defocus(self, defocus_A: float) -> Microscope:
        """The same microscope at another defocus (Å)."""
        return replace(self, defocus_A=float(defocus_A))

    def ctf(self, defocus_A: Any = None):
        """The abTEM ``CTF``; ``defocus_A`` may be an abTEM distribution (an ensemble)."""
        import abtem

        d = self.defocus_A if defocus_A is None else defocus_A
        coeffs = {"C10": -d, "C30": self.Cs_mm * 1e7,  # abTEM distributions negate too
                  "C50": self.C5_mm * 1e7, "C12": self.astigmatism_A,
                  "phi12": math.radians(self.astigmatism_angle_deg)}
        return abtem.CTF(semiangle_cutoff=self.aperture_mrad, focal_spread=self.focal_spread_A,
                         angular_spread=self.angular_spread_mrad, aberration_coefficients=coeffs,
                         energy=self.energy_eV)

    def mtf_curve(self, q_nyquist: np.ndarray) -> np.ndarray:
        """Detector MTF at spatial frequency ``q`` given as a fraction of Nyquist."""
        a, b, c = self.mtf
        if math.isinf(a):
            return np.ones_like(q_nyquist)
        return (1.0 - c) / (1.0 + (q_nyquist / (2.0 * a)) ** b) + c


class HRTEMModel:
    """HRTEM images of an atomistic model (Å, beam along z, orthogonal cell).

    Parameters
    ----------
    atoms : ase.Atoms or Stack
        E.g. ``build.cross_section(build.atoms_from_stack(...))``; a Stack is built
        into the default lamella (:func:`build_lamella` with the sample's ``[hrtem]``
        table, else 10 nm wide and 5 nm thick); :meth:`from_stack` sets it explicitly.
    microscope : Microscope
        Default: :meth:`Microscope.scherzer` at 300 kV.
    sampling_A : float
        Real-space sampling (Å); the image's pixel size.
    slice_thickness_A : float
        Multislice slice thickness (Å).
    frozen_phonons : int
        Frozen-phonon configurations (0: none); reduced with abTEM's ``reduce_ensemble``.
    seed : int, optional
        For frozen phonons.
    device : {"cpu", "gpu", "auto"}
        ``auto`` uses the GPU when cupy and a GPU are present; ``gpu`` fails clearly otherwise.
    max_memory_gb : float
        Refuse grids whose wave functions and potential slices would exceed this (GB).
    exit_planes : int, optional
        Keep the exit wave every this many slices as well (a thickness series from one
        multislice, :meth:`thickness_series`); ``None`` keeps only the last.
    progress_bar : bool
        Show abTEM's progress bar while the multislice runs.
    """

    name = "hrtem"

    def __init__(self, atoms: Any, microscope: Microscope | None = None,
                 sampling_A: float = HRTEM_SETTINGS["sampling_A"].default,
                 slice_thickness_A: float = HRTEM_SETTINGS["slice_thickness_A"].default,
                 frozen_phonons: int = HRTEM_SETTINGS["frozen_phonons"].default, seed: int | None = None,
                 device: str = "cpu", max_memory_gb: float = HRTEM_SETTINGS["max_memory_gb"].default,
                 exit_planes: int | None = None, progress_bar: bool = False) -> None:
        from interphase_sim.core.params import Parameter
        from interphase_sim.sample.stack import Stack

        grid = HRTEM_SETTINGS.read(dict(sampling_A=sampling_A, slice_thickness_A=slice_thickness_A,
                                        frozen_phonons=frozen_phonons, max_memory_gb=max_memory_gb))
        self.sampling_A = grid["sampling_A"]
        self.stack, self.depth_offset_nm, self.lamella, self.analysis = None, 0.0, {}, {}
        self._structure_key: tuple | None = None
        self._build_options: dict[str, Any] = {}
        if isinstance(atoms, Stack):  # the lamella of the sample's [hrtem] table (its defaults)
            s = resolve_hrtem_settings(atoms, {"seed": seed})
            self.stack, seed = atoms, s["seed"]
            self.lamella = {k: s.get(k) for k in LAMELLA_KEYS}
            self.analysis = {k: s[k] for k in ANALYSIS_KEYS}
            atoms, self.depth_offset_nm = self._build(atoms)
            self._structure_key = self._stack_values()
        self.microscope = microscope or Microscope.scherzer()
        # the fit's nuisance parameters: defocus (starts at the microscope's) and an intensity scale
        self.defocus_A = Parameter(self.microscope.defocus_A, name="hrtem.defocus_A", units="Å")
        self.scale = Parameter(1.0, bounds=(0.0, None), name="hrtem.scale", units="")
        self.slice_thickness_A = grid["slice_thickness_A"]
        self.max_memory_gb = grid["max_memory_gb"]
        self.frozen_phonons = grid["frozen_phonons"]
        self.seed = seed
        self.device = self._device(device)
        self._set_atoms(atoms, exit_planes)
        self._check_aperture()
        self.progress_bar = bool(progress_bar)
        self._exit_wave = None
        self._thicknesses = None
        self.multislice_runs = 0

    def _set_atoms(self, atoms: Any, exit_planes: int | None) -> None:
        """Take ``atoms`` (orthogonal cell, Å): grid points, pixel size, slices; refuse grids
        that would exceed ``max_memory_gb`` before anything is allocated."""
        cell = np.asarray(atoms.cell.array, dtype=float)
        if np.abs(cell - np.diag(np.diag(cell))).max() > 1e-6:
            raise InterphaseInputError(
                "atoms.cell", "abTEM needs an orthogonal cell: build with interphase_sim.build.atoms_from_stack "
                "and orient with build.cross_section (or use ase.build.cut / orthogonalize_cell)")
        self.atoms = atoms
        self.gpts = tuple(int(math.ceil(e / self.sampling_A - 1e-9)) for e in np.diag(cell)[:2])
        # abTEM's pixel is the cell edge over the grid points, not the requested sampling
        self.pixel_A = tuple(float(e / g) for e, g in zip(np.diag(cell)[:2], self.gpts))
        if abs(self.pixel_A[0] - self.pixel_A[1]) > 1e-3 * self.pixel_A[0]:
            warnings.warn(
                f"pixels are {self.pixel_A[0]:.5f} x {self.pixel_A[1]:.5f} Å (cell edges not multiples of the "
                f"sampling {self.sampling_A} Å); the analysis functions need square pixels: use build_lamella"
                f"(..., sampling_A={self.sampling_A}) or cell edges that are multiples of it", UserWarning, stacklevel=3)
        n_slices = int(math.ceil(cell[2, 2] / self.slice_thickness_A))
        if exit_planes is not None and (not isinstance(exit_planes, (int, np.integer))
                                        or not 1 <= exit_planes <= n_slices):
            raise InterphaseInputError("exit_planes", f"an integer from 1 to the {n_slices} slices, got {exit_planes!r}")
        self.exit_planes = None if exit_planes is None else int(exit_planes)
        n_planes = 1 if exit_planes is None else n_slices // int(exit_planes) + 2
        # complex64 waves (a few buffers, one per kept exit plane) + one float32 potential slice
        need = (4 * 8 + 8 * n_planes + 4) * self.gpts[0] * self.gpts[1] * max(1, self.frozen_phonons) / 1e9
        if need > self.max_memory_gb:
            raise InterphaseInputError(
                "hrtem.sampling_A", f"a {self.gpts[0]} x {self.gpts[1]} grid needs about {need:.1f} GB, more than "
                f"max_memory_gb = {self.max_memory_gb}; use a coarser sampling or a smaller field of view")
        self.n_slices = n_slices

    def _check_aperture(self) -> None:
        """Warn when the aperture passes frequencies the sampling cannot represent."""
        lam = wavelength_A(self.microscope.energy_eV)
        nyquist_mrad = lam / (2 * self.sampling_A) * 1e3 * 2 / 3  # antialiased
        if self.microscope.aperture_mrad > nyquist_mrad:
            warnings.warn(
                f"sampling {self.sampling_A} Å resolves {nyquist_mrad:.1f} mrad (2/3 of Nyquist) but the aperture "
                f"passes {self.microscope.aperture_mrad:.1f} mrad: use sampling <= "
                f"{lam / (3 * self.microscope.aperture_mrad * 1e-3):.3f} Å", UserWarning, stacklevel=3)

    @classmethod
    def from_stack(cls, stack: Any, microscope: Microscope | None = None, *, device: str = "cpu",
                   progress_bar: bool = False, exit_planes: int | None = None, build_options: dict | None = None,
                   **settings: Any) -> HRTEMModel:
        """A cross-section lamella of a Stack, built and oriented for imaging.

        Parameters
        ----------
        stack : Stack
            The sample; its ``[hrtem]`` table is read through
            :data:`interphase_sim.core.settings.HRTEM` (``depth_range_nm`` defaults to the
            ``[build]`` table's, else the whole finite stack).
        microscope : Microscope, optional
            Replaces the table's microscope keys; microscope keywords still override it.
        device, progress_bar, exit_planes
            As for :class:`HRTEMModel` (how to compute, not what: not settings).
        build_options : dict, optional
            Further keywords of :func:`interphase_sim.build.atoms_from_stack`.
        **settings
            Any ``[hrtem]`` key, overriding the table: microscope (``energy_eV``, ``Cs_mm``,
            ``defocus_A`` [default Scherzer], ``aperture_mrad`` [default Scherzer's],
            ``dose_e_per_A2``, ``mtf``, ...), lamella (``lateral_nm``, ``thickness_nm``,
            ``depth_range_nm``, ``vacuum_nm``, and ``seed``, the structure's seed), grid
            (``sampling_A``, ``slice_thickness_A``, ``frozen_phonons``, ``max_memory_gb``) and
            phase-map analysis (``window_nm``, ``step_nm``, ``tolerance``, ...; kept in
            :attr:`analysis` for :func:`interphase_sim.hrtem.workflow.run_hrtem`).

        :meth:`settings` returns every key, so ``from_stack(stack, **model.settings())``
        rebuilds the same atoms and microscope. The model keeps ``stack`` and
        ``depth_offset_nm`` (the depth of image row 0).
        """
        s = resolve_hrtem_settings(stack, settings)
        if microscope is not None:
            mic = replace(microscope, **{k: s[k] for k in MICROSCOPE_KEYS if settings.get(k) is not None})
        else:
            mic = microscope_from_settings(s)
        model = cls.__new__(cls)
        model.stack = stack
        model.lamella = {k: s.get(k) for k in LAMELLA_KEYS}
        atoms, offset = model._build(stack, build_options, s["sampling_A"])
        model.__init__(atoms, mic, sampling_A=s["sampling_A"], slice_thickness_A=s["slice_thickness_A"],
                       frozen_phonons=s["frozen_phonons"], seed=s["seed"], device=device,
                       max_memory_gb=s["max_memory_gb"], exit_planes=exit_planes, progress_bar=progress_bar)
        model.stack, model.depth_offset_nm = stack, offset
        model.lamella = {k: s.get(k) for k in LAMELLA_KEYS}
        model.analysis = {k: s[k] for k in ANALYSIS_KEYS}
        model._build_options = dict(build_options or {})
        model._structure_key = model._stack_values()
        return model

    def _build(self, stack: Any, build_options: dict | None = None, sampling_A: float | None = None):
        """(atoms, depth of row 0) of the lamella described by :attr:`lamella`."""
        lam = self.lamella
        return build_lamella(stack, lam["lateral_nm"], lam["thickness_nm"], lam.get("depth_range_nm"), lam["seed"],
                             lam.get("vacuum_nm", 0.5), build_options,
                             sampling_A=self.sampling_A if sampling_A is None else sampling_A)

    def _stack_values(self) -> tuple | None:
        """The stack's Parameter values the lamella was built with (None: no stack)."""
        if self.stack is None:
            return None
        return tuple(float(p.value) for p in self.stack.parameters(isotopes=False).values())

    def _refresh_structure(self) -> None:
        """Rebuild the lamella (same seed) when a Parameter of the stack has changed since it was built
        (a fit or a sweep moving a thickness); the cached multislice goes with it."""
        if self._structure_key is None or self._stack_values() == self._structure_key:
            return
        atoms, self.depth_offset_nm = self._build(self.stack, self._build_options)
        self._set_atoms(atoms, self.exit_planes)
        self._structure_key = self._stack_values()
        self._exit_wave, self._thicknesses = None, None

    # -- the protocol: settings and parameters -------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """Every ``[hrtem]`` key as plain JSON-able values, the current defocus included:
        ``HRTEMModel.from_stack(stack, **model.settings())`` rebuilds the same model."""
        out = self.microscope.settings()
        out["defocus_A"] = float(self.defocus_A.value)
        out.update(sampling_A=self.sampling_A, slice_thickness_A=self.slice_thickness_A,
                   frozen_phonons=self.frozen_phonons, max_memory_gb=self.max_memory_gb)
        out.update({k: (list(v) if isinstance(v, tuple) else v) for k, v in self.lamella.items()})
        out.update(self.analysis)
        return out

    def parameters(self):
        """The stack's Parameters but the 6Li abundances (a change rebuilds the lamella) and
        ``hrtem.defocus_A`` (Å), ``hrtem.scale`` (the intensity scale)."""
        from interphase_sim.core.params import Parameters

        items = [] if self.stack is None else list(self.stack.parameters(isotopes=False).items())
        return Parameters(items + prefixed("hrtem", [("defocus_A", self.defocus_A), ("scale", self.scale)]))

    @staticmethod
    def _device(device: str) -> str:
        if device not in ("cpu", "gpu", "auto"):
            raise InterphaseInputError("device", f"choose cpu, gpu or auto, got {device!r}")
        if device == "cpu":
            return "cpu"
        try:
            import cupy

            ok = cupy.cuda.runtime.getDeviceCount() > 0
        except Exception:  # no cupy, or no driver
            ok = False
        if device == "gpu" and not ok:
            raise InterphaseInputError("device", "a GPU was asked for but cupy or a CUDA GPU is not available")
        return "gpu" if ok else "cpu"

    # -- the expensive part, once -------------------------------------------------------------
    def potential(self):
        """The abTEM Potential (lazy) of the model's atoms."""
        import abtem

        atoms = self.atoms
        if self.frozen_phonons:
            atoms = abtem.FrozenPhonons(atoms, num_configs=self.frozen_phonons, sigmas=0.1, seed=self.seed)
        return abtem.Potential(atoms, gpts=self.gpts, slice_thickness=self.slice_thickness_A,
                               device=self.device, exit_planes=self.exit_planes)

    def exit_wave(self):
        """The multislice exit wave (abTEM Waves), computed once and cached (recomputed
        when the stack's Parameters have moved since the lamella was built)."""
        self._refresh_structure()
        if self._exit_wave is None:
            import abtem

            wave = abtem.PlaneWave(energy=self.microscope.energy_eV, device=self.device)
            self._exit_wave = wave.multislice(self.potential()).compute(progress_bar=self.progress_bar)
            self.multislice_runs += 1
        return self._exit_wave

    def thicknesses_nm(self) -> np.ndarray:
        """Specimen thickness at each kept exit plane (nm), as abTEM counts them (the
        entrance plane, thickness 0, is included when ``exit_planes`` is set)."""
        if self._thicknesses is None:  # read once: each image asks for it
            self._thicknesses = np.asarray(self.potential().exit_thicknesses, dtype=float) / 10.0
        return self._thicknesses

    # -- cheap: transfer, detector, noise ------------------------------------------------------
    def _intensities(self, mic: Microscope) -> np.ndarray:
        """Noise-free intensities (planes, nx, ny) after the CTF, ensemble-reduced."""
        images = self.exit_wave().apply_ctf(mic.ctf()).intensity()
        if images.is_lazy:
            images = images.compute(progress_bar=False)
        images = images.reduce_ensemble()  # probability-weighted (frozen phonons), not a plain mean
        arr = images.array
        if hasattr(arr, "get"):  # cupy
            arr = arr.get()
        arr = np.asarray(arr, dtype=float)
        return arr.reshape((-1,) + arr.shape[-2:])

    def measurement_axes(self) -> list[Axis]:
        """The image's axes, known before any multislice (what a sweep's store is laid out
        with): ``depth`` (rows) and ``lateral``
        (columns), nm, one value per pixel of the ``gpts`` grid (abTEM's y and x)."""
        (px, py), (nx, ny) = self.pixel_A, self.gpts
        return [Axis("depth", "nm", self.depth_offset_nm + np.arange(ny) * py / 10.0),
                Axis("lateral", "nm", np.arange(nx) * px / 10.0)]

    def _measurement(self, arr: np.ndarray, mic: Microscope, noise: bool, rng: Any,
                     thickness_nm: float) -> Measurement:
        px, py = self.pixel_A
        seed = rng
        if noise:  # electrons arrive (Poisson), then the detector spreads signal and noise alike
            rng = as_rng(rng)
            per_pixel = mic.dose_e_per_A2 * px * py
            arr = rng.poisson(np.maximum(arr, 0.0) * per_pixel) / per_pixel
        arr = self._detector(arr, mic)
        return Measurement(
            values=arr.T,  # rows: depth (abTEM's y), columns: lateral (abTEM's x)
            axes=self.measurement_axes(),
            metadata={**provenance("hrtem", {**self.settings(), **mic.settings()},
                                   None if self.stack is None else (self.stack.name or ""), noise, seed),
                      "energy_eV": mic.energy_eV, "defocus_A": mic.defocus_A,
                      "Cs_mm": mic.Cs_mm, "aperture_mrad": mic.aperture_mrad, "sampling_A": px,
                      "pixel_A": [px, py], "thickness_nm": float(thickness_nm),
                      "dose_e_per_A2": mic.dose_e_per_A2 if noise else None},
            quantity="intensity (incident = 1)",
        )

    def image(self, microscope: Microscope | None = None, noise: bool = False, seed: Any = None) -> Measurement:
        """The image at the full thickness (rows: ``depth``, columns: ``lateral``; nm).

        Parameters
        ----------
        microscope : Microscope, optional
            Default the model's; any other reuses the cached exit wave.
        noise : bool
            Poisson shot noise at ``microscope.dose_e_per_A2``.
        seed : int or numpy Generator, optional
            For the noise.
        """
        mic = microscope or self.microscope.with_defocus(self.defocus_A.value)
        arr = self._intensities(mic)[-1]
        return self._measurement(arr, mic, noise, seed, self.thicknesses_nm()[-1])

    # -- the instrument protocol (interphase_sim.registry): parameters, simulate, expected ------------------
    def simulate(self, noise: bool = False, seed: Any = None) -> Measurement:
        """The image at the current ``defocus_A`` (same as :meth:`image`)."""
        return self.image(noise=noise, seed=seed)

    def expected(self, measurement: Measurement) -> np.ndarray:
        """Noise-free ``scale x image`` at the current defocus, on ``measurement``'s grid
        (an image from this model's lamella); the cached exit wave is reused."""
        img = self.image().values * self.scale.value
        if np.shape(measurement.values) != img.shape:
            raise InterphaseInputError("measurement", f"shape {np.shape(measurement.values)} differs from the "
                                       f"model image's {img.shape}")
        return img

    def thickness_series(self, microscope: Microscope | None = None, noise: bool = False,
                         seed: Any = None) -> list[Measurement]:
        """Images at every kept exit plane (needs ``exit_planes``), from one multislice."""
        if self.exit_planes is None:
            raise InterphaseInputError("exit_planes", "set exit_planes (slices between images) for a thickness series")
        mic = microscope or self.microscope.with_defocus(self.defocus_A.value)
        arrs = self._intensities(mic)
        rng = as_rng(seed)
        return [self._measurement(a, mic, noise, rng, t) for a, t in zip(arrs, self.thicknesses_nm()) if t > 0]

    def _detector(self, arr: np.ndarray, mic: Microscope) -> np.ndarray:
        """Blur by the detector MTF (frequencies as fractions of Nyquist); real FFTs."""
        if math.isinf(mic.mtf[0]):
            return arr
        from scipy import fft as sp_fft

        kx = np.fft.fftfreq(arr.shape[0])[:, None] * 2.0
        ky = np.fft.rfftfreq(arr.shape[1])[None, :] * 2.0
        mtf = mic.mtf_curve(np.sqrt(kx**2 + ky**2))
        return sp_fft.irfft2(sp_fft.rfft2(arr, workers=-1) * mtf, s=arr.shape, workers=-1)

    def defocus_series(self, defoci_A: Any, noise: bool = False, seed: Any = None) -> list[Measurement]:
        """Images at several defoci (Å, positive = underfocus) from one multislice."""
        rng = as_rng(seed)
        return [self.image(self.microscope.with_defocus(d), noise=noise, seed=rng) for d in defoci_A]


# --------------------------------------------------------------------------- lamella


def microscope_from_settings(settings: dict[str, Any]) -> Microscope:
    """The Microscope of ``[hrtem]`` settings: Scherzer defocus (and aperture) unless given."""
    kw = {k: settings[k] for k in MICROSCOPE_KEYS if settings.get(k) is not None}
    return Microscope(**kw) if "defocus_A" in kw else Microscope.scherzer(**kw)


def resolve_hrtem_settings(stack: Any, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``[hrtem]`` settings of a run: defaults < the stack's table < ``settings``, checked.

    ``depth_range_nm`` falls back to the ``[build]`` table's. Keys whose value is ``None``
    in ``settings`` leave the table's value in place.
    """
    table = dict(stack.sections.get("hrtem", {}))
    s = HRTEM_SETTINGS.resolve(table, settings or {})
    if s.get("depth_range_nm") is None and stack.sections.get("build", {}).get("depth_range_nm") is not None:
        s["depth_range_nm"] = HRTEM_SETTINGS["depth_range_nm"].read(
            stack.sections["build"]["depth_range_nm"], "build.depth_range_nm")
    return s


def build_lamella(stack: Any, lateral_nm: float = 10.0, thickness_nm: float = 5.0,
                  depth_range_nm: tuple[float, float] | None = None, seed: int | None = None,
                  vacuum_nm: float = 0.5, build_options: dict | None = None,
                  sampling_A: float | None = None) -> tuple[Any, float]:
    """A cross-section lamella of ``stack`` for abTEM: (atoms, depth of image row 0 in nm).

    The model is built ``thickness_nm`` along the beam and ``lateral_nm`` wide
    (:func:`~interphase_sim.build.atoms_from_stack`) over ``depth_range_nm`` (default the
    sample's ``[hrtem]``, else ``[build]``, depth range), a semi-infinite substrate down
    to the window's end, and turned by :func:`~interphase_sim.build.cross_section` with
    at least ``vacuum_nm`` below. With ``sampling_A`` (Å) the width and the vacuum are
    rounded up so that both image edges are whole multiples of it: square pixels of
    exactly that size.
    """
    from interphase_sim.build import atoms_from_stack, cross_section

    lat, thick = _read("lateral_nm", lateral_nm), _read("thickness_nm", thickness_nm)
    if sampling_A is not None:
        step_nm = _read("sampling_A", sampling_A) / 10.0
        lat = math.ceil(lat / step_nm - 1e-9) * step_nm
    if depth_range_nm is None:
        depth_range_nm = resolve_hrtem_settings(stack).get("depth_range_nm")
    else:
        depth_range_nm = _read("depth_range_nm", depth_range_nm)
    opts = dict(build_options or {})
    if depth_range_nm is not None and stack.semi_infinite:  # build the substrate down to the window's end
        opts.setdefault("semi_infinite_nm", max(5.0, float(depth_range_nm[1]) - stack.finite_depth_nm()))
    atoms = atoms_from_stack(stack, (thick, lat), seed=seed, depth_range_nm=depth_range_nm, **opts)
    offset = float(depth_range_nm[0]) if depth_range_nm is not None else 0.0
    vac = _read("vacuum_nm", vacuum_nm)
    if sampling_A is not None:  # depth + vacuum: a whole number of pixels
        depth_nm = atoms.cell[2, 2] / 10.0
        vac = math.ceil((depth_nm + vac) / step_nm - 1e-9) * step_nm - depth_nm
    return cross_section(atoms, vacuum_nm=vac), offset


# --------------------------------------------------------------------------- converters


def _image_axes(measurement: Measurement) -> tuple[float, float]:
    if len(measurement.axes) != 2 or any(a.units != "nm" for a in measurement.axes):
        raise InterphaseInputError("measurement", "expected an image with two axes in nm (from HRTEMModel.image)")
    steps = [float(a.values[1] - a.values[0]) * 10.0 if len(a.values) > 1 else 1.0 for a in measurement.axes]
    return steps[0], steps[1]


def to_abtem_images(measurement: Measurement):
    """An abTEM ``Images`` (arrays are (x, y), sampling in Å) of an image Measurement."""
    import abtem

    sy, sx = _image_axes(measurement)
    md = measurement.metadata
    return abtem.Images(np.ascontiguousarray(np.asarray(measurement.values).T), sampling=(sx, sy),
                        metadata={"energy": md.get("energy_eV"), "label": "intensity", "units": "arb. unit"})


def to_hyperspy_signal(measurement: Measurement):
    """A HyperSpy ``Signal2D`` with its axes in nm and the microscope in the metadata.

    Rows (depth) are HyperSpy's ``y``. The whole Measurement is kept for
    :meth:`Measurement.from_hyperspy <interphase_sim.core.measurement.Measurement.from_hyperspy>`
    (see :func:`~interphase_sim.core.measurement.store_in_hyperspy`).
    """
    from interphase_sim.core.measurement import set_hyperspy_axes, store_in_hyperspy

    try:
        import hyperspy.api as hs
    except ImportError:
        raise ImportError("to_hyperspy_signal needs hyperspy: pip install 'interphase_sim[eels]'") from None
    sig = hs.signals.Signal2D(np.array(measurement.values, dtype=float))
    set_hyperspy_axes(sig, measurement.axes)
    md = measurement.metadata
    sig.metadata.General.title = "interphase_sim HRTEM"
    energy_eV = md.get("energy_eV")
    if energy_eV is not None:
        sig.metadata.set_item("Acquisition_instrument.TEM.beam_energy", energy_eV / 1e3)
    sig.metadata.set_item("Acquisition_instrument.TEM.defocus_A", md.get("defocus_A"))
    sig.metadata.set_item("Acquisition_instrument.TEM.Cs_mm", md.get("Cs_mm"))
    return store_in_hyperspy(sig, measurement)
