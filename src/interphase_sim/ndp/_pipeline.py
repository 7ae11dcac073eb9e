"""The NDP forward model from layer arrays to a particle's spectrum, in numba (arrays only).

:class:`~interphase_sim.ndp.model.NDPModel` gathers the current numbers (layer arrays,
stopping tables, the cone) and calls, per evaluation, :func:`regions` once and
:func:`particle_counts` once per particle. Each step is the one the model describes:

* :func:`region_edges`: the stack cut into regions of constant composition (layers,
  sub-slabs across rough interfaces and through gradients), down to the deepest escape;
* :func:`region_amounts`: each region's phase amounts relative to nominal density, from
  the depth profile at its midpoint;
* :func:`region_tables`: the regions' stopping, range and straggling tables;
* :func:`birth_nodes`: birth points every energy step; the parent density between them;
* the transport of :mod:`~interphase_sim.ndp._transport`, then
  :func:`~interphase_sim.ndp._kernels.spectrum_of` (deposit, broadening).

What adds nothing is left out, exactly: regions below the parent isotope's extent
(:func:`parent_extent`, and one more) get no tables, the births of the deepest region
that no particle can leave are dropped (:func:`live_births`), and so are the births
outside the parent-bearing depths.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from interphase_sim.ndp._kernels import birth_points, range_tables, spectrum_of, straggling_tables
from interphase_sim.ndp._transport import _used_regions, cone_windows, table_at, transport_cone, window_tables
from interphase_sim.sample.profile_kernel import profile_ascending

__all__ = ["regions", "region_edges", "region_amounts", "region_tables", "birth_nodes", "parent_extent",
           "live_births", "particle_counts"]

_FAST = dict(cache=True, nogil=True, error_model="numpy")
# the phase sums of the tables are those of BLAS (one fused multiply-add per term, in order)
_FMA = dict(_FAST, fastmath={"contract"})

_WINDOW_SIGMA = 6.5  # past the profile kernel's erf window (6 sigma), with room for rounding
_SHARP_NM = 1e-9  # the profile kernel's widths below this are sharp
ROUGH_SLABS = np.array([-1.5, -0.5, 0.5, 1.5])  # sub-slab edges across a rough interface, in sigma
GRADIENT_SLABS = 6  # sub-slabs through a layer with a phase gradient


@numba.njit(**_FAST)
def region_edges(thick, sigma_layer, gradient, z_max, semi_infinite, finite_depth):
    """Region edges (nm, ascending, from 0): layer bottoms, +/-0.5 and 1.5 sigma across a
    rough interface, ``GRADIENT_SLABS`` sub-slabs through a gradient layer; down to
    ``z_max`` (or the bottom of a finite stack), edges closer than 1e-9 nm merged.

    ``thick``, ``sigma_layer`` (the roughness below each layer) and ``gradient`` (bool)
    are per layer.
    """
    n_layers = thick.shape[0]
    breaks = np.empty(1 + n_layers * (GRADIENT_SLABS - 1 + ROUGH_SLABS.shape[0]) + 1)
    breaks[0] = 0.0
    n = 1
    top = 0.0
    bottom = 0.0
    for i in range(n_layers):
        t = thick[i]
        bottom = bottom + t  # the running sum, as np.cumsum
        if gradient[i] and math.isfinite(t):
            for j in range(1, GRADIENT_SLABS):
                breaks[n] = top + t * float(j) / GRADIENT_SLABS
                n += 1
        if math.isfinite(bottom):
            s = sigma_layer[i]
            if s > 0:
                for j in range(ROUGH_SLABS.shape[0]):
                    breaks[n] = bottom + s * ROUGH_SLABS[j]
                    n += 1
            else:
                breaks[n] = bottom
                n += 1
        top = bottom
    z_end = z_max if semi_infinite else min(z_max, finite_depth)
    breaks[n] = z_end
    n += 1
    b = np.sort(np.minimum(np.maximum(breaks[:n], 0.0), z_end))
    # np.unique, then only the edges more than 1e-9 nm above the previous unique one
    out = np.empty(n)
    out[0] = b[0]
    k = 1
    prev = b[0]
    for i in range(1, n):
        if b[i] != prev:
            if b[i] - prev > 1e-9:
                out[k] = b[i]
                k += 1
            prev = b[i]
    return out[:k].copy()


@numba.njit(**_FAST)
def _rows_sum(prof, lo, hi):
    """Sum of rows ``lo:hi`` of ``prof``, row after row (as numpy's ``sum(axis=0)``)."""
    out = prof[lo].copy()
    for e in range(lo + 1, hi):
        out += prof[e]
    return out


@numba.njit(**_FMA)
def region_amounts(edges, thick, sigma_nm, top, bot, n_el, nominal):
    """Phase amounts of the regions relative to nominal density, (P, R), and the regions
    kept (down to the first without atoms: vacuum below a finite stack).

    ``top``, ``bot`` (L, E + 1 + P) are the layer arrays side by side (element densities,
    6Li, phase fractions), ``nominal`` (P,) each phase's nominal atoms/nm3. The amount of
    phase p in a region is its volume fraction at the region's midpoint times the local
    density scale (atoms present / atoms the fractions imply).
    """
    n_r = edges.shape[0] - 1
    mids = 0.5 * (edges[1:] + edges[:-1])
    prof = profile_ascending(mids, thick, sigma_nm, top, bot, n_el + 1)
    n_p = nominal.shape[0]
    total = _rows_sum(prof, 0, n_el)  # atoms/nm3 (6Li is counted in Li)
    weights = np.empty((n_p, n_r))
    n_keep = n_r
    for r in range(n_r):
        filled = 0.0
        for p in range(n_p):
            filled += nominal[p] * prof[n_el + 1 + p, r]
        ds = total[r] / filled if filled > 0 else 0.0
        if not filled > 0 and n_keep == n_r:
            n_keep = r
        for p in range(n_p):
            weights[p, r] = prof[n_el + 1 + p, r] * ds
    return weights[:, :n_keep].copy(), n_keep


@numba.njit(**_FAST)
def regions(thick, sigma_nm, gradient, z_max, semi_infinite, finite_depth, dens_top, frac_top, dens_bot,
            frac_bot, nominal):
    """(edges nm, phase amounts (P, R)) of the regions: :func:`region_edges` then
    :func:`region_amounts` (the layer arrays of ``Stack.layer_arrays``); the edges end
    at the last region with atoms."""
    edges = region_edges(thick, sigma_nm[1:], gradient, z_max, semi_infinite, finite_depth)
    if edges.shape[0] < 2:
        return edges, np.zeros((nominal.shape[0], 0))
    top = np.hstack((dens_top, frac_top))
    bot = np.hstack((dens_bot, frac_bot))
    weights, n_keep = region_amounts(edges, thick, sigma_nm, top, bot, dens_top.shape[1] - 1, nominal)
    return edges[: n_keep + 1].copy(), weights


@numba.njit(**_FMA)
def _phase_sum(weights, scales, tables):
    """``(weights.T * scales) @ tables`` (R, G) from (P, R) amounts and (P, G) tables: each
    term one fused multiply-add in phase order (BLAS's sums: the first term is its
    product; absent phases add exactly nothing)."""
    n_p, n_r = weights.shape
    n_g = tables.shape[1]
    out = np.empty((n_r, n_g))
    for r in range(n_r):
        started = False
        for p in range(n_p):
            w = weights[p, r] * scales[p]
            if w == 0.0:
                continue
            if started:
                for i in range(n_g):  # (a loop from a variable node would not vectorize)
                    out[r, i] += w * tables[p, i]
            else:
                for i in range(n_g):
                    out[r, i] = w * tables[p, i]
                started = True
        if not started:
            out[r, :] = 0.0
    return out


@numba.njit(**_FAST)
def region_tables(weights, scales, s_phase, w_phase, straggling, du):
    """The regions' tables on the u-grid: stopping (keV/nm; phases scaled by their
    stopping scales), range (nm), straggling ``W`` (nm^2; zeros without straggling) and
    the peak stopping of each region (keV/nm)."""
    stop = _phase_sum(weights, scales, s_phase)
    if straggling:
        wtab = straggling_tables(stop, _phase_sum(weights, np.ones(weights.shape[0]), w_phase), du)
    else:
        wtab = np.zeros_like(stop)
    return stop, range_tables(stop, du), wtab, _row_max(stop)


@numba.njit(**_FAST)
def _row_max(stop):
    """The largest value of each row (finite tables: a plain scan)."""
    n_r, n_g = stop.shape
    out = np.empty(n_r)
    for r in range(n_r):
        row = stop[r]
        m0 = m1 = m2 = m3 = row[0]
        i = 1
        while i + 4 <= n_g:  # four running maxima (the max of floats does not depend on the order)
            m0, m1, m2, m3 = max(m0, row[i]), max(m1, row[i + 1]), max(m2, row[i + 2]), max(m3, row[i + 3])
            i += 4
        for q in range(i, n_g):
            m0 = max(m0, row[q])
        out[r] = max(max(m0, m1), max(m2, m3))
    return out


@numba.njit(**_FAST)
def birth_nodes(edges, s_max, step, k_max, max_points, n_regions):
    """Birth nodes every ``step / (k_max * s_max)`` nm per region (at most ``max_points``
    over all regions), in the first ``n_regions`` regions: region index and depth below
    the region top (nm) of each node, the last closing region ``n_regions - 1``."""
    n_r = edges.shape[0] - 1
    delta = np.empty(n_r)
    for r in range(n_r):
        delta[r] = step / (k_max * s_max[r])
    n_total = np.sum((edges[1:] - edges[:-1]) / delta)
    if n_total > max_points:
        delta = delta * (n_total / max_points)
    return birth_points(edges[: n_regions + 1].copy(), delta[:n_regions].copy())


@numba.njit(**_FAST)
def parent_extent(thick, sigma_nm, par_top, par_bot):
    """Depth (nm) below which the parent density is exactly 0 (inf when it reaches the
    bottom of a semi-infinite stack): the bottom of the last layer holding it, or the end
    of the erf window (6 sigma, :mod:`~interphase_sim.sample.profile_kernel`) of any
    rough interface it jumps across, whichever is deeper."""
    n_layers = thick.shape[0]
    z_last = 0.0
    bottom = 0.0
    for i in range(n_layers):
        bottom = bottom + thick[i]  # as the profile kernel places the interfaces
        if par_top[i, 0] != 0.0 or par_bot[i, 0] != 0.0:
            z_last = max(z_last, bottom)
        below = par_top[i + 1, 0] if i + 1 < n_layers else 0.0
        s = sigma_nm[i + 1]
        if below != par_bot[i, 0] and s >= _SHARP_NM and not math.isinf(bottom):
            z_last = max(z_last, bottom + _WINDOW_SIGMA * s)
    return z_last


@numba.njit(**_FAST)
def live_births(region, depth_in, rng, du, e0s, k_min, g_zero):
    """Number of birth nodes worth transporting: the deepest region's nodes from the
    first one that no branch can leave along any path (``R(E0) - d k <= 0``) on are
    detected at ``g_zero`` = 0, like the nodes after it, so their intervals add nothing.
    All nodes are kept when ``g_zero`` (the detected energy of a stopped particle) is not 0."""
    m = region.shape[0]
    if m == 0 or g_zero != 0.0:
        return m
    r = region[m - 1]
    r0 = -np.inf
    for b in range(e0s.shape[0]):
        r0 = max(r0, table_at(rng[r], math.sqrt(e0s[b]), du))
    j = np.searchsorted(region, r, side="left")
    while j < m:
        if r0 - depth_in[j] * k_min <= 0.0:  # the transport's test, at the shortest path
            return j + 1
        j += 1
    return m


@numba.njit(**_FAST)
def _areal(region, depth_in, edges, thick, sigma_nm, par_top, par_bot, par_scale):
    """Parent atoms per nm2 between consecutive birth nodes (density at the midpoint times
    the spacing), and the node depths (nm)."""
    z = edges[region] + depth_in
    mids = 0.5 * (z[1:] + z[:-1])
    ascending = True
    for i in range(1, mids.shape[0]):
        if mids[i] < mids[i - 1]:
            ascending = False
            break
    if ascending:
        dens = profile_ascending(mids, thick, sigma_nm, par_top, par_bot, 1)[0]
    else:
        order = np.argsort(mids, kind="mergesort")
        dens = np.empty(mids.shape[0])
        dens[order] = profile_ascending(mids[order], thick, sigma_nm, par_top, par_bot, 1)[0]
    return dens * par_scale * (z[1:] - z[:-1])


@numba.njit(**_FAST)
def particle_counts(edges, weights, scales, s_phase, w_phase, straggling, du, step, max_points,
                    k_nodes, k_weights, maps, e0s, probs, yield_per_atom_nm2, cutoff,
                    thick, sigma_nm, par_top, par_bot, par_scale, energy_edges, centers, sigma_det2, uniform):
    """Expected counts per channel of one particle: region tables, birth nodes, parent
    density, transport and spectrum (as
    :func:`~interphase_sim.ndp._kernels.particle_spectrum` on all the regions).

    ``par_top``, ``par_bot`` (L, 1) hold the parent isotope's density at the top and
    bottom of each layer (atoms/nm3), ``par_scale`` its share (the 10B abundance, or 1);
    ``uniform``: whether the channels are equally wide (``_kernels._uniform``).
    The other arguments are those of :func:`region_tables`, :func:`birth_nodes` and
    :func:`~interphase_sim.ndp._kernels.particle_spectrum`.
    """
    # regions past the parent's extent (and one more) hold no births that count: no tables
    n_r = edges.shape[0] - 1
    z_last = parent_extent(thick, sigma_nm, par_top, par_bot)
    n_used = n_r if math.isinf(z_last) else min(np.searchsorted(edges, z_last, side="right") + 1, n_r)
    stop = _phase_sum(weights, scales, s_phase)
    region, depth_in = birth_nodes(edges, _row_max(stop), step, k_nodes.max(), max_points, n_used)
    rng = range_tables(stop[:n_used], du)  # (leading rows: still C-contiguous)
    m = live_births(region, depth_in, rng, du, e0s, k_nodes.min(), maps[0, 0])
    areal = _areal(region[:m], depth_in[:m], edges, thick, sigma_nm, par_top, par_bot, par_scale)
    first, last = -1, -1
    for j in range(areal.shape[0]):
        if areal[j] > 0.0:
            if first < 0:
                first = j
            last = j
    if first < 0:
        return np.zeros(centers.shape[0])
    # births outside the parent-bearing depths add nothing: leave them out (exact)
    region, depth_in, areal = region[first:last + 2].copy(), depth_in[first:last + 2].copy(), areal[first:last + 1]
    n_t = _used_regions(region, n_used)
    regions_nm = edges[1:n_t + 1] - edges[:n_t]
    rng, stop = rng[:n_t], stop[:n_t]
    w_lo, w_hi = cone_windows(e0s, k_nodes, rng, regions_nm, region, depth_in, n_t, du)
    omega2 = _phase_sum(weights[:, :n_t], np.ones(weights.shape[0]), w_phase) if straggling else stop
    inv_step, inv_stop, wtab = window_tables(rng, stop, omega2, w_lo, du, straggling)
    e_det = np.empty((k_nodes.shape[0], e0s.shape[0], region.shape[0]))
    var = np.empty_like(e_det)
    transport_cone(e0s, k_nodes, du, rng, inv_step, stop, inv_stop, wtab, regions_nm, region, depth_in,
                   maps[0], maps[1], maps[2], cutoff, straggling, w_lo, w_hi, e_det, var)
    return spectrum_of(e_det, var, k_weights, probs, yield_per_atom_nm2, areal.copy(), energy_edges, centers,
                       sigma_det2, uniform)
