"""Numerical kernels of the NDP forward model and inversion (numba; arrays only).

Energies live on a grid uniform in ``u = sqrt(E)`` (``E_i = (i du)^2`` keV): range
``R(E) = int_0^E dE' / S(E')`` is then smooth at the low-energy end, where electronic
stopping goes like ``sqrt(E)``, and linear interpolation in ``u`` is accurate.

The sample is cut into *regions* of constant composition (layers; sub-slabs across rough
interfaces and gradients). For a particle that must reach the detector,
``G_r(u)`` is the detected energy of a particle that is at the top of region ``r`` with
energy ``u^2``; ``G_0`` is the detector dead-layer map and
``G_{r+1}(u) = G_r(F_r(u))`` with ``F_r`` the energy after crossing region ``r``
(``R_r^-1(R_r(E) - t_r k)``). A particle born at depth ``d`` inside region ``r`` is
detected with ``G_r(R_r^-1(R_r(E0) - d k))``. The cost is O(regions x grid + births),
not O(births^2).

Straggling rides along two more maps (:func:`exit_moments`): ``A_r(u) = dG_r/dE``, how an
energy spread at the top of region ``r`` reaches the detector (``A_{r+1}(E) =
A_r(F) S_r(F) / S_r(E)``), and ``V_r(u)``, the variance at the detector of a particle that
starts at the top of region ``r`` without spread (``V_{r+1}(E) = A_r(F)^2 S_r(F)^2 (W_r(F) -
W_r(E)) + V_r(F)``), with ``W_r(u) = int_u^{u_max} omega_r^2 / S_r^3 dE`` from
:func:`straggling_tables` (first-order propagation, see :mod:`interphase_sim.ndp.straggling`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "range_tables",
    "table_at",
    "energy_at_range",
    "exit_energies",
    "deposit",
    "broaden",
    "dead_layer_map",
    "birth_points",
    "straggling_tables",
    "exit_moments",
    "dead_layer_moments",
    "particle_spectrum",
    "N_GRID",
]

#: Nodes of the u = sqrt(E) grid (``E_i = (i du)^2`` keV, ``du = sqrt(1.02 E_max) / (N_GRID - 1)``)
#: of the range tables, exit maps and dead-layer maps, in the forward model and the inversion.
N_GRID = 256

_FAST = dict(cache=True, nogil=True, error_model="numpy")


@numba.njit(**_FAST)
def range_tables(stopping, du):
    """Range ``R`` (nm) on the u-grid from linear stopping ``stopping`` (keV/nm), per row.

    ``R(u_i) = int_0^{u_i} 2u / S(u^2) du`` by the trapezoid rule; the integrand at
    ``u = 0`` is taken equal to its value at the first node (S ~ u there).
    """
    n_r, n_g = stopping.shape
    out = np.empty((n_r, n_g))
    for r in range(n_r):
        s = stopping[r]
        out[r, 0] = 0.0
        prev = 2.0 * du / s[1]
        for i in range(1, n_g):
            cur = 2.0 * (i * du) / s[i]
            out[r, i] = out[r, i - 1] + 0.5 * (prev + cur) * du
            prev = cur
    return out


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


@numba.njit(**_FAST)
def _sweep_to(rr, y, hi, du):
    """(u at range ``y`` on the table ``rr``, the new sweep index): ``hi`` only moves down,
    so a region's birth points, sorted by depth, cost one pass over the table."""
    while hi > 1 and rr[hi - 1] > y:
        hi -= 1
    lo = hi - 1
    ue = (lo + (y - rr[lo]) / (rr[hi] - rr[lo])) * du if y < rr[hi] else hi * du
    return ue, hi


@numba.njit(**_FAST)
def _first_live(g):
    """Index of the last node of ``g`` before its first positive value (nodes where the
    map is still 0 stay 0 one region deeper)."""
    first = 0
    while first < g.shape[0] - 1 and g[first + 1] <= 0.0:
        first += 1
    return first


@numba.njit(**_FAST)
def exit_energies(e0, k, du, rng, thick, birth_region, birth_depth, g0, cutoff, out):
    """Detected energies (keV) of particles born at the birth points.

    Parameters
    ----------
    e0 : float
        Birth energy (keV).
    k : float
        Path-length factor ``1 / cos(phi)`` (phi from the surface normal).
    du : float
        u-grid step (sqrt(keV)).
    rng : (R, G) array
        Range tables of the regions (nm), top region first.
    thick : (R,) array
        Region thicknesses (nm).
    birth_region, birth_depth : (M,) arrays
        Region index and depth below that region's top (nm) of each birth point,
        sorted by depth.
    g0 : (G,) array
        Detector dead-layer map (detected energy for surface energy ``u^2``).
    cutoff : float
        Energy (keV) below which a particle counts as stopped; deeper points get 0.
    out : (M,) array
        Filled with detected energies (keV).
    """
    n_r, n_g = rng.shape
    m = birth_region.shape[0]
    g = g0.copy()
    g_next = np.empty(n_g)
    u0 = math.sqrt(e0)
    j = 0
    for r in range(n_r):
        rr = rng[r]
        r0 = table_at(rr, u0, du)
        hi = n_g - 1
        while j < m and birth_region[j] == r:
            y = r0 - birth_depth[j] * k  # decreases along the region: sweep down, no search
            if y <= 0.0:
                out[j] = g[0]
            else:
                ue, hi = _sweep_to(rr, y, hi, du)
                out[j] = table_at(g, ue, du)
            j += 1
        if j >= m:
            break
        path = thick[r] * k
        # Nodes where G is still 0 stay 0 one region deeper (F(E) < E): skip them.
        first = _first_live(g)
        for i in range(first):
            g_next[i] = 0.0
        lo = 0
        for i in range(first, n_g):
            y = rr[i] - path
            if y <= 0.0:
                g_next[i] = g[0]
                continue
            while lo < n_g - 2 and rr[lo + 1] <= y:  # y grows with i: sweep, no search
                lo += 1
            ue = (lo + (y - rr[lo]) / (rr[lo + 1] - rr[lo])) * du
            g_next[i] = table_at(g, ue, du)
        g, g_next = g_next, g
        if table_at(g, u0, du) <= cutoff:
            break
    while j < m:
        out[j] = 0.0
        j += 1


@numba.njit(**_FAST)
def deposit(e_nodes, var_nodes, weights, edges, hist, hist_e, hist_var):
    """Add counts born between consecutive depth nodes to an energy histogram.

    Interval ``j`` (between nodes ``j`` and ``j+1``) holds ``weights[j]`` counts whose
    detected energies run from ``e_nodes[j+1]`` to ``e_nodes[j]``; they are spread
    uniformly over that range (exact for a linear energy-depth map within the
    interval). ``hist_e`` and ``hist_var`` accumulate counts x energy (keV) and counts x
    variance (keV^2), so that the broadening is centred where the counts really are,
    not at the channel centre. Counts outside ``edges`` are dropped.
    """
    n_c = edges.shape[0] - 1
    for j in range(weights.shape[0]):
        w = weights[j]
        if w <= 0.0:
            continue
        a = e_nodes[j + 1]
        b = e_nodes[j]
        if a > b:
            a, b = b, a
        if b <= edges[0] or a >= edges[n_c] or b <= 0.0:
            continue
        v = 0.5 * (var_nodes[j] + var_nodes[j + 1])
        if b - a < 1e-12:
            c = np.searchsorted(edges, a, side="right") - 1
            if 0 <= c < n_c:
                hist[c] += w
                hist_e[c] += w * a
                hist_var[c] += w * v
            continue
        dens = w / (b - a)
        c = max(np.searchsorted(edges, a, side="right") - 1, 0)
        while c < n_c and edges[c] < b:
            lo = max(a, edges[c])
            hi = min(b, edges[c + 1])
            if hi > lo:
                q = dens * (hi - lo)
                hist[c] += q
                hist_e[c] += q * 0.5 * (lo + hi)
                hist_var[c] += q * v
            c += 1


@numba.njit(**_FAST)
def broaden(hist, mean, var, edges, out):
    """Gaussian broadening with a channel-dependent centre and variance.

    The counts ``hist[c]`` of channel ``c`` sit at ``mean[c]`` (keV) with variance
    ``var[c]`` (keV^2). They are bin-integrated (erf differences) when sigma is below
    1.5 bin widths, else spread as the density at the bin centres x width. Counts that
    fall outside the axis are lost, as on a real detector.
    """
    n = hist.shape[0]
    out[:] = 0.0
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    for c in range(n):
        h = hist[c]
        if h == 0.0:
            continue
        mu = mean[c]
        s = math.sqrt(var[c]) if var[c] > 0.0 else 0.0
        width = edges[c + 1] - edges[c]
        if s < 1.5 * width:
            if s <= 0.0:
                out[c] += h
                continue
            reach = int(6.0 * s / width) + 2
            for d in range(max(0, c - reach), min(n, c + reach + 1)):
                p = 0.5 * (math.erf((edges[d + 1] - mu) / s * inv_sqrt2)
                           - math.erf((edges[d] - mu) / s * inv_sqrt2))
                out[d] += h * p
            continue
        norm = h * width / (s * math.sqrt(2.0 * math.pi))
        # On a locally uniform axis exp(-x^2/2) at successive channels follows a
        # two-term multiplicative recurrence: three exps per source channel, not one per tap.
        a = width / s
        q = math.exp(-a * a)
        for direction in (1, -1):
            d = c if direction == 1 else c - 1
            if d < 0 or d >= n:
                continue
            x = (0.5 * (edges[d] + edges[d + 1]) - mu) / s
            g = math.exp(-0.5 * x * x)
            r = math.exp(-direction * x * a - 0.5 * a * a)
            while 0 <= d < n:
                w_d = edges[d + 1] - edges[d]
                if abs(w_d - width) > 1e-9 * width:  # non-uniform axis: evaluate directly
                    x = (0.5 * (edges[d] + edges[d + 1]) - mu) / s
                    g = math.exp(-0.5 * x * x)
                    r = math.exp(-direction * x * a - 0.5 * a * a)
                    if x * x > 36.0:
                        break
                    out[d] += norm * g * w_d / width
                else:
                    if g < 1.5e-8:  # beyond 6 sigma
                        break
                    out[d] += norm * g
                g *= r
                r *= q
                d += direction


@numba.njit(**_FAST)
def dead_layer_map(rng, thick, k, du, n_g):
    """Detected energy for each surface energy ``(i du)^2`` after the dead layers.

    ``rng`` (D, G) and ``thick`` (D,) describe the dead layers in the order the
    particle crosses them; with none, the map is the identity.
    """
    out = np.empty(n_g)
    for i in range(n_g):
        u = i * du
        for d in range(thick.shape[0]):
            u = energy_at_range(rng[d], table_at(rng[d], u, du) - thick[d] * k, du)
        out[i] = u * u
    return out


@numba.njit(**_FAST)
def birth_points(edges, delta):
    """Birth nodes: each region's top plus the multiples of its step ``delta`` inside it.

    Nodes sit on a grid global to each step size (not restarted at each region top),
    so splitting a region in two adds one node and moves none. Returns the region index
    and depth below the region top of every node; the last node closes the last region.
    """
    n_r = edges.shape[0] - 1
    count = 1
    for r in range(n_r):
        m_lo = int(math.floor(edges[r] / delta[r] + 1e-9)) + 1
        m_hi = int(math.ceil(edges[r + 1] / delta[r] - 1e-9)) - 1
        count += 1 + max(m_hi - m_lo + 1, 0)
    region = np.empty(count, np.int64)
    depth = np.empty(count)
    j = 0
    for r in range(n_r):
        region[j] = r
        depth[j] = 0.0
        j += 1
        m_lo = int(math.floor(edges[r] / delta[r] + 1e-9)) + 1
        m_hi = int(math.ceil(edges[r + 1] / delta[r] - 1e-9)) - 1
        for mm in range(m_lo, m_hi + 1):
            region[j] = r
            depth[j] = mm * delta[r] - edges[r]
            j += 1
    region[j] = n_r - 1
    depth[j] = edges[n_r] - edges[n_r - 1]
    return region, depth


@numba.njit(**_FAST)
def straggling_tables(stopping, omega2, du):
    """``W(u_i) = int_{u_i}^{u_max} 2 u omega2 / S^3 du`` (nm^2) per row, by the trapezoid rule.

    ``stopping`` (keV/nm) and ``omega2`` (straggling rate, keV^2/nm) are (R, G) on the u-grid;
    the integrand at ``u = 0`` is taken at the first node (only energies below ``du^2`` see it).
    """
    n_r, n_g = stopping.shape
    out = np.empty((n_r, n_g))
    f = np.empty(n_g)
    half = 0.5 * du
    for r in range(n_r):
        s, w = stopping[r], omega2[r]
        for i in range(1, n_g):  # the integrand (no loop-carried dependence: vectorizes)
            si = s[i]
            f[i] = (2.0 * du) * i * w[i] / (si * si * si)
        f[0] = f[1]  # the integrand at u = 0 taken at the first node
        out[r, n_g - 1] = 0.0
        for i in range(n_g - 2, -1, -1):
            out[r, i] = out[r, i + 1] + (f[i] + f[i + 1]) * half
    return out


@numba.njit(**_FAST)
def _interp3(t1, t2, t3, u, du):
    """Three u-grid tables at ``u`` (linear, clamped), sharing one index computation."""
    n = t1.shape[0]
    x = u / du
    if x <= 0.0:
        return t1[0], t2[0], t3[0]
    i = int(x)
    if i >= n - 1:
        return t1[n - 1], t2[n - 1], t3[n - 1]
    f = x - i
    return (t1[i] + f * (t1[i + 1] - t1[i]), t2[i] + f * (t2[i + 1] - t2[i]), t3[i] + f * (t3[i + 1] - t3[i]))


@numba.njit(**_FAST)
def _moments_at(g, a, v, sr, wr, ue, du):
    """(G, A, V, S, W) at ``ue`` (linear in u, clamped): one index for the five tables."""
    n = g.shape[0]
    x = ue / du
    i = int(x)
    if i >= n - 1:
        i, f = n - 2, 1.0
    else:
        f = x - i
    e = 1.0 - f
    return (e * g[i] + f * g[i + 1], e * a[i] + f * a[i + 1], e * v[i] + f * v[i + 1],
            e * sr[i] + f * sr[i + 1], e * wr[i] + f * wr[i + 1])


@numba.njit(**_FAST)
def exit_moments(e0, k, du, rng, stop, wtab, thick, birth_region, birth_depth, g0, a0, v0, cutoff, out, out_var):
    """Detected energies (keV) and straggling variances (keV^2) of the birth points.

    As :func:`exit_energies`, plus ``stop`` (R, G) region stopping (keV/nm), ``wtab`` (R, G)
    from :func:`straggling_tables`, and the dead-layer maps ``a0`` (dE_det/dE_surface) and
    ``v0`` (variance added by the dead layers, keV^2) from :func:`dead_layer_moments`.
    """
    n_r, n_g = rng.shape
    m = birth_region.shape[0]
    g, a, v = g0.copy(), a0.copy(), v0.copy()
    g_n, a_n, v_n = np.empty(n_g), np.empty(n_g), np.empty(n_g)
    u0 = math.sqrt(e0)
    j = 0
    for r in range(n_r):
        rr, sr, wr = rng[r], stop[r], wtab[r]
        r0 = table_at(rr, u0, du)
        w0 = table_at(wr, u0, du)
        hi = n_g - 1
        while j < m and birth_region[j] == r:
            y = r0 - birth_depth[j] * k
            if y <= 0.0:
                out[j], out_var[j] = g[0], 0.0
            else:
                ue, hi = _sweep_to(rr, y, hi, du)
                ge, ae, ve, se, we = _moments_at(g, a, v, sr, wr, ue, du)
                out[j] = ge
                out_var[j] = ae * ae * se * se * (we - w0) + ve
            j += 1
        if j >= m:
            break
        path = thick[r] * k
        first = _first_live(g)
        for i in range(first):
            g_n[i], a_n[i], v_n[i] = 0.0, 0.0, 0.0
        lo = 0
        for i in range(first, n_g):
            y = rr[i] - path
            if y <= 0.0:
                g_n[i], a_n[i], v_n[i] = g[0], 0.0, 0.0
                continue
            while lo < n_g - 2 and rr[lo + 1] <= y:
                lo += 1
            ue = (lo + (y - rr[lo]) / (rr[lo + 1] - rr[lo])) * du
            gf, af, vf, sf, wf = _moments_at(g, a, v, sr, wr, ue, du)
            g_n[i] = gf
            a_n[i] = af * sf / sr[i]
            v_n[i] = af * af * sf * sf * (wf - wr[i]) + vf
        g, g_n = g_n, g
        a, a_n = a_n, a
        v, v_n = v_n, v
        if table_at(g, u0, du) <= cutoff:
            break
    while j < m:
        out[j], out_var[j] = 0.0, 0.0
        j += 1


@numba.njit(**_FAST)
def dead_layer_moments(rng, stop, wtab, thick, k, du, n_g):
    """Dead-layer maps for each surface energy ``(i du)^2``: detected energy (keV),
    ``dE_det/dE_surface`` and the variance the layers add (keV^2).

    ``rng``, ``stop``, ``wtab`` (D, G) and ``thick`` (D,) in crossing order; the spread is
    carried through each layer with S(E_out) / S(E_in) (see :func:`exit_moments`).
    """
    g = np.empty(n_g)
    a = np.empty(n_g)
    v = np.empty(n_g)
    for i in range(n_g):
        u = i * du
        ai, vi = 1.0, 0.0
        for d in range(thick.shape[0]):
            if u <= 0.0:
                break
            uf = energy_at_range(rng[d], table_at(rng[d], u, du) - thick[d] * k, du)
            if uf <= 0.0:
                u, ai, vi = 0.0, 0.0, 0.0
                break
            s_in, w_in, _ = _interp3(stop[d], wtab[d], wtab[d], u, du)
            s_out, w_out, _ = _interp3(stop[d], wtab[d], wtab[d], uf, du)
            ratio = s_out / s_in
            vi = vi * ratio * ratio + s_out * s_out * (w_out - w_in)
            ai *= ratio
            u = uf
        g[i], a[i], v[i] = u * u, ai, vi
    return g, a, v


@numba.njit(**_FAST)
def particle_spectrum(k_nodes, k_weights, k_det_maps, e0s, probs, yield_per_atom_nm2, straggling,
                      du, rng, stop, wtab, thick, region, depth_in, cutoff, areal,
                      edges, centers, sigma_det2):
    """Broadened spectrum of one particle: every cone node and branch, deposited and broadened.

    ``areal`` (atoms/nm2 per birth interval) and ``yield_per_atom_nm2`` (counts per atom/nm2
    of the parent, for the whole cone) set the counts. ``k_det_maps`` (3, G) holds the
    dead-layer maps of :func:`dead_layer_moments`. With ``straggling`` the variance of each
    node comes from :func:`exit_moments` (``stop``, ``wtab``: region stopping and
    :func:`straggling_tables`); see :func:`deposit` and :func:`broaden` for the rest.
    """
    n_c = centers.shape[0]
    n_nodes = region.shape[0]
    hist = np.zeros(n_c)
    hist_e = np.zeros(n_c)
    hist_var = np.zeros(n_c)
    e_det = np.empty(n_nodes)
    var = np.zeros(n_nodes)
    counts = np.empty(areal.shape[0])
    g0, a0, v0 = k_det_maps[0], k_det_maps[1], k_det_maps[2]
    for a in range(k_nodes.shape[0]):
        k = k_nodes[a]
        for b in range(e0s.shape[0]):
            if straggling:
                exit_moments(e0s[b], k, du, rng, stop, wtab, thick, region, depth_in, g0, a0, v0, cutoff, e_det, var)
            else:
                exit_energies(e0s[b], k, du, rng, thick, region, depth_in, g0, cutoff, e_det)
            w = yield_per_atom_nm2 * probs[b] * k_weights[a]
            for j in range(areal.shape[0]):
                counts[j] = areal[j] * w
            deposit(e_det, var, counts, edges, hist, hist_e, hist_var)
    mean = np.empty(n_c)
    var_c = np.empty(n_c)
    for c in range(n_c):
        if hist[c] > 0.0:
            mean[c] = hist_e[c] / hist[c]
            var_c[c] = hist_var[c] / hist[c] + sigma_det2
        else:
            mean[c] = centers[c]
            var_c[c] = sigma_det2
    out = np.empty(n_c)
    broaden(hist, mean, var_c, edges, out)
    return out
