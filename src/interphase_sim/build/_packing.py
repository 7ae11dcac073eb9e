"""Numba kernels of the amorphous builder: neighbour grid, placement, relaxation.

Used by :mod:`interphase_sim.build.amorphous` (whose module docstring describes the
algorithm): :func:`rsa` places rigid units by random sequential addition on a linked-list
cell grid, :func:`relax` removes overlaps and restores bonds by position-based projection
(Gauss-Seidel sweeps over a cell-list pair list with a skin). Positions in Å.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["LOCAL_SWEEPS", "SKIN_A", "TOL_A", "relax", "rsa", "wrap"]

#: Pair-list skin (Å), local sweeps per round, and the relaxation's tolerance (Å).
SKIN_A, LOCAL_SWEEPS, TOL_A = 0.6, 8, 0.02
_FAST = dict(cache=True, nogil=True, error_model="numpy")


@numba.njit(**_FAST)
def _grid(x, box, cell_size, n_in):
    """Linked-list cell grid holding the first ``n_in`` atoms of ``x`` (in [0, box)): cells
    per axis, distinct neighbour-cell offsets per axis (fewer than 3 when there are fewer
    cells), head, next."""
    nc, offs, noff = np.empty(3, np.int64), np.zeros((3, 3), np.int64), np.empty(3, np.int64)
    for a in range(3):
        nc[a] = max(1, int(box[a] / cell_size))
        noff[a] = min(nc[a], 3)
        for k in range(noff[a]):
            offs[a, k] = k - 1 if nc[a] >= 3 else k
    head = np.full(nc[0] * nc[1] * nc[2], -1, np.int64)
    nxt = np.full(x.shape[0], -1, np.int64)
    for i in range(n_in - 1, -1, -1):
        _insert(i, x[i], box, nc, head, nxt)
    return nc, offs, noff, head, nxt


@numba.njit(**_FAST)
def _insert(i, p, box, nc, head, nxt):
    c = 0
    for a in range(3):
        c = c * nc[a] + min(max(int(p[a] / box[a] * nc[a]), 0), nc[a] - 1)
    nxt[i] = head[c]
    head[c] = i


@numba.njit(**_FAST)
def _near_cells(p, box, nc, offs, noff, out):
    """Fill ``out`` with the cells around point p; returns how many."""
    c0 = min(max(int(p[0] / box[0] * nc[0]), 0), nc[0] - 1)
    c1 = min(max(int(p[1] / box[1] * nc[1]), 0), nc[1] - 1)
    c2 = min(max(int(p[2] / box[2] * nc[2]), 0), nc[2] - 1)
    m = 0
    for ka in range(noff[0]):
        for kb in range(noff[1]):
            for kc in range(noff[2]):
                out[m] = (((c0 + offs[0, ka]) % nc[0]) * nc[1] + (c1 + offs[1, kb]) % nc[1]) * nc[2] \
                    + (c2 + offs[2, kc]) % nc[2]
                m += 1
    return m


@numba.njit(**_FAST)
def _d2(x, j, p, box):
    """Squared minimum-image distance from atom j to point p; valid for |dx| < 1.5 box
    (positions are wrapped at every pair-list rebuild and move less than the skin)."""
    s = 0.0
    for a in range(3):
        d = x[j, a] - p[a]
        d = d - box[a] if d > 0.5 * box[a] else (d + box[a] if d < -0.5 * box[a] else d)
        s += d * d
    return s


@numba.njit(**_FAST)
def _overlap(p, t, x, typ, grid, box, tab, limit, cells):
    """Summed overlap (Å) of a trial atom at p (type t) with the atoms in the grid."""
    nc, offs, noff, head, nxt = grid
    s = 0.0
    for k in range(_near_cells(p, box, nc, offs, noff, cells)):
        j = head[cells[k]]
        while j >= 0:
            d2, m = _d2(x, j, p, box), tab[t, typ[j]]
            if d2 < m * m:
                s += m - math.sqrt(d2)
                if s >= limit:
                    return s
            j = nxt[j]
    return s


@numba.njit(**_FAST)
def rsa(rel, ustart, anchored, first_host, hosts, typ, tab, box, anchor_d, n_trials, seed):
    """Random sequential addition of rigid units (rows ustart[u]:ustart[u+1] of ``rel``).

    Free units try uniform positions and random rotations (unit quaternions from
    Gaussians); anchored single atoms try ``anchor_d`` from a host placed before them.
    A unit keeps its first try without overlap (minima ``tab``), else its least bad.
    """
    np.random.seed(seed)
    n = rel.shape[0]
    x = np.zeros((n, 3))
    grid = _grid(x, box, tab.max(), 0)
    size = np.max(ustart[1:] - ustart[:-1])
    trial, best, rot, cells = np.empty((size, 3)), np.empty((size, 3)), np.empty((3, 3)), np.empty(27, np.int64)
    cen = np.empty(3)
    for u in range(ustart.shape[0] - 1):
        a0, m = ustart[u], ustart[u + 1] - ustart[u]
        best_s = np.inf
        for t in range(n_trials):
            if anchored[u]:
                h = first_host[u] if t == 0 else hosts[np.random.randint(0, hosts.shape[0])]
                g0, g1, g2 = np.random.normal(), np.random.normal(), np.random.normal()
                gn = anchor_d / (math.sqrt(g0 * g0 + g1 * g1 + g2 * g2) + 1e-300)
                trial[0, 0], trial[0, 1], trial[0, 2] = x[h, 0] + g0 * gn, x[h, 1] + g1 * gn, x[h, 2] + g2 * gn
            else:
                w, i, j, k = np.random.normal(), np.random.normal(), np.random.normal(), np.random.normal()
                qn = 1.0 / (math.sqrt(w * w + i * i + j * j + k * k) + 1e-300)
                w, i, j, k = w * qn, i * qn, j * qn, k * qn
                rot[0, 0], rot[0, 1], rot[0, 2] = 1 - 2 * (j * j + k * k), 2 * (i * j - k * w), 2 * (i * k + j * w)
                rot[1, 0], rot[1, 1], rot[1, 2] = 2 * (i * j + k * w), 1 - 2 * (i * i + k * k), 2 * (j * k - i * w)
                rot[2, 0], rot[2, 1], rot[2, 2] = 2 * (i * k - j * w), 2 * (j * k + i * w), 1 - 2 * (i * i + j * j)
                for c in range(3):
                    cen[c] = np.random.random() * box[c]
                for r in range(m):
                    for c in range(3):
                        trial[r, c] = cen[c] + rot[c, 0] * rel[a0 + r, 0] + rot[c, 1] * rel[a0 + r, 1] \
                            + rot[c, 2] * rel[a0 + r, 2]
            s = 0.0
            for r in range(m):
                for c in range(3):
                    trial[r, c] -= box[c] * math.floor(trial[r, c] / box[c])
                s += _overlap(trial[r], typ[a0 + r], x, typ, grid, box, tab, best_s - s, cells)
                if s >= best_s:
                    break
            if s < best_s:
                best_s = s
                best[:m] = trial[:m]
            if s == 0.0:
                break
        for r in range(m):
            x[a0 + r] = best[r]
            _insert(a0 + r, best[r], box, grid[0], grid[3], grid[4])
    return x


@numba.njit(**_FAST)
def _cell_pairs(x, box, typ, cut2, excl_ptr, excl_idx, cell_size, cap):
    """Pairs (i < j) closer than their type-pair cutoff and not excluded.

    ``x`` must lie in [0, box). Returns (i, j, count); when count > cap the arrays are
    incomplete and the caller retries with cap >= count.
    """
    grid = _grid(x, box, cell_size, x.shape[0])
    out_i, out_j = np.empty(cap, np.int32), np.empty(cap, np.int32)
    cells = np.empty(27, np.int64)
    m = 0
    for i in range(x.shape[0]):
        for k in range(_near_cells(x[i], box, grid[0], grid[1], grid[2], cells)):
            j = grid[3][cells[k]]
            while j >= 0:
                if j > i and _d2(x, j, x[i], box) < cut2[typ[i], typ[j]]:
                    keep = True
                    for e in range(excl_ptr[i], excl_ptr[i + 1]):
                        keep = keep and excl_idx[e] != j
                    if keep:
                        if m < cap:
                            out_i[m], out_j[m] = i, j
                        m += 1
                j = grid[4][j]
    return out_i, out_j, m


@numba.njit(**_FAST)
def _project(x, box, i, j, target, w, inequality):
    """Move atoms i and j (weights w) so that |x_j - x_i| -> target; returns |deviation|."""
    r2 = _d2(x, j, x[i], box)
    if inequality and r2 >= target * target:
        return 0.0
    r = max(math.sqrt(r2), 1e-9)
    dev = r - target
    s = dev / (r * (w[i] + w[j]))
    for a in range(3):
        d = x[j, a] - x[i, a]
        d = d - box[a] if d > 0.5 * box[a] else (d + box[a] if d < -0.5 * box[a] else d)
        if r2 <= 1e-18 and a == 0:  # coincident atoms: separate them along x
            d = 1e-9
        x[i, a] += w[i] * s * d
        x[j, a] -= w[j] * s * d
    return abs(dev)


@numba.njit(**_FAST)
def _sweep(x, box, pi, pj, typ, min_tab, bi, bj, bd, w, overshoot, bond_passes, tol, flag):
    """A Gauss-Seidel sweep: bonds (``bond_passes`` times), then non-bonded pairs pushed to
    their minimum + ``overshoot``. Returns the worst bond and pair violations beyond
    ``tol`` (Å) and flags their atoms."""
    worst_b = worst_nb = 0.0
    for p in range(bond_passes):
        for k in range(bi.shape[0]):
            v = _project(x, box, bi[k], bj[k], bd[k], w, False)
            if p == 0 and v > tol:
                worst_b = max(worst_b, v)
                flag[bi[k]] = flag[bj[k]] = True
    for k in range(pi.shape[0]):
        i, j = pi[k], pj[k]
        v = _project(x, box, i, j, min_tab[typ[i], typ[j]] + overshoot, w, True) - overshoot
        if v > tol:
            worst_nb = max(worst_nb, v)
            flag[i] = flag[j] = True
    return worst_b, worst_nb


def wrap(x: np.ndarray, box: np.ndarray) -> np.ndarray:
    x = np.mod(x, box)
    return np.where(x >= box, x - box, x)  # np.mod(-1e-18, L) rounds to L: fold it to 0


def relax(x, box, typ, unit, min_tab, bonds, weights, max_sweeps=2000, bond_passes=2):
    """Remove overlaps and restore bonds in place; returns (sweeps, worst bond, worst pair).

    Rounds of one full sweep, which flags the atoms of violated constraints, then up to
    ``LOCAL_SWEEPS`` sweeps over the flagged units' constraints only (late on, a few
    jammed spots remain). Pairs within minimum + skin, rebuilt after half a skin's move.
    """
    order = np.argsort(np.minimum(bonds[0], bonds[1]), kind="stable")  # sweep bonds in memory order
    bi, bj, bd = (np.ascontiguousarray(b[order], dtype=t) for b, t in zip(bonds, (np.int64, np.int64, float)))
    a, b = np.concatenate([bi, bj]), np.concatenate([bj, bi])
    excl = (np.concatenate([[0], np.cumsum(np.bincount(a, minlength=len(x)))]), b[np.argsort(a, kind="stable")])
    cut2 = (min_tab + SKIN_A) ** 2

    def pairs():
        x[:] = wrap(x, box)
        cap = 8 * len(x) + 1024
        while True:
            pi, pj, m = _cell_pairs(x, box, typ, cut2, excl[0], excl[1], float(min_tab.max()) + SKIN_A, cap)
            if m <= cap:
                return x.copy(), pi[:m], pj[:m]
            cap = int(m * 1.2)

    ref, pi, pj = pairs()
    flag = np.zeros(len(x), bool)
    sweeps, worst = 0, (math.inf, math.inf)
    while sweeps < max_sweeps:
        flag[:] = False
        # the small overshoot pushes pairs just past their minimum so that the next
        # sweep's bond corrections do not pull them straight back under it
        worst = _sweep(x, box, pi, pj, typ, min_tab, bi, bj, bd, weights, 0.02, bond_passes, TOL_A, flag)
        sweeps += 1
        if not flag.any():
            break
        active = np.zeros(int(unit.max()) + 1, bool)
        active[unit[flag]] = True
        act = active[unit]
        sb, sp = act[bi], act[pi] | act[pj]
        local = (pi[sp], pj[sp], typ, min_tab, bi[sb], bj[sb], bd[sb], weights, 0.02, bond_passes, TOL_A, flag)
        for _ in range(LOCAL_SWEEPS):
            flag[:] = False
            _sweep(x, box, *local)
            sweeps += 1
            if not flag.any() or np.max(np.abs(x - ref)) > 0.5 * SKIN_A:
                break
        if np.max(np.abs(x - ref)) > 0.5 * SKIN_A:
            ref, pi, pj = pairs()
    x[:] = wrap(x, box)
    return sweeps, worst[0], worst[1]
