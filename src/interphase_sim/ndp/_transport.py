"""Exit maps of the NDP forward model: detected energy and straggling of the birth points
(numba; arrays only). The maps and their recursion are described in
:mod:`interphase_sim.ndp._kernels`; this module carries them region by region.

What keeps the cost down without changing the numbers:

* **Windows.** ``G_r`` is carried only on the nodes that something downstream reads (the
  births of region ``r``, the nodes of ``G_{r+1}`` still needed, the cutoff test): see
  :func:`cone_windows`. Particles lose energy in every region, so births spread over a
  small part of a particle's range need a few nodes of each map, not the whole grid.
* **One pass for the whole cone.** The windows are made once per particle, wide enough
  for every cone node and branch (lower ends at the longest path and lowest birth energy,
  upper ends at the shortest path and highest one: both move monotonically), and the
  tables that only window nodes read (reciprocal range steps and stopping, the straggling
  integral ``W``, a sum from the top of the grid) are filled on the windows alone, once
  for all cone nodes and branches (:func:`window_tables`).
* **No views in the loops.** Tables are indexed by (row, node) rather than sliced into
  row views: a view costs two atomic reference-count updates.

Every bracket is located with the same arithmetic as the transport itself, and every
window holds the brackets of the next one for every path, so the windows are exact: a
map node outside a window is never read, and every node inside one is right.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["table_at", "energy_at_range", "cone_windows", "window_tables", "transport_cone"]

_FAST = dict(cache=True, nogil=True, error_model="numpy")
_INLINE = dict(_FAST, inline="always")  # small helpers of the node loops: no call overhead


@numba.njit(**_FAST)
def table_at(table, u, du):
    """A u-grid table (range, or an exit map) at ``u`` by linear interpolation, clamped."""
    x = u / du
    n = table.shape[0]
    if x <= 0.0:
        return table[0]
    i = int(x)
    if i >= n - 1:
        return table[n - 1]
    f = x - i
    return table[i] + f * (table[i + 1] - table[i])


@numba.njit(**_INLINE)
def _row_at(t, r, u, du):
    """:func:`table_at` of row ``r`` of the (R, G) table ``t``."""
    x = u / du
    n = t.shape[1]
    if x <= 0.0:
        return t[r, 0]
    i = int(x)
    if i >= n - 1:
        return t[r, n - 1]
    f = x - i
    return t[r, i] + f * (t[r, i + 1] - t[r, i])


@numba.njit(**_INLINE)
def _map_at(maps, k, c, x):
    """Map ``k`` of cone node ``c`` (``maps`` (3, C, G)) at the fractional node ``x``
    (linear, clamped as :func:`table_at`)."""
    n = maps.shape[2]
    if x <= 0.0:
        return maps[k, c, 0]
    i = int(x)
    if i >= n - 1:
        return maps[k, c, n - 1]
    f = x - i
    return maps[k, c, i] + f * (maps[k, c, i + 1] - maps[k, c, i])


@numba.njit(**_FAST)
def energy_at_range(rng, y, du):
    """``u`` with ``R(u) = y`` (inverse of :func:`table_at`); 0 when ``y <= 0``."""
    if y <= 0.0:
        return 0.0
    n = rng.shape[0]
    if y >= rng[n - 1]:
        return (n - 1) * du
    lo, hi = 0, n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if rng[mid] <= y:
            lo = mid
        else:
            hi = mid
    return (lo + (y - rng[lo]) / (rng[hi] - rng[lo])) * du


@numba.njit(**_INLINE)
def _below(rng, r, y, start):
    """Largest node ``lo <= start`` with ``rng[r, lo] <= y`` on an increasing table row (0
    when none): a downward sweep, short when ``start`` is close."""
    lo = start
    while lo > 0 and rng[r, lo] > y:
        lo -= 1
    return lo


@numba.njit(**_INLINE)
def _sweep_to(rng, inv_step, r, y, hi):
    """(fractional node ``u / du`` at range ``y`` on the row ``r`` of ``rng``, the new sweep
    index): ``hi`` only moves down, so a region's birth points, sorted by depth, cost one
    pass over the table. ``inv_step`` holds the reciprocal range steps."""
    while hi > 1 and rng[r, hi - 1] > y:
        hi -= 1
    lo = hi - 1
    x = lo + (y - rng[r, lo]) * inv_step[r, lo] if y < rng[r, hi] else float(hi)
    return x, hi


@numba.njit(**_FAST)
def _bracket(rng, r, y, start):
    """First node of the map bracket that a particle at range ``y`` on row ``r`` of ``rng``
    reads: its ``u / du`` as the transport computes it (:func:`_advance`, :func:`_sweep_to`,
    with the reciprocal step of :func:`window_tables`), then the node :func:`_moments_at`
    takes (-1 when the particle stops: node 0 only)."""
    if y <= 0.0:
        return -1
    n = rng.shape[1]
    lo = _below(rng, r, y, min(start, n - 2))
    if y >= rng[r, lo + 1]:  # only past the top of the table: clamped
        return n - 2
    return min(int(lo + (y - rng[r, lo]) * (1.0 / (rng[r, lo + 1] - rng[r, lo]))), n - 2)


@numba.njit(**_FAST)
def cone_windows(e0s, k_nodes, rng, thick, birth_region, birth_depth, n_used, du):
    """Nodes ``[lo[r], hi[r]]`` of the maps ``G_r`` (and ``A_r``, ``V_r``) that anything
    downstream reads, for every path factor in ``k_nodes`` and birth energy in ``e0s``:
    the births of region ``r`` (sorted by depth), the nodes of ``G_{r+1}`` still needed
    (through ``F_r``) and the cutoff test at each ``u0``; node 0 always.

    Lower ends follow the longest path and the lowest birth energy, upper ends the
    shortest and the highest (brackets move monotonically with both), so every window
    holds the brackets of the next one for every path. ``lo[r] <= lo[r + 1]``, so that
    the leading zeros of ``G_r`` below a window are known from the window
    (:func:`_first_live_in`). Particles lose energy in every region (``F_r(u) < u``):
    births deeper than region ``r`` need ``G_r`` only below ``u0``, and only down to the
    energy the deepest of them arrives with. ``G_0`` is given whole; its window bounds
    the nodes the transport reads of region 0's tables.
    """
    n_g = rng.shape[1]
    lo = np.zeros(n_used, np.int64)
    hi = np.full(n_used, n_g - 1, np.int64)
    u_lo, u_hi = math.sqrt(e0s.min()), math.sqrt(e0s.max())
    k_lo, k_hi = k_nodes.min(), k_nodes.max()
    c_lo = min(int(u_lo / du), n_g - 1)  # the cutoff test reads table_at(G, u0): nodes n0, n0 + 1
    c_hi = min(int(u_hi / du) + 1, n_g - 1)
    for r in range(n_used - 1, -1, -1):
        a, b = c_lo, c_hi
        j = np.searchsorted(birth_region, r, side="left")
        j_end = np.searchsorted(birth_region, r, side="right")
        if j_end > j:  # births in region r, shallowest first
            b = max(b, _bracket(rng, r, _row_at(rng, r, u_hi, du) - birth_depth[j] * k_lo, n_g - 2) + 1)
            a = min(a, _bracket(rng, r, _row_at(rng, r, u_lo, du) - birth_depth[j_end - 1] * k_hi, n_g - 2))
        if r + 1 < n_used:  # what G_{r+1} needs of G_r
            nl, nh = max(lo[r + 1], 1), hi[r + 1]
            b = max(b, _bracket(rng, r, rng[r, nh] - thick[r] * k_lo, nh) + 1)
            a = min(a, _bracket(rng, r, rng[r, nl] - thick[r] * k_hi, nl), lo[r + 1])
        lo[r] = max(a, 0)
        hi[r] = min(b, n_g - 1)
    return lo, hi


@numba.njit(**_FAST)
def window_tables(rng, stop, omega2, lo, du, straggling):
    """The tables the transport reads only on the windows ``[lo[r], top]`` of
    :func:`cone_windows`, filled there alone (the rest is left unset): reciprocal range
    steps ``1 / (R[i + 1] - R[i])``, reciprocal stopping ``1 / S`` and, with
    ``straggling``, ``W`` (as :func:`~interphase_sim.ndp._kernels.straggling_tables`,
    a sum from the top of the grid, from the straggling rate ``omega2``, keV^2/nm)."""
    n_u, n_g = lo.shape[0], rng.shape[1]
    inv_step = np.empty((n_u, n_g))
    inv_stop = np.empty((n_u, n_g))
    f = np.empty((n_u, n_g)) if straggling else np.empty((0, 0))
    low = _block_lows(lo)
    for r in range(n_u):
        a = lo[r]
        _reciprocals(rng[r, a:], stop[r, a:], inv_step[r, a:], inv_stop[r, a:])
        if straggling:  # the integrand of W, (2 du) i omega2 / S^3, where _w_sums reads it
            _w_integrand(stop[r], omega2[r], du, max(low[r], 1), f[r])
            f[r, 0] = f[r, 1]  # the integrand at u = 0 taken at the first node
    if not straggling:
        return inv_step, inv_stop, np.zeros((n_u, n_g))
    wtab = np.empty((n_u, n_g))
    _w_sums(f, low, 0.5 * du, wtab)
    return inv_step, inv_stop, wtab


@numba.njit(**_FAST)
def _block_lows(lo):
    """The lowest window node of each row's block of four rows (as :func:`_w_sums` takes
    them; the rows past the last full block keep their own)."""
    n = lo.shape[0]
    out = lo.copy()
    for r in range(0, n - n % 4, 4):
        m = min(min(lo[r], lo[r + 1]), min(lo[r + 2], lo[r + 3]))
        out[r:r + 4] = m
    return out


@numba.njit(**_FAST)
def _w_sums(f, lo, half, wtab):
    """``W[r, i] = W[r, i + 1] + (f[r, i] + f[r, i + 1]) half`` from 0 at the top node down
    to ``lo[r]`` (:func:`_block_lows`), four rows at a time (independent running sums in flight; each still taken
    node by node, as :func:`~interphase_sim.ndp._kernels.straggling_tables`)."""
    n_u, n_g = f.shape
    top = n_g - 1
    r = 0
    while r + 4 <= n_u:
        low = lo[r]  # (one low per block: _block_lows)
        a0 = a1 = a2 = a3 = 0.0
        wtab[r, top] = wtab[r + 1, top] = wtab[r + 2, top] = wtab[r + 3, top] = 0.0
        for i in range(top - 1, low - 1, -1):
            a0 = a0 + (f[r, i] + f[r, i + 1]) * half
            a1 = a1 + (f[r + 1, i] + f[r + 1, i + 1]) * half
            a2 = a2 + (f[r + 2, i] + f[r + 2, i + 1]) * half
            a3 = a3 + (f[r + 3, i] + f[r + 3, i + 1]) * half
            wtab[r, i], wtab[r + 1, i], wtab[r + 2, i], wtab[r + 3, i] = a0, a1, a2, a3
        r += 4
    for q in range(r, n_u):
        acc = 0.0
        wtab[q, top] = 0.0
        for i in range(top - 1, lo[q] - 1, -1):
            acc = acc + (f[q, i] + f[q, i + 1]) * half
            wtab[q, i] = acc


@numba.njit(**_FAST)
def _reciprocals(rr, sr, inv_step, inv_stop):
    """``1 / (rr[i + 1] - rr[i])`` (0 at the last node) and ``1 / sr[i]`` (whole rows, from
    node 0: the loops vectorize)."""
    n = rr.shape[0]
    for i in range(n - 1):
        inv_step[i] = 1.0 / (rr[i + 1] - rr[i])
    inv_step[n - 1] = 0.0
    for i in range(n):
        inv_stop[i] = 1.0 / sr[i]


@numba.njit(**_FAST)
def _w_integrand(sr, w, du, a, out):
    """``(2 du) i w[i] / sr[i]^3`` into ``out[i]`` for the nodes ``i >= a`` (as
    :func:`~interphase_sim.ndp._kernels.straggling_tables`)."""
    n = sr.shape[0]
    s, ww, o = sr[a:], w[a:], out[a:]
    for q in range(n - a):
        si = s[q]
        o[q] = (2.0 * du) * (a + q) * ww[q] / (si * si * si)


@numba.njit(**_INLINE)
def _first_live_in(maps, c, lo, hi):
    """Index of the last node of cone node ``c``'s map G before its first positive value
    (nodes where the map is still 0 stay 0 one region deeper), reading it only on
    ``[lo, hi]``: the zeros of a map lead (G grows with energy), so ``G[lo] > 0`` means
    none reaches the window."""
    first = max(lo, 1) - 1
    while first < hi and maps[0, c, first + 1] <= 0.0:
        first += 1
    return first


@numba.njit(**_FAST)
def _used_regions(birth_region, n_r):
    """Regions the transport must reach: one past the deepest birth (births sorted by
    depth), at most ``n_r``."""
    m = birth_region.shape[0]
    return min(birth_region[m - 1] + 1, n_r) if m > 0 else 0


@numba.njit(**_INLINE)
def _live_span(rng, r, path, first, lo, hi):
    """Split the window ``[max(lo, 1), hi]`` of :func:`_advance`: nodes below ``first``
    stay 0, those up to ``live`` (excluded) stop in the region (``R(E) <= path``), the
    rest cross it. Returns ``(start, dead, live)``."""
    start = max(lo, 1)
    dead = max(start, first)
    live = dead
    while live <= hi and rng[r, live] - path <= 0.0:
        live += 1
    return start, dead, live


@numba.njit(**_INLINE)
def _moments_at(maps, c, stop, wtab, r, x):
    """(G, A, V of cone node ``c``, S, W of region ``r``) at the fractional node ``x``
    (linear, clamped): one index for the five tables."""
    n = maps.shape[2]
    i = int(x)
    if i >= n - 1:
        i, f = n - 2, 1.0
    else:
        f = x - i
    e = 1.0 - f
    return (e * maps[0, c, i] + f * maps[0, c, i + 1], e * maps[1, c, i] + f * maps[1, c, i + 1],
            e * maps[2, c, i] + f * maps[2, c, i + 1], e * stop[r, i] + f * stop[r, i + 1],
            e * wtab[r, i] + f * wtab[r, i + 1])


@numba.njit(**_INLINE)
def _advance(maps, nxt, c, rng, inv_step, r, path, first, lo, hi):
    """``G_{r+1} = G_r(F_r)`` of cone node ``c`` on node 0 and the window ``[lo, hi]``
    (``rng``, ``inv_step``: the range tables and their reciprocal steps; ``path``: the
    region's thickness x k), node by node as on the whole grid."""
    n_g = rng.shape[1]
    g_zero = maps[0, c, 0]
    nxt[0, c, 0] = 0.0 if first > 0 else g_zero  # R(0) = 0: a particle at rest stays there
    start, dead, live = _live_span(rng, r, path, first, lo, hi)
    for i in range(start, live):
        nxt[0, c, i] = 0.0 if i < dead else g_zero
    if live > hi:
        return
    sweep = _below(rng, r, rng[r, live] - path, min(live, n_g - 2))
    for i in range(live, hi + 1):
        y = rng[r, i] - path
        while sweep < n_g - 2 and rng[r, sweep + 1] <= y:  # y grows with i: sweep, no search
            sweep += 1
        nxt[0, c, i] = _map_at(maps, 0, c, sweep + (y - rng[r, sweep]) * inv_step[r, sweep])


@numba.njit(**_INLINE)
def _advance_moments(maps, nxt, c, rng, inv_step, stop, inv_stop, wtab, r, path, first, lo, hi):
    """:func:`_advance` of the three maps (G, A, V) of :func:`transport_cone` (``stop``,
    ``inv_stop``: the regions' stopping and its reciprocal; ``wtab``: their W tables)."""
    n_g = rng.shape[1]
    g_zero = maps[0, c, 0]
    nxt[0, c, 0], nxt[1, c, 0], nxt[2, c, 0] = (0.0 if first > 0 else g_zero), 0.0, 0.0
    start, dead, live = _live_span(rng, r, path, first, lo, hi)
    for i in range(start, live):
        nxt[0, c, i], nxt[1, c, i], nxt[2, c, i] = (0.0 if i < dead else g_zero), 0.0, 0.0
    if live > hi:
        return
    sweep = _below(rng, r, rng[r, live] - path, min(live, n_g - 2))
    for i in range(live, hi + 1):
        y = rng[r, i] - path
        while sweep < n_g - 2 and rng[r, sweep + 1] <= y:
            sweep += 1
        gf, af, vf, sf, wf = _moments_at(maps, c, stop, wtab, r, sweep + (y - rng[r, sweep]) * inv_step[r, sweep])
        nxt[0, c, i] = gf
        nxt[1, c, i] = af * sf * inv_stop[r, i]
        nxt[2, c, i] = af * af * sf * sf * (wf - wtab[r, i]) + vf


@numba.njit(**_INLINE)
def _births(maps, c, b, rng, inv_step, stop, wtab, r, r0, w0, k, birth_depth, j, j_end, straggling, out, out_var):
    """Detected energies (and, with ``straggling``, variances) of the births ``j:j_end`` of
    region ``r`` (sorted by depth) for cone node ``c`` and branch ``b``."""
    hi = rng.shape[1] - 1
    for q in range(j, j_end):
        y = r0 - birth_depth[q] * k  # decreases along the region: sweep down, no search
        if y <= 0.0:
            out[c, b, q] = maps[0, c, 0]
            out_var[c, b, q] = 0.0
        elif straggling:
            x, hi = _sweep_to(rng, inv_step, r, y, hi)
            ge, ae, ve, se, we = _moments_at(maps, c, stop, wtab, r, x)
            out[c, b, q] = ge
            out_var[c, b, q] = ae * ae * se * se * (we - w0) + ve
        else:
            x, hi = _sweep_to(rng, inv_step, r, y, hi)
            out[c, b, q] = _map_at(maps, 0, c, x)


@numba.njit(**_INLINE)
def _region_births(maps, r, rng, inv_step, stop, wtab, u0, k_nodes, birth_depth, j, j_end, live, du,
                   straggling, out, out_var):
    """The births ``j:j_end`` (region ``r``) for every cone node and branch still above the
    cutoff (``live``); the others keep 0."""
    for b in range(u0.shape[0]):
        r0 = _row_at(rng, r, u0[b], du)
        w0 = _row_at(wtab, r, u0[b], du) if straggling else 0.0
        for c in range(k_nodes.shape[0]):
            if live[c, b]:
                _births(maps, c, b, rng, inv_step, stop, wtab, r, r0, w0, k_nodes[c], birth_depth, j, j_end,
                        straggling, out, out_var)


@numba.njit(**_FAST)
def transport_cone(e0s, k_nodes, du, rng, inv_step, stop, inv_stop, wtab, thick, birth_region, birth_depth,
                   g0, a0, v0, cutoff, straggling, w_lo, w_hi, out, out_var):
    """Detected energies (keV) and straggling variances (keV^2) of the birth points for
    every cone node (path factor ``k_nodes[c]``) and branch (birth energy ``e0s[b]``):
    ``out``, ``out_var`` (C, B, M), as
    :func:`~interphase_sim.ndp._kernels.exit_moments` (or, without ``straggling``,
    :func:`~interphase_sim.ndp._kernels.exit_energies`, variances 0) for each.

    ``w_lo``, ``w_hi`` from :func:`cone_windows`, ``inv_step``, ``inv_stop``, ``wtab``
    from :func:`window_tables` (read on the windows only); the maps of all cone nodes
    advance region by region together, each until no branch of it is above the cutoff.
    """
    n_g = rng.shape[1]
    m = birth_region.shape[0]
    n_c, n_b = k_nodes.shape[0], e0s.shape[0]
    n_used = w_lo.shape[0]
    u0 = np.sqrt(e0s)
    maps = np.empty((3, n_c, n_g))
    nxt = np.empty((3, n_c, n_g))
    for c in range(n_c):
        for i in range(n_g):
            maps[0, c, i], maps[1, c, i], maps[2, c, i] = g0[i], a0[i], v0[i]
    live = np.ones((n_c, n_b), np.bool_)
    out[:] = 0.0
    out_var[:] = 0.0
    j = 0
    for r in range(n_used):
        j_end = j
        while j_end < m and birth_region[j_end] == r:
            j_end += 1
        if j_end > j:
            _region_births(maps, r, rng, inv_step, stop, wtab, u0, k_nodes, birth_depth, j, j_end, live, du,
                           straggling, out, out_var)
        j = j_end
        if j >= m or r + 1 >= n_used:
            break
        lo, hi = (0, n_g - 1) if r == 0 else (w_lo[r], w_hi[r])
        for c in range(n_c):  # one region down, for the cone nodes with a branch still live
            if _any_live(live, c):
                first = _first_live_in(maps, c, lo, hi)
                path = thick[r] * k_nodes[c]
                if straggling:
                    _advance_moments(maps, nxt, c, rng, inv_step, stop, inv_stop, wtab, r, path, first, w_lo[r + 1],
                                     w_hi[r + 1])
                else:
                    _advance(maps, nxt, c, rng, inv_step, r, path, first, w_lo[r + 1], w_hi[r + 1])
        maps, nxt = nxt, maps
        if not _still_live(maps, u0, du, cutoff, live):
            break


@numba.njit(**_INLINE)
def _any_live(live, c):
    """True when cone node ``c`` has a branch still above the cutoff."""
    for b in range(live.shape[1]):
        if live[c, b]:
            return True
    return False


@numba.njit(**_INLINE)
def _still_live(maps, u0, du, cutoff, live):
    """Clear ``live[c, b]`` where a particle of branch ``b`` starting at the top of the
    region now reached is detected at or below the cutoff; True while any is live."""
    any_live = False
    for c in range(live.shape[0]):
        for b in range(live.shape[1]):
            if live[c, b] and _map_at(maps, 0, c, u0[b] / du) <= cutoff:
                live[c, b] = False
            any_live |= live[c, b]
    return any_live
