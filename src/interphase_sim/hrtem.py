"""HRTEM of built interphases on abTEM: microscope, cached exit waves, images.

Status: groundwork of the HRTEM issue (microscope, cached multislice, CTF and
ensembles, MTF, shot noise); the stack-level model, thickness series, converters,
fitting hooks, CLI and benchmarks are still to come.

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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import InterphaseInputError
from .hrtem_analysis import wavelength_A
from .measurement import Axis, Measurement

__all__ = ["Microscope", "HRTEMModel", "wavelength_A", "scherzer_defocus_A"]


def scherzer_defocus_A(energy_eV: float, Cs_mm: float) -> float:
    """Scherzer (extended) defocus ``sqrt(4/3 Cs lambda)`` in Å (underfocus, abTEM sign)."""
    return math.sqrt(4.0 / 3.0 * Cs_mm * 1e7 * wavelength_A(energy_eV))


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InterphaseInputError(name, f"must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


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
        _positive("energy_eV", self.energy_eV)
        for name in ("Cs_mm", "C5_mm", "astigmatism_A", "focal_spread_A", "angular_spread_mrad"):
            _positive(name, getattr(self, name), allow_zero=True)
        if not math.isfinite(self.defocus_A):
            raise InterphaseInputError("defocus_A", f"must be finite, got {self.defocus_A}")
        if not self.aperture_mrad > 0:
            raise InterphaseInputError("aperture_mrad", f"must be > 0 mrad (inf for no aperture), got {self.aperture_mrad}")
        _positive("dose_e_per_A2", self.dose_e_per_A2)

    @classmethod
    def scherzer(cls, energy_eV: float = 300e3, Cs_mm: float = 1.2, **kw: Any) -> Microscope:
        """A microscope at Scherzer defocus ``sqrt(4/3 Cs lambda)`` with the matching
        aperture at the first CTF zero, ``(6 lambda / Cs)^(1/4)`` (Scherzer 1949)."""
        lam = wavelength_A(energy_eV)
        aperture = (6.0 * lam / (Cs_mm * 1e7)) ** 0.25 * 1e3 if Cs_mm > 0 else 20.0
        return cls(energy_eV=energy_eV, Cs_mm=Cs_mm, defocus_A=scherzer_defocus_A(energy_eV, Cs_mm),
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
    atoms : ase.Atoms
        E.g. ``build.cross_section(build.atoms_from_stack(...))``.
    microscope : Microscope
    sampling : float
        Real-space sampling (Å).
    slice_thickness : float
        Multislice slice thickness (Å).
    frozen_phonons : int
        Frozen-phonon configurations (0: none).
    seed : int, optional
        For frozen phonons and noise.
    device : {"cpu", "gpu", "auto"}
        ``auto`` uses the GPU when cupy and a GPU are present; ``gpu`` fails clearly otherwise.
    max_memory_gb : float
        Refuse grids whose wave functions and potential slices would exceed this.
    """

    def __init__(self, atoms: Any, microscope: Microscope | None = None, sampling: float = 0.05,
                 slice_thickness: float = 2.0, frozen_phonons: int = 0, seed: int | None = None,
                 device: str = "cpu", max_memory_gb: float = 8.0) -> None:
        cell = np.asarray(atoms.cell.array, dtype=float)
        if np.abs(cell - np.diag(np.diag(cell))).max() > 1e-6:
            raise InterphaseInputError(
                "atoms.cell", "abTEM needs an orthogonal cell: build with interphase_sim.build.atoms_from_stack "
                "and orient with build.cross_section (or use ase.build.cut / orthogonalize_cell)")
        self.atoms = atoms
        self.microscope = microscope or Microscope.scherzer()
        self.sampling = _positive("sampling", sampling)
        self.slice_thickness = _positive("slice_thickness", slice_thickness)
        if not isinstance(frozen_phonons, (int, np.integer)) or frozen_phonons < 0:
            raise InterphaseInputError("frozen_phonons", f"a non-negative integer, got {frozen_phonons!r}")
        self.frozen_phonons = int(frozen_phonons)
        self.seed = seed
        self.device = self._device(device)
        self.gpts = tuple(int(math.ceil(e / self.sampling)) for e in np.diag(cell)[:2])
        n_slices = int(math.ceil(cell[2, 2] / self.slice_thickness))
        # complex64 waves (a few buffers) + one float32 potential slice at a time, per config
        need = (4 * 8 + 4) * self.gpts[0] * self.gpts[1] * max(1, self.frozen_phonons) / 1e9
        if need > max_memory_gb:
            raise InterphaseInputError(
                "sampling", f"a {self.gpts[0]} x {self.gpts[1]} grid needs about {need:.1f} GB, more than "
                f"max_memory_gb = {max_memory_gb}; use a coarser sampling or a smaller field of view")
        self.n_slices = n_slices
        nyquist_mrad = wavelength_A(self.microscope.energy_eV) / (2 * self.sampling) * 1e3 * 2 / 3  # antialiased
        if self.microscope.aperture_mrad > nyquist_mrad:
            import warnings

            warnings.warn(
                f"sampling {self.sampling} Å resolves {nyquist_mrad:.1f} mrad (2/3 of Nyquist) but the aperture "
                f"passes {self.microscope.aperture_mrad:.1f} mrad: use sampling <= "
                f"{wavelength_A(self.microscope.energy_eV) / (3 * self.microscope.aperture_mrad * 1e-3):.3f} Å",
                UserWarning, stacklevel=2)
        self._exit_wave = None
        self.multislice_runs = 0

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
    def exit_wave(self):
        """The multislice exit wave (abTEM Waves), computed once and cached."""
        if self._exit_wave is None:
            import abtem

            atoms = self.atoms
            if self.frozen_phonons:
                atoms = abtem.FrozenPhonons(atoms, num_configs=self.frozen_phonons, sigmas=0.1, seed=self.seed)
            pot = abtem.Potential(atoms, sampling=self.sampling, slice_thickness=self.slice_thickness,
                                  device=self.device)
            wave = abtem.PlaneWave(energy=self.microscope.energy_eV, device=self.device)
            self._exit_wave = wave.multislice(pot).compute(progress_bar=False)
            self.multislice_runs += 1
        return self._exit_wave

    # -- cheap: transfer, detector, noise ------------------------------------------------------
    def image(self, microscope: Microscope | None = None, noise: bool = False, seed: Any = None) -> Measurement:
        """The image (depth along y, lateral along x, nm) for ``microscope`` (default the model's)."""
        mic = microscope or self.microscope
        waves = self.exit_wave()
        images = waves.apply_ctf(mic.ctf()).intensity()
        if images.ensemble_shape:
            images = images.reduce_ensemble()  # probability-weighted, not a plain mean
        arr = np.asarray(images.compute(progress_bar=False).array if images.is_lazy else images.array, dtype=float)
        if hasattr(arr, "get"):  # cupy
            arr = arr.get()
        arr = self._detector(arr, mic)
        if noise:
            rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
            per_pixel = mic.dose_e_per_A2 * self.sampling**2
            arr = rng.poisson(np.maximum(arr, 0.0) * per_pixel) / per_pixel
        ny, nx = arr.shape[1], arr.shape[0]  # abTEM arrays are (x, y)
        step = self.sampling / 10.0
        return Measurement(
            values=arr.T,  # rows: depth (image y), columns: lateral (image x)
            axes=[Axis("y", "nm", np.arange(ny) * step), Axis("x", "nm", np.arange(nx) * step)],
            metadata={"instrument": "HRTEM", "energy_eV": mic.energy_eV, "defocus_A": mic.defocus_A,
                      "Cs_mm": mic.Cs_mm, "aperture_mrad": mic.aperture_mrad, "sampling_A": self.sampling,
                      "dose_e_per_A2": mic.dose_e_per_A2 if noise else None, "noise": bool(noise)},
            quantity="intensity (incident = 1)",
        )

    def _detector(self, arr: np.ndarray, mic: Microscope) -> np.ndarray:
        kx = np.fft.fftfreq(arr.shape[0])[:, None] * 2.0  # fraction of Nyquist
        ky = np.fft.fftfreq(arr.shape[1])[None, :] * 2.0
        q = np.sqrt(kx**2 + ky**2)
        return np.real(np.fft.ifft2(np.fft.fft2(arr) * mic.mtf_curve(q)))

    def defocus_series(self, defoci_A: Any, noise: bool = False, seed: Any = None) -> list[Measurement]:
        """Images at several defoci from one multislice."""
        rng = np.random.default_rng(seed)
        return [self.image(self.microscope.with_defocus(d), noise=noise, seed=rng) for d in defoci_A]
