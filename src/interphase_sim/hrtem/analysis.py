"""Analysis of HRTEM images: diffractograms, lattice spacings, Thon-ring fits.

Phase maps (which phase shows the fringes where) are in :mod:`interphase_sim.hrtem.phasemap`.

Works on simulated images (:mod:`interphase_sim.hrtem.model`) and measured ones alike. An image
is a 2-D float array with a pixel size ``sampling_A`` (Å/pixel), or a
:class:`~interphase_sim.core.measurement.Measurement` with two axes (rows, columns) in nm,
whose pixel size is taken from the axis spacing. Spatial frequencies are in 1/Å and a
lattice spacing is ``d = 1/|k|``.

Conventions
-----------
The wave aberration follows abTEM (and Kirkland, *Advanced Computing in Electron
Microscopy*, 2nd ed., ch. 3)::

    chi(k) = 2 pi / lambda * (C10 (lambda k)^2 / 2 + Cs (lambda k)^4 / 4),   C10 = -defocus

so a **positive defocus is underfocus** (as in abTEM, where ``defocus = -C10``). For a
weak-phase object the image contrast transfer is ``sin(chi)``, and the power spectrum
of an amorphous region shows Thon rings ``~ sin^2(chi(k))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage, optimize

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.hrtem._spectra import (
    MIN_RELATIVE_POWER as _MIN_RELATIVE_POWER,
    POLY_AMP as _POLY_AMP,
    POLY_BG as _POLY_BG,
    count_number as _count,
    check_d_range as _d_range,
    thon_design as _design,
    image_input as _image_input,
    spectrum_peaks as _peaks,
    positive_number as _positive,
    windowed_power as _power,
    radial_average as _radial,
    ring_average_sin2 as _ring_average_sin2,
    wavelength_A,
)

__all__ = [
    "ThonFit",
    "diffractogram",
    "find_lattice_spacings",
    "fit_defocus_thon",
    "radial_power_spectrum",
    "wavelength_A",
]


def diffractogram(image: Any, sampling_A: float | None = None, window: str | None = "hann"):
    """Power spectrum of an image (its diffractogram).

    Parameters
    ----------
    image : ndarray (ny, nx) or Measurement
        Image intensities; a Measurement's two axes are in nm.
    sampling_A : float, optional
        Pixel size (Å/pixel); required for a plain array.
    window : {"hann", None}
        Taper applied before the FFT (a 2-D Hann window suppresses the edge streaks).

    Returns
    -------
    power : ndarray (ny, nx)
        ``|FFT|^2`` of the mean-removed, windowed image, zero frequency at the centre.
    (ky, kx) : tuple of ndarray
        Spatial frequencies (1/Å) of the rows and columns of ``power``.
    """
    arr, sampling, _ = _image_input(image, sampling_A)
    p, ky, kx = _power(arr, sampling, window)
    return p, (ky, kx)


def radial_power_spectrum(image: Any, sampling_A: float | None = None, nbins: int | None = None):
    """Azimuthally averaged power spectrum (Hann-windowed) of an image.

    Parameters
    ----------
    image : ndarray (ny, nx) or Measurement
        Image intensities.
    sampling_A : float, optional
        Pixel size (Å/pixel); required for a plain array.
    nbins : int, optional
        Number of rings between 0 and the Nyquist frequency of the shorter side; default
        one ring per Fourier pixel of that side (``min(ny, nx) // 2``).

    Returns
    -------
    k : ndarray
        Ring centres (1/Å).
    power : ndarray
        Mean power in each ring (NaN for an empty ring).
    """
    arr, sampling, _ = _image_input(image, sampling_A)
    nyq = 0.5 / sampling
    nbins = min(arr.shape) // 2 if nbins is None else _count(nbins, "nbins", 2)
    p, ky, kx = _power(arr, sampling, "hann")
    k, mean, _ = _radial(p, ky, kx, nyq / nbins, nyq)
    return k, mean


def find_lattice_spacings(
    image: Any,
    sampling_A: float | None = None,
    d_min_A: float = 1.0,
    d_max_A: float = 6.0,
    n: int = 8,
    prominence: float = 10.0,
    min_relative_power: float = _MIN_RELATIVE_POWER,
) -> list[tuple[float, float]]:
    """Lattice spacings of the strongest peaks in an image's diffractogram.

    Peaks are 2-D local maxima of the (2x zero-padded, Hann-windowed) power spectrum
    inside ``1/d_max_A <= |k| <= 1/d_min_A``; each is refined to sub-pixel precision by a
    parabola through the log power along each axis. Peaks of one spacing seen along
    several directions are merged (their strengths add).

    Parameters
    ----------
    image : ndarray (ny, nx) or Measurement
        Image intensities.
    sampling_A : float, optional
        Pixel size (Å/pixel); required for a plain array.
    d_min_A, d_max_A : float
        Spacing range searched (Å), ``0 < d_min_A < d_max_A``; spacings beyond Nyquist
        (``d < 2 sampling_A``) are not searched.
    n : int
        Maximum number of spacings returned, >= 1.
    prominence : float
        A peak's power must exceed this many times the background, > 1. The background
        is the mean power of its ring (estimated from the ring's median, so lattice
        peaks do not raise it). For speckle the power in a pixel exceeds ``x`` times the
        mean with probability ``exp(-x)``: 10 gives ~5e-5 false peaks per pixel.
    min_relative_power : float
        A peak must also reach this fraction of the strongest peak's power, in (0, 1).
        The default 1e-2 keeps a strong reflection's Hann side lobes (7e-4) out; lower
        it (not below ~1e-3) for weak reflections in noise-free images, such as Li2O
        (200) (0.2 % of (220): its O and Li contributions nearly cancel for electrons).

    Returns
    -------
    list of (d_A, strength)
        Strongest first; ``strength`` is the peak's excess power over its background in
        units of the background (a signal-to-background ratio).
    """
    arr, sampling, _ = _image_input(image, sampling_A)
    lo, hi = _d_range(d_min_A, d_max_A)
    n = _count(n, "n")
    prom = _positive(prominence, "prominence")
    if prom <= 1.0:
        raise InterphaseInputError("prominence", f"expected a number > 1, got {prominence!r}")
    rel = float(min_relative_power)
    if not 0.0 < rel < 1.0:
        raise InterphaseInputError("min_relative_power", f"expected a fraction in (0, 1), got {min_relative_power!r}")
    return [(d, strength) for d, strength, _ in _peaks(arr, sampling, lo, hi, n, prom, min_relative=rel)]


# --------------------------------------------------------------------------- Thon rings


@dataclass(frozen=True)
class ThonFit:
    """Result of :func:`fit_defocus_thon`.

    Attributes
    ----------
    defocus_A, defocus_err_A : float
        Defocus (Å, positive = underfocus, ``defocus = -C10``) and its 1-sigma
        statistical uncertainty (from the fit's covariance, scaled by the reduced
        chi-square; systematic errors such as astigmatism are not included).
    Cs_mm, Cs_err_mm : float, float or None
        Spherical aberration (mm): the given value, or the fitted one with its
        uncertainty when ``fit_Cs`` (else ``Cs_err_mm`` is None).
    k_inv_A, psd, model : ndarray
        Ring centres (1/Å) in the fitted range, the radial power spectrum and the model.
    reduced_chi2 : float
        Residual sum of squares per degree of freedom (weights from speckle statistics).
    """

    defocus_A: float
    defocus_err_A: float
    Cs_mm: float
    Cs_err_mm: float | None
    k_inv_A: np.ndarray
    psd: np.ndarray
    model: np.ndarray
    reduced_chi2: float


def fit_defocus_thon(
    image: Any,
    sampling_A: float | None = None,
    energy_eV: float = 300e3,
    Cs_mm: float = 1.2,
    defocus_guess_A: float | None = None,
    k_range: tuple[float, float] | None = None,
    defocus_range_A: tuple[float, float] | None = None,
    fit_Cs: bool = False,
) -> ThonFit:
    """Defocus from the Thon rings of an amorphous region (radial power spectrum).

    The Hann-windowed radial power spectrum ``P(k)`` is fitted with
    ``B(k) + A(k) sin^2(chi(k))``, where the background ``B`` (cubic in k) and the ring
    amplitude ``A`` (quadratic in k: envelope x object spectrum) are smooth and linear
    in their coefficients, solved exactly for each trial defocus (variable projection).
    A grid search over defocus is refined by :func:`scipy.optimize.least_squares`. Each
    ring is weighted by its speckle noise, ``P / sqrt(pixels in the ring)``. Astigmatism
    is not modelled (the rings are assumed circular).

    Parameters
    ----------
    image : ndarray (ny, nx) or Measurement
        Image of an amorphous region (weak-phase contrast).
    sampling_A : float, optional
        Pixel size (Å/pixel); required for a plain array.
    energy_eV : float
        Beam energy (eV), > 0.
    Cs_mm : float
        Spherical aberration (mm), >= 0; the starting value when ``fit_Cs``.
    defocus_guess_A : float, optional
        Expected defocus (Å, positive = underfocus); the grid spans 0.5-1.5 x the guess
        (at least +-200 Å). Without it the grid spans -1000 to 3000 Å.
    k_range : (float, float), optional
        Frequencies fitted (1/Å). Default: from 4 Fourier pixels up to the smallest of
        0.8 x Nyquist, 1 Å^-1 and the frequency where chi changes by more than pi/2 per
        Fourier pixel at the guessed defocus (at zero defocus without a guess).
    defocus_range_A : (float, float), optional
        Explicit grid range (Å), overriding the one from ``defocus_guess_A``.
    fit_Cs : bool
        Also fit Cs: the grid then also spans 0.5-1.5 x ``Cs_mm`` (0-3 mm if 0), since
        defocus and Cs both move the rings and trade off against each other.

    Returns
    -------
    ThonFit
    """
    arr, sampling, _ = _image_input(image, sampling_A)
    lam = wavelength_A(energy_eV)
    cs_mm = _cs_mm(Cs_mm)
    cs_A = cs_mm * 1e7
    df_lo, df_hi = _defocus_range(defocus_range_A, defocus_guess_A)
    dk = 1.0 / (min(arr.shape) * sampling)
    kmin, kmax = _thon_k_range(k_range, dk, 0.5 / sampling, lam, cs_A, defocus_guess_A)
    rings = _Rings.measure(arr, sampling, dk, kmin, kmax, lam)
    # grid step: chi changes by pi/8 at kmax between neighbours, so the minimum is bracketed
    step = 1.0 / (8 * lam * kmax**2)
    df0, cs0_mm = _grid_search(rings, df_lo, df_hi, step, cs_A, fit_Cs)
    return _refine(rings, df0, cs0_mm, step, cs_mm, fit_Cs)


# Thon-ring fit, parse: the aberrations and the defocus and frequency ranges


def _cs_mm(Cs_mm: Any) -> float:
    """Spherical aberration (mm), validated (finite, >= 0)."""
    try:
        cs_mm = float(Cs_mm)
    except (TypeError, ValueError):
        raise InterphaseInputError("Cs_mm", f"expected a number >= 0, got {Cs_mm!r}") from None
    if not (math.isfinite(cs_mm) and cs_mm >= 0):
        raise InterphaseInputError("Cs_mm", f"expected a finite number >= 0 (mm), got {Cs_mm!r}")
    return cs_mm


def _defocus_range(defocus_range_A: Any, defocus_guess_A: Any) -> tuple[float, float]:
    """(low, high) defocus (Å) of the grid search: explicit, around the guess, or -1000 to 3000."""
    if defocus_range_A is not None:
        try:
            df_lo, df_hi = (float(v) for v in defocus_range_A)
        except (TypeError, ValueError):
            raise InterphaseInputError("defocus_range_A", "expected (low, high) in Å") from None
        if not (math.isfinite(df_lo) and math.isfinite(df_hi) and df_lo < df_hi):
            raise InterphaseInputError("defocus_range_A", f"expected finite low < high (Å), got {defocus_range_A!r}")
        return df_lo, df_hi
    if defocus_guess_A is not None:
        g = float(defocus_guess_A)
        if not math.isfinite(g):
            raise InterphaseInputError("defocus_guess_A", f"expected a finite number (Å), got {defocus_guess_A!r}")
        half = max(0.5 * abs(g), 200.0)
        return g - half, g + half
    return -1000.0, 3000.0


def _thon_k_range(
    k_range: Any, dk: float, nyq: float, lam: float, cs_A: float, defocus_guess_A: Any
) -> tuple[float, float]:
    """(kmin, kmax) fitted (1/Å): explicit and validated, or the default of :func:`fit_defocus_thon`.

    ``dk`` is the ring width (one Fourier pixel of the shorter side) and ``nyq`` the
    Nyquist frequency (1/Å); ``lam`` the wavelength and ``cs_A`` the Cs (Å).
    """
    if k_range is not None:
        try:
            kmin, kmax = (float(v) for v in k_range)
        except (TypeError, ValueError):
            raise InterphaseInputError("k_range", "expected (kmin, kmax) in 1/Å") from None
        if not (0 <= kmin < kmax <= nyq):
            raise InterphaseInputError("k_range", f"expected 0 <= kmin < kmax <= Nyquist {nyq:g} 1/Å, got {k_range!r}")
        return kmin, kmax
    kk = np.arange(1, int(nyq / dk)) * dk
    # rings stop carrying information where they change by more than pi/2 per ring
    # of the radial average; judged at the guess (else at zero defocus, where Cs
    # alone sets the ring density). Denser rings beyond kmax would only add noise:
    # the ring-averaged model tends to 1/2 there, as the data does.
    df_ref = 0.0 if defocus_guess_A is None else float(defocus_guess_A)
    slope = np.abs(-2 * np.pi * lam * df_ref * kk + 2 * np.pi * cs_A * lam**3 * kk**3)  # |dchi/dk|
    dense = np.nonzero(slope * dk > np.pi / 2)[0]
    k_res = kk[dense[0]] if dense.size else nyq
    return 4 * dk, min(0.8 * nyq, 1.0, k_res)


# Thon-ring fit, compute: radial spectrum, grid search, least-squares refinement


@dataclass(frozen=True)
class _Rings:
    """The fitted rings of a radial power spectrum and their speckle weights.

    ``k`` ring centres (1/Å), ``psd`` mean power, ``sigma`` its speckle noise, ``yw`` the
    weighted data ``psd / sigma``, ``t`` the rings mapped onto [0, 1] for the polynomials;
    ``dk`` ring width (1/Å) and ``lam`` wavelength (Å).
    """

    k: np.ndarray
    psd: np.ndarray
    sigma: np.ndarray
    yw: np.ndarray
    t: np.ndarray
    dk: float
    lam: float

    @classmethod
    def measure(cls, arr: np.ndarray, sampling: float, dk: float, kmin: float, kmax: float, lam: float) -> _Rings:
        p, ky, kx = _power(arr, sampling, "hann")
        k, psd, counts = _radial(p, ky, kx, dk, kmax + dk)
        sel = (k >= kmin) & (k <= kmax) & (counts > 0)
        if sel.sum() < _POLY_BG + _POLY_AMP + 4:
            raise InterphaseInputError(
                "k_range",
                f"only {int(sel.sum())} rings between {kmin:g} and {kmax:g} 1/Å; widen it or use a larger image",
            )
        k, psd, counts = k[sel], psd[sel], counts[sel]
        # speckle: a ring's mean power scatters by its (smooth) level / sqrt(pixels)
        level = ndimage.uniform_filter1d(psd, size=9, mode="nearest")
        sigma = np.maximum(level, 1e-12 * level.max()) / np.sqrt(counts)
        return cls(k=k, psd=psd, sigma=sigma, yw=psd / sigma, t=(k - k[0]) / (k[-1] - k[0]), dk=dk, lam=lam)

    def weighted_design(self, defocus: np.ndarray, cs_A: np.ndarray) -> np.ndarray:
        """Design matrices (G, n, 7) divided by ``sigma``, one per (defocus, Cs) pair (Å)."""
        s2 = _ring_average_sin2(self.k, self.dk, self.lam, defocus, cs_A)
        return _design(self.t, s2) / self.sigma[None, :, None]


def _grid_search(
    rings: _Rings, df_lo: float, df_hi: float, step: float, cs_A: float, fit_Cs: bool
) -> tuple[float, float]:
    """Best (defocus in Å, Cs in mm) on a grid, the linear coefficients projected out."""
    yw = rings.yw

    def rss_grid(dfs: np.ndarray, cs: float) -> np.ndarray:
        q, _ = np.linalg.qr(rings.weighted_design(dfs, np.full(dfs.shape, cs)))
        proj = np.einsum("gnj,n->gj", q, yw)
        return np.sum(yw**2) - np.sum(proj**2, axis=1)

    grid = np.linspace(df_lo, df_hi, int(min(4000, max(50, (df_hi - df_lo) / step + 1))))
    # defocus and Cs trade off (both shift the rings): with fit_Cs search both on a grid
    cs_grid = np.array([cs_A])
    if fit_Cs:
        cs_grid = np.linspace(0.5, 1.5, 21) * cs_A if cs_A > 0 else np.linspace(0.0, 3e7, 31)
    best = (np.inf, 0.0, cs_A)
    for cs in cs_grid:
        rss = np.concatenate([rss_grid(grid[i : i + 256], cs) for i in range(0, grid.size, 256)])
        if rss.min() < best[0]:
            best = (float(rss.min()), float(grid[np.argmin(rss)]), float(cs))
    return best[1], best[2] / 1e7


def _refine(rings: _Rings, df0: float, cs0_mm: float, step: float, cs_mm: float, fit_Cs: bool) -> ThonFit:
    """Least-squares refinement from the grid optimum, packaged with its covariance errors."""
    cs_A, yw, sigma = cs_mm * 1e7, rings.yw, rings.sigma

    def residual(params: np.ndarray) -> np.ndarray:
        cs = params[1] * 1e7 if fit_Cs else cs_A
        x = rings.weighted_design(params[:1], np.array([cs]))[0]
        coef, *_ = np.linalg.lstsq(x, yw, rcond=None)
        return yw - x @ coef

    x0 = np.array([df0, cs0_mm]) if fit_Cs else np.array([df0])
    fit = optimize.least_squares(residual, x0, x_scale=np.array([step, max(cs0_mm, 0.1)])[: x0.size], method="lm")
    dof = max(1, rings.k.size - _POLY_BG - _POLY_AMP - x0.size)
    red = float(np.sum(fit.fun**2) / dof)
    try:
        cov = np.linalg.inv(fit.jac.T @ fit.jac) * red
        err = np.sqrt(np.diag(cov))
    except np.linalg.LinAlgError:
        err = np.full(x0.size, np.inf)
    return ThonFit(
        defocus_A=float(fit.x[0]),
        defocus_err_A=float(err[0]),
        Cs_mm=float(fit.x[1]) if fit_Cs else cs_mm,
        Cs_err_mm=float(err[1]) if fit_Cs else None,
        k_inv_A=rings.k,
        psd=rings.psd,
        model=rings.psd - fit.fun * sigma,
        reduced_chi2=red,
    )
