"""Compiled kernels of the EELS line scan (numba, single-threaded, no BLAS).

The low-loss transform of a position is ``Z exp(tau (P - 1))`` (:mod:`~.lowloss`): here
``exp(tau P)`` is summed as its Taylor series by Horner's rule, per block of frequencies
to the degree that block's largest ``|tau P|`` needs for an absolute error below 2^-53
(:data:`DEGREE_THRESHOLDS`), and multiplied by ``exp(-tau)``. ``|P| <= 1`` falls off
with frequency (the plasmon's width damps it), so most blocks need 3-5 terms; the loops
run over contiguous real arrays, which the compiler vectorises, where a complex
exponential per element is a scalar library call (~20 ns): 4-5x faster. Blocks whose
``|tau P|`` exceeds what :data:`MAX_DEGREE` terms resolve (``|tau P| > 5.7``) fall back
to the complex exponential.

Matrix products of the per-call path are loops here too: a multithreaded BLAS called
on a (positions x species) @ (species x channels) product spins its threads up for a
few microseconds of work and, on a loaded machine, waits for cores far longer.
"""

from __future__ import annotations

import cmath
import math

import numba
import numpy as np

__all__ = ["DEGREE_THRESHOLDS", "MAX_DEGREE", "combine_rows", "interpolated_series", "place_rows", "series_spectra_ft"]

#: Most Taylor terms of ``exp(z)`` summed before falling back to the complex exponential.
MAX_DEGREE = 40
_TOLERANCE = 2.0**-53  # absolute error of exp(z) from the truncation: half an ulp of exp(0)


def _degree_thresholds() -> np.ndarray:
    """``thr[d]``: the largest ``|z|^2`` for which the Taylor polynomial of degree ``d``
    of ``exp(z)`` is within :data:`_TOLERANCE` (remainder <= |z|^(d+1) / (d+1)! e^|z|)."""
    thr = np.zeros(MAX_DEGREE + 1)
    for d in range(1, MAX_DEGREE + 1):
        lo, hi = 0.0, 16.0
        for _ in range(200):
            z = 0.5 * (lo + hi)
            bound = math.exp((d + 1) * math.log(z) - math.lgamma(d + 2) + z)
            lo, hi = (z, hi) if bound < _TOLERANCE else (lo, z)
        thr[d] = lo * lo
    return thr


#: ``|z|^2`` up to which Taylor degree ``d`` (the index) gives ``exp(z)`` to 2^-53.
DEGREE_THRESHOLDS = _degree_thresholds()
_INVERSE = np.array([0.0] + [1.0 / k for k in range(1, MAX_DEGREE + 1)])
_BLOCK = 128  # frequencies sharing one Taylor degree


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _exp_block(xr: np.ndarray, xi: np.ndarray, sr: np.ndarray, si: np.ndarray) -> None:
    """``sr + i si = exp(xr + i xi)`` on one block, to the degree its largest ``|x|`` needs."""
    thr, inv = DEGREE_THRESHOLDS, _INVERSE
    z2 = 0.0
    for f in range(xr.size):
        z2 = max(z2, xr[f] * xr[f] + xi[f] * xi[f])
    if z2 > thr[thr.size - 1]:
        for f in range(xr.size):
            v = cmath.exp(complex(xr[f], xi[f]))
            sr[f] = v.real
            si[f] = v.imag
        return
    d = 1
    while z2 > thr[d]:
        d += 1
    if d % 2 == 1:  # s = 1 + x / d
        c = inv[d]
        for f in range(xr.size):
            sr[f] = 1.0 + c * xr[f]
            si[f] = c * xi[f]
    else:
        sr[:] = 1.0
        si[:] = 0.0
        d += 1
    for k in range(d - 1, 0, -2):  # two Horner steps per pass: s = 1 + x (1 + x s / k) / (k - 1)
        c1, c2 = inv[k], inv[k - 1]
        for f in range(xr.size):
            a, b = xr[f], xi[f]
            p = 1.0 + c1 * (a * sr[f] - b * si[f])
            q = c1 * (a * si[f] + b * sr[f])
            sr[f] = 1.0 + c2 * (a * p - b * q)
            si[f] = c2 * (a * q + b * p)


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _plasmon_series(grid: np.ndarray, i: int, w: float, t: float, xr: np.ndarray, xi: np.ndarray,
                    sr: np.ndarray, si: np.ndarray) -> None:
    """``sr + i si = exp(t P)``, ``P`` interpolated between grid rows ``i`` and ``i + 1``
    with weight ``w`` (``xr``, ``xi``: work space)."""
    ta, tb = t * (1.0 - w), t * w
    a, b = grid[i], grid[i + 1]
    for f in range(xr.size):
        xr[f] = ta * a[f].real + tb * b[f].real
        xi[f] = ta * a[f].imag + tb * b[f].imag
    n = xr.size
    for b0 in range(0, n, _BLOCK):
        b1 = min(b0 + _BLOCK, n)
        _exp_block(xr[b0:b1], xi[b0:b1], sr[b0:b1], si[b0:b1])


@numba.njit(cache=True, nogil=True)
def interpolated_series(grid: np.ndarray, i: np.ndarray, w: np.ndarray, tau: np.ndarray,
                        zlp_ft: np.ndarray, out: np.ndarray) -> None:
    """Low-loss transforms ``out = zlp_ft exp(tau (P - 1))`` (rows x frequencies, complex).

    ``P`` interpolated between plasmon-grid rows ``i`` and ``i + 1`` with weight ``w``
    (dimensionless) per row; ``tau`` (t / lambda) per row; ``zlp_ft`` the zero-loss
    transform (frequencies,); ``out`` (rows x frequencies, complex) is written.
    """
    nf = zlp_ft.size
    zr, zi = np.ascontiguousarray(zlp_ft.real), np.ascontiguousarray(zlp_ft.imag)
    xr, xi, sr, si = np.empty(nf), np.empty(nf), np.empty(nf), np.empty(nf)
    for r in range(i.size):
        _plasmon_series(grid, i[r], w[r], tau[r], xr, xi, sr, si)
        e = math.exp(-tau[r])
        o = out[r]
        for f in range(nf):
            kr, ki = e * zr[f], e * zi[f]
            o[f] = complex(kr * sr[f] - ki * si[f], kr * si[f] + ki * sr[f])


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def series_spectra_ft(amounts: np.ndarray, basis_re: np.ndarray, basis_im: np.ndarray, grid: np.ndarray,
                      i: np.ndarray, w: np.ndarray, tau: np.ndarray, zlp_ft: np.ndarray, out: np.ndarray) -> None:
    """Transforms of plurally scattered spectra, one row per position (complex).

    Row ``r`` is ``(amounts[r] @ basis) zlp_ft exp(tau_r (P_r - 1))``: the single-scattering
    transform (``amounts`` (R, S) of the components' transforms ``basis_re + i basis_im``
    (S, F)) times the low-loss transform of :func:`interpolated_series`, with no BLAS,
    into ``out`` (R, F) complex.
    """
    nf = zlp_ft.size
    zr, zi = np.ascontiguousarray(zlp_ft.real), np.ascontiguousarray(zlp_ft.imag)
    xr, xi, sr, si = np.empty(nf), np.empty(nf), np.empty(nf), np.empty(nf)
    ar, ai = np.empty(nf), np.empty(nf)
    for r in range(i.size):
        _plasmon_series(grid, i[r], w[r], tau[r], xr, xi, sr, si)
        first = True
        for s in range(amounts.shape[1]):
            c = amounts[r, s]
            if c == 0.0:
                continue
            br, bi = basis_re[s], basis_im[s]
            if first:
                for f in range(nf):
                    ar[f] = c * br[f]
                    ai[f] = c * bi[f]
                first = False
            else:
                for f in range(nf):
                    ar[f] += c * br[f]
                    ai[f] += c * bi[f]
        if first:
            ar[:] = 0.0
            ai[:] = 0.0
        e = math.exp(-tau[r])
        o = out[r]
        for f in range(nf):
            kr = e * (zr[f] * sr[f] - zi[f] * si[f])
            ki = e * (zr[f] * si[f] + zi[f] * sr[f])
            o[f] = complex(kr * ar[f] - ki * ai[f], kr * ai[f] + ki * ar[f])


@numba.njit(cache=True, nogil=True)
def combine_rows(out: np.ndarray, rows: np.ndarray, amounts: np.ndarray, basis: np.ndarray,
                 background: np.ndarray) -> None:
    """``out[rows[r]] = amounts[r] @ basis + background`` (no BLAS).

    ``amounts`` (R, S), ``basis`` (S, C) and ``background`` (C,) in the units of ``out``
    (P, C) per unit amount; ``rows`` (R,) the rows of ``out`` written.
    """
    for r in range(rows.size):
        o = out[rows[r]]
        o[:] = 0.0
        for s in range(amounts.shape[1]):
            c = amounts[r, s]
            if c != 0.0:
                b = basis[s]
                for j in range(o.size):
                    o[j] += c * b[j]
        for j in range(o.size):
            o[j] += background[j]


@numba.njit(cache=True, nogil=True)
def place_rows(out: np.ndarray, rows: np.ndarray, values: np.ndarray, background: np.ndarray) -> None:
    """``out[rows[r]] = values[r, :C] + background`` with ``C`` the columns of ``out``."""
    for r in range(rows.size):
        o, v = out[rows[r]], values[r]
        for j in range(o.size):
            o[j] = v[j] + background[j]
