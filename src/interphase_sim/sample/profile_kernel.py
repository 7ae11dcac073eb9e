"""Numerical kernel of ``Stack.profile``: layers with error-function interfaces.

Pure functions of arrays, compiled with numba; no Parameters or Phases here.

Model
-----
Layer ``i`` spans ``[top_i, top_i + thickness_i)`` (depth z in nm, z = 0 the top
surface, sharp). Inside a layer each quantity (element density, phase fraction) varies
linearly from its top value to its bottom value (the ``phases_bottom`` gradient); this
is the *sharp* profile. Interface ``k`` (between layers ``k - 1`` and ``k``; ``k = L``
is the bottom of a finite stack, against vacuum) with Gaussian width ``sigma_k`` (nm)
replaces its step ``D_k`` (the jump of the quantity across the interface) by an error
function::

    q(z) = q_sharp(z) + sum_k D_k [Phi((z - z_k) / sigma_k) - H(z - z_k)]

``Phi - H`` is odd about ``z_k``, so each interface moves material across itself and
conserves every element's total exactly, with or without gradients; an interface with no
jump (a layer split in two identical halves) changes nothing. The part of a correction
that would fall above the sharp top surface (a rough interface close to it) is reflected
about z = 0 into the sample, which keeps the totals exact there too. When rough interfaces
overlap more than a thin layer can hold, the sum can dip below zero; such values are
clipped to zero (the only place where totals are not conserved) and fractions rescaled
to sum at most one.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["layer_profile", "profile_ascending"]

# Corrections are evaluated within +/- 6 sigma of an interface (|Phi - H| < 1e-9 beyond).
# The window is symmetric, so the truncated correction is still odd: totals stay exact.
_ERF_CUTOFF = 6.0
_SHARP_BELOW_NM = 1e-9  # widths below this (1e-8 Å) are treated as sharp


# Options of every kernel below. The helpers of _profile_sorted are also inlined into it
# (numba IR inlining, ``inline="always"``): no call overhead on small grids, and the erf
# windows compile with the same fastmath flags as the rows they are added to.
_NJIT = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp", "nsz"})


@numba.njit(**_NJIT)
def _profile_sorted(z, tops, thick, sigma, top, bot, jump, first_fraction, out):
    """Fill ``out`` (Q, N) on an ascending grid ``z``.

    Row by row (so that a row stays in cache): the piecewise-linear sharp profile, the
    erf corrections of the rough interfaces, and clipping inside their windows. Rows
    ``first_fraction:`` are phase fractions and are rescaled to sum at most one.
    """
    n = z.shape[0]
    n_layers = tops.shape[0]
    n_q = top.shape[1]
    z0, end, seg_a, seg_b = _layer_segments(z, tops, thick)
    win_lo, win_hi, win_off, corr = _erf_windows(z, tops, thick, sigma, z0)
    m_lo, m_hi, n_m = _window_union(win_lo, win_hi)
    tot = np.zeros(n) if n_m > 0 else np.zeros(0)
    # Loops run over slices from index 0 so numba can drop negative-index wraparound
    # checks and vectorize (about 6x faster than indexing with range(a, b)).
    for e in range(n_q):
        row = out[e]
        row[:z0] = 0.0
        row[end:] = 0.0
        for i in range(n_layers):
            q0 = top[i, e]
            slope = 0.0 if math.isinf(thick[i]) else (bot[i, e] - q0) / thick[i]
            t0 = tops[i]
            seg = row[seg_a[i]:seg_b[i]]
            zz = z[seg_a[i]:seg_b[i]]
            for j in range(seg.shape[0]):
                seg[j] = q0 + (zz[j] - t0) * slope
        for k in range(1, n_layers + 1):
            d = jump[k, e]
            if d != 0.0 and win_hi[k] > win_lo[k]:
                seg = row[win_lo[k]:win_hi[k]]
                c = corr[win_off[k]:win_off[k + 1]]
                for j in range(seg.shape[0]):
                    seg[j] += c[j] * d
        for m in range(n_m):
            seg = row[m_lo[m]:m_hi[m]]
            for j in range(seg.shape[0]):
                seg[j] = max(seg[j], 0.0)
            if e >= first_fraction:
                t = tot[m_lo[m]:m_hi[m]]
                for j in range(seg.shape[0]):
                    t[j] += seg[j]
    for m in range(n_m):
        for j in range(m_lo[m], m_hi[m]):
            if tot[j] > 1.0:
                for e in range(first_fraction, n_q):
                    out[e, j] /= tot[j]


@numba.njit(inline="always", **_NJIT)
def _layer_segments(z, tops, thick):
    """Grid index ranges on ascending ``z`` (nm): ``(z0, end, seg_a, seg_b)``.

    ``z[:z0]`` is vacuum above the top surface, ``z[end:]`` vacuum below a finite stack,
    and layer ``i`` covers ``z[seg_a[i]:seg_b[i]]``.
    """
    n = z.shape[0]
    n_layers = tops.shape[0]
    z0 = np.searchsorted(z, 0.0, side="left")
    seg_a = np.empty(n_layers, np.int64)
    seg_b = np.empty(n_layers, np.int64)
    for i in range(n_layers):
        seg_a[i] = np.searchsorted(z, tops[i], side="left")
        if math.isinf(thick[i]):
            seg_b[i] = n
        else:
            seg_b[i] = np.searchsorted(z, tops[i] + thick[i], side="left")
    return z0, seg_b[n_layers - 1], seg_a, seg_b


@numba.njit(inline="always", **_NJIT)
def _erf_windows(z, tops, thick, sigma, z0):
    """Windows of the rough interfaces on ascending ``z`` and their erf corrections.

    Interface ``k`` (1..L) acts on ``z[win_lo[k]:win_hi[k]]`` (within +/- 6 sigma, below
    the top surface index ``z0``), where its correction ``Phi - H`` per unit jump is
    ``corr[win_off[k]:win_off[k + 1]]``. Returns ``(win_lo, win_hi, win_off, corr)``.
    """
    n_layers = tops.shape[0]
    win_lo = np.zeros(n_layers + 1, np.int64)
    win_hi = np.zeros(n_layers + 1, np.int64)
    win_off = np.zeros(n_layers + 2, np.int64)
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    for k in range(1, n_layers + 1):
        sg = sigma[k]
        if sg > 0.0:
            zk = tops[k - 1] + thick[k - 1]
            win_lo[k] = max(np.searchsorted(z, zk - _ERF_CUTOFF * sg, side="left"), z0)
            win_hi[k] = max(np.searchsorted(z, zk + _ERF_CUTOFF * sg, side="right"), win_lo[k])
        win_off[k + 1] = win_off[k] + win_hi[k] - win_lo[k]
    corr = np.empty(win_off[n_layers + 1])
    for k in range(1, n_layers + 1):
        if win_hi[k] > win_lo[k]:
            zk = tops[k - 1] + thick[k - 1]
            sg = sigma[k]
            c = corr[win_off[k]:win_off[k + 1]]
            zz = z[win_lo[k]:win_hi[k]]
            scale = inv_sqrt2 / sg
            for j in range(c.shape[0]):
                step = 1.0 if zz[j] >= zk else 0.0
                c[j] = 0.5 * (1.0 + math.erf((zz[j] - zk) * scale)) - step
                # what would lie above the (sharp) top surface is reflected into the sample
                fold = (-zz[j] - zk) * scale
                if fold > -_ERF_CUTOFF * inv_sqrt2:
                    c[j] += 0.5 * (1.0 + math.erf(fold))
    return win_lo, win_hi, win_off, corr


@numba.njit(inline="always", **_NJIT)
def _window_union(win_lo, win_hi):
    """The union of the windows as ``n_m`` disjoint intervals ``[m_lo, m_hi)`` (where
    clipping may be needed): ``(m_lo, m_hi, n_m)``."""
    order = np.argsort(win_lo)
    m_lo = np.empty(win_lo.shape[0], np.int64)
    m_hi = np.empty(win_lo.shape[0], np.int64)
    n_m = 0
    for idx in range(win_lo.shape[0]):
        k = order[idx]
        if win_hi[k] <= win_lo[k]:
            continue
        if n_m > 0 and win_lo[k] <= m_hi[n_m - 1]:
            m_hi[n_m - 1] = max(m_hi[n_m - 1], win_hi[k])
        else:
            m_lo[n_m] = win_lo[k]
            m_hi[n_m] = win_hi[k]
            n_m += 1
    return m_lo, m_hi, n_m


@numba.njit(**_NJIT)
def profile_ascending(z, thick, sigma_nm, top, bot, first_fraction):
    """:func:`layer_profile` on an ascending grid, from numba code: the per-layer values
    side by side (``top``, ``bot``: (L, Q), densities then, from column
    ``first_fraction``, phase fractions). Returns the (Q, N) profile.

    Parameters are as in :func:`layer_profile` (depths, thicknesses and widths in nm);
    ``z`` must be ascending.
    """
    n_layers = thick.shape[0]
    n_q = top.shape[1]
    tops = np.empty(n_layers)
    acc = 0.0
    for i in range(n_layers):
        tops[i] = acc
        acc += thick[i]
    sigma = sigma_nm.copy()
    if math.isinf(thick[n_layers - 1]):
        sigma[n_layers] = 0.0  # no interface below a semi-infinite layer
    for k in range(n_layers + 1):
        if sigma[k] < _SHARP_BELOW_NM:
            sigma[k] = 0.0  # (z - zk) / sigma would overflow to inf * 0
    # jump at interface k: top of layer k minus bottom of layer k-1 (vacuum below a finite stack)
    jump = np.zeros((n_layers + 1, n_q))
    for k in range(1, n_layers + 1):
        for e in range(n_q):
            below = top[k, e] if k < n_layers else 0.0
            jump[k, e] = below - bot[k - 1, e]
    out = np.empty((n_q, z.shape[0]))
    _profile_sorted(z, tops, thick, sigma, top, bot, jump, first_fraction, out)
    return out


def layer_profile(
    z_nm: np.ndarray,
    thickness_nm: np.ndarray,
    sigma_nm: np.ndarray,
    dens_top: np.ndarray,
    dens_bot: np.ndarray,
    frac_top: np.ndarray,
    frac_bot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Element densities and phase fractions on a depth grid.

    Parameters
    ----------
    z_nm : (N,) float array
        Depths (nm) from the top surface; any order; negative depths are vacuum.
    thickness_nm : (L,) float array
        Layer thicknesses (nm), top to bottom; only the last may be ``inf``.
    sigma_nm : (L + 1,) float array
        Interface widths (nm); ``sigma_nm[k]`` is the interface above layer ``k``
        (``sigma_nm[0]``, the top surface, is ignored) and ``sigma_nm[L]`` the bottom of
        a finite stack.
    dens_top, dens_bot : (L, E) float arrays
        Per-layer quantities (e.g. element densities, atoms/nm3) at the top and bottom.
    frac_top, frac_bot : (L, P) float arrays
        Per-layer normalized phase volume fractions at the top and bottom.

    Returns
    -------
    dens : (E, N) array
        Depth profile of each column of ``dens_top``.
    frac : (P, N) array
        Phase volume fractions; they sum to 1 inside the stack and 0 outside it.
    """
    z = np.ascontiguousarray(z_nm, dtype=np.float64)
    thick = np.ascontiguousarray(thickness_nm, dtype=np.float64)
    sigma = np.ascontiguousarray(sigma_nm, dtype=np.float64)
    q_top, q_bot = np.asarray(dens_top, dtype=np.float64), np.asarray(dens_bot, dtype=np.float64)
    f_top, f_bot = np.asarray(frac_top, dtype=np.float64), np.asarray(frac_bot, dtype=np.float64)
    # The kernels walk an ascending grid; other grids are sorted and scattered back.
    ascending = bool(np.all(z[1:] >= z[:-1]))
    order = None if ascending else np.argsort(z, kind="stable")
    zs = z if ascending else z[order]
    # Densities and fractions share one array so each erf is computed once.
    top = np.ascontiguousarray(np.hstack((q_top, f_top)))
    bot = np.ascontiguousarray(np.hstack((q_bot, f_bot)))
    out = profile_ascending(zs, thick, sigma, top, bot, q_top.shape[1])
    if not ascending:
        scattered = np.empty_like(out)
        scattered[:, order] = out
        out = scattered
    return out[: q_top.shape[1]], out[q_top.shape[1]:]
