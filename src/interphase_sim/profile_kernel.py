"""Numerical kernel of ``Stack.profile``: layer weights with error-function interfaces.

Pure functions of arrays, compiled with numba; no Parameters or Phases here.

Model
-----
Layer ``i`` spans ``[top_i, top_i + thickness_i)`` (depth z in nm, z = 0 the top
surface). Interface ``k`` (between layers ``k-1`` and ``k``; ``k = L`` is the bottom of
a finite stack) has a Gaussian width ``sigma_k`` (nm). The fraction of material below
interface ``k`` at depth ``z`` is ``s_k(z) = (1 + erf((z - z_k) / (sqrt(2) sigma_k))) / 2``,
with ``s_0 = 1`` for ``z >= 0`` and ``s_L = 0`` for a semi-infinite last layer. Taking
the running minimum over ``k`` keeps ``s`` non-increasing down the stack, so the layer
weights ``w_i = s_i - s_{i+1}`` are never negative and sum to one inside the stack. When
interfaces are further apart than a few widths, the minimum never binds and each layer's
integrated weight equals its thickness exactly: roughness moves atoms across an interface
but conserves them.

Inside a layer the (normalized) phase fractions and element densities vary linearly from
their top to their bottom values (the ``phases_bottom`` gradient); in the erf tails
outside its nominal span a layer keeps its end-point composition.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["layer_profile"]

_ERF_CUTOFF = 8.0  # beyond 8 sigma erf is 1 to double precision


@numba.njit(cache=True, nogil=True)
def _profile_kernel(z, tops, thick, sigma, semi_inf, dens_top, dens_bot, frac_top, frac_bot, dens_out, frac_out):
    n_layers = tops.shape[0]
    n_el = dens_top.shape[1]
    n_ph = frac_top.shape[1]
    s = np.empty(n_layers + 1)
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    for j in range(z.shape[0]):
        zj = z[j]
        for e in range(n_el):
            dens_out[e, j] = 0.0
        for p in range(n_ph):
            frac_out[p, j] = 0.0
        if zj < 0.0:
            continue  # above the top surface: vacuum
        s[0] = 1.0
        for k in range(1, n_layers + 1):
            if k == n_layers and semi_inf:
                s[k] = 0.0
                continue
            zk = tops[k - 1] + thick[k - 1]
            sg = sigma[k]
            if sg <= 0.0:
                v = 1.0 if zj >= zk else 0.0
            else:
                t = (zj - zk) / sg
                if t > _ERF_CUTOFF:
                    v = 1.0
                elif t < -_ERF_CUTOFF:
                    v = 0.0
                else:
                    v = 0.5 * (1.0 + math.erf(t * inv_sqrt2))
            s[k] = v if v < s[k - 1] else s[k - 1]
        for i in range(n_layers):
            w = s[i] - s[i + 1]
            if w <= 0.0:
                continue
            if math.isinf(thick[i]):
                u = 0.0
            else:
                u = (zj - tops[i]) / thick[i]
                u = 0.0 if u < 0.0 else (1.0 if u > 1.0 else u)
            for e in range(n_el):
                dens_out[e, j] += w * (dens_top[i, e] + u * (dens_bot[i, e] - dens_top[i, e]))
            for p in range(n_ph):
                frac_out[p, j] += w * (frac_top[i, p] + u * (frac_bot[i, p] - frac_top[i, p]))


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
    tops = np.concatenate(([0.0], np.cumsum(thick)[:-1]))
    semi_inf = bool(np.isinf(thick[-1]))
    dens = np.empty((dens_top.shape[1], z.shape[0]))
    frac = np.empty((frac_top.shape[1], z.shape[0]))
    _profile_kernel(
        z,
        tops,
        thick,
        np.ascontiguousarray(sigma_nm, dtype=np.float64),
        semi_inf,
        np.ascontiguousarray(dens_top, dtype=np.float64),
        np.ascontiguousarray(dens_bot, dtype=np.float64),
        np.ascontiguousarray(frac_top, dtype=np.float64),
        np.ascontiguousarray(frac_bot, dtype=np.float64),
        dens,
        frac,
    )
    return dens, frac
