"""Analysis of HRTEM images: diffractograms, lattice spacings, Thon-ring fits.

Phase maps (which phase shows the fringes where) are in :mod:`interphase_sim.hrtem_phasemap`.

Works on simulated images (:mod:`interphase_sim.hrtem`) and measured ones alike. An image
is a 2-D float array with a pixel size ``sampling_A`` (Å/pixel), or a
:class:`~interphase_sim.measurement.Measurement` with two axes (rows, columns) in nm,
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
from scipy import fft as sp_fft
from scipy import ndimage, optimize

from .errors import InterphaseInputError

__all__ = [
    "ThonFit",
    "diffractogram",
    "find_lattice_spacings",
    "fit_defocus_thon",
    "radial_power_spectrum",
    "wavelength_A",
]

# CODATA 2018: h c in eV Å and the electron rest energy m0 c^2 in eV.
_HC_EV_A = 12398.419843320026
_ME_C2_EV = 510998.95000

# Smallest image side (pixels) for which a power spectrum means anything.
_MIN_SIDE = 8
# A diffractogram peak must also reach this fraction of the strongest peak's power:
# a Hann window's first side lobe is ~ -31 dB (7e-4 in power), so side lobes of a strong
# reflection in a noise-free image are never mistaken for lattice spacings.
_MIN_RELATIVE_POWER = 1e-2
# For an exponentially distributed periodogram (speckle of a random object) the mean is
# the median / ln 2; the background uses the median because it ignores the few peak
# pixels in a ring.
_MEDIAN_TO_MEAN = 1.0 / math.log(2.0)
_ANGSTROM_PER_NM = 10.0
# Peaks are searched up to this fraction of the Nyquist frequency (the corners of the
# spectrum are aliased and windowed away).
_NYQUIST_FRACTION = 0.95


# --------------------------------------------------------------------------- inputs


def _positive(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise InterphaseInputError(field, f"expected a positive number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InterphaseInputError(field, f"expected a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise InterphaseInputError(field, f"expected a finite number > 0, got {value!r}")
    return v


def _axis_step_A(values: np.ndarray, units: str, field: str) -> tuple[float, float]:
    """(pixel size in Å, first coordinate in nm) of a uniform Measurement axis."""
    scale = {"nm": _ANGSTROM_PER_NM, "A": 1.0, "Å": 1.0, "angstrom": 1.0}.get(units)
    if scale is None:
        raise InterphaseInputError(f"{field}.units", f"expected 'nm' or 'Å', got {units!r}")
    v = np.asarray(values, dtype=float)
    if v.size < _MIN_SIDE or not np.all(np.isfinite(v)):
        raise InterphaseInputError(field, f"expected >= {_MIN_SIDE} finite coordinates")
    step = np.diff(v)
    if not (np.all(step > 0) and np.ptp(step) <= 1e-3 * abs(step.mean())):
        raise InterphaseInputError(field, "expected uniformly spaced, increasing coordinates")
    return float(step.mean()) * scale, float(v[0]) * scale / _ANGSTROM_PER_NM


def _image_input(image: Any, sampling_A: Any) -> tuple[np.ndarray, float, tuple[float, float]]:
    """(image, pixel size Å, (y0, x0) coordinate of the first pixel in nm), validated."""
    origin = (0.0, 0.0)
    if hasattr(image, "axes") and hasattr(image, "values"):
        if len(image.axes) != 2:
            raise InterphaseInputError("image.axes", f"expected 2 axes (rows, columns), got {len(image.axes)}")
        sy, y0 = _axis_step_A(image.axes[0].values, image.axes[0].units, f"image.axes.{image.axes[0].name}")
        sx, x0 = _axis_step_A(image.axes[1].values, image.axes[1].units, f"image.axes.{image.axes[1].name}")
        if abs(sy - sx) > 1e-3 * sx:
            raise InterphaseInputError("image.axes", f"pixels must be square, got {sy:g} x {sx:g} Å")
        if sampling_A is not None and abs(_positive(sampling_A, "sampling_A") - sx) > 1e-6 * sx:
            raise InterphaseInputError(
                "sampling_A", f"{sampling_A!r} disagrees with the Measurement's axis spacing {sx:g} Å; omit it"
            )
        arr, sampling, origin = np.asarray(image.values, dtype=float), sx, (y0, x0)
    else:
        if sampling_A is None:
            raise InterphaseInputError("sampling_A", "required (Å/pixel) when the image is a plain array")
        sampling = _positive(sampling_A, "sampling_A")
        try:
            arr = np.asarray(image, dtype=float)
        except (TypeError, ValueError):
            raise InterphaseInputError("image", "expected a 2-D array of numbers") from None
    if arr.ndim != 2:
        raise InterphaseInputError("image", f"expected a 2-D array, got {arr.ndim}-D of shape {arr.shape}")
    if min(arr.shape) < _MIN_SIDE:
        raise InterphaseInputError("image", f"expected at least {_MIN_SIDE} x {_MIN_SIDE} pixels, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InterphaseInputError("image", "contains NaN or infinite values")
    return arr, sampling, origin


def _d_range(d_min_A: Any, d_max_A: Any) -> tuple[float, float]:
    lo, hi = _positive(d_min_A, "d_min_A"), _positive(d_max_A, "d_max_A")
    if lo >= hi:
        raise InterphaseInputError("d_min_A", f"must be below d_max_A ({hi:g} Å), got {lo:g} Å")
    return lo, hi


def _count(value: Any, field: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InterphaseInputError(field, f"expected an integer >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- spectra


def wavelength_A(energy_eV: float) -> float:
    """Relativistic electron wavelength (Å) at a kinetic energy ``energy_eV`` (eV).

    ``lambda = h c / sqrt(E (2 m0 c^2 + E))`` with CODATA 2018 constants; 0.019687 Å at
    300 keV, 0.025079 Å at 200 keV.
    """
    e = _positive(energy_eV, "energy_eV")
    return _HC_EV_A / math.sqrt(e * (2.0 * _ME_C2_EV + e))


def _hann2d(shape: tuple[int, int]) -> np.ndarray:
    # periodic-free symmetric Hann (np.hanning): zero at both edges, so the image borders
    # do not put a streak cross through the diffractogram
    return np.outer(np.hanning(shape[0]), np.hanning(shape[1]))


def _power(image: np.ndarray, sampling: float, window: str | None, shape: tuple[int, int] | None = None):
    """fftshifted power spectrum of the mean-removed (windowed) image, and its k axes (1/Å)."""
    f = image - image.mean()
    if window == "hann":
        f = f * _hann2d(image.shape)
    elif window is not None:
        raise InterphaseInputError("window", f"expected 'hann' or None, got {window!r}")
    shape = image.shape if shape is None else shape
    p = np.abs(sp_fft.fft2(f, s=shape)) ** 2
    ky = sp_fft.fftshift(sp_fft.fftfreq(shape[0], d=sampling))
    kx = sp_fft.fftshift(sp_fft.fftfreq(shape[1], d=sampling))
    return sp_fft.fftshift(p), ky, kx


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


def _radial(p: np.ndarray, ky: np.ndarray, kx: np.ndarray, dk: float, kmax: float):
    """Bin centres (1/Å), mean power and pixel count in rings of width dk up to kmax."""
    kk = np.hypot(ky[:, None], kx[None, :])
    nb = int(kmax / dk)
    idx = (kk / dk).astype(int).ravel()
    keep = idx < nb
    counts = np.bincount(idx[keep], minlength=nb)
    sums = np.bincount(idx[keep], weights=p.ravel()[keep], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    return (np.arange(nb) + 0.5) * dk, mean, counts


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


# --------------------------------------------------------------------------- peaks


def _peaks(arr, sampling, d_min, d_max, n, prominence, pad=2, min_relative=_MIN_RELATIVE_POWER):
    """Strongest diffractogram peaks of one image: list of (d_A, strength, largest power ratio).

    ``strength`` sums the excess power ratios of the peaks merged into one spacing; the
    last entry is the largest single peak's power over its background.
    """
    ny, nx = arr.shape
    shape = (sp_fft.next_fast_len(pad * ny), sp_fft.next_fast_len(pad * nx))
    p, ky, kx = _power(arr, sampling, "hann", shape)
    kk = np.hypot(ky[:, None], kx[None, :])
    # ring width: one Fourier pixel of the shorter side (the true frequency resolution)
    dk = 1.0 / (min(ny, nx) * sampling)
    kmax = min(1.0 / d_min, _NYQUIST_FRACTION * 0.5 / sampling)
    kmin = 1.0 / d_max
    if kmax <= kmin:
        return []
    # background from a band one ring wider than the searched annulus on each side
    band = (kk >= max(kmin - dk, 0.0)) & (kk < kmax + dk)
    ring = (kk[band] / dk).astype(int)
    vals = p[band]
    order = np.lexsort((vals, ring))
    ring_s, vals_s = ring[order], vals[order]
    uniq, start, cnt = np.unique(ring_s, return_index=True, return_counts=True)
    med = vals_s[start + cnt // 2] * _MEDIAN_TO_MEAN
    bg_of_ring = np.full(uniq.max() + 1, np.inf)
    bg_of_ring[uniq] = np.maximum(med, np.finfo(float).tiny)
    bg = np.full(p.shape, np.inf)
    bg[band] = bg_of_ring[ring]

    # Friedel mates carry the same information: search the upper half plane only
    half = (ky[:, None] > 0) | ((ky[:, None] == 0) & (kx[None, :] > 0))
    size = 2 * pad + 1
    is_max = p == ndimage.maximum_filter(p, size=size, mode="wrap")
    ann = (kk >= kmin) & (kk <= kmax) & half & is_max
    ratio = np.where(ann, p / bg, 0.0)
    cand = ann & (ratio >= prominence)
    if not np.any(cand):
        return []
    cand &= p >= min_relative * p[cand].max()
    iy, ix = np.nonzero(cand)
    logp = np.log(np.maximum(p, np.finfo(float).tiny))

    def vertex(lm, l0, lp):
        # parabola through three log-power samples: a Gaussian-like peak's centre
        den = lm - 2.0 * l0 + lp
        with np.errstate(invalid="ignore", divide="ignore"):
            off = np.where(den < 0, 0.5 * (lm - lp) / den, 0.0)
        return np.clip(off, -1.0, 1.0)

    oy = vertex(logp[iy - 1, ix], logp[iy, ix], logp[iy + 1, ix])
    ox = vertex(logp[iy, ix - 1], logp[iy, ix], logp[iy, ix + 1])
    dky, dkx = ky[1] - ky[0], kx[1] - kx[0]
    kmag = np.hypot(ky[iy] + oy * dky, kx[ix] + ox * dkx)
    strength = ratio[iy, ix] - 1.0

    # one spacing seen along several directions (e.g. (200) and (020)) is one entry:
    # merge peaks whose |k| agree within half a Fourier pixel, strengths add
    order = np.argsort(kmag)
    groups: list[list[float]] = []  # [sum s*k, sum s, largest single power ratio]
    for i in order:
        k_i, s_i = float(kmag[i]), float(strength[i])
        if groups and abs(k_i - groups[-1][0] / groups[-1][1]) <= 0.5 * dk:
            groups[-1][0] += s_i * k_i
            groups[-1][1] += s_i
            groups[-1][2] = max(groups[-1][2], s_i + 1.0)
        else:
            groups.append([s_i * k_i, s_i, s_i + 1.0])
    out = [(g[1] / g[0], g[1], g[2]) for g in groups]
    out.sort(key=lambda t: -t[1])
    return out[:n]


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


# Sub-samples per ring used to average sin^2(chi) over a ring and the Hann window's
# blur (+- one Fourier pixel): where rings are denser than the sampling the model then
# tends to 1/2, as the data does, instead of aliasing.
_RING_SUBSAMPLES = 16
_POLY_BG = 4  # background B(k): cubic in k
_POLY_AMP = 3  # Thon-ring amplitude A(k) (envelope x object spectrum): quadratic in k


def _chi(k: np.ndarray, lam: float, defocus: np.ndarray, cs_A: np.ndarray) -> np.ndarray:
    # chi = 2 pi / lambda (C10 (lambda k)^2 / 2 + Cs (lambda k)^4 / 4), C10 = -defocus
    return np.pi * lam * k**2 * (-defocus) + 0.5 * np.pi * cs_A * lam**3 * k**4


def _ring_average_sin2(k, dk, lam, defocus, cs_A):
    """sin^2(chi) averaged over [k - dk, k + dk]; defocus/cs_A broadcast over a leading axis."""
    u = (np.arange(_RING_SUBSAMPLES) + 0.5) / _RING_SUBSAMPLES * 2.0 - 1.0
    ks = k[:, None] + u[None, :] * dk
    chi = _chi(ks[None], lam, np.asarray(defocus)[:, None, None], np.asarray(cs_A)[:, None, None])
    return np.mean(np.sin(chi) ** 2, axis=-1)


def _design(t: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """Columns [1, t, t^2, t^3, s2, t s2, t^2 s2] for each row of s2 (shape (G, n))."""
    g = s2.shape[0]
    bgc = np.stack([t**i for i in range(_POLY_BG)], axis=-1)
    amp = np.stack([t**i for i in range(_POLY_AMP)], axis=-1)
    return np.concatenate([np.broadcast_to(bgc, (g,) + bgc.shape), s2[..., None] * amp[None]], axis=-1)


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
    try:
        cs_mm = float(Cs_mm)
    except (TypeError, ValueError):
        raise InterphaseInputError("Cs_mm", f"expected a number >= 0, got {Cs_mm!r}") from None
    if not (math.isfinite(cs_mm) and cs_mm >= 0):
        raise InterphaseInputError("Cs_mm", f"expected a finite number >= 0 (mm), got {Cs_mm!r}")
    cs_A = cs_mm * 1e7

    if defocus_range_A is not None:
        try:
            df_lo, df_hi = (float(v) for v in defocus_range_A)
        except (TypeError, ValueError):
            raise InterphaseInputError("defocus_range_A", "expected (low, high) in Å") from None
        if not (math.isfinite(df_lo) and math.isfinite(df_hi) and df_lo < df_hi):
            raise InterphaseInputError("defocus_range_A", f"expected finite low < high (Å), got {defocus_range_A!r}")
    elif defocus_guess_A is not None:
        g = float(defocus_guess_A)
        if not math.isfinite(g):
            raise InterphaseInputError("defocus_guess_A", f"expected a finite number (Å), got {defocus_guess_A!r}")
        half = max(0.5 * abs(g), 200.0)
        df_lo, df_hi = g - half, g + half
    else:
        df_lo, df_hi = -1000.0, 3000.0

    dk = 1.0 / (min(arr.shape) * sampling)
    nyq = 0.5 / sampling
    if k_range is None:
        kk = np.arange(1, int(nyq / dk)) * dk
        # rings stop carrying information where they change by more than pi/2 per ring
        # of the radial average; judged at the guess (else at zero defocus, where Cs
        # alone sets the ring density). Denser rings beyond kmax would only add noise:
        # the ring-averaged model tends to 1/2 there, as the data does.
        df_ref = 0.0 if defocus_guess_A is None else float(defocus_guess_A)
        slope = np.abs(-2 * np.pi * lam * df_ref * kk + 2 * np.pi * cs_A * lam**3 * kk**3)  # |dchi/dk|
        dense = np.nonzero(slope * dk > np.pi / 2)[0]
        k_res = kk[dense[0]] if dense.size else nyq
        kmin, kmax = 4 * dk, min(0.8 * nyq, 1.0, k_res)
    else:
        try:
            kmin, kmax = (float(v) for v in k_range)
        except (TypeError, ValueError):
            raise InterphaseInputError("k_range", "expected (kmin, kmax) in 1/Å") from None
        if not (0 <= kmin < kmax <= nyq):
            raise InterphaseInputError("k_range", f"expected 0 <= kmin < kmax <= Nyquist {nyq:g} 1/Å, got {k_range!r}")

    p, ky, kx = _power(arr, sampling, "hann")
    k, psd, counts = _radial(p, ky, kx, dk, kmax + dk)
    sel = (k >= kmin) & (k <= kmax) & (counts > 0)
    n_lin = _POLY_BG + _POLY_AMP
    if sel.sum() < n_lin + 4:
        raise InterphaseInputError(
            "k_range", f"only {int(sel.sum())} rings between {kmin:g} and {kmax:g} 1/Å; widen it or use a larger image"
        )
    k, psd, counts = k[sel], psd[sel], counts[sel]
    # speckle: a ring's mean power scatters by its (smooth) level / sqrt(pixels)
    level = ndimage.uniform_filter1d(psd, size=9, mode="nearest")
    sigma = np.maximum(level, 1e-12 * level.max()) / np.sqrt(counts)
    yw = psd / sigma
    t = (k - k[0]) / (k[-1] - k[0])

    def rss_grid(dfs: np.ndarray, cs: float) -> np.ndarray:
        x = _design(t, _ring_average_sin2(k, dk, lam, dfs, np.full(dfs.shape, cs))) / sigma[None, :, None]
        q, _ = np.linalg.qr(x)
        proj = np.einsum("gnj,n->gj", q, yw)
        return np.sum(yw**2) - np.sum(proj**2, axis=1)

    # grid step: chi changes by pi/8 at kmax between neighbours, so the minimum is bracketed
    step = 1.0 / (8 * lam * kmax**2)
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
    df0, cs0_mm = best[1], best[2] / 1e7

    def residual(params: np.ndarray) -> np.ndarray:
        cs = params[1] * 1e7 if fit_Cs else cs_A
        x = _design(t, _ring_average_sin2(k, dk, lam, params[:1], np.array([cs])))[0] / sigma[:, None]
        coef, *_ = np.linalg.lstsq(x, yw, rcond=None)
        return yw - x @ coef

    x0 = np.array([df0, cs0_mm]) if fit_Cs else np.array([df0])
    fit = optimize.least_squares(residual, x0, x_scale=np.array([step, max(cs0_mm, 0.1)])[: x0.size], method="lm")
    dof = max(1, k.size - n_lin - x0.size)
    red = float(np.sum(fit.fun**2) / dof)
    try:
        cov = np.linalg.inv(fit.jac.T @ fit.jac) * red
        err = np.sqrt(np.diag(cov))
    except np.linalg.LinAlgError:
        err = np.full(x0.size, np.inf)
    cs_fit = float(fit.x[1]) if fit_Cs else cs_mm
    model = psd - fit.fun * sigma
    return ThonFit(
        defocus_A=float(fit.x[0]),
        defocus_err_A=float(err[0]),
        Cs_mm=cs_fit,
        Cs_err_mm=float(err[1]) if fit_Cs else None,
        k_inv_A=k,
        psd=psd,
        model=model,
        reduced_chi2=red,
    )
