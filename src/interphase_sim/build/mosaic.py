"""Nanocrystalline mosaics: Voronoi grains of several phases in one layer region.

This is the "multilayer-mosaic" interphase of the science brief: nanocrystallites
(Li2O, Li3N, Li3P, Li3PO4, a few nm) in an amorphous matrix, with the phases' volume
fractions changing linearly with depth. Grains are the Voronoi cells of seeds on a
jittered grid (periodic in x and y, cut by the region's top and bottom planes); each
grain gets one phase so that the fractions follow the gradient, a crystalline grain is
filled with a randomly oriented crystal cut to its cell (never strained) and the grains
of an amorphous phase are filled together by the amorphous builder. Atoms closer than
1.4 Å across a grain boundary are pushed apart (:mod:`.contacts`); the few that still
touch are removed, from either grain with equal chance.

Conventions: Å inside (ASE), grain sizes in nm. ``z_range_A = (z_top, z_bottom)`` with
``z_top < z_bottom``: z is the depth below the surface, as in
:func:`interphase_sim.build.assemble.atoms_from_stack`, and ``fractions_top`` apply at
``z_top``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from interphase_sim.build.crystal import crystal_fill, random_rotation
from interphase_sim.build.results import DepthProfile, MosaicFill, PhaseFractions
from interphase_sim.core.constants import MIN_DISTANCE_A
from interphase_sim.core import validate as V
from interphase_sim.core.errors import InterphaseInputError

__all__ = ["DepthProfile", "MosaicFill", "PhaseFractions", "assign_phases", "grain_seeds", "mosaic_fill"]

# Relative std of Voronoi cell volumes (x) reached by a Gaussian jitter of the seed grid
# of std y grid spacings (measured once on an 8x8x8 periodic grid, 3 repeats, cells
# counted on a 48^3 point grid). Beyond the last entry the seeds are uniformly random
# (Poisson), whose cells have a relative volume std of about 0.42.
_SPREAD_TO_JITTER = (
    (0.0, 0.044, 0.103, 0.141, 0.190, 0.258, 0.292, 0.332, 0.367, 0.392),
    (0.0, 0.05, 0.10, 0.15, 0.20, 0.30, 0.40, 0.50, 0.70, 1.00),
)
# Largest absolute difference between achieved and target volume fraction tolerated
# without a warning.
FRACTION_TOLERANCE = 0.05


def _rng(seed: Any) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


# -- seeds ------------------------------------------------------------------------------
def grain_seeds(box_A: Sequence[float], grain_size_nm: float, spread: float = 0.3, rng: Any = None) -> np.ndarray:
    """Grain centres in ``[0, box_A)`` with a mean spacing of ``grain_size_nm``.

    Parameters
    ----------
    box_A : (3,) float
        Region edges (Å); x and y are periodic.
    grain_size_nm : float
        Mean spacing of grain centres (nm), i.e. the cube root of the mean grain volume.
    spread : float
        Relative standard deviation of the grain volumes (0 = equal cubic grains). A
        simple-cubic seed grid is jittered by the Gaussian amplitude that gives this
        spread; values above about 0.39 give uniformly random seeds (spread ~0.42).
    rng : numpy Generator, int or None
        Random source or seed.

    Returns
    -------
    ndarray, shape (N, 3)
        Seeds (Å), ``N = prod(max(1, round(box / grain)))``.
    """
    box = np.asarray(box_A, dtype=float).reshape(-1)
    if box.shape != (3,) or not np.all(np.isfinite(box)) or not np.all(box > 0):
        raise InterphaseInputError("box_A", f"expected three sizes > 0 (Å), got {box_A!r}")
    d = V.positive(grain_size_nm, "grain_size_nm") * 10.0
    spread = V.non_negative(spread, "spread")
    gen = _rng(rng)
    counts = np.maximum(1, np.round(box / d)).astype(int)
    step = box / counts
    idx = np.stack(np.meshgrid(*[np.arange(c) for c in counts], indexing="ij"), -1).reshape(-1, 3)
    if spread >= _SPREAD_TO_JITTER[0][-1]:
        seeds = gen.random(idx.shape) * box
    else:
        jitter = float(np.interp(spread, *_SPREAD_TO_JITTER))
        seeds = (idx + 0.5 + gen.normal(0.0, jitter, idx.shape)) * step
        seeds[:, :2] %= box[:2]
        # reflect into the (non-periodic) z range so the density of seeds stays uniform
        z = np.abs(seeds[:, 2]) % (2.0 * box[2])
        seeds[:, 2] = np.where(z > box[2], 2.0 * box[2] - z, z)
    # keep seeds off the z faces: the faces are mirror planes in the Voronoi construction
    eps = 1e-3 * min(d, box[2])
    seeds[:, 2] = np.clip(seeds[:, 2], eps, box[2] - eps)
    return seeds


def _fractions(fr: Any, field: str, known: Sequence[str] | None = None) -> dict[str, float]:
    if not isinstance(fr, Mapping) or not fr:
        raise InterphaseInputError(field, f"expected a non-empty mapping {{phase: volume fraction}}, got {fr!r}")
    out = {}
    for name, v in fr.items():
        if known is not None and name not in known:
            raise InterphaseInputError(
                f"{field}.{name}", f"unknown phase {name!r}; the phases given are {', '.join(known)}"
            )
        v = V.non_negative(getattr(v, "value", v), f"{field}.{name}")
        out[str(name)] = v
    total = math.fsum(out.values())
    if not total > 0:
        raise InterphaseInputError(field, "volume fractions sum to zero; at least one must be > 0")
    return {k: v / total for k, v in out.items()}


def assign_phases(
    seeds_z: Sequence[float],
    fractions_top: Mapping[str, float],
    fractions_bottom: Mapping[str, float] | None,
    z_range: Sequence[float],
    grain_volumes: Sequence[float],
    rng: Any = None,
) -> tuple[list[str], PhaseFractions]:
    """One phase per grain, so that volume fractions follow a linear depth gradient.

    Parameters
    ----------
    seeds_z : (N,) float
        Depth of each grain (its seed or centroid; any length unit, the same as
        ``z_range``, e.g. Å).
    fractions_top, fractions_bottom : mapping {phase: fraction}
        Volume fractions at ``z_range[0]`` and ``z_range[1]`` (normalized here; any
        non-negative weights with a positive sum). ``fractions_bottom`` None: uniform.
    z_range : (float, float)
        Top and bottom of the region (same unit as ``seeds_z``).
    grain_volumes : (N,) float
        Grain volumes (any unit, e.g. Å³), > 0.
    rng : numpy Generator, int or None
        Breaks ties between grains at the same depth and drives the refinement.

    Returns
    -------
    phases : list of str
        The phase of each grain.
    report : PhaseFractions
        ``target_fractions`` and ``achieved_fractions`` (volume fractions over the
        region), ``max_abs_error`` (largest ``|achieved - target|``), ``n_grains``.

    Notes
    -----
    Grains are taken in order of depth; each adds its volume times the target fractions
    at its depth to a running deficit and takes the phase with the largest deficit among
    those wanted there (error diffusion along depth). A local search then reassigns or
    swaps grains of similar depth wherever that lowers the mismatch both per depth band
    and overall. A phase never goes where its target fraction is zero.
    """
    gen = _rng(rng)
    vol = np.asarray(grain_volumes, dtype=float).reshape(-1)
    names, t, want = _grain_targets(seeds_z, fractions_top, fractions_bottom, z_range, vol)
    n = len(vol)
    order = np.lexsort((gen.random(n), t))
    assign = _diffuse_errors(order, vol, want)
    assign = _refine_assignment(assign, order, vol, want, gen)
    vtot = vol.sum()
    target = (vol[:, None] * want).sum(axis=0) / vtot
    achieved = np.bincount(assign, weights=vol, minlength=len(names)) / vtot
    report = PhaseFractions(
        target_fractions={k: float(v) for k, v in zip(names, target)},
        achieved_fractions={k: float(v) for k, v in zip(names, achieved)},
        max_abs_error=float(np.max(np.abs(achieved - target))),
        n_grains=int(n),
    )
    return [names[k] for k in assign], report


def _depth_parameter(seeds_z: Sequence[float], z_range: Sequence[float]) -> np.ndarray:
    """Each grain's position along the gradient, 0 at its top and 1 at its bottom."""
    z = np.asarray(seeds_z, dtype=float).reshape(-1)
    z0, z1 = (float(v) for v in z_range)
    return np.clip((z - z0) / (z1 - z0), 0.0, 1.0)


def _grain_targets(seeds_z: Sequence[float], fractions_top: Mapping[str, float],
                   fractions_bottom: Mapping[str, float] | None, z_range: Sequence[float],
                   vol: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The phase names, each grain's place along the gradient (0-1) and the (N, P)
    target fractions at its depth, after checking the inputs of :func:`assign_phases`."""
    z = np.asarray(seeds_z, dtype=float).reshape(-1)
    if z.shape != vol.shape or len(z) == 0:
        raise InterphaseInputError("grain_volumes", f"need one volume per grain ({len(z)}), got {vol.shape}")
    if not np.all(np.isfinite(vol)) or np.any(vol <= 0):
        raise InterphaseInputError("grain_volumes", "every grain volume must be finite and > 0")
    top = _fractions(fractions_top, "fractions_top")
    bot = top if fractions_bottom is None else _fractions(fractions_bottom, "fractions_bottom")
    names = list(top) + [k for k in bot if k not in top]
    z0, z1 = (float(v) for v in z_range)
    if not (math.isfinite(z0) and math.isfinite(z1) and z1 > z0):
        raise InterphaseInputError("z_range", f"need finite top < bottom, got {z_range!r}")
    t = _depth_parameter(z, (z0, z1))
    ft = np.array([top.get(k, 0.0) for k in names])
    fb = np.array([bot.get(k, 0.0) for k in names])
    return names, t, (1.0 - t)[:, None] * ft + t[:, None] * fb


def _diffuse_errors(order: np.ndarray, vol: np.ndarray, want: np.ndarray) -> np.ndarray:
    """First assignment by error diffusion along depth: each grain (in ``order``) takes
    the allowed phase with the largest running volume deficit."""
    allowed = want > 1e-12
    deficit = np.zeros(want.shape[1])
    assign = np.empty(len(vol), dtype=int)
    for g in order:
        deficit += vol[g] * want[g]
        k = int(np.argmax(np.where(allowed[g], deficit, -np.inf)))
        assign[g] = k
        deficit[k] -= vol[g]
    return assign


def _refine_assignment(assign: np.ndarray, order: np.ndarray, vol: np.ndarray, want: np.ndarray,
                       gen: np.random.Generator) -> np.ndarray:
    """Local search: reassign a grain, or swap phases of two grains of one depth band,
    wherever that lowers the summed ``|achieved - target|`` volume per band plus the overall
    mismatch weighted as much as all bands together.

    Depth bands hold about equal grain counts (about one grain layer each for a cubic
    arrangement); ``dev[b][k]`` is achieved minus target volume of phase k in band b.
    """
    n, p = want.shape
    allowed = want > 1e-12
    n_band = int(np.clip(round(n ** (1.0 / 3.0)), 1, 10))
    band = np.empty(n, dtype=int)
    band[order] = np.arange(n) * n_band // n
    dev = np.zeros((n_band, p))
    np.add.at(dev, (band, assign), vol)
    np.add.at(dev, band, -vol[:, None] * want)
    dev_l = dev.tolist()
    tot = dev.sum(axis=0).tolist()
    w = float(n_band)  # the overall fractions weigh as much as all bands together
    members = [np.flatnonzero(band == b) for b in range(n_band)]
    allowed_l = [np.flatnonzero(a).tolist() for a in allowed]
    vol_l = vol.tolist()
    assign_l = assign.tolist()
    iters = min(40 * n, 20000) if p > 1 else 0
    picks = gen.integers(0, n, iters)
    coins = gen.random((iters, 2))
    for it in range(iters):
        g = int(picks[it])
        b, k_old, v = int(band[g]), assign_l[g], vol_l[g]
        row = dev_l[b]
        if coins[it, 0] < 0.5:  # reassign g
            opts = allowed_l[g]
            k_new = opts[int(coins[it, 1] * len(opts))]
            if k_new == k_old:
                continue
            delta = (abs(row[k_old] - v) - abs(row[k_old]) + abs(row[k_new] + v) - abs(row[k_new])
                     + w * (abs(tot[k_old] - v) - abs(tot[k_old]) + abs(tot[k_new] + v) - abs(tot[k_new])))
            if delta < -1e-12 * v:
                row[k_old] -= v
                row[k_new] += v
                tot[k_old] -= v
                tot[k_new] += v
                assign_l[g] = k_new
        else:  # swap phases with another grain of the same band
            mem = members[b]
            h = int(mem[int(coins[it, 1] * len(mem))])
            k_h, vh = assign_l[h], vol_l[h]
            if k_h == k_old or not (allowed[g, k_h] and allowed[h, k_old]):
                continue
            dv = vh - v  # phase k_old gains dv, phase k_h loses dv
            delta = (abs(row[k_old] + dv) - abs(row[k_old]) + abs(row[k_h] - dv) - abs(row[k_h])
                     + w * (abs(tot[k_old] + dv) - abs(tot[k_old]) + abs(tot[k_h] - dv) - abs(tot[k_h])))
            if delta < -1e-12 * max(v, vh):
                row[k_old] += dv
                row[k_h] -= dv
                tot[k_old] += dv
                tot[k_h] -= dv
                assign_l[g], assign_l[h] = k_h, k_old
    return np.array(assign_l)


# -- Voronoi geometry -------------------------------------------------------------------
def _voronoi_cells(seeds: np.ndarray, lx: float, ly: float, z0: float, z1: float, margin: float):
    """Bounding boxes (unwrapped Å) and exact volumes (Å^3) of the periodic Voronoi cells.

    Periodic images in x, y and mirror images across the top and bottom planes make
    every original cell bounded; mirroring makes the planes themselves cell faces.
    Returns None when the construction fails (degenerate input), so callers fall back.
    """
    from scipy.spatial import ConvexHull, QhullError, Voronoi

    n = len(seeds)
    for m in (margin, math.inf):
        imgs = [seeds]
        for ix in (-1, 0, 1):
            for iy in (-1, 0, 1):
                if ix == 0 and iy == 0:
                    continue
                s = seeds + np.array([ix * lx, iy * ly, 0.0])
                near = ((s[:, 0] > -m) & (s[:, 0] < lx + m) & (s[:, 1] > -m) & (s[:, 1] < ly + m))
                imgs.append(s[near])
        flat = np.concatenate(imgs)
        mir_top = flat[flat[:, 2] - z0 < m] * np.array([1.0, 1.0, -1.0]) + np.array([0.0, 0.0, 2.0 * z0])
        mir_bot = flat[z1 - flat[:, 2] < m] * np.array([1.0, 1.0, -1.0]) + np.array([0.0, 0.0, 2.0 * z1])
        pts = np.concatenate([flat, mir_top, mir_bot])
        try:
            vor = Voronoi(pts)
        except (QhullError, ValueError):
            return None
        lo = np.empty((n, 3))
        hi = np.empty((n, 3))
        vol = np.empty(n)
        ok = True
        for i in range(n):
            region = vor.regions[vor.point_region[i]]
            if not region or -1 in region:
                ok = False
                break
            v = vor.vertices[region]
            lo[i], hi[i] = v.min(axis=0), v.max(axis=0)
            try:
                vol[i] = ConvexHull(v).volume
            except (QhullError, ValueError):
                ok = False
                break
        total = lx * ly * (z1 - z0)
        if ok and abs(vol.sum() - total) <= 1e-6 * total:
            lo[:, 2] = np.maximum(lo[:, 2], z0)
            hi[:, 2] = np.minimum(hi[:, 2], z1)
            return lo, hi, vol
    return None


class _Labeller:
    """Nearest seed (= Voronoi grain) of positions, periodic in x and y."""

    def __init__(self, seeds: np.ndarray, lx: float, ly: float, z0: float, z1: float):
        from scipy.spatial import cKDTree

        self.box = np.array([lx, ly, 2.0 * (z1 - z0) + 1.0])  # z never wraps
        self.shift = np.array([0.0, 0.0, z0])
        self.tree = cKDTree(self._wrap(seeds), boxsize=self.box)

    def _wrap(self, pos: np.ndarray) -> np.ndarray:
        w = pos - self.shift
        w[:, :2] %= self.box[:2]
        np.clip(w[:, 2], 0.0, self.box[2] * (1.0 - 1e-12), out=w[:, 2])
        return w

    def __call__(self, pos: np.ndarray) -> np.ndarray:
        pos = np.asarray(pos, dtype=float).reshape(-1, 3)
        # threads pay off only for large queries (starting them costs ~0.5 ms a call)
        return self.tree.query(self._wrap(pos), workers=-1 if len(pos) > 50_000 else 1)[1]


# -- the mosaic -------------------------------------------------------------------------
def mosaic_fill(
    phases: Mapping[str, Any],
    fractions_top: Mapping[str, float],
    fractions_bottom: Mapping[str, float] | None,
    cell_A: Sequence[float],
    z_range_A: Sequence[float] | None,
    grain_size_nm: float,
    seed: Any = None,
    amorphous_fill: Callable[..., tuple[Any, np.ndarray]] | None = None,
    spread: float = 0.3,
    gradient_range_A: Sequence[float] | None = None,
    wide_grains: str = "refuse",
) -> MosaicFill:
    """Fill a layer region with a Voronoi mosaic of crystalline and amorphous grains.

    Parameters
    ----------
    phases : mapping {name: Phase}
        Phases that may appear; crystalline ones need ``structure``, amorphous ones
        (``phase.amorphous``) are built by ``amorphous_fill``.
    fractions_top, fractions_bottom : mapping {name: float}
        Volume fractions at the region's top and bottom (normalized; non-negative with a
        positive sum); linear in depth between. ``fractions_bottom`` None: uniform.
    cell_A : (3,) float
        The model's box (Å); periodic in x and y.
    z_range_A : (float, float) or None
        ``(z_top, z_bottom)`` of the region (Å), ``0 <= z_top < z_bottom <= cell_A[2]``;
        None: the whole box.
    grain_size_nm : float
        Mean grain spacing (nm); at most the smaller lateral box edge unless
        ``wide_grains="span"``.
    seed : int, numpy Generator or None
        Every random choice (seeds, phases, orientations, lattice origins, amorphous).
    amorphous_fill : callable, optional
        ``amorphous_fill(phase, cell_A, inside, seed) -> (symbols, positions)``; default
        :func:`interphase_sim.build.amorphous.amorphous_fill` (imported when needed).
    spread : float
        Relative standard deviation of grain volumes (:func:`grain_seeds`).
    gradient_range_A : (float, float), optional
        Depths (Å) at which ``fractions_top`` and ``fractions_bottom`` apply, when the
        region is padded beyond the layer's nominal extent; default ``z_range_A``.
    wide_grains : {"refuse", "span"}
        Grains wider than the lateral box: ``"refuse"`` raises; ``"span"`` builds them,
        one grain across the box laterally (a single crystal, periodic with the box). In
        depth grains keep their size, so a region less than about 1.5 grains deep holds
        exactly one grain.

    Returns
    -------
    MosaicFill
        Per-atom ``symbols``, ``positions_A`` (Å, x and y wrapped into the box),
        ``atom_phase`` and ``atom_grain``; ``achieved_fractions`` and
        ``target_fractions`` (volume fractions over the region, from the exact Voronoi
        grain volumes), per-grain ``grain_phase``, ``grain_volume_A3``,
        ``grain_rotation`` and ``seeds_A``, ``removed_at_boundaries`` (atoms dropped for
        coming closer than 1.4 Å across a grain boundary), and ``depth_profile``.

    Warns
    -----
    UserWarning
        When the grains are too few to meet the fractions within 0.05 (or a wanted
        phase gets no grain); the warning states what was achieved.
    """
    req = _mosaic_request(phases, fractions_top, fractions_bottom, cell_A, z_range_A, grain_size_nm, spread,
                          gradient_range_A, wide_grains)
    rng = _rng(seed)
    geo = _mosaic_geometry(req, rng)
    grain_phase, fractions = assign_phases(geo.seeds[:, 2], req.top, req.bot, req.gradient_range, geo.vol, rng)
    parts, rotations = _fill_crystal_grains(req, geo, grain_phase, rng)
    parts += _fill_amorphous_grains(req, geo, grain_phase, amorphous_fill, rng)
    return _package_mosaic(req, geo, grain_phase, fractions, rotations, _join_grains(parts, req, rng))


@dataclass(frozen=True)
class _MosaicRequest:
    """The checked inputs of :func:`mosaic_fill` (lengths in Å)."""

    phases: Mapping[str, Any]
    known: list[str]
    top: dict[str, float]
    bot: dict[str, float]
    lx: float
    ly: float
    z0: float
    z1: float
    grain_nm: float
    spread: float
    gradient_range: tuple[float, float]


@dataclass(frozen=True)
class _MosaicGeometry:
    """Seeds (Å), the nearest-seed labeller, and each grain's bounding box (Å) and volume (Å³)."""

    seeds: np.ndarray
    label: _Labeller
    lo: np.ndarray
    hi: np.ndarray
    vol: np.ndarray


def _mosaic_request(phases: Any, fractions_top: Any, fractions_bottom: Any, cell_A: Any, z_range_A: Any,
                    grain_size_nm: Any, spread: Any, gradient_range_A: Any, wide_grains: str) -> _MosaicRequest:
    if not isinstance(phases, Mapping) or not phases:
        raise InterphaseInputError("phases", f"expected a non-empty mapping {{name: Phase}}, got {phases!r}")
    for name, ph in phases.items():
        if not hasattr(ph, "amorphous") or (not ph.amorphous and getattr(ph, "structure", None) is None):
            raise InterphaseInputError(f"phases.{name}", f"expected a Phase, got {type(ph).__name__}")
    known = list(phases)
    top = _fractions(fractions_top, "fractions_top", known)
    bot = top if fractions_bottom is None else _fractions(fractions_bottom, "fractions_bottom", known)
    try:
        cell = np.asarray(cell_A, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InterphaseInputError("cell_A", f"expected three sizes (Å), got {cell_A!r}") from None
    if cell.shape != (3,) or not np.all(np.isfinite(cell)) or not np.all(cell > 0):
        raise InterphaseInputError("cell_A", f"expected three finite sizes > 0 (Å), got {cell_A!r}")
    lx, ly = float(cell[0]), float(cell[1])
    z0, z1 = _z_range(z_range_A, float(cell[2]))
    grain_nm = V.positive(grain_size_nm, "grain_size_nm")
    if wide_grains not in ("refuse", "span"):
        raise InterphaseInputError("wide_grains", f"choose 'refuse' or 'span', got {wide_grains!r}")
    if grain_nm * 10.0 > min(lx, ly) and wide_grains == "refuse":
        raise InterphaseInputError(
            "grain_size_nm",
            f"{grain_nm:g} nm is larger than the lateral box ({lx / 10:g} x {ly / 10:g} nm); "
            f"use grains of at most {min(lx, ly) / 10:g} nm or a wider box",
        )
    # fractions follow the layer's nominal top-to-bottom gradient even when the region is
    # padded (for rough interfaces) beyond it
    g_range = (z0, z1) if gradient_range_A is None else tuple(float(v) for v in gradient_range_A)
    return _MosaicRequest(phases, known, top, bot, lx, ly, z0, z1, grain_nm, V.non_negative(spread, "spread"),
                          g_range)


def _z_range(z_range_A: Any, depth: float) -> tuple[float, float]:
    """``(z_top, z_bottom)`` (Å) of the region, checked against the box depth (Å)."""
    if z_range_A is None:
        return 0.0, depth
    try:
        z0, z1 = (float(v) for v in z_range_A)
    except (TypeError, ValueError):
        raise InterphaseInputError("z_range_A", f"expected (z_top, z_bottom) in Å, got {z_range_A!r}") from None
    tol = 1e-9 * depth
    if not (math.isfinite(z0) and math.isfinite(z1) and -tol <= z0 < z1 <= depth + tol):
        raise InterphaseInputError(
            "z_range_A", f"need 0 <= z_top < z_bottom <= cell_A[2] = {depth:g} Å, got {z_range_A!r}"
        )
    return max(z0, 0.0), min(z1, depth)


def _mosaic_geometry(req: _MosaicRequest, rng: np.random.Generator) -> _MosaicGeometry:
    """Seeds, labeller and grain cells; point-grid volumes if the exact Voronoi fails."""
    lx, ly, z0, z1 = req.lx, req.ly, req.z0, req.z1
    d = req.grain_nm * 10.0
    seeds = grain_seeds((lx, ly, z1 - z0), req.grain_nm, req.spread, rng) + np.array([0.0, 0.0, z0])
    label = _Labeller(seeds, lx, ly, z0, z1)
    cells = _voronoi_cells(seeds, lx, ly, z0, z1, margin=3.0 * d)
    if cells is None:  # degenerate geometry: whole-box bounds, volumes from a point grid
        lo = seeds - np.array([lx / 2, ly / 2, 0.0])
        hi = seeds + np.array([lx / 2, ly / 2, 0.0])
        lo[:, 2], hi[:, 2] = z0, z1
        gp, _ = _grid(lx, ly, z0, z1, d / 8.0)
        vol = np.bincount(label(gp), minlength=len(seeds)) * (lx * ly * (z1 - z0) / len(gp)) + 1e-9
    else:
        lo, hi, vol = cells
    return _MosaicGeometry(seeds, label, lo, hi, vol)


# one grain's atoms: symbols, positions (Å), grain index per atom, phase per atom
_Part = tuple[list[str], np.ndarray, np.ndarray, np.ndarray]


def _fill_crystal_grains(req: _MosaicRequest, geo: _MosaicGeometry, grain_phase: list[str],
                         rng: np.random.Generator) -> tuple[list[_Part], np.ndarray]:
    """Each crystalline grain filled with a randomly oriented crystal cut to its cell;
    also every grain's rotation (NaN for amorphous grains)."""
    n = len(geo.seeds)
    grain_seed = rng.integers(0, 2**31, n)
    rotations = np.full((n, 3, 3), np.nan)
    parts: list[_Part] = []
    for g in range(n):
        ph = req.phases[grain_phase[g]]
        if ph.amorphous:
            continue
        g_rng = np.random.default_rng(int(grain_seed[g]))
        rot = random_rotation(g_rng)
        rotations[g] = rot
        lattice = np.asarray(ph.structure.lattice.matrix, dtype=float)
        origin = (g_rng.random(3) @ lattice) @ rot.T  # random lattice origin in the grain
        corner = geo.lo[g]

        def inside(p: np.ndarray, g: int = g, corner: np.ndarray = corner) -> np.ndarray:
            return geo.label(p + corner) == g

        sym, pos = crystal_fill(ph, np.maximum(geo.hi[g] - geo.lo[g], 1e-6), rot, inside=inside,
                                origin_A=origin, seed=g_rng)
        parts.append((sym, pos + corner, np.full(len(sym), g), np.full(len(sym), grain_phase[g], dtype=object)))
    return parts, rotations


def _fill_amorphous_grains(req: _MosaicRequest, geo: _MosaicGeometry, grain_phase: list[str],
                           amorphous_fill: Callable[..., tuple[Any, np.ndarray]] | None,
                           rng: np.random.Generator) -> list[_Part]:
    """The grains of each amorphous phase, filled together by one amorphous build."""
    names = [k for k in req.known if req.phases[k].amorphous and k in grain_phase]
    if not names:
        return []
    if amorphous_fill is None:
        try:
            from interphase_sim.build.amorphous import amorphous_fill as _default_fill
        except ImportError as exc:
            raise InterphaseInputError(
                "amorphous_fill", f"no amorphous builder is available ({exc}); pass amorphous_fill"
            ) from None
        amorphous_fill = _default_fill
    z0, z1, label = req.z0, req.z1, geo.label
    gp_arr = np.array(grain_phase, dtype=object)
    parts: list[_Part] = []
    for name in names:
        mine = gp_arr == name
        # Build only the depth its grains occupy (the builder makes a whole periodic
        # box and cuts it), at least the 10 Å the amorphous builder needs.
        za, zb = float(geo.lo[mine, 2].min()), float(geo.hi[mine, 2].max())
        height = max(zb - za, 10.0 + 1e-6)

        def inside_am(p: np.ndarray, mine: np.ndarray = mine, za: float = za) -> np.ndarray:
            p = np.asarray(p, dtype=float).reshape(-1, 3) + np.array([0.0, 0.0, za])
            ok = (p[:, 2] >= z0) & (p[:, 2] < z1)
            out = np.zeros(len(p), dtype=bool)
            out[ok] = mine[label(p[ok])]
            return out

        sym, pos = amorphous_fill(req.phases[name], np.array([req.lx, req.ly, height]), inside_am,
                                  int(rng.integers(2**31)))
        pos = np.asarray(pos, dtype=float).reshape(-1, 3)
        # the builder decides unit by unit (a unit kept for its centroid may reach a
        # little past its grain: contacts are resolved later); only the region's faces cut
        keep = (pos[:, 2] + za >= z0) & (pos[:, 2] + za < z1)
        pos = pos[keep] + np.array([0.0, 0.0, za])
        sym = [s for s, k in zip(list(sym), keep) if k]
        parts.append((sym, pos, label(pos) if len(pos) else np.zeros(0, dtype=int),
                      np.full(len(sym), name, dtype=object)))
    return parts


def _join_grains(parts: list[_Part], req: _MosaicRequest, rng: np.random.Generator):
    """All grains' atoms in one set of arrays, contacts across grain boundaries pushed
    apart and what still touches removed: (symbols, positions, grain, phase, removed)."""
    symbols = np.array([s for part in parts for s in part[0]], dtype=object)
    pos = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, 3))
    grain = np.concatenate([p[2] for p in parts]).astype(int) if parts else np.zeros(0, dtype=int)
    built_as = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0, dtype=object)
    box_xy = np.array([req.lx, req.ly])
    pos[:, :2] %= box_xy
    removed = 0
    if len(pos) > 1:
        from interphase_sim.build.contacts import resolve_contacts

        # push apart what meets across grain boundaries; delete only what still touches
        pos, keep = resolve_contacts(pos, box_xy, np.random.default_rng(int(rng.integers(2**31))),
                                     MIN_DISTANCE_A, z_bounds=(req.z0, req.z1))  # a push never leaves the region
        removed = int((~keep).sum())
        symbols, pos, grain, built_as = symbols[keep], pos[keep], grain[keep], built_as[keep]
    return symbols, pos, grain, built_as, removed


def _package_mosaic(req: _MosaicRequest, geo: _MosaicGeometry, grain_phase: list[str], fractions: PhaseFractions,
                    rotations: np.ndarray, joined: tuple) -> MosaicFill:
    """The :class:`MosaicFill`, after warning when the grains miss the fractions."""
    symbols, pos, grain, built_as, removed = joined
    # phases given but wanted nowhere
    target = {**fractions.target_fractions, **{k: 0.0 for k in req.known if k not in fractions.target_fractions}}
    achieved = {**fractions.achieved_fractions,
                **{k: 0.0 for k in req.known if k not in fractions.achieved_fractions}}
    if fractions.max_abs_error > FRACTION_TOLERANCE or any(
        target[k] > FRACTION_TOLERANCE and achieved[k] == 0.0 for k in target
    ):
        got = ", ".join(f"{k} {achieved[k]:.3f} (target {target[k]:.3f})" for k in target)
        warnings.warn(
            f"mosaic of {len(geo.seeds)} grains of {req.grain_nm:g} nm cannot meet the volume fractions; "
            f"achieved {got}. Use smaller grains or a larger region for finer fractions.",
            UserWarning,
            stacklevel=3,  # the caller of mosaic_fill
        )
    return MosaicFill(
        symbols=symbols.tolist(),
        positions_A=pos,
        atom_phase=built_as,
        atom_grain=grain,
        achieved_fractions=achieved,
        target_fractions=target,
        max_abs_error=fractions.max_abs_error,
        grain_phase=tuple(grain_phase),
        grain_volume_A3=geo.vol,
        grain_rotation=rotations,
        seeds_A=geo.seeds,
        grain_size_nm=req.grain_nm,
        z_range_A=(req.z0, req.z1),
        removed_at_boundaries=removed,
        depth_profile=_depth_profile(geo.label, grain_phase, req.known, req.top, req.bot, req.lx, req.ly,
                                     req.z0, req.z1, req.grain_nm * 10.0),
    )


def _grid(lx: float, ly: float, z0: float, z1: float, h: float, max_points: int = 400_000):
    """Cell-centred points of a grid of spacing about ``h`` (coarsened to max_points)."""
    vol = lx * ly * (z1 - z0)
    h = max(h, (vol / max_points) ** (1.0 / 3.0))
    nx, ny, nz = (max(1, int(round(s / h))) for s in (lx, ly, z1 - z0))
    axes = [(np.arange(nx) + 0.5) * lx / nx, (np.arange(ny) + 0.5) * ly / ny,
            z0 + (np.arange(nz) + 0.5) * (z1 - z0) / nz]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3), axes[2]


def _depth_profile(label: _Labeller, grain_phase: list[str], names: list[str], top: dict[str, float],
                   bot: dict[str, float], lx: float, ly: float, z0: float, z1: float, d: float) -> DepthProfile:
    """Achieved and target volume fractions in depth bands of about half a grain."""
    pts, zc = _grid(lx, ly, z0, z1, d / 6.0)
    ph_idx = np.array([names.index(p) for p in grain_phase])[label(pts)]
    n_band = int(np.clip(round((z1 - z0) / (0.5 * d)), 1, 50))
    edges = np.linspace(z0, z1, n_band + 1)
    b = np.clip(np.searchsorted(edges, pts[:, 2], side="right") - 1, 0, n_band - 1)
    counts = np.zeros((n_band, len(names)))
    np.add.at(counts, (b, ph_idx), 1.0)
    counts /= np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    centres = 0.5 * (edges[:-1] + edges[1:])
    t = (centres - z0) / (z1 - z0)
    return DepthProfile(
        z_A=centres,
        achieved_fractions={k: counts[:, i] for i, k in enumerate(names)},
        target_fractions={k: (1 - t) * top.get(k, 0.0) + t * bot.get(k, 0.0) for k in names},
    )
