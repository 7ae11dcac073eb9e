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
jump (a layer split in two identical halves) changes nothing. When rough interfaces
overlap more than a thin layer can hold, the sum can dip below zero; such values are
clipped to zero (the only place where totals are not conserved) and fractions rescaled
to sum at most one.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["layer_profile"]

_ERF_CUTOFF = 8.0  # beyond 8 sigma, Phi - H is below 1e-15


@numba.njit(cache=True, nogil=True)
def _profile_kernel(z, tops, thick, sigma, jump_q, jump_f, q_top, q_bot, f_top, f_bot, q_out, f_out):
    n_layers = tops.shape[0]
    n_q = q_top.shape[1]
    n_f = f_top.shape[1]
    bottom = tops[n_layers - 1] + thick[n_layers - 1]  # inf for a semi-infinite stack
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    for j in range(z.shape[0]):
        zj = z[j]
        for e in range(n_q):
            q_out[e, j] = 0.0
        for p in range(n_f):
            f_out[p, j] = 0.0
        if zj < 0.0:
            continue  # above the (sharp) top surface: vacuum
        # sharp profile: the layer that holds zj (binary search on layer tops)
        if zj < bottom:
            lo, hi = 0, n_layers - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if tops[mid] <= zj:
                    lo = mid
                else:
                    hi = mid - 1
            i = lo
            u = 0.0 if math.isinf(thick[i]) else (zj - tops[i]) / thick[i]
            for e in range(n_q):
                q_out[e, j] = q_top[i, e] + u * (q_bot[i, e] - q_top[i, e])
            for p in range(n_f):
                f_out[p, j] = f_top[i, p] + u * (f_bot[i, p] - f_top[i, p])
        # erf corrections of the rough interfaces near zj
        for k in range(1, n_layers + 1):
            sg = sigma[k]
            if sg <= 0.0:
                continue
            zk = tops[k - 1] + thick[k - 1]
            t = (zj - zk) / sg
            if t > _ERF_CUTOFF or t < -_ERF_CUTOFF:
                continue
            c = 0.5 * (1.0 + math.erf(t * inv_sqrt2)) - (1.0 if zj >= zk else 0.0)
            for e in range(n_q):
                q_out[e, j] += c * jump_q[k, e]
            for p in range(n_f):
                f_out[p, j] += c * jump_f[k, p]
        total = 0.0
        for p in range(n_f):
            if f_out[p, j] < 0.0:
                f_out[p, j] = 0.0
            total += f_out[p, j]
        if total > 1.0:
            for p in range(n_f):
                f_out[p, j] /= total
        for e in range(n_q):
            if q_out[e, j] < 0.0:
                q_out[e, j] = 0.0


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
    n_layers = thick.shape[0]
    tops = np.concatenate(([0.0], np.cumsum(thick)[:-1]))
    sigma = np.array(sigma_nm, dtype=np.float64)
    q_top, q_bot = np.asarray(dens_top, dtype=np.float64), np.asarray(dens_bot, dtype=np.float64)
    f_top, f_bot = np.asarray(frac_top, dtype=np.float64), np.asarray(frac_bot, dtype=np.float64)

    def jumps(top, bot):
        # jump at interface k: top of layer k minus bottom of layer k-1 (vacuum below a finite stack)
        below = np.vstack((top[1:], np.zeros((1, top.shape[1]))))
        out = np.zeros((n_layers + 1, top.shape[1]))
        out[1:] = below - bot
        return out

    if np.isinf(thick[-1]):
        sigma[n_layers] = 0.0  # no interface below a semi-infinite layer
    dens = np.empty((q_top.shape[1], z.shape[0]))
    frac = np.empty((f_top.shape[1], z.shape[0]))
    _profile_kernel(
        z, tops, thick, sigma, jumps(q_top, q_bot), jumps(f_top, f_bot),
        np.ascontiguousarray(q_top), np.ascontiguousarray(q_bot),
        np.ascontiguousarray(f_top), np.ascontiguousarray(f_bot), dens, frac,
    )
    return dens, frac
