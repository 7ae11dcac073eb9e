"""Low-loss physics for EELS: mean free path, plasmon energy, low-loss kernel, plural scattering.

The measured core-loss spectrum is the single-scattering distribution convolved with the
low-loss spectrum normalised to the incident electrons (the Fourier-log relation read
backwards, Egerton 2011 section 4.1): ``J(E) = SSD(E) * L(E) / I0``. The low-loss kernel
here is a zero-loss peak (Gaussian, the energy resolution) and Poisson-weighted multiple
bulk plasmons (Lorentzians), ``L / I0 = exp(-tau) sum_n tau^n / n! P^{*n}`` with
``tau = t / lambda``. Its integral is exactly one, so plural scattering moves counts in
energy but conserves them.

References
----------
- Mean free path: T. Malis, S.C. Cheng, R.F. Egerton, J. Electron Microsc. Tech. 8, 193
  (1988); Egerton, *EELS in the Electron Microscope*, 3rd ed. (2011), eq. 5.2:
  ``lambda = 106 F E0 / (Em ln(2 beta E0 / Em))`` nm, E0 in keV, beta in mrad,
  ``Em = 7.6 Zeff^0.36`` eV, ``F = (1 + E0/1022) / (1 + E0/511)^2``,
  ``Zeff = sum f_i Z_i^1.3 / sum f_i Z_i^0.3`` (atom fractions f_i).
- Free-electron plasmon energy: ``Ep = hbar sqrt(n e^2 / (eps0 m))`` = 1.1745 sqrt(n)
  eV with n the valence-electron density in electrons/nm3 (Egerton eq. 3.41).
- Beam broadening: single-scattering model of J.I. Goldstein et al. (1977),
  ``b = 6.25e5 (Z / E0) (rho / A)^0.5 t^1.5`` (cm, E0 in eV, t in cm).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import scipy.fft as sfft

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.eels import _kernels as _K

__all__ = [
    "VALENCE_ELECTRONS",
    "mean_free_path_nm",
    "plasmon_energy_eV",
    "plural_parameters",
    "beam_broadening_nm",
    "lowloss_kernel",
    "lowloss_kernels_ft",
    "plural_scatter",
    "fourier_ratio",
]

#: Plasmon-energy grid (eV) on which a line scan's plasmon transforms are interpolated.
PLASMON_GRID_EV = 0.02

#: Valence electrons per atom used for the free-electron plasmon energy (outer s, p and,
#: for transition metals, d electrons).
VALENCE_ELECTRONS = {
    "H": 1, "Li": 1, "Be": 2, "B": 3, "C": 4, "N": 5, "O": 6, "F": 7, "Na": 1, "Mg": 2,
    "Al": 3, "Si": 4, "P": 5, "S": 6, "Cl": 7, "K": 1, "Ca": 2, "Ti": 4, "V": 5, "Cr": 6,
    "Mn": 7, "Fe": 8, "Co": 9, "Ni": 10, "Cu": 11, "Zn": 12, "Ga": 3, "Ge": 4, "Ag": 11,
    "Pt": 10, "Au": 11,
}  # fmt: skip

PLASMON_PER_SQRT_DENSITY_EV = 1.1745  # hbar sqrt(e^2 / (eps0 m_e)) for n in electrons/nm3


@functools.cache
def _z(symbol: str) -> int:
    from pymatgen.core import Element

    return Element(symbol).Z


@functools.cache
def _mass(symbol: str) -> float:
    from pymatgen.core import Element

    return float(Element(symbol).atomic_mass)


def mean_free_path_nm(densities: dict[str, float], beam_energy_eV: float, collection_mrad: float) -> float:
    """Total inelastic mean free path (nm) of a composition (Malis et al. 1988).

    Parameters
    ----------
    densities : dict
        Element -> number density (atoms/nm3); only the atom fractions matter.
    beam_energy_eV, collection_mrad : float
        Incident energy (eV) and collection semi-angle (mrad).
    """
    tot = sum(densities.values())
    if tot <= 0:
        return math.inf
    num = sum(n * _z(e) ** 1.3 for e, n in densities.items()) / tot
    den = sum(n * _z(e) ** 0.3 for e, n in densities.items()) / tot
    zeff = num / den
    em = 7.6 * zeff**0.36
    e0 = beam_energy_eV / 1000.0
    # relativistic factor with the formula's own rounded coefficients (2 m0c^2 and m0c^2 in
    # keV, as fitted and published), deliberately not core.constants.ELECTRON_REST_ENERGY_EV
    f = (1 + e0 / 1022.0) / (1 + e0 / 511.0) ** 2
    arg = 2.0 * collection_mrad * e0 / em
    if arg <= 2.0:  # the formula needs beta well above the characteristic angle
        raise InterphaseInputError(
            "collection_mrad", f"{collection_mrad} mrad is too small for the mean-free-path formula "
            f"(2 beta E0 / Em = {arg:.3g} must exceed 2)")
    return 106.0 * f * e0 / (em * math.log(arg))


def plural_parameters(densities: np.ndarray, elements: list[str], beam_energy_eV: float,
                      collection_mrad: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean free path (nm; :func:`mean_free_path_nm`) and plasmon energy (eV;
    :func:`plasmon_energy_eV`) of many compositions at once.

    ``densities`` (P, E) atoms/nm3 of ``elements`` per row; rows without atoms get an
    infinite mean free path (no plural scattering) and a plasmon energy of 0.
    """
    d = np.clip(np.asarray(densities, dtype=float), 0.0, None)
    z = np.array([_z(e) for e in elements], dtype=float)
    valence = np.array([VALENCE_ELECTRONS.get(e, 4) for e in elements], dtype=float)
    tot = d.sum(axis=1)
    filled = tot > 0
    lam = np.full(d.shape[0], math.inf)
    if filled.any():
        rows = d[filled]
        # elementwise sums, not BLAS: a threaded gemv stalls on a loaded machine
        zeff = (rows * z**1.3).sum(axis=1) / (rows * z**0.3).sum(axis=1)
        em = 7.6 * zeff**0.36
        e0 = beam_energy_eV / 1000.0
        f = (1 + e0 / 1022.0) / (1 + e0 / 511.0) ** 2  # the formula's own coefficients
        arg = 2.0 * collection_mrad * e0 / em
        if np.any(arg <= 2.0):
            mean_free_path_nm(dict(zip(elements, rows[int(np.argmin(arg))])), beam_energy_eV, collection_mrad)
        lam[filled] = 106.0 * f * e0 / (em * np.log(arg))
    ep = PLASMON_PER_SQRT_DENSITY_EV * np.sqrt((d * valence).sum(axis=1))
    return lam, ep


def plasmon_energy_eV(densities: dict[str, float]) -> float:
    """Free-electron bulk plasmon energy (eV) from valence-electron density (atoms/nm3 input)."""
    n_v = sum(n * VALENCE_ELECTRONS.get(e, 4) for e, n in densities.items())
    return PLASMON_PER_SQRT_DENSITY_EV * math.sqrt(max(n_v, 0.0))


def beam_broadening_nm(densities: dict[str, float], beam_energy_eV: float, thickness_nm: float) -> float:
    """Goldstein single-scattering beam broadening (nm) through ``thickness_nm``."""
    tot = sum(densities.values())
    if tot <= 0 or thickness_nm <= 0:
        return 0.0
    z = sum(n * _z(e) for e, n in densities.items()) / tot
    a = sum(n * _mass(e) for e, n in densities.items()) / tot
    rho = tot * a / 602.214076  # g/cm3 from atoms/nm3 and g/mol
    t_cm = thickness_nm * 1e-7
    return 6.25e5 * (z / beam_energy_eV) * math.sqrt(rho / a) * t_cm**1.5 * 1e7


def lowloss_kernel(n: int, step_eV: float, tau: float, plasmon_eV: float, plasmon_width_eV: float,
                   resolution_fwhm_eV: float) -> np.ndarray:
    """The low-loss spectrum per incident electron on ``n`` channels starting at 0 eV loss.

    Zero-loss Gaussian (FWHM ``resolution_fwhm_eV``) convolved with the Poisson series of
    Lorentzian bulk plasmons (``plasmon_eV``, FWHM ``plasmon_width_eV``). The channels span
    ``[0, n step)``; the ZLP is centred on channel 0 and its negative half wraps to the end
    so that circular convolution with it is centred (sum = 1 up to the plasmon tail beyond
    the window, which is folded back in so that the kernel sums to exactly one).
    The inverse transform of :func:`lowloss_kernels_ft` (clipped at zero, renormalised).
    """
    ft = lowloss_kernels_ft(n, step_eV, np.array([tau]), np.array([plasmon_eV]), plasmon_width_eV,
                            resolution_fwhm_eV)[0]
    kern = np.maximum(sfft.irfft(ft, n), 0.0)
    return kern / kern.sum()


def lowloss_kernels_ft(n: int, step_eV: float, tau: np.ndarray, plasmon_eV: np.ndarray, plasmon_width_eV: float,
                       resolution_fwhm_eV: float, plasmon_grid_eV: float | None = None) -> np.ndarray:
    """``numpy.fft.rfft`` of low-loss kernels (rows: one per ``(tau, plasmon_eV)`` pair).

    The Poisson series of plasmons is ``exp(tau (P - 1))`` in Fourier space (P the
    transform of one unit-area Lorentzian on the loss side of the wrapped axis), times the
    zero-loss Gaussian's transform. Every factor has unit area, so each row's channel 0 is
    exactly 1 (the kernel sums to one). ``tau`` (R,) thickness over mean free path,
    ``plasmon_eV`` (R,); returns (R, n // 2 + 1) complex.

    With ``plasmon_grid_eV``, P is interpolated linearly between the transforms of
    plasmon energies on that grid (cached): a line scan's positions each have their own
    plasmon energy, and a 0.02 eV grid moves P by < 1e-5 (its curvature in the plasmon
    energy is (2 pi f)^2 P, damped by the width) while sparing a transform per position.
    """
    ep = np.asarray(plasmon_eV, dtype=float)
    tau = np.asarray(tau, dtype=float)
    zlp_ft = _zero_loss_ft(n, float(step_eV), float(resolution_fwhm_eV))
    if plasmon_grid_eV is None:
        return zlp_ft[None, :] * np.exp(tau[:, None] * (_plasmon_ft(n, float(step_eV), float(plasmon_width_eV), ep) - 1.0))
    u = ep / plasmon_grid_eV
    i = np.floor(u).astype(np.int64)
    base, grid = _plasmon_grid(n, float(step_eV), float(plasmon_width_eV), float(plasmon_grid_eV),
                               int(i.min()), int(i.max()) + 1)
    return _interpolated_series(grid, i - base, u - i, tau, zlp_ft)


def _interpolated_series(grid: np.ndarray, i: np.ndarray, w: np.ndarray, tau: np.ndarray,
                         zlp_ft: np.ndarray) -> np.ndarray:
    """``zlp_ft exp(tau (P - 1))`` per row, P interpolated between grid rows i and i + 1
    (:func:`~._kernels.interpolated_series`: a Taylor series to 2^-53, no complex exp)."""
    out = np.empty((i.size, zlp_ft.size), dtype=np.complex128)
    _K.interpolated_series(grid, np.ascontiguousarray(i, dtype=np.int64), np.ascontiguousarray(w, dtype=float),
                           np.ascontiguousarray(tau, dtype=float), zlp_ft, out)
    return out


def _plasmon_ft(n: int, step_eV: float, width_eV: float, plasmon_eV: np.ndarray) -> np.ndarray:
    """rfft (R, n // 2 + 1) of unit-area Lorentzians at ``plasmon_eV`` on the loss side."""
    half = n // 2  # channels 1 .. half - 1 hold the positive (loss-side) energies
    e = step_eV * np.arange(1, half)
    g = 0.5 * width_eV
    p = np.zeros((plasmon_eV.size, n))
    p[:, 1:half] = g / math.pi / ((e[None, :] - plasmon_eV[:, None]) ** 2 + g * g)  # energy loss only
    p /= p.sum(axis=1, keepdims=True)
    return sfft.rfft(p, axis=1)


_PLASMON_GRID: dict[tuple, tuple[int, np.ndarray]] = {}
_PLASMON_GRID_ROWS = 2048  # ~70 MB at 4096 channels


def _plasmon_grid(n: int, step_eV: float, width_eV: float, grid_eV: float, first: int,
                  last: int) -> tuple[int, np.ndarray]:
    """(index of row 0, plasmon transforms at energies ``index x grid_eV``) covering
    ``first..last``: one array per axis and width, grown as needed and kept."""
    key = (n, step_eV, width_eV, grid_eV)
    base, rows = _PLASMON_GRID.get(key, (first, np.empty((0, n // 2 + 1), dtype=complex)))
    lo, hi = min(base, first), max(base + rows.shape[0], last + 1)
    if lo < base or hi > base + rows.shape[0]:
        if hi - lo > _PLASMON_GRID_ROWS:
            raise InterphaseInputError("plasmon_eV", f"plasmon energies spread over {(hi - lo) * grid_eV:.0f} eV")
        new = np.empty((hi - lo, n // 2 + 1), dtype=complex)
        new[base - lo:base - lo + rows.shape[0]] = rows
        todo = [k for k in range(lo, hi) if not base <= k < base + rows.shape[0]]
        new[np.array(todo) - lo] = _plasmon_ft(n, step_eV, width_eV, grid_eV * np.array(todo, dtype=float))
        _PLASMON_GRID[key] = (base, rows) = (lo, new)
    return base, rows


@functools.lru_cache(maxsize=32)
def _zero_loss_ft(n: int, step_eV: float, resolution_fwhm_eV: float) -> np.ndarray:
    """rfft of the unit-area zero-loss Gaussian centred on channel 0 of a wrapped axis."""
    e = np.fft.fftfreq(n, d=1.0 / (n * step_eV))  # 0, +step, ..., -step: wrapped energies
    sig = resolution_fwhm_eV / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    zlp = np.exp(-0.5 * (e / max(sig, 1e-9)) ** 2)
    out = sfft.rfft(zlp / zlp.sum())
    out.flags.writeable = False
    return out


def plural_scatter(ssd: np.ndarray, kernels: np.ndarray | None, kernels_ft: np.ndarray | None = None) -> np.ndarray:
    """Convolve single-scattering spectra (rows) with per-row low-loss kernels (FFT, padded).

    ``ssd`` (P, C) counts per channel; ``kernels`` (P, K) each summing to 1, K >= 2C, built
    by :func:`lowloss_kernel` with K channels, or their ``numpy.fft.rfft`` as
    ``kernels_ft`` (P, K // 2 + 1; then ``kernels`` may be None). Counts move up in energy;
    those pushed beyond the axis end are lost, as on a detector of finite width.
    """
    p, c = ssd.shape
    if kernels_ft is None:
        kernels_ft = sfft.rfft(kernels, axis=1)
    k = 2 * (kernels_ft.shape[1] - 1)
    f = sfft.rfft(ssd, n=k, axis=1) * kernels_ft
    return sfft.irfft(f, n=k, axis=1, overwrite_x=True)[:, :c]


def fourier_ratio(spectra: np.ndarray, kernels: np.ndarray, step_eV: float, reconvolve_fwhm_eV: float,
                  return_gain: bool = False) -> Any:
    """Remove plural scattering: Fourier-ratio deconvolution by per-row low-loss kernels.

    With ``return_gain`` also returns, per row, the factor by which the filter scales
    white (Poisson) noise, for the uncertainties of what is computed from the result.

    ``spectra`` (P, C) measured core-loss counts; ``kernels`` (P, K) low-loss spectra per
    incident electron on the same channel step (as from :func:`lowloss_kernel`, K >= 2C).
    Returns single-scattering estimates reconvolved with a Gaussian of
    ``reconvolve_fwhm_eV`` (Egerton 2011, section 4.2.2: the reconvolution keeps the
    noise from blowing up where the kernel's transform is small). The spectra are padded
    with a cosine roll-off past the axis end, so that wrap-around does not ring into the
    edges, and with zeros before the axis start: losses below the recorded range are taken
    to be absent, which is exact for what :func:`plural_scatter` simulates and right for a
    background-subtracted spectrum (which is what should be deconvolved: a roll-off of the
    first channel's counts there is deconvolved too and pulls the first tens of eV down).
    """
    p, c = spectra.shape
    k = kernels.shape[1]
    roll = (k - c) // 2
    pad = np.zeros((p, k))
    pad[:, :c] = spectra
    # a cosine roll-off past the axis end: the circular transform then sees no step there
    taper = 0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, roll)))
    pad[:, c:c + roll] = spectra[:, -1:] * taper[None, :]
    e = np.fft.rfftfreq(k, d=step_eV)  # cycles per eV
    sig = reconvolve_fwhm_eV / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    gauss = np.exp(-2.0 * (np.pi * sig * e) ** 2)  # transform of a unit-area Gaussian
    kf = sfft.rfft(kernels, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.abs(kf) > 1e-12, gauss[None, :] / kf, 0.0)
    out = sfft.irfft(sfft.rfft(pad, axis=1) * ratio, n=k, axis=1)[:, :c]
    if not return_gain:
        return out
    # white (Poisson) noise of variance v per channel comes out with variance v * gain^2
    w = np.full(ratio.shape[1], 2.0)
    w[0] = 1.0
    if k % 2 == 0:
        w[-1] = 1.0
    gain = np.sqrt((np.abs(ratio) ** 2 * w).sum(axis=1) / k)
    return out, gain
