"""Shared kernels of the HRTEM analysis: input checks, windowed power spectra, peak search, Thon-ring terms.

Private to :mod:`interphase_sim.hrtem`: the analysis, phase-map, fitting and model modules
import from here. Frequencies in 1/Å, pixel sizes in Å/pixel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage

from interphase_sim.core.constants import ANGSTROM_PER_NM, ELECTRON_REST_ENERGY_EV, HC_EV_A
from interphase_sim.core import validate as V
from interphase_sim.core.errors import InterphaseInputError

# Smallest image side (pixels) for which a power spectrum means anything.
MIN_SIDE = 8
# A diffractogram peak must also reach this fraction of the strongest peak's power:
# a Hann window's first side lobe is ~ -31 dB (7e-4 in power), so side lobes of a strong
# reflection in a noise-free image are never mistaken for lattice spacings.
MIN_RELATIVE_POWER = 1e-2
# For an exponentially distributed periodogram (speckle of a random object) the mean is
# the median / ln 2; the background uses the median because it ignores the few peak
# pixels in a ring.
MEDIAN_TO_MEAN = 1.0 / math.log(2.0)
# Peaks are searched up to this fraction of the Nyquist frequency (the corners of the
# spectrum are aliased and windowed away).
NYQUIST_FRACTION = 0.95


# --------------------------------------------------------------------------- inputs



def positive_number(value: Any, field: str) -> float:
    """A finite number > 0 (the one vocabulary: :func:`interphase_sim.core.validate.number`)."""
    return V.positive(value, field)


def axis_step_A(values: np.ndarray, units: str, field: str) -> tuple[float, float]:
    """(pixel size in Å, first coordinate in nm) of a uniform Measurement axis."""
    scale = {"nm": ANGSTROM_PER_NM, "A": 1.0, "Å": 1.0, "angstrom": 1.0}.get(units)
    if scale is None:
        raise InterphaseInputError(f"{field}.units", f"expected 'nm' or 'Å', got {units!r}")
    v = np.asarray(values, dtype=float)
    if v.size < MIN_SIDE or not np.all(np.isfinite(v)):
        raise InterphaseInputError(field, f"expected >= {MIN_SIDE} finite coordinates")
    step = np.diff(v)
    if not (np.all(step > 0) and np.ptp(step) <= 1e-3 * abs(step.mean())):
        raise InterphaseInputError(field, "expected uniformly spaced, increasing coordinates")
    return float(step.mean()) * scale, float(v[0]) * scale / ANGSTROM_PER_NM


def image_input(image: Any, sampling_A: Any) -> tuple[np.ndarray, float, tuple[float, float]]:
    """(image, pixel size Å, (y0, x0) coordinate of the first pixel in nm), validated."""
    origin = (0.0, 0.0)
    if hasattr(image, "axes") and hasattr(image, "values"):
        if len(image.axes) != 2:
            raise InterphaseInputError("image.axes", f"expected 2 axes (rows, columns), got {len(image.axes)}")
        sy, y0 = axis_step_A(image.axes[0].values, image.axes[0].units, f"image.axes.{image.axes[0].name}")
        sx, x0 = axis_step_A(image.axes[1].values, image.axes[1].units, f"image.axes.{image.axes[1].name}")
        if abs(sy - sx) > 1e-3 * sx:
            raise InterphaseInputError("image.axes", f"pixels must be square, got {sy:g} x {sx:g} Å")
        if sampling_A is not None and abs(positive_number(sampling_A, "sampling_A") - sx) > 1e-6 * sx:
            raise InterphaseInputError(
                "sampling_A", f"{sampling_A!r} disagrees with the Measurement's axis spacing {sx:g} Å; omit it"
            )
        arr, sampling, origin = np.asarray(image.values, dtype=float), sx, (y0, x0)
    else:
        if sampling_A is None:
            raise InterphaseInputError("sampling_A", "required (Å/pixel) when the image is a plain array")
        sampling = positive_number(sampling_A, "sampling_A")
        try:
            arr = np.asarray(image, dtype=float)
        except (TypeError, ValueError):
            raise InterphaseInputError("image", "expected a 2-D array of numbers") from None
    if arr.ndim != 2:
        raise InterphaseInputError("image", f"expected a 2-D array, got {arr.ndim}-D of shape {arr.shape}")
    if min(arr.shape) < MIN_SIDE:
        raise InterphaseInputError("image", f"expected at least {MIN_SIDE} x {MIN_SIDE} pixels, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InterphaseInputError("image", "contains NaN or infinite values")
    return arr, sampling, origin


def check_d_range(d_min_A: Any, d_max_A: Any) -> tuple[float, float]:
    lo, hi = positive_number(d_min_A, "d_min_A"), positive_number(d_max_A, "d_max_A")
    if lo >= hi:
        raise InterphaseInputError("d_min_A", f"must be below d_max_A ({hi:g} Å), got {lo:g} Å")
    return lo, hi


def count_number(value: Any, field: str, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (:func:`interphase_sim.core.validate.integer`)."""
    return V.integer(value, field, low=minimum)


# --------------------------------------------------------------------------- spectra


def wavelength_A(energy_eV: float) -> float:
    """Relativistic electron wavelength (Å) at a kinetic energy ``energy_eV`` (eV).

    ``lambda = h c / sqrt(E (2 m0 c^2 + E))`` with CODATA 2018 constants; 0.019687 Å at
    300 keV, 0.025079 Å at 200 keV.
    """
    e = positive_number(energy_eV, "energy_eV")
    return HC_EV_A / math.sqrt(e * (2.0 * ELECTRON_REST_ENERGY_EV + e))


def hann2d(shape: tuple[int, int]) -> np.ndarray:
    # periodic-free symmetric Hann (np.hanning): zero at both edges, so the image borders
    # do not put a streak cross through the diffractogram
    return np.outer(np.hanning(shape[0]), np.hanning(shape[1]))


def windowed_power(image: np.ndarray, sampling: float, window: str | None, shape: tuple[int, int] | None = None):
    """fftshifted power spectrum of the mean-removed (windowed) image, and its k axes (1/Å)."""
    f = image - image.mean()
    if window == "hann":
        f = f * hann2d(image.shape)
    elif window is not None:
        raise InterphaseInputError("window", f"expected 'hann' or None, got {window!r}")
    shape = image.shape if shape is None else shape
    p = np.abs(sp_fft.fft2(f, s=shape)) ** 2
    ky = sp_fft.fftshift(sp_fft.fftfreq(shape[0], d=sampling))
    kx = sp_fft.fftshift(sp_fft.fftfreq(shape[1], d=sampling))
    return sp_fft.fftshift(p), ky, kx


def radial_average(p: np.ndarray, ky: np.ndarray, kx: np.ndarray, dk: float, kmax: float):
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


# --------------------------------------------------------------------------- peaks


def spectrum_peaks(arr, sampling, d_min, d_max, n, prominence, pad=2, min_relative=MIN_RELATIVE_POWER):
    """Strongest diffractogram peaks of one image: list of (d_A, strength, largest power ratio).

    ``strength`` sums the excess power ratios of the peaks merged into one spacing; the
    last entry is the largest single peak's power over its background.
    """
    ny, nx = arr.shape
    shape = (sp_fft.next_fast_len(pad * ny), sp_fft.next_fast_len(pad * nx))
    p, ky, kx = windowed_power(arr, sampling, "hann", shape)
    kk = np.hypot(ky[:, None], kx[None, :])
    # ring width: one Fourier pixel of the shorter side (the true frequency resolution)
    dk = 1.0 / (min(ny, nx) * sampling)
    kmax = min(1.0 / d_min, NYQUIST_FRACTION * 0.5 / sampling)
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
    med = vals_s[start + cnt // 2] * MEDIAN_TO_MEAN
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


# Sub-samples per ring used to average sin^2(chi) over a ring and the Hann window's
# blur (+- one Fourier pixel): where rings are denser than the sampling the model then
# tends to 1/2, as the data does, instead of aliasing.
RING_SUBSAMPLES = 16
POLY_BG = 4  # background B(k): cubic in k
POLY_AMP = 3  # Thon-ring amplitude A(k) (envelope x object spectrum): quadratic in k


def wave_aberration(k: np.ndarray, lam: float, defocus: np.ndarray, cs_A: np.ndarray) -> np.ndarray:
    # chi = 2 pi / lambda (C10 (lambda k)^2 / 2 + Cs (lambda k)^4 / 4), C10 = -defocus
    return np.pi * lam * k**2 * (-defocus) + 0.5 * np.pi * cs_A * lam**3 * k**4


def ring_average_sin2(k, dk, lam, defocus, cs_A):
    """sin^2(chi) averaged over [k - dk, k + dk]; defocus/cs_A broadcast over a leading axis."""
    u = (np.arange(RING_SUBSAMPLES) + 0.5) / RING_SUBSAMPLES * 2.0 - 1.0
    ks = k[:, None] + u[None, :] * dk
    chi = wave_aberration(ks[None], lam, np.asarray(defocus)[:, None, None], np.asarray(cs_A)[:, None, None])
    return np.mean(np.sin(chi) ** 2, axis=-1)


def thon_design(t: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """Columns [1, t, t^2, t^3, s2, t s2, t^2 s2] for each row of s2 (shape (G, n))."""
    g = s2.shape[0]
    bgc = np.stack([t**i for i in range(POLY_BG)], axis=-1)
    amp = np.stack([t**i for i in range(POLY_AMP)], axis=-1)
    return np.concatenate([np.broadcast_to(bgc, (g,) + bgc.shape), s2[..., None] * amp[None]], axis=-1)
