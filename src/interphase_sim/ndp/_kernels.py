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

The recursion itself (carried only where it is read, all cone nodes at once) lives in
:mod:`~interphase_sim.ndp._transport`; :mod:`~interphase_sim.ndp._pipeline` chains the
steps of one evaluation. The running sums of the tables advance four rows at a time
(independent chains in flight, each sum still taken node by node), so every number is
the one a row-by-row loop gives.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from interphase_sim.ndp._transport import (_used_regions, cone_windows, energy_at_range, table_at, transport_cone,
                                          window_tables)

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
    "spectrum_of",
    "N_GRID",
]

#: Nodes of the u = sqrt(E) grid (``E_i = (i du)^2`` keV, ``du = sqrt(1.02 E_max) / (N_GRID - 1)``)
#: of the range tables, exit maps and dead-layer maps, in the forward model and the inversion.
N_GRID = 256

_FAST = dict(cache=True, nogil=True, error_model="numpy")


@numba.njit(**_FAST)
def _range_sums(cur, du, out):
    """``out[r, i] = out[r, i - 1] + 0.5 (cur[r, i - 1] + cur[r, i]) du`` from 0, four rows
    at a time (independent running sums in flight; each still taken node by node)."""
    n_r, n_g = cur.shape
    r = 0
    while r + 4 <= n_r:
        o0, o1, o2, o3 = out[r], out[r + 1], out[r + 2], out[r + 3]
        c0, c1, c2, c3 = cur[r], cur[r + 1], cur[r + 2], cur[r + 3]
        a0 = a1 = a2 = a3 = 0.0
        o0[0] = o1[0] = o2[0] = o3[0] = 0.0
        for i in range(1, n_g):
            a0 = a0 + 0.5 * (c0[i - 1] + c0[i]) * du
            a1 = a1 + 0.5 * (c1[i - 1] + c1[i]) * du
            a2 = a2 + 0.5 * (c2[i - 1] + c2[i]) * du
            a3 = a3 + 0.5 * (c3[i - 1] + c3[i]) * du
            o0[i], o1[i], o2[i], o3[i] = a0, a1, a2, a3
        r += 4
    for q in range(r, n_r):
        o, c = out[q], cur[q]
        a = 0.0
        o[0] = 0.0
        for i in range(1, n_g):
            a = a + 0.5 * (c[i - 1] + c[i]) * du
            o[i] = a


@numba.njit(**_FAST)
def range_tables(stopping, du):
    """Range ``R`` (nm) on the u-grid from linear stopping ``stopping`` (keV/nm), per row.

    ``R(u_i) = int_0^{u_i} 2u / S(u^2) du`` by the trapezoid rule; the integrand at
    ``u = 0`` is taken equal to its value at the first node (S ~ u there).
    """
    n_r, n_g = stopping.shape
    cur = np.empty((n_r, n_g))
    for r in range(n_r):
        s, c = stopping[r], cur[r]
        for i in range(1, n_g):
            c[i] = 2.0 * (i * du) / s[i]
        c[0] = c[1]  # 2 du / S(u_1)
    out = np.empty((n_r, n_g))
    _range_sums(cur, du, out)
    return out


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

    Notes
    -----
    The maps ``G_r`` are carried only on the nodes some birth (or the cutoff test) reads
    (:mod:`~interphase_sim.ndp._transport`): the same numbers as on the whole grid, at a
    fraction of the cost when the births span a small part of the particle's range.
    """
    _exits(e0, k, du, rng, rng, rng, thick, birth_region, birth_depth, g0, g0, g0, cutoff, False, out, out)


@numba.njit(**_FAST)
def _exits(e0, k, du, rng, stop, wtab, thick, birth_region, birth_depth, g0, a0, v0, cutoff, straggling, out,
           out_var):
    """:func:`exit_moments` (or :func:`exit_energies`) through the cone transport, for one
    path factor and birth energy."""
    e0s, k_nodes = np.array([e0]), np.array([k])
    n_used = _used_regions(birth_region, rng.shape[0])
    w_lo, w_hi = cone_windows(e0s, k_nodes, rng, thick, birth_region, birth_depth, n_used, du)
    inv_step, inv_stop, _ = window_tables(rng, stop, stop, w_lo, du, False)
    e = np.empty((1, 1, birth_region.shape[0]))
    v = np.empty_like(e)
    transport_cone(e0s, k_nodes, du, rng, inv_step, stop, inv_stop, wtab, thick, birth_region, birth_depth,
                   g0, a0, v0, cutoff, straggling, w_lo, w_hi, e, v)
    out[:] = e[0, 0]
    if straggling:
        out_var[:] = v[0, 0]


@numba.njit(inline="always", **_FAST)
def _channel(edges, x, c):
    """``searchsorted(edges, x, side="right") - 1`` (-1 below the axis, ``n_c`` at or
    above its top), walking from the guess ``c``: a step or two on a near-uniform axis."""
    n_c = edges.shape[0] - 1
    c = min(max(c, -1), n_c)
    for _ in range(8):
        if c < n_c and edges[c + 1] <= x:
            c += 1
        elif c >= 0 and edges[c] > x:
            c -= 1
        else:
            return c
    return np.searchsorted(edges, x, side="right") - 1


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
    per_keV = n_c / (edges[n_c] - edges[0])  # the first guess of a channel (then exact)
    for j in range(weights.shape[0]):
        w = weights[j]
        if w <= 0.0:
            continue
        a = e_nodes[j + 1]
        b = e_nodes[j]
        if a > b:
            a, b = b, a
        if b <= edges[0] or not a < edges[n_c] or b <= 0.0:  # (a NaN deposits nothing)
            continue
        v = 0.5 * (var_nodes[j] + var_nodes[j + 1])
        c = _channel(edges, a, int((a - edges[0]) * per_keV) if a > edges[0] else -1)
        if b - a < 1e-12:
            if 0 <= c < n_c:
                hist[c] += w
                hist_e[c] += w * a
                hist_var[c] += w * v
            continue
        dens = w / (b - a)
        c = max(c, 0)
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
def _uniform(edges):
    """True when every channel width is within 1e-9 of every other (relative): then the
    per-tap width test of :func:`broaden` can never fire."""
    w_min, w_max = np.inf, -np.inf
    for d in range(edges.shape[0] - 1):
        w = edges[d + 1] - edges[d]
        w_min = min(w_min, w)
        w_max = max(w_max, w)
    return w_max - w_min <= 1e-9 * w_min


@numba.njit(**_FAST)
def _gauss_taps(out, d, direction, g, r, q, norm):
    """Add ``norm * g`` at channels ``d, d + direction, ...`` on a uniform axis, the
    Gaussian carried by the recurrence ``g *= r; r *= q``, until it falls below 6 sigma."""
    n = out.shape[0]
    while 0 <= d < n:
        if g < 1.5e-8:  # beyond 6 sigma
            break
        out[d] += norm * g
        g *= r
        r *= q
        d += direction


@numba.njit(**_FAST)
def _gauss_both(out, c, g_u, r_u, g_d, r_d, q, norm):
    """:func:`_gauss_taps` up from channel ``c`` and down from ``c - 1`` at once (two
    independent recurrences in flight; each channel still gets its terms in order)."""
    n = out.shape[0]
    up, dn = c, c - 1
    while up < n and dn >= 0 and not (g_u < 1.5e-8) and not (g_d < 1.5e-8):
        out[up] += norm * g_u
        out[dn] += norm * g_d
        g_u *= r_u
        r_u *= q
        g_d *= r_d
        r_d *= q
        up += 1
        dn -= 1
    _gauss_taps(out, up, 1, g_u, r_u, q, norm)
    _gauss_taps(out, dn, -1, g_d, r_d, q, norm)


#: The Gaussian's value six widths from its centre, exp(-18): where the taps stop.
_SIX_SIGMA = math.exp(-18.0)


@numba.njit(**_FAST)
def _gauss_start(edges, d, direction, mu, s, a):
    """(g, r) of the recurrence at channel ``d``: the Gaussian at its centre and the first ratio."""
    x = (0.5 * (edges[d] + edges[d + 1]) - mu) / s
    return math.exp(-0.5 * x * x), math.exp(-direction * x * a - 0.5 * a * a)


@numba.njit(**_FAST)
def _wide_general(out, edges, c, mu, s, a, q, norm, width):
    """The taps of one wide source channel on any axis (evaluated directly where a
    channel's width differs from the source's)."""
    n = out.shape[0]
    for direction in (1, -1):
        d = c if direction == 1 else c - 1
        if d < 0 or d >= n:
            continue
        g, r = _gauss_start(edges, d, direction, mu, s, a)
        while 0 <= d < n:
            w_d = edges[d + 1] - edges[d]
            if abs(w_d - width) > 1e-9 * width:  # non-uniform axis: evaluate directly
                g, r = _gauss_start(edges, d, direction, mu, s, a)
                if g < _SIX_SIGMA:
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
def broaden(hist, mean, var, edges, out):
    """Gaussian broadening with a channel-dependent centre and variance.

    The counts ``hist[c]`` of channel ``c`` sit at ``mean[c]`` (keV) with variance
    ``var[c]`` (keV^2). They are bin-integrated (erf differences) when sigma is below
    1.5 bin widths, else spread as the density at the bin centres x width. Counts that
    fall outside the axis are lost, as on a real detector.
    """
    out[:] = 0.0
    lo, hi = _filled_span(hist)
    _broaden_span(hist, mean, var, edges, out, _uniform(edges), lo, hi)


@numba.njit(**_FAST)
def _filled_span(hist):
    """(first, last + 1) channel with counts (0, 0 when none)."""
    n = hist.shape[0]
    lo = 0
    while lo < n and hist[lo] == 0.0:
        lo += 1
    hi = n
    while hi > lo and hist[hi - 1] == 0.0:
        hi -= 1
    return lo, hi


@numba.njit(**_FAST)
def _broaden_span(hist, mean, var, edges, out, uniform, c_lo, c_hi):
    """:func:`broaden` of the channels ``c_lo:c_hi`` (those holding counts) into ``out``
    (already zeroed), ``uniform`` from :func:`_uniform`."""
    n = hist.shape[0]
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    for c in range(c_lo, c_hi):
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
        if not uniform:
            _wide_general(out, edges, c, mu, s, a, q, norm, width)
        elif c == 0:
            g_u, r_u = _gauss_start(edges, 0, 1, mu, s, a)
            _gauss_taps(out, 0, 1, g_u, r_u, q, norm)
        else:
            g_u, r_u = _gauss_start(edges, c, 1, mu, s, a)
            g_d, r_d = _gauss_start(edges, c - 1, -1, mu, s, a)
            _gauss_both(out, c, g_u, r_u, g_d, r_d, q, norm)


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
def _tail_sums(f, half, out):
    """``out[r, i] = out[r, i + 1] + (f[r, i] + f[r, i + 1]) half`` from 0 at the top node,
    four rows at a time (as :func:`_range_sums`)."""
    n_r, n_g = f.shape
    r = 0
    while r + 4 <= n_r:
        o0, o1, o2, o3 = out[r], out[r + 1], out[r + 2], out[r + 3]
        f0, f1, f2, f3 = f[r], f[r + 1], f[r + 2], f[r + 3]
        a0 = a1 = a2 = a3 = 0.0
        o0[n_g - 1] = o1[n_g - 1] = o2[n_g - 1] = o3[n_g - 1] = 0.0
        for i in range(n_g - 2, -1, -1):
            a0 = a0 + (f0[i] + f0[i + 1]) * half
            a1 = a1 + (f1[i] + f1[i + 1]) * half
            a2 = a2 + (f2[i] + f2[i + 1]) * half
            a3 = a3 + (f3[i] + f3[i + 1]) * half
            o0[i], o1[i], o2[i], o3[i] = a0, a1, a2, a3
        r += 4
    for q in range(r, n_r):
        o, g = out[q], f[q]
        a = 0.0
        o[n_g - 1] = 0.0
        for i in range(n_g - 2, -1, -1):
            a = a + (g[i] + g[i + 1]) * half
            o[i] = a


@numba.njit(**_FAST)
def straggling_tables(stopping, omega2, du):
    """``W(u_i) = int_{u_i}^{u_max} 2 u omega2 / S^3 du`` (nm^2) per row, by the trapezoid rule.

    ``stopping`` (keV/nm) and ``omega2`` (straggling rate, keV^2/nm) are (R, G) on the u-grid;
    the integrand at ``u = 0`` is taken at the first node (only energies below ``du^2`` see it).
    """
    n_r, n_g = stopping.shape
    f = np.empty((n_r, n_g))
    for r in range(n_r):
        s, w, fr = stopping[r], omega2[r], f[r]
        for i in range(1, n_g):  # the integrand (no loop-carried dependence: vectorizes)
            si = s[i]
            fr[i] = (2.0 * du) * i * w[i] / (si * si * si)
        fr[0] = fr[1]  # the integrand at u = 0 taken at the first node
    out = np.empty((n_r, n_g))
    _tail_sums(f, 0.5 * du, out)
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
def exit_moments(e0, k, du, rng, stop, wtab, thick, birth_region, birth_depth, g0, a0, v0, cutoff, out, out_var):
    """Detected energies (keV) and straggling variances (keV^2) of the birth points.

    As :func:`exit_energies`, plus ``stop`` (R, G) region stopping (keV/nm), ``wtab`` (R, G)
    from :func:`straggling_tables`, and the dead-layer maps ``a0`` (dE_det/dE_surface) and
    ``v0`` (variance added by the dead layers, keV^2) from :func:`dead_layer_moments`.
    """
    _exits(e0, k, du, rng, stop, wtab, thick, birth_region, birth_depth, g0, a0, v0, cutoff, True, out, out_var)


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
    n_used = _used_regions(region, rng.shape[0])
    w_lo, w_hi = cone_windows(e0s, k_nodes, rng, thick, region, depth_in, n_used, du)
    inv_step, inv_stop, _ = window_tables(rng, stop, stop, w_lo, du, False)
    e_det = np.empty((k_nodes.shape[0], e0s.shape[0], region.shape[0]))
    var = np.empty_like(e_det)
    transport_cone(e0s, k_nodes, du, rng, inv_step, stop, inv_stop, wtab, thick, region, depth_in,
                   k_det_maps[0], k_det_maps[1], k_det_maps[2], cutoff, straggling, w_lo, w_hi, e_det, var)
    return spectrum_of(e_det, var, k_weights, probs, yield_per_atom_nm2, areal, edges, centers, sigma_det2,
                       _uniform(edges))


@numba.njit(**_FAST)
def spectrum_of(e_det, var, k_weights, probs, yield_per_atom_nm2, areal, edges, centers, sigma_det2, uniform):
    """Counts per channel from the detected energies and variances ``e_det``, ``var``
    (C, B, M: cone node, branch, birth node) of :func:`particle_spectrum`: each cone node
    and branch deposited in turn (:func:`deposit`), then broadened (:func:`broaden`;
    ``uniform``: :func:`_uniform` of ``edges``)."""
    n_c = centers.shape[0]
    hist = np.zeros(n_c)
    hist_e = np.zeros(n_c)
    hist_var = np.zeros(n_c)
    counts = np.empty(areal.shape[0])
    for a in range(e_det.shape[0]):
        for b in range(e_det.shape[1]):
            w = yield_per_atom_nm2 * probs[b] * k_weights[a]
            for j in range(areal.shape[0]):
                counts[j] = areal[j] * w
            deposit(e_det[a, b], var[a, b], counts, edges, hist, hist_e, hist_var)
    lo, hi = _filled_span(hist)
    mean = np.empty(n_c)  # read where there are counts only
    var_c = np.empty(n_c)
    for c in range(lo, hi):
        if hist[c] > 0.0:
            mean[c] = hist_e[c] / hist[c]
            var_c[c] = hist_var[c] / hist[c] + sigma_det2
        else:
            mean[c] = centers[c]
            var_c[c] = sigma_det2
    out = np.zeros(n_c)
    _broaden_span(hist, mean, var_c, edges, out, uniform, lo, hi)
    return out
