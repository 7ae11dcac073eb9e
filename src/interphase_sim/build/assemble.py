"""A whole Stack as one atomistic model (ase.Atoms), with rough interfaces.

Coordinates are Å (ASE): x and y lateral, z the depth below the top surface (z = 0),
as in :meth:`interphase_sim.Stack.profile` (which is in nm). Each layer is built in its
own region: a single crystalline phase as an oriented crystal cut to the region, a
single amorphous phase with the amorphous builder, and a mixture (or any layer with a
grain size) as a Voronoi mosaic of crystallites in an amorphous matrix. Rough
interfaces are random height fields of the layer's roughness (Gaussian, periodic,
lateral correlation length ``correlation_nm``). Atoms closer than 1.4 Å where regions
meet are pushed apart, and removed only if that fails (:mod:`.contacts`).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.sample.stack import Stack

__all__ = ["atoms_from_stack", "cross_section", "estimate_atoms", "height_field", "lnmo_lipon_interface"]

MIN_DISTANCE_A = 1.4  # docs/references.md: the shortest sensible distance (P-O bonds)


def estimate_atoms(stack: Stack, lateral_nm: tuple[float, float], depth_nm: float, start_nm: float = 0.0) -> int:
    """Atoms a model of the stack will hold, from the depth profile (before allocating)."""
    z = np.linspace(start_nm, start_nm + depth_nm, 2001)
    prof = stack.profile(z)
    return int(np.trapezoid(prof.total_density(), z) * lateral_nm[0] * lateral_nm[1])


def height_field(shape: tuple[int, int], sigma_A: float, correlation_px: float, rng: np.random.Generator) -> np.ndarray:
    """A periodic Gaussian random field with standard deviation ``sigma_A``.

    White noise filtered in Fourier space by a Gaussian of ``correlation_px`` grid
    steps, then scaled to the requested standard deviation (Å).
    """
    if sigma_A <= 0:
        return np.zeros(shape)
    noise = rng.standard_normal(shape)
    kx = np.fft.fftfreq(shape[0])[:, None]
    ky = np.fft.fftfreq(shape[1])[None, :]
    # Gaussian filter whose output correlation is exp(-r^2 / correlation^2)
    filt = np.exp(-0.5 * (math.pi * correlation_px) ** 2 * (kx**2 + ky**2))
    field = np.real(np.fft.ifft2(np.fft.fft2(noise) * filt))
    field -= field.mean()  # heights about the nominal interface depth
    std = field.std()
    return field * (sigma_A / std) if std > 0 else field


def _sample_field(field: np.ndarray, cell_xy: tuple[float, float], xy: np.ndarray) -> np.ndarray:
    """Bilinear, periodic interpolation of a height field at positions ``xy`` (Å)."""
    nx, ny = field.shape
    fx = (xy[:, 0] / cell_xy[0] * nx) % nx
    fy = (xy[:, 1] / cell_xy[1] * ny) % ny
    i0, j0 = np.floor(fx).astype(int), np.floor(fy).astype(int)
    tx, ty = fx - i0, fy - j0
    i1, j1 = (i0 + 1) % nx, (j0 + 1) % ny
    return ((1 - tx) * (1 - ty) * field[i0, j0] + tx * (1 - ty) * field[i1, j0]
            + (1 - tx) * ty * field[i0, j1] + tx * ty * field[i1, j1])


def _content(layer: Any, stack: Stack) -> str:
    names = layer.phase_names
    if len(names) == 1 and layer.grain_size_nm is None:
        return "amorphous" if stack.phases[names[0]].amorphous else "crystal"
    return "mosaic"


def atoms_from_stack(
    stack: Stack,
    lateral_nm: tuple[float, float] = (10.0, 10.0),
    seed: int | None = None,
    max_depth_nm: float | None = None,
    semi_infinite_nm: float = 5.0,
    depth_range_nm: tuple[float, float] | None = None,
    orientations: Mapping[str, tuple[int, int, int]] | None = None,
    correlation_nm: float = 3.0,
    max_atoms: int = 5_000_000,
    default_grain_nm: float = 5.0,
):
    """Build the stack as one ase.Atoms (Å; z = depth below the top surface).

    Parameters
    ----------
    stack : Stack
    lateral_nm : (float, float)
        Lateral box (nm); periodic in x and y.
    seed : int, optional
        Every random choice (orientations, grains, amorphous packing, interface heights).
    max_depth_nm : float, optional
        Cut the model at this depth (nm); default the finite stack plus
        ``semi_infinite_nm`` of a semi-infinite last layer.
    semi_infinite_nm : float
        How much of a semi-infinite last layer to build (nm).
    depth_range_nm : (float, float), optional
        Build only this depth window of the stack (nm), e.g. the interphase below a thick
        electrolyte; the model's z = 0 is then the window's top (a cut, not a surface).
    orientations : mapping, optional
        Layer name -> (h, k, l) surface normal of a single-crystal layer (default (0, 0, 1)).
    correlation_nm : float
        Lateral correlation length of rough interfaces (nm).
    max_atoms : int
        Refuse (before allocating) models estimated to exceed this many atoms.
    default_grain_nm : float
        Grain size of a mixed layer that gives none (nm).

    Returns
    -------
    ase.Atoms
        With per-atom integer arrays ``layer`` and ``phase`` (lookups in
        ``atoms.info["layer_names"]`` / ``["phase_names"]``, comma-separated), and
        ``grain`` (-1 outside mosaic grains); ``atoms.info`` records the seed, what was
        achieved per layer, and the build time.
    """
    import ase

    import functools

    from interphase_sim.build.amorphous import amorphous_fill as _amorphous_fill
    from interphase_sim.build.crystal import crystal_fill, orientation_matrix
    from interphase_sim.build.mosaic import mosaic_fill

    t_start = time.perf_counter()
    if not isinstance(stack, Stack):
        raise InterphaseInputError("stack", f"expected a Stack, got {type(stack).__name__}")
    try:
        lx, ly = (float(v) for v in lateral_nm)
    except (TypeError, ValueError):
        raise InterphaseInputError("lateral_nm", f"expected (x, y) in nm, got {lateral_nm!r}") from None
    if not (math.isfinite(lx) and math.isfinite(ly) and lx > 0 and ly > 0):
        raise InterphaseInputError("lateral_nm", f"both lateral sizes must be > 0 nm, got {lateral_nm!r}")
    finite = stack.finite_depth_nm()
    depth = finite + (semi_infinite_nm if stack.semi_infinite else 0.0)
    if max_depth_nm is not None:
        if not (math.isfinite(max_depth_nm) and max_depth_nm > 0):
            raise InterphaseInputError("max_depth_nm", f"must be > 0 nm, got {max_depth_nm}")
        depth = min(depth, float(max_depth_nm))
    start = 0.0
    if depth_range_nm is not None:
        try:
            start, stop = (float(v) for v in depth_range_nm)
        except (TypeError, ValueError):
            raise InterphaseInputError("depth_range_nm", f"expected (start, stop) in nm, got {depth_range_nm!r}") from None
        if not (0 <= start < stop and math.isfinite(stop)):
            raise InterphaseInputError("depth_range_nm", f"need 0 <= start < stop (nm), got {depth_range_nm!r}")
        depth = min(depth, stop)
        if start >= depth:
            raise InterphaseInputError("depth_range_nm", f"the window starts at {start:g} nm, below the stack's "
                                       f"last {depth:g} nm")
    depth -= start
    if depth <= 0:
        raise InterphaseInputError("max_depth_nm", "the model would be empty")
    n_est = estimate_atoms(stack, (lx, ly), depth, start)
    if n_est > max_atoms:
        raise InterphaseInputError(
            "max_atoms", f"the model would hold about {n_est:,} atoms, more than max_atoms = {max_atoms:,}; "
            "reduce lateral_nm or max_depth_nm, or raise max_atoms"
        )
    orientations = dict(orientations or {})
    names_ = [lay.name for lay in stack.layers]
    for name in orientations:
        if name not in names_:
            raise InterphaseInputError("orientations", f"no layer named {name!r}; layers: {', '.join(names_)}")
        if _content(stack[name], stack) != "crystal":
            raise InterphaseInputError(f"orientations.{name}", "only a single-crystal layer takes an orientation")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise InterphaseInputError("seed", f"an integer is required, got {seed!r}")
    for lay in stack.layers:
        if _content(lay, stack) == "crystal":
            ph = stack.phases[lay.phase_names[0]]
            a = max(ph.structure.lattice.abc) / 10.0
            if min(lx, ly) < a:
                raise InterphaseInputError(
                    "lateral_nm", f"layer {lay.name}: the box ({lx:g} x {ly:g} nm) is smaller than a unit cell of "
                    f"{ph.name} ({a:.3g} nm); use at least {a:.3g} nm")
    # whole units kept by their centroid: unbiased density and composition at boundaries
    amorphous_fill = functools.partial(_amorphous_fill, rule="centroid")
    rng = np.random.default_rng(seed)
    cell = np.array([lx, ly, depth]) * 10.0  # Å
    grid = (max(int(lx * 4), 8), max(int(ly * 4), 8))  # about 2.5 Å height-field pixels
    corr_px = correlation_nm * 10.0 * grid[0] / cell[0]
    bottoms = (stack.interfaces_nm() - start) * 10.0  # Å below the window's top
    tops = np.concatenate(([-start * 10.0], bottoms[:-1]))
    fields = [height_field(grid, lay.roughness_nm.value * 10.0, corr_px, rng) for lay in stack.layers]

    layer_names = [lay.name for lay in stack.layers]
    phase_names = list(stack.phases)
    symbols: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    layer_id: list[np.ndarray] = []
    phase_id: list[np.ndarray] = []
    grain_id: list[np.ndarray] = []
    achieved: dict[str, Any] = {}
    grain_offset = 0
    # interface surfaces (Å); the running maximum keeps them from crossing, so a layer
    # thinner than its neighbours' roughness pinches out instead of overlapping them
    surf = np.array([bottoms[i] + fields[i] if math.isfinite(bottoms[i]) else np.full(grid, np.inf)
                     for i in range(len(stack.layers))])
    surf = np.maximum.accumulate(surf, axis=0)
    for i, lay in enumerate(stack.layers):
        z_top, z_bot = tops[i], min(bottoms[i], cell[2])
        upper_min = z_top if i == 0 else float(surf[i - 1].min())
        lower_max = float(surf[i].max())
        if upper_min >= cell[2]:
            break
        if lower_max <= 0.0:
            continue  # entirely above the window
        lo, hi = max(upper_min, 0.0), min(lower_max, cell[2])

        def inside(pos: np.ndarray, i=i, z_top=z_top) -> np.ndarray:
            xy = pos[:, :2]
            upper = _sample_field(surf[i - 1], (cell[0], cell[1]), xy) if i > 0 else z_top
            lower = (_sample_field(surf[i], (cell[0], cell[1]), xy) if np.isfinite(surf[i]).all()
                     else np.inf)
            return (pos[:, 2] >= np.maximum(upper, 0.0)) & (pos[:, 2] < np.minimum(lower, cell[2]))

        kind = _content(lay, stack)
        sub = np.array([cell[0], cell[1], hi])
        layer_seed = int(rng.integers(2**31))
        if kind == "crystal":
            ph = stack.phases[lay.phase_names[0]]
            if lay.density_scale.value != 1.0:
                warnings.warn(f"layer {lay.name}: a crystal's density cannot be scaled; density_scale ignored",
                              UserWarning, stacklevel=2)
            rot = orientation_matrix(ph, normal=orientations.get(lay.name, (0, 0, 1)), seed=layer_seed)
            sym, pos = crystal_fill(ph, sub, rot, inside=inside, origin_A=np.array([0.0, 0.0, z_top]))
            ph_idx = np.full(len(sym), phase_names.index(ph.name))
            grains = np.full(len(sym), -1)
        elif kind == "amorphous":
            ph = stack.phases[lay.phase_names[0]]
            scale = lay.density_scale.value
            if scale != 1.0:  # a porous or densified glass: same composition, scaled density
                ph = ph.copy()
                dp, rho = ph.density_parameter, ph.density * scale
                dp.bounds = (min(dp.bounds[0], rho), max(dp.bounds[1], rho))  # a fit prior, not a limit
                dp.value = rho
            sub[2] = max(sub[2], 10.0)  # the amorphous builder needs at least 1 nm of box
            sym, pos = amorphous_fill(ph, sub, inside, layer_seed)
            ph_idx = np.full(len(sym), phase_names.index(ph.name))
            grains = np.full(len(sym), -1)
        else:
            if lay.density_scale.value != 1.0:
                warnings.warn(f"layer {lay.name}: a mosaic's crystals cannot be scaled; density_scale ignored",
                              UserWarning, stacklevel=2)
            grain = lay.grain_size_nm.value if lay.grain_size_nm is not None else default_grain_nm
            out = mosaic_fill(
                {k: stack.phases[k] for k in lay.phase_names},
                lay.normalized_fractions("top"), lay.normalized_fractions("bottom"),
                sub, (lo, hi), grain, layer_seed,
                # fractions follow the layer's nominal extent, also when the window cuts it
                gradient_range_A=(z_top, bottoms[i] if math.isfinite(bottoms[i]) else max(z_bot, z_top + 1.0)),
                # the matrix keeps a small part of its box: build 4 nm tiles and repeat them
                amorphous_fill=functools.partial(_amorphous_fill, rule="centroid", tile_nm=4.0),
            )
            keep = inside(np.asarray(out["positions"]))
            sym = list(np.asarray(out["symbols"])[keep])
            pos = np.asarray(out["positions"])[keep]
            ph_idx = np.array([phase_names.index(p) for p in np.asarray(out["phase"])[keep]], dtype=int)
            grains = np.asarray(out["grain"])[keep] + grain_offset
            grain_offset = int(grains.max(initial=grain_offset - 1)) + 1
            achieved[lay.name] = {"target": out.get("target_fractions"), "achieved": out.get("achieved_fractions")}
        symbols.append(np.asarray(sym, dtype=object))
        positions.append(np.asarray(pos, dtype=float).reshape(-1, 3))
        layer_id.append(np.full(len(sym), i))
        phase_id.append(ph_idx)
        grain_id.append(grains)

    sym = np.concatenate(symbols) if symbols else np.array([], dtype=object)
    pos = np.concatenate(positions) if positions else np.zeros((0, 3))
    # units kept by centroid may poke out of the model's top or bottom face: cut them there
    inside_cell = (pos[:, 2] >= 0.0) & (pos[:, 2] < cell[2])
    sym, pos = sym[inside_cell], pos[inside_cell]
    layer_id = [np.concatenate(layer_id)[inside_cell]]
    phase_id = [np.concatenate(phase_id)[inside_cell]]
    grain_id = [np.concatenate(grain_id)[inside_cell]]
    lid = np.concatenate(layer_id)
    pid = np.concatenate(phase_id)
    gid = np.concatenate(grain_id)
    # Contacts across interfaces: pushed apart, and deleted only if that fails.
    from interphase_sim.build.contacts import resolve_contacts

    wrapped, keep = resolve_contacts(pos, cell[:2], rng, MIN_DISTANCE_A, z_bounds=(0.0, cell[2]))
    drop = ~keep
    atoms = ase.Atoms(symbols=list(sym[keep]), positions=wrapped[keep], cell=cell, pbc=(True, True, False))
    atoms.set_array("layer", lid[keep].astype(int))
    atoms.set_array("phase", pid[keep].astype(int))
    atoms.set_array("grain", gid[keep].astype(int))
    elapsed = time.perf_counter() - t_start
    atoms.info.update(
        layer_names=",".join(layer_names),
        phase_names=",".join(phase_names),
        seed=-1 if seed is None else int(seed),
        depth_nm=float(depth),
        depth_start_nm=float(start),
        removed_at_interfaces=int(drop.sum()),
        build_time_s=float(elapsed),
    )
    atoms.info["achieved_fractions"] = repr(achieved)
    return atoms


def cross_section(atoms: Any, vacuum_nm: float = 1.0) -> Any:
    """The model oriented for cross-section imaging (abTEM's beam along z).

    The model's lateral x becomes the beam direction; depth becomes the image's y axis
    and lateral y its x axis: (x, y, z) -> (y, z, x), a proper rotation of the orthogonal
    cell. All three directions are made periodic, as abTEM's potentials assume.

    Parameters
    ----------
    atoms : ase.Atoms
        A model from :func:`atoms_from_stack` (orthogonal cell, depth along z).
    vacuum_nm : float
        Vacuum added after the deepest plane along depth (nm, >= 0), so that the model's
        top and bottom do not meet across the now periodic depth direction.

    Returns
    -------
    ase.Atoms
        The rotated copy; depth 0 stays at image y = 0.
    """
    vac = float(vacuum_nm)
    if not (math.isfinite(vac) and vac >= 0.0):
        raise InterphaseInputError("vacuum_nm", f"need a finite value >= 0 nm, got {vacuum_nm!r}")
    out = atoms.copy()
    pos = atoms.get_positions()
    cell = np.diag(atoms.cell.array) if atoms.cell.orthorhombic else None
    if cell is None:
        raise InterphaseInputError("atoms", "the cell must be orthogonal (a box); rebuild with atoms_from_stack")
    new_cell = cell[[1, 2, 0]].copy()
    new_cell[1] += vac * 10.0
    out.set_positions(pos[:, [1, 2, 0]])
    out.set_cell(np.diag(new_cell))
    out.pbc = True
    out.info["orientation"] = "cross-section: x = lateral y, y = depth, z = beam (lateral x)"
    out.info["vacuum_nm"] = vac
    return out


def lnmo_lipon_interface(lateral_nm: tuple[float, float] = (6.0, 6.0), lnmo_nm: float = 4.0, lipon_nm: float = 4.0,
                         facet: tuple[int, int, int] = (1, 1, 1), roughness_nm: float = 0.3, seed: int | None = None):
    """Amorphous LiPON on an LNMO crystal exposing ``facet`` (the cathode interface)."""
    from interphase_sim.sample.stack import Layer

    stack = Stack([Layer("LiPON", {"LiPON": 1.0}, lipon_nm, roughness_nm=roughness_nm),
                   Layer("LNMO", {"LNMO": 1.0}, lnmo_nm)], name="LiPON | LNMO")
    return atoms_from_stack(stack, lateral_nm, seed=seed, orientations={"LNMO": facet})
