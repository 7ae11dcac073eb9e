"""Resolve close contacts where independently built regions meet (grain boundaries, interfaces).

Two structures cut to touching regions overlap in a shell about one bond long. Deleting
one atom of every close pair empties that shell and lowers the density by several percent
for nanometre grains; instead, close pairs are pushed apart symmetrically along their
separation a few times (at most a few tenths of an Å per atom), and only pairs still too
close afterwards are deleted, from either side with equal chance.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["resolve_contacts"]


def _pairs(pos: np.ndarray, box_xy: np.ndarray, z_span: float, d_min: float) -> np.ndarray:
    wrapped = pos.copy()
    wrapped[:, :2] %= box_xy
    z = wrapped[:, 2] - wrapped[:, 2].min()
    tree = cKDTree(np.c_[wrapped[:, :2], z], boxsize=[box_xy[0], box_xy[1], z_span + 10.0 * d_min])
    return tree.query_pairs(d_min, output_type="ndarray")


def pairs_in(pos: np.ndarray, box_xy: np.ndarray, z_span: float, d_min: float) -> np.ndarray:
    """Close pairs among ``pos`` (same conventions as the full search).

    Parameters
    ----------
    pos : (N, 3) array
        Positions (Å); periodic in x and y with edges ``box_xy`` (Å), open in z.
    z_span : float
        Depth range (Å) the periodic search box must hold (at least that of ``pos``).
    d_min : float
        Pair distance (Å).

    Returns
    -------
    ndarray, shape (M, 2)
        Index pairs ``i < j`` closer than ``d_min``.
    """
    return _pairs(pos, box_xy, max(z_span, float(np.ptp(pos[:, 2]))), d_min)


def _remap(pairs: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """Pairs of global indices as indices into the sorted ``subset``."""
    return np.searchsorted(subset, pairs)


def resolve_contacts(positions: np.ndarray, box_xy: np.ndarray, rng: np.random.Generator, d_min: float = 1.4,
                     iterations: int = 12, fixed: np.ndarray | None = None,
                     z_bounds: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Push apart pairs closer than ``d_min`` (Å); delete what remains.

    Parameters
    ----------
    positions : (N, 3) array
        Å; periodic in x and y with edges ``box_xy``, open in z.
    rng : numpy Generator
        For directions of coincident atoms and for which atom of a stubborn pair goes.
    fixed : (N,) bool array, optional
        Atoms that do not move (their partner moves the whole distance).
    z_bounds : (float, float), optional
        Keep z in ``[low, high)`` (Å) after every push (the region's faces).

    Returns
    -------
    positions : (N, 3) array
        Moved positions (x, y wrapped into the box).
    keep : (N,) bool array
        False for atoms deleted because they still touched after the pushes.
    """
    pos = np.array(positions, dtype=float, copy=True)
    box_xy = np.asarray(box_xy, dtype=float)
    n = len(pos)
    keep = np.ones(n, bool)
    if n < 2:
        return pos, keep
    fixed = np.zeros(n, bool) if fixed is None else np.asarray(fixed, bool)
    z_span = float(np.ptp(pos[:, 2]))
    target = 1.02 * d_min
    pairs = _pairs(pos, box_xy, z_span, d_min)
    if not len(pairs):
        return pos, keep
    # Only atoms near the first contacts can be involved later: iterate on that subset
    # (a few per cent of a large model) instead of re-searching every atom.
    wrapped = pos.copy()
    wrapped[:, :2] %= box_xy
    zmin = wrapped[:, 2].min()
    tree = cKDTree(np.c_[wrapped[:, :2], wrapped[:, 2] - zmin], boxsize=[box_xy[0], box_xy[1], z_span + 10.0 * d_min])
    touched = np.unique(pairs.ravel())
    near = tree.query_ball_point(np.c_[wrapped[touched, :2], wrapped[touched, 2] - zmin], r=3.0 * d_min,
                                 return_sorted=False)
    subset = np.unique(np.concatenate([np.asarray(x, dtype=np.int64) for x in near] + [touched]))
    sub = pos[subset]
    sub_fixed = fixed[subset]
    for it in range(iterations):
        sub_pairs = pairs_in(sub, box_xy, z_span, d_min) if it else _remap(pairs, subset)
        if not len(sub_pairs):
            break
        a, b = sub_pairs[:, 0], sub_pairs[:, 1]
        v = sub[b] - sub[a]
        v[:, :2] -= box_xy * np.round(v[:, :2] / box_xy)  # minimum image in x, y
        d = np.linalg.norm(v, axis=1)
        zero = d < 1e-9
        if zero.any():
            v[zero] = rng.standard_normal((int(zero.sum()), 3))
            d[zero] = np.linalg.norm(v[zero], axis=1)
        u = v / d[:, None]
        gap = target - np.where(zero, 0.0, d)
        share_a = np.where(sub_fixed[a], 0.0, np.where(sub_fixed[b], 1.0, 0.5))
        share_b = np.where(sub_fixed[b], 0.0, np.where(sub_fixed[a], 1.0, 0.5))
        move = np.zeros_like(sub)
        np.add.at(move, a, -(gap * share_a)[:, None] * u)
        np.add.at(move, b, (gap * share_b)[:, None] * u)
        sub += move
        if z_bounds is not None:
            sub[:, 2] = np.clip(sub[:, 2], z_bounds[0], np.nextafter(z_bounds[1], z_bounds[0]))
    pos[subset] = sub
    pos[:, :2] %= box_xy
    pairs = _pairs(pos, box_xy, z_span, d_min)
    if len(pairs):
        coin = rng.random(len(pairs)) < 0.5
        keep[np.where(coin, pairs[:, 0], pairs[:, 1])] = False
    return pos, keep
