"""A whole Stack as one atomistic model (ase.Atoms), with rough interfaces.

Coordinates are Å (ASE): x and y lateral, z the depth below the top surface (z = 0),
as in :meth:`interphase_sim.Stack.profile` (which is in nm). Each layer is built in its
own region: a single crystalline phase as an oriented crystal cut to the region, a
single amorphous phase with the amorphous builder, and a mixture (or any layer with a
grain size) as a Voronoi mosaic of crystallites in an amorphous matrix; grains wider
than the box span it, one grain across (e.g. 100 nm LNMO grains in a lamella a few nm
wide: a single crystal). Rough interfaces are random height fields of the layer's
roughness (Gaussian, periodic, lateral correlation length ``correlation_nm``). Atoms
closer than ``MIN_DISTANCE_A`` = 1.4 Å where regions meet are pushed apart, and removed
only if that fails (:mod:`.contacts`).
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from interphase_sim.core.constants import MIN_DISTANCE_A
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.sample.stack import Stack

if TYPE_CHECKING:
    import ase

__all__ = ["atoms_from_stack", "cross_section", "estimate_atoms", "height_field", "lnmo_lipon_interface"]


def estimate_atoms(stack: Stack, lateral_nm: tuple[float, float], depth_nm: float, start_nm: float = 0.0) -> int:
    """Atoms a model of the stack will hold, from the depth profile (before allocating).

    Parameters
    ----------
    stack : Stack
    lateral_nm : (float, float)
        Lateral box (nm).
    depth_nm : float
        Depth of the model (nm), from ``start_nm`` down.
    start_nm : float
        Depth of the model's top below the stack's surface (nm).

    Returns
    -------
    int
        The integral of the stack's atom density (atoms/nm³) over the box.
    """
    z = np.linspace(start_nm, start_nm + depth_nm, 2001)
    prof = stack.profile(z)
    return int(np.trapezoid(prof.total_density(), z) * lateral_nm[0] * lateral_nm[1])


def height_field(shape: tuple[int, int], sigma_A: float, correlation_px: float, rng: np.random.Generator) -> np.ndarray:
    """A periodic Gaussian random field with standard deviation ``sigma_A``.

    White noise filtered in Fourier space by a Gaussian of ``correlation_px`` grid
    steps, then scaled to the requested standard deviation.

    Parameters
    ----------
    shape : (int, int)
        Grid points along x and y (periodic).
    sigma_A : float
        Standard deviation of the heights (Å); <= 0 gives a flat field.
    correlation_px : float
        Lateral correlation length (grid steps): the correlation is
        ``exp(-r^2 / correlation^2)``.
    rng : numpy Generator

    Returns
    -------
    ndarray, shape ``shape``
        Heights (Å) about 0 (zero mean).
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
    progress: Any = None,
) -> ase.Atoms:
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
    progress : object, optional
        Told ``progress.next("layer NAME")`` as each layer starts (e.g. a
        :class:`interphase_sim.core.progress.Stages`).

    Returns
    -------
    ase.Atoms
        With per-atom integer arrays ``layer`` and ``phase`` (indices into the lists
        ``atoms.info["layer_names"]`` / ``["phase_names"]``), and ``grain`` (-1 outside
        mosaic grains). ``atoms.info`` also records ``seed`` (-1 for None), ``depth_nm``
        and ``depth_start_nm`` (nm), ``removed_at_interfaces``, ``build_time_s`` (s),
        ``achieved_fractions`` ({layer: {"target": {phase: f}, "achieved": {phase: f}}}
        for mosaic layers) and ``n_grains`` ({layer: grains built}).

    Notes
    -----
    A layer with a grain size is a mosaic; when its grains are wider than the lateral
    box, one grain spans the box laterally (a single, randomly oriented crystal of a
    one-phase layer, periodic with the box), and a window less than about 1.5 grains
    deep holds exactly one grain of it.
    """
    t_start = time.perf_counter()
    plan = _plan_build(stack, lateral_nm, seed, max_depth_nm, semi_infinite_nm, depth_range_nm, orientations,
                       max_atoms, default_grain_nm)
    rng = np.random.default_rng(seed)
    frame = _Interfaces.of(stack, plan, correlation_nm, rng)
    parts: list[_LayerAtoms] = []
    grain_offset = 0
    for i, lay in enumerate(stack.layers):
        if progress is not None:
            progress.next(f"layer {lay.name}")
        region = frame.region(i)
        if region is None:
            continue  # entirely above the window
        if region is _BELOW:
            break
        kind = _content(lay, stack)
        layer_seed = int(rng.integers(2**31))
        if kind == "crystal":
            part = _crystal_layer(stack, lay, region, plan, layer_seed)
        elif kind == "amorphous":
            part = _amorphous_layer(stack, lay, region, plan, layer_seed)
        else:
            part = _mosaic_layer(stack, lay, region, plan, layer_seed, default_grain_nm, grain_offset)
            grain_offset = int(part.grain.max(initial=grain_offset - 1)) + 1
        parts.append(part)
    return _package_model(stack, parts, plan, rng, seed, t_start)


# -- parse ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _BuildPlan:
    """The checked request: lateral box (nm), depth window (nm), orientations, names."""

    lx_nm: float
    ly_nm: float
    depth_nm: float  # built depth, from the window's top
    start_nm: float  # the window's top below the stack's surface
    orientations: dict[str, tuple[int, int, int]]
    phase_names: list[str]

    @property
    def cell_A(self) -> np.ndarray:
        return np.array([self.lx_nm, self.ly_nm, self.depth_nm]) * 10.0


def _plan_build(stack: Stack, lateral_nm: Any, seed: Any, max_depth_nm: Any, semi_infinite_nm: float,
                depth_range_nm: Any, orientations: Any, max_atoms: int, default_grain_nm: float) -> _BuildPlan:
    """Check every argument of :func:`atoms_from_stack` before anything is allocated."""
    if not isinstance(stack, Stack):
        raise InterphaseInputError("stack", f"expected a Stack, got {type(stack).__name__}")
    try:
        lx, ly = (float(v) for v in lateral_nm)
    except (TypeError, ValueError):
        raise InterphaseInputError("lateral_nm", f"expected (x, y) in nm, got {lateral_nm!r}") from None
    if not (math.isfinite(lx) and math.isfinite(ly) and lx > 0 and ly > 0):
        raise InterphaseInputError("lateral_nm", f"both lateral sizes must be > 0 nm, got {lateral_nm!r}")
    start, depth = _depth_window(stack, max_depth_nm, semi_infinite_nm, depth_range_nm)
    n_est = estimate_atoms(stack, (lx, ly), depth, start)
    if n_est > max_atoms:
        raise InterphaseInputError(
            "max_atoms", f"the model would hold about {n_est:,} atoms, more than max_atoms = {max_atoms:,}; "
            "reduce lateral_nm or the depth range, or raise max_atoms ([build] max_atoms, or --max-atoms)"
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
    _check_unit_cells(stack, lx, ly, default_grain_nm)
    return _BuildPlan(lx, ly, depth, start, orientations, list(stack.phases))


def _depth_window(stack: Stack, max_depth_nm: Any, semi_infinite_nm: float,
                  depth_range_nm: Any) -> tuple[float, float]:
    """(start, depth) of the built window in nm: its top, and its depth from there."""
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
        if stop > depth + 1e-9:
            warnings.warn(_cut_message(stack, stop, depth, semi_infinite_nm), UserWarning, stacklevel=4)
        depth = min(depth, stop)
        if start >= depth:
            raise InterphaseInputError("depth_range_nm", f"the window starts at {start:g} nm, below the stack's "
                                       f"last {depth:g} nm")
    depth -= start
    if depth <= 0:
        raise InterphaseInputError("max_depth_nm", "the model would be empty")
    return start, depth


def _cut_message(stack: Stack, stop: float, depth: float, semi_infinite_nm: float) -> str:
    """Why a depth range ends above the stop asked for, and how to reach it."""
    if stack.semi_infinite:
        need = stop - stack.finite_depth_nm()
        return (f"depth_range_nm stops at {stop:g} nm but the model ends at {depth:g} nm: the semi-infinite "
                f"{stack.layers[-1].name} is built {semi_infinite_nm:g} nm deep (semi_infinite_nm); give "
                f"semi_infinite_nm = {need:g} (--semi-infinite-nm {need:g}) to reach {stop:g} nm")
    return f"depth_range_nm stops at {stop:g} nm but the stack ends at {depth:g} nm: the model ends there"


def _check_unit_cells(stack: Stack, lx: float, ly: float, default_grain_nm: float) -> None:
    """A crystal built across the whole box (a single-crystal layer, or a grain wider than
    the box) needs at least one unit cell of it laterally."""
    for lay in stack.layers:
        kind = _content(lay, stack)
        grain = lay.grain_size_nm.value if lay.grain_size_nm is not None else default_grain_nm
        wide = kind == "mosaic" and grain > min(lx, ly)
        if kind != "crystal" and not wide:
            continue
        for name in lay.phase_names:
            ph = stack.phases[name]
            if ph.amorphous:
                continue
            a = max(ph.structure.lattice.abc) / 10.0
            if min(lx, ly) < a:
                raise InterphaseInputError(
                    "lateral_nm", f"layer {lay.name}: the box ({lx:g} x {ly:g} nm) is smaller than a unit cell of "
                    f"{ph.name} ({a:.3g} nm); use at least {a:.3g} nm")


# -- compute ----------------------------------------------------------------------------
_BELOW = object()  # a layer region that starts below the window: no later layer is in it


@dataclass(frozen=True, eq=False)
class _Region:
    """Where one layer is built (Å, in the window's frame): ``z_top`` its nominal top,
    ``bottom`` its nominal bottom (inf for a semi-infinite one), ``(lo, hi)`` the depths
    its rough interfaces can reach inside the window."""

    index: int
    z_top: float
    bottom: float
    z_bot: float  # the nominal bottom, cut at the window's end
    lo: float
    hi: float
    cell: np.ndarray
    upper: np.ndarray | None  # interface height field above (None for the first layer)
    lower: np.ndarray

    def inside(self, pos: np.ndarray) -> np.ndarray:
        """Whether positions (N, 3) Å lie between the layer's rough interfaces."""
        xy = pos[:, :2]
        cell = self.cell
        upper = _sample_field(self.upper, (cell[0], cell[1]), xy) if self.upper is not None else self.z_top
        lower = _sample_field(self.lower, (cell[0], cell[1]), xy) if np.isfinite(self.lower).all() else np.inf
        return (pos[:, 2] >= np.maximum(upper, 0.0)) & (pos[:, 2] < np.minimum(lower, cell[2]))

    @property
    def box_A(self) -> np.ndarray:
        """The box a layer builder fills: the model's lateral edges, down to ``hi``."""
        return np.array([self.cell[0], self.cell[1], self.hi])


@dataclass(frozen=True, eq=False)
class _Interfaces:
    """The window's cell (Å), nominal interface depths (Å) and rough interface surfaces."""

    cell: np.ndarray
    tops: np.ndarray
    bottoms: np.ndarray
    surf: np.ndarray  # (n_layers, nx, ny) bottom surface of each layer (Å)

    @classmethod
    def of(cls, stack: Stack, plan: _BuildPlan, correlation_nm: float, rng: np.random.Generator) -> _Interfaces:
        cell = plan.cell_A
        grid = (max(int(plan.lx_nm * 4), 8), max(int(plan.ly_nm * 4), 8))  # about 2.5 Å height-field pixels
        corr_px = correlation_nm * 10.0 * grid[0] / cell[0]
        bottoms = (stack.interfaces_nm() - plan.start_nm) * 10.0  # Å below the window's top
        tops = np.concatenate(([-plan.start_nm * 10.0], bottoms[:-1]))
        fields = [height_field(grid, lay.roughness_nm.value * 10.0, corr_px, rng) for lay in stack.layers]
        # interface surfaces (Å); the running maximum keeps them from crossing, so a layer
        # thinner than its neighbours' roughness pinches out instead of overlapping them
        surf = np.array([bottoms[i] + fields[i] if math.isfinite(bottoms[i]) else np.full(grid, np.inf)
                         for i in range(len(stack.layers))])
        return cls(cell, tops, bottoms, np.maximum.accumulate(surf, axis=0))

    def region(self, i: int) -> _Region | object | None:
        """Layer ``i``'s region; None when it lies above the window, ``_BELOW`` below it."""
        cell, z_top = self.cell, float(self.tops[i])
        upper_min = z_top if i == 0 else float(self.surf[i - 1].min())
        lower_max = float(self.surf[i].max())
        if upper_min >= cell[2]:
            return _BELOW
        if lower_max <= 0.0:
            return None
        return _Region(i, z_top, float(self.bottoms[i]), min(float(self.bottoms[i]), cell[2]),
                       max(upper_min, 0.0), min(lower_max, cell[2]), cell,
                       self.surf[i - 1] if i > 0 else None, self.surf[i])


@dataclass(frozen=True, eq=False)
class _LayerAtoms:
    """One layer's atoms: symbols, positions (Å), phase index, grain id (-1: none)."""

    index: int
    symbols: np.ndarray
    positions: np.ndarray
    phase: np.ndarray
    grain: np.ndarray
    fractions: dict[str, Any] | None = None  # target and achieved, for a mosaic
    n_grains: int | None = None


def _crystal_layer(stack: Stack, lay: Any, region: _Region, plan: _BuildPlan, layer_seed: int) -> _LayerAtoms:
    """A single-crystal layer: the oriented crystal cut to the layer's region."""
    from interphase_sim.build.crystal import crystal_fill, orientation_matrix

    ph = stack.phases[lay.phase_names[0]]
    if lay.density_scale.value != 1.0:
        warnings.warn(f"layer {lay.name}: a crystal's density cannot be scaled; density_scale ignored",
                      UserWarning, stacklevel=3)  # the caller of atoms_from_stack
    rot = orientation_matrix(ph, normal=plan.orientations.get(lay.name, (0, 0, 1)), seed=layer_seed)
    sym, pos = crystal_fill(ph, region.box_A, rot, inside=region.inside, origin_A=np.array([0.0, 0.0, region.z_top]))
    return _uniform_layer(region, sym, pos, plan.phase_names.index(ph.name))


def _amorphous_layer(stack: Stack, lay: Any, region: _Region, plan: _BuildPlan, layer_seed: int) -> _LayerAtoms:
    """A single amorphous phase (its density times the layer's ``density_scale``)."""
    from interphase_sim.build.amorphous import amorphous_fill

    ph = stack.phases[lay.phase_names[0]]
    scale = lay.density_scale.value
    if scale != 1.0:  # a porous or densified glass: same composition, scaled density
        ph = ph.copy()
        dp, rho = ph.density_parameter, ph.density * scale
        dp.bounds = (min(dp.bounds[0], rho), max(dp.bounds[1], rho))  # a fit prior, not a limit
        dp.value = rho
    sub = region.box_A
    sub[2] = max(sub[2], 10.0)  # the amorphous builder needs at least 1 nm of box
    # whole units kept by their centroid: unbiased density and composition at boundaries
    sym, pos = amorphous_fill(ph, sub, region.inside, layer_seed, rule="centroid")
    return _uniform_layer(region, sym, pos, plan.phase_names.index(ph.name))


def _uniform_layer(region: _Region, sym: Any, pos: Any, phase_index: int) -> _LayerAtoms:
    return _LayerAtoms(region.index, np.asarray(sym, dtype=object), np.asarray(pos, dtype=float).reshape(-1, 3),
                       np.full(len(sym), phase_index), np.full(len(sym), -1))


def _mosaic_layer(stack: Stack, lay: Any, region: _Region, plan: _BuildPlan, layer_seed: int,
                  default_grain_nm: float, grain_offset: int) -> _LayerAtoms:
    """A Voronoi mosaic of the layer's phases (grain ids from ``grain_offset`` on)."""
    from interphase_sim.build.amorphous import amorphous_fill
    from interphase_sim.build.mosaic import mosaic_fill

    if lay.density_scale.value != 1.0:
        warnings.warn(f"layer {lay.name}: a mosaic's crystals cannot be scaled; density_scale ignored",
                      UserWarning, stacklevel=3)  # the caller of atoms_from_stack
    grain = lay.grain_size_nm.value if lay.grain_size_nm is not None else default_grain_nm
    bottom = region.bottom if math.isfinite(region.bottom) else max(region.z_bot, region.z_top + 1.0)
    out = mosaic_fill(
        {k: stack.phases[k] for k in lay.phase_names},
        lay.normalized_fractions("top"), lay.normalized_fractions("bottom"),
        region.box_A, (region.lo, region.hi), grain, layer_seed,
        # fractions follow the layer's nominal extent, also when the window cuts it
        gradient_range_A=(region.z_top, bottom),
        # the matrix keeps a small part of its box: build 4 nm tiles and repeat them
        amorphous_fill=functools.partial(amorphous_fill, rule="centroid", tile_nm=4.0),
        # grains wider than the box: one grain (a single crystal) across it
        wide_grains="span",
    )
    keep = region.inside(np.asarray(out.positions_A))
    return _LayerAtoms(
        region.index,
        np.asarray(list(np.asarray(out.symbols)[keep]), dtype=object),
        np.asarray(out.positions_A)[keep].reshape(-1, 3),
        np.array([plan.phase_names.index(p) for p in np.asarray(out.atom_phase)[keep]], dtype=int),
        np.asarray(out.atom_grain)[keep] + grain_offset,
        fractions={"target": out.target_fractions, "achieved": out.achieved_fractions},
        n_grains=out.n_grains,
    )


# -- package ----------------------------------------------------------------------------
def _package_model(stack: Stack, parts: list[_LayerAtoms], plan: _BuildPlan, rng: np.random.Generator,
                   seed: int | None, t_start: float) -> ase.Atoms:
    """One ase.Atoms of all layers: contacts across interfaces resolved, provenance in
    ``info`` as plain values (lists, numbers, dicts)."""
    import ase

    from interphase_sim.build.contacts import resolve_contacts

    cell = plan.cell_A
    sym = np.concatenate([p.symbols for p in parts]) if parts else np.array([], dtype=object)
    pos = np.concatenate([p.positions for p in parts]) if parts else np.zeros((0, 3))
    lid = np.concatenate([np.full(len(p.symbols), p.index) for p in parts]) if parts else np.zeros(0, dtype=int)
    pid = np.concatenate([p.phase for p in parts]) if parts else np.zeros(0, dtype=int)
    gid = np.concatenate([p.grain for p in parts]) if parts else np.zeros(0, dtype=int)
    # units kept by centroid may poke out of the model's top or bottom face: cut them there
    inside_cell = (pos[:, 2] >= 0.0) & (pos[:, 2] < cell[2])
    sym, pos, lid, pid, gid = sym[inside_cell], pos[inside_cell], lid[inside_cell], pid[inside_cell], gid[inside_cell]
    # Contacts across interfaces: pushed apart, and deleted only if that fails.
    wrapped, keep = resolve_contacts(pos, cell[:2], rng, MIN_DISTANCE_A, z_bounds=(0.0, cell[2]))
    atoms = ase.Atoms(symbols=list(sym[keep]), positions=wrapped[keep], cell=cell, pbc=(True, True, False))
    atoms.set_array("layer", lid[keep].astype(int))
    atoms.set_array("phase", pid[keep].astype(int))
    atoms.set_array("grain", gid[keep].astype(int))
    names = [lay.name for lay in stack.layers]
    atoms.info.update(
        layer_names=names,
        phase_names=list(plan.phase_names),
        seed=-1 if seed is None else int(seed),
        depth_nm=float(plan.depth_nm),
        depth_start_nm=float(plan.start_nm),
        removed_at_interfaces=int((~keep).sum()),
        build_time_s=float(time.perf_counter() - t_start),
        achieved_fractions={names[p.index]: p.fractions for p in parts if p.fractions is not None},
        n_grains={names[p.index]: int(p.n_grains) for p in parts if p.n_grains is not None},
    )
    return atoms


def cross_section(atoms: ase.Atoms, vacuum_nm: float = 1.0) -> ase.Atoms:
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
                         facet: tuple[int, int, int] = (1, 1, 1), roughness_nm: float = 0.3,
                         seed: int | None = None) -> ase.Atoms:
    """Amorphous LiPON on an LNMO crystal exposing ``facet`` (the cathode interface).

    Parameters
    ----------
    lateral_nm : (float, float)
        Lateral box (nm).
    lnmo_nm, lipon_nm : float
        Thickness of the LNMO crystal and of the LiPON above it (nm).
    facet : (h, k, l)
        The LNMO plane facing the LiPON (its normal along depth).
    roughness_nm : float
        Rms roughness of the LiPON | LNMO interface (nm).
    seed : int, optional
        Every random choice.

    Returns
    -------
    ase.Atoms
        As :func:`atoms_from_stack` (Å; z = depth below the LiPON surface).
    """
    from interphase_sim.sample.stack import Layer

    stack = Stack([Layer("LiPON", {"LiPON": 1.0}, lipon_nm, roughness_nm=roughness_nm),
                   Layer("LNMO", {"LNMO": 1.0}, lnmo_nm)], name="LiPON | LNMO")
    return atoms_from_stack(stack, lateral_nm, seed=seed, orientations={"LNMO": facet})
