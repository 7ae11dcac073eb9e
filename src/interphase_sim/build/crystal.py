"""Oriented crystals cut to boxes: the crystalline building block of atomistic models.

A crystal is never strained to fit a box. It is rotated (:func:`orientation_matrix`,
:func:`random_rotation`), translated, and cut (:func:`crystal_fill`); where the box is
periodic and the lattice does not repeat with the box, the atoms that come too close
across the seam are removed and the mismatch is reported (:func:`crystal_slab`).

Conventions: positions and cells in Å (ASE), sizes given by users in nm. A rotation
``R`` maps the crystal's Cartesian frame (pymatgen's ``lattice.matrix``) to the box:
``r_box = R @ r_crystal + origin_A``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from interphase_sim.core.constants import MIN_DISTANCE_A
from interphase_sim.core.errors import InterphaseInputError

if TYPE_CHECKING:
    import ase

__all__ = [
    "crystal_fill",
    "crystal_slab",
    "lattice_spacings",
    "orientation_matrix",
    "random_rotation",
]

# Half-open box test [0, L) with this slack (Å), so atoms that sit exactly on a face of a
# commensurate box are counted once despite rounding in the rotation.
_EDGE_EPS_A = 1e-6
# Candidate positions generated per chunk (bounds memory for large boxes).
_CHUNK_POINTS = 2_000_000


# -- inputs -----------------------------------------------------------------------------
def structure_of(obj: Any, field: str = "phase") -> tuple[Any, str]:
    """(pymatgen Structure, name) of a crystalline Phase or a Structure.

    Parameters
    ----------
    obj : Phase or pymatgen Structure
        A crystalline phase; an amorphous one is refused.
    field : str
        The argument's name in error messages.

    Returns
    -------
    (Structure, str)
        The structure (lengths in Å) and the phase's name (a Structure's reduced formula).
    """
    if hasattr(obj, "lattice") and hasattr(obj, "frac_coords"):
        return obj, obj.composition.reduced_formula
    if getattr(obj, "amorphous", False) or (hasattr(obj, "name") and getattr(obj, "structure", None) is None):
        name = getattr(obj, "name", repr(obj))
        raise InterphaseInputError(
            field,
            f"phase {name!r} is amorphous (it has no crystal structure); build it with "
            "interphase_sim.build.amorphous instead",
        )
    if getattr(obj, "structure", None) is None:
        raise InterphaseInputError(
            field, f"expected a crystalline Phase or a pymatgen Structure, got {type(obj).__name__}"
        )
    return obj.structure, obj.name


def _vector3(value: Any, field: str, positive: bool = True) -> np.ndarray:
    try:
        v = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InterphaseInputError(field, f"expected three numbers, got {value!r}") from None
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise InterphaseInputError(field, f"expected three finite numbers, got {value!r}")
    if positive and not np.all(v > 0):
        raise InterphaseInputError(field, f"every size must be > 0, got {value!r}")
    return v


def _rotation(value: Any, field: str = "rotation") -> np.ndarray:
    try:
        r = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InterphaseInputError(field, f"expected a 3x3 rotation matrix, got {value!r}") from None
    if r.shape != (3, 3) or not np.all(np.isfinite(r)):
        raise InterphaseInputError(field, f"expected a finite 3x3 rotation matrix, got shape {r.shape}")
    if not np.allclose(r @ r.T, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0:
        raise InterphaseInputError(
            field, "must be a proper rotation (orthonormal, determinant +1); cutting never strains a crystal"
        )
    return r


def _miller(normal: Any, field: str = "normal") -> np.ndarray:
    """(h, k, l) as integers; four-index (h, k, i, l) with i = -(h + k) is accepted."""
    try:
        m = np.asarray(normal, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InterphaseInputError(field, f"expected Miller indices (h, k, l), got {normal!r}") from None
    if m.shape == (4,):
        if abs(m[2] + m[0] + m[1]) > 1e-9:
            raise InterphaseInputError(field, f"four-index (h, k, i, l) needs i = -(h + k), got {normal!r}")
        m = m[[0, 1, 3]]
    if m.shape != (3,) or not np.all(np.isfinite(m)) or np.any(np.abs(m - np.round(m)) > 1e-9):
        raise InterphaseInputError(field, f"expected three integers (h, k, l), got {normal!r}")
    if not np.any(m):
        raise InterphaseInputError(field, "(0, 0, 0) is not a plane; give at least one non-zero index")
    return np.round(m).astype(int)


def _rng(seed: Any) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


# -- rotations --------------------------------------------------------------------------
def random_rotation(rng: Any = None) -> np.ndarray:
    """A rotation matrix drawn uniformly from SO(3) (Haar measure).

    Parameters
    ----------
    rng : numpy Generator, int or None
        Random source or seed.

    Returns
    -------
    ndarray, shape (3, 3)
        Proper rotation (det +1).

    Notes
    -----
    A unit quaternion from four independent standard normals is uniform on the 3-sphere,
    which makes the rotation uniform on SO(3).
    """
    q = _rng(rng).standard_normal(4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _in_plane_lattice_vector(lattice: np.ndarray, hkl: np.ndarray) -> np.ndarray:
    """Shortest lattice vector [uvw] lying in the (hkl) plane (Cartesian, crystal frame)."""
    m = int(max(2, np.abs(hkl).max()))
    r = np.arange(-m, m + 1)
    uvw = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    uvw = uvw[(uvw @ hkl == 0) & np.any(uvw != 0, axis=1)]
    cart = uvw @ lattice
    length = np.round(np.linalg.norm(cart, axis=1), 6)
    # Shortest first; ties go to the vector pointing most along +x, then +y, then +z of the
    # crystal frame, so that e.g. a cubic (001) slab has [100] along the box's x.
    order = np.lexsort((-cart[:, 2], -cart[:, 1], -cart[:, 0], length))
    return cart[order[0]]


def orientation_matrix(
    structure_or_phase: Any,
    normal: Sequence[int] = (0, 0, 1),
    seed: Any = None,
    in_plane_deg: float = 0.0,
) -> np.ndarray:
    """The rotation that puts the normal of the (hkl) planes along +z.

    Parameters
    ----------
    structure_or_phase : Phase or pymatgen Structure
        Crystal whose (conventional) lattice the indices refer to.
    normal : (h, k, l) or (h, k, i, l)
        Miller indices of the plane; its normal is the reciprocal-lattice direction
        ``h a* + k b* + l c*``.
    seed : int, numpy Generator or None
        None: fixed in-plane orientation, the shortest lattice vector lying in the plane
        along +x, then turned by ``in_plane_deg``. Otherwise a uniformly random in-plane
        rotation from this seed.
    in_plane_deg : float
        Extra rotation about z (degrees) of the fixed orientation (ignored with a seed).

    Returns
    -------
    ndarray, shape (3, 3)
        ``R`` with ``r_box = R @ r_crystal``; ``R @ n_hkl`` is +z.
    """
    structure, _ = structure_of(structure_or_phase, "structure_or_phase")
    hkl = _miller(normal)
    lattice = np.asarray(structure.lattice.matrix, dtype=float)
    g = hkl @ np.linalg.inv(lattice).T  # reciprocal vector (rows of inv(L).T are a*, b*, c*)
    z = g / np.linalg.norm(g)
    x = _in_plane_lattice_vector(lattice, hkl)
    x = x - (x @ z) * z  # exact orthogonality despite rounding
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    rot = np.array([x, y, z])
    if seed is None:
        angle = math.radians(float(in_plane_deg))
    else:
        angle = _rng(seed).uniform(0.0, 2.0 * math.pi)
    c, s = math.cos(angle), math.sin(angle)
    about_z = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return about_z @ rot


# -- filling ----------------------------------------------------------------------------
def _site_table(structure: Any) -> tuple[np.ndarray, list[str], list[tuple[list[str], np.ndarray] | None]]:
    """Fractional coordinates, the ordered symbol of each site, and for partially
    occupied sites (symbols, cumulative occupancies)."""
    frac = np.asarray(structure.frac_coords, dtype=float) % 1.0
    symbols: list[str] = []
    mixed: list[tuple[list[str], np.ndarray] | None] = []
    for site in structure:
        items = [(str(getattr(sp, "symbol", sp)), float(occ)) for sp, occ in site.species.items()]
        if len(items) == 1 and items[0][1] >= 1.0 - 1e-9:
            symbols.append(items[0][0])
            mixed.append(None)
        else:
            symbols.append(items[0][0])
            mixed.append(([s for s, _ in items], np.cumsum([o for _, o in items])))
    return frac, symbols, mixed


def crystal_fill(
    phase: Any,
    cell_A: Sequence[float],
    rotation: Any,
    inside: Callable[[np.ndarray], np.ndarray] | None = None,
    origin_A: Sequence[float] | None = None,
    seed: Any = 0,
) -> tuple[list[str], np.ndarray]:
    """Fill the box ``[0, cell_A)`` with the rotated crystal of ``phase``, cut, not strained.

    Parameters
    ----------
    phase : Phase or pymatgen Structure
        Crystalline phase (``phase.structure``).
    cell_A : (3,) float
        Box edges (Å), > 0; the box is ``[0, Lx) x [0, Ly) x [0, Lz)``.
    rotation : (3, 3) array
        Proper rotation, ``r_box = rotation @ r_crystal + origin_A``.
    inside : callable, optional
        ``inside(positions (M, 3) Å) -> bool (M,)``; only atoms where it is True are kept
        (e.g. one Voronoi grain or one layer between rough interfaces).
    origin_A : (3,) float, optional
        Where the crystal's lattice origin lies in the box (Å); default (0, 0, 0).
    seed : int, numpy Generator or None
        Chooses the species of partially occupied sites by their occupancies (e.g. Ni or
        Mn on 16d of disordered LNMO; a remainder below 1 leaves a vacancy). The default
        0 makes repeated calls identical.

    Returns
    -------
    symbols : list of str
    positions : ndarray, shape (N, 3)
        Å, inside the box.

    Notes
    -----
    Vectorized: the lattice translations whose cells can reach the box are enumerated from
    the box corners mapped back to fractional coordinates, cells farther than their
    half-diagonal from the box are dropped, and the basis is added to the rest, in chunks
    of a few million candidate positions.
    """
    structure, _ = structure_of(phase)
    cell = _vector3(cell_A, "cell_A")
    rot = _rotation(rotation)
    origin = np.zeros(3) if origin_A is None else _vector3(origin_A, "origin_A", positive=False)
    lattice = np.asarray(structure.lattice.matrix, dtype=float)
    frac, site_symbols, mixed = _site_table(structure)
    pos, site = _sites_in_box(lattice, frac, rot, origin, cell)
    if inside is not None and len(pos):
        mask = np.asarray(inside(pos), dtype=bool).reshape(-1)
        if mask.shape != (len(pos),):
            raise InterphaseInputError("inside", f"must return one bool per position ({len(pos)}), got {mask.shape}")
        pos, site = pos[mask], site[mask]
    sym = np.array(site_symbols, dtype=object)[site]
    if any(m is not None for m in mixed):
        pos, sym = _occupy_mixed_sites(pos, sym, site, mixed, _rng(seed))
    return sym.tolist(), pos


def _sites_in_box(lattice: np.ndarray, frac: np.ndarray, rot: np.ndarray, origin: np.ndarray,
                  cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (Å) in ``[0, cell)`` of every site of the rotated, shifted crystal, and
    the index of the basis site each one is."""
    basis_box = (frac @ lattice) @ rot.T  # basis offsets, rotated into the box frame
    inv_lat = np.linalg.inv(lattice)
    corners = np.array(list(itertools.product(*[(0.0, c) for c in cell])))
    f = ((corners - origin) @ rot) @ inv_lat  # box corners in fractional coordinates
    lo = np.floor(f.min(axis=0)).astype(int) - 1
    hi = np.ceil(f.max(axis=0)).astype(int) + 1
    # A cell whose centre is farther than its half body-diagonal from the box holds no
    # atom of the box.
    reach = 0.5 * max(np.linalg.norm(np.array(s) @ lattice) for s in itertools.product((-1, 1), repeat=3))
    centre_box = (0.5 * lattice.sum(axis=0)) @ rot.T + origin
    a_vec, b_vec, c_vec = (lattice @ rot.T)  # lattice vectors in the box frame

    nb, nc = hi[1] - lo[1] + 1, hi[2] - lo[2] + 1
    jj, kk = np.meshgrid(np.arange(lo[1], hi[1] + 1), np.arange(lo[2], hi[2] + 1), indexing="ij")
    plane = jj.reshape(-1, 1) * b_vec + kk.reshape(-1, 1) * c_vec  # (nb*nc, 3)
    per_chunk = max(1, _CHUNK_POINTS // max(1, nb * nc * len(frac)))
    pos_parts: list[np.ndarray] = []
    site_parts: list[np.ndarray] = []
    for i0 in range(lo[0], hi[0] + 1, per_chunk):
        ii = np.arange(i0, min(i0 + per_chunk, hi[0] + 1))
        trans = (ii[:, None, None] * a_vec + plane[None]).reshape(-1, 3) + origin
        cen = trans + (centre_box - origin)
        near = np.all((cen > -reach) & (cen < cell + reach), axis=1)
        trans = trans[near]
        if not len(trans):
            continue
        pts = (trans[:, None, :] + basis_box[None, :, :]).reshape(-1, 3)
        sites = np.broadcast_to(np.arange(len(frac)), (len(trans), len(frac))).reshape(-1)
        keep = np.all((pts >= -_EDGE_EPS_A) & (pts < cell - _EDGE_EPS_A), axis=1)
        pos_parts.append(pts[keep])
        site_parts.append(sites[keep])
    pos = np.concatenate(pos_parts) if pos_parts else np.zeros((0, 3))
    site = np.concatenate(site_parts) if site_parts else np.zeros(0, dtype=int)
    np.clip(pos, 0.0, None, out=pos)  # -1e-16 from rounding is the face itself
    return pos, site


def _occupy_mixed_sites(pos: np.ndarray, sym: np.ndarray, site: np.ndarray,
                        mixed: list[tuple[list[str], np.ndarray] | None],
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Species of partially occupied sites drawn by occupancy; a vacancy drops the atom."""
    keep = np.ones(len(pos), dtype=bool)
    for s, entry in enumerate(mixed):
        if entry is None:
            continue
        idx = np.flatnonzero(site == s)
        names, cum = entry
        choice = np.searchsorted(cum, rng.random(len(idx)), side="right")
        vacant = choice >= len(names)
        sym[idx[~vacant]] = np.array(names, dtype=object)[choice[~vacant]]
        keep[idx[vacant]] = False
    return pos[keep], sym[keep]


def _periodic_mismatch(lattice: np.ndarray, rot: np.ndarray, vec_box: np.ndarray) -> float:
    """Distance (Å) from a box vector to the nearest lattice translation (rotated)."""
    f = (vec_box @ rot) @ np.linalg.inv(lattice)
    base = np.floor(f)
    cand = base + np.array(list(itertools.product((0, 1), repeat=3)))
    d = (cand @ lattice) @ rot.T - vec_box
    return float(np.min(np.linalg.norm(d, axis=1)))


def crystal_slab(
    phase: Any,
    lateral_nm: Sequence[float] = (5.0, 5.0),
    thickness_nm: float = 2.0,
    normal: Sequence[int] = (0, 0, 1),
    orientation: Any = None,
    seed: Any = None,
    in_plane_deg: float | None = 0.0,
    origin_A: Sequence[float] | None = None,
    max_atoms: int = 5_000_000,
) -> ase.Atoms:
    """A crystal slab in an orthogonal cell: x, y lateral (periodic), z along the normal.

    Parameters
    ----------
    phase : Phase or pymatgen Structure
        Crystalline phase (an amorphous phase is refused).
    lateral_nm : (float, float)
        Box edges along x and y (nm); each must be at least the longest edge of the
        phase's conventional cell.
    thickness_nm : float
        Slab thickness along z (nm), > 0.
    normal : (h, k, l)
        Surface plane; its normal is put along +z (:func:`orientation_matrix`).
    orientation : (3, 3) array, optional
        Explicit rotation; overrides ``normal`` and ``in_plane_deg``.
    seed : int or None
        Random in-plane rotation (when ``in_plane_deg`` is None) and the species of
        partially occupied sites.
    in_plane_deg : float or None
        Rotation about z of the fixed orientation (shortest in-plane lattice vector along
        x, degrees); None draws it at random from ``seed``.
    origin_A : (3,) float, optional
        Lattice origin in the box (Å); default (0, 0, 0).
    max_atoms : int
        Refuse (before allocating) slabs estimated to hold more atoms.

    Returns
    -------
    ase.Atoms
        Cell ``diag(x, y, thickness)`` in Å, ``pbc = (True, True, False)``: periodic
        laterally, free surfaces at z = 0 and z = thickness. ``atoms.info`` holds
        ``phase``, ``normal``, ``strain`` (always 0: the crystal is cut, not strained),
        ``removed_at_boundary`` (atoms dropped because they came closer than
        ``MIN_DISTANCE_A`` = 1.4 Å to an atom across the periodic x/y seam),
        ``mismatch_A`` and ``mismatch`` (x, y: the distance from the box vector to the
        nearest lattice translation, in Å and relative to the box edge; 0 means the
        lattice repeats exactly with the box).
    """
    import ase

    structure, name = structure_of(phase)
    cell = _slab_cell_A(structure, name, lateral_nm, thickness_nm, max_atoms)
    if orientation is not None:
        rot = _rotation(orientation, "orientation")
    else:
        rot = orientation_matrix(
            structure, normal, seed=seed if in_plane_deg is None else None,
            in_plane_deg=0.0 if in_plane_deg is None else in_plane_deg,
        )
    symbols, pos = crystal_fill(structure, cell, rot, origin_A=origin_A, seed=0 if seed is None else seed)
    pos, symbols, removed = _drop_seam_clashes(pos, symbols, cell)
    lattice = np.asarray(structure.lattice.matrix, dtype=float)
    mis = [_periodic_mismatch(lattice, rot, np.array([cell[0], 0.0, 0.0])),
           _periodic_mismatch(lattice, rot, np.array([0.0, cell[1], 0.0]))]
    atoms = ase.Atoms(symbols=symbols, positions=pos, cell=np.diag(cell), pbc=(True, True, False))
    hkl = None if orientation is not None else tuple(int(v) for v in _miller(normal))
    atoms.info.update(
        phase=name,
        normal=hkl if hkl is not None else "explicit orientation",
        strain=0.0,
        removed_at_boundary=removed,
        mismatch_A=np.array(mis),
        mismatch=np.array([mis[0] / cell[0], mis[1] / cell[1]]),
        seed=-1 if seed is None else int(seed) if isinstance(seed, (int, np.integer)) else -1,
    )
    return atoms


def _slab_cell_A(structure: Any, name: str, lateral_nm: Any, thickness_nm: Any, max_atoms: int) -> np.ndarray:
    """The slab's box edges (Å), after checking the sizes (nm) and the atom budget."""
    try:
        lx, ly = (float(v) for v in lateral_nm)
    except (TypeError, ValueError):
        raise InterphaseInputError("lateral_nm", f"expected (x, y) in nm, got {lateral_nm!r}") from None
    try:
        tz = float(thickness_nm)
    except (TypeError, ValueError):
        raise InterphaseInputError("thickness_nm", f"expected a number (nm), got {thickness_nm!r}") from None
    if not (math.isfinite(lx) and math.isfinite(ly) and lx > 0 and ly > 0):
        raise InterphaseInputError("lateral_nm", f"both lateral sizes must be finite and > 0 nm, got {lateral_nm!r}")
    if not (math.isfinite(tz) and tz > 0):
        raise InterphaseInputError("thickness_nm", f"must be finite and > 0 nm, got {thickness_nm!r}")
    abc = structure.lattice.abc
    longest_nm = max(abc) / 10.0
    if min(lx, ly) < longest_nm:
        raise InterphaseInputError(
            "lateral_nm",
            f"{lx:g} x {ly:g} nm is smaller than one unit cell of {name} "
            f"(a, b, c = {abc[0] / 10:.4g}, {abc[1] / 10:.4g}, {abc[2] / 10:.4g} nm); "
            f"each lateral size must be >= {longest_nm:.4g} nm",
        )
    n_est = int(len(structure) / structure.volume * lx * ly * tz * 1000.0)
    if n_est > max_atoms:
        raise InterphaseInputError(
            "max_atoms", f"the slab would hold about {n_est:,} atoms, more than max_atoms = {max_atoms:,}"
        )
    return np.array([lx, ly, tz]) * 10.0


def _drop_seam_clashes(pos: np.ndarray, symbols: list[str],
                       cell: np.ndarray) -> tuple[np.ndarray, list[str], int]:
    """Remove one atom of every pair closer than ``MIN_DISTANCE_A`` only through the
    periodic x/y boundary (the one at the upper +x or +y edge); pairs inside the crystal
    are left alone (a user's crystal may have short bonds). Returns the kept positions,
    symbols and the number removed."""
    from scipy.spatial import cKDTree

    if len(pos) < 2:
        return pos, symbols, 0
    tree = cKDTree(pos, boxsize=[cell[0], cell[1], 2.0 * cell[2] + 10.0])
    pairs = tree.query_pairs(MIN_DISTANCE_A, output_type="ndarray")
    if not len(pairs):
        return pos, symbols, 0
    d = pos[pairs[:, 1]] - pos[pairs[:, 0]]
    across_x = np.abs(d[:, 0]) > 0.5 * cell[0]
    across_y = np.abs(d[:, 1]) > 0.5 * cell[1]
    across = across_x | across_y
    a, b = pairs[across, 0], pairs[across, 1]
    axis = np.where(across_x[across], 0, 1)
    upper = np.where(pos[a, axis] > pos[b, axis], a, b)
    drop = np.zeros(len(pos), dtype=bool)
    drop[upper] = True
    return pos[~drop], [s for s, dr in zip(symbols, drop) if not dr], int(drop.sum())


# -- lattice spacings -------------------------------------------------------------------
def reflection_grid(lattice: np.ndarray, d_min_A: float) -> tuple[np.ndarray, np.ndarray]:
    """Every reflection ``(h, k, l) != 0`` of a lattice with spacing >= ``d_min_A``.

    Parameters
    ----------
    lattice : (3, 3) array
        Real-space lattice vectors as rows (Å, pymatgen's ``lattice.matrix``).
    d_min_A : float
        Smallest spacing kept (Å).

    Returns
    -------
    hkl : ndarray of int, shape (n, 3)
        The reflections' indices, unsorted.
    d_A : ndarray, shape (n,)
        Their spacings ``d = 1/|g|`` (Å).
    """
    recip = np.linalg.inv(lattice).T
    abc = np.linalg.norm(lattice, axis=1)
    hmax = np.ceil(abc / d_min_A).astype(int)
    rng = [np.arange(-h, h + 1) for h in hmax]
    hkl = np.stack(np.meshgrid(*rng, indexing="ij"), -1).reshape(-1, 3)
    hkl = hkl[np.any(hkl != 0, axis=1)]
    d = 1.0 / np.linalg.norm(hkl @ recip, axis=1)
    sel = d >= d_min_A - 1e-9
    return hkl[sel], d[sel]


def structure_factors(structure: Any, hkl: np.ndarray, scattering: Callable[[str, np.ndarray], Any],
                      d_A: np.ndarray) -> np.ndarray:
    """``F(hkl) = sum_j occ_j f_j(d) exp(2 pi i hkl . r_j)`` over a pymatgen structure's sites.

    Parameters
    ----------
    structure : pymatgen Structure
        Sites with (partial) occupancies.
    hkl : (n, 3) int array
        Reflections.
    scattering : callable
        ``scattering(symbol, d_A)``: an element's scattering factor at the spacings
        ``d_A`` (Å), e.g. a constant such as the atomic number, or an electron or X-ray
        form factor.
    d_A : (n,) array
        Spacings of the reflections (Å).

    Returns
    -------
    ndarray of complex, shape (n,)
        ``F(hkl)``, in the unit of ``scattering``.
    """
    amp = np.zeros(len(hkl), dtype=complex)
    for site in structure:
        f = sum(float(occ) * np.asarray(scattering(sp.symbol, d_A)) for sp, occ in site.species.items())
        amp += f * np.exp(2j * math.pi * (hkl @ np.asarray(site.frac_coords, dtype=float)))
    return amp


def lattice_spacings(phase: Any, n: int = 10) -> list[tuple[float, tuple[int, int, int]]]:
    """The ``n`` largest d-spacings (Å) with a non-zero structure factor.

    Parameters
    ----------
    phase : Phase or pymatgen Structure
        Crystalline phase.
    n : int
        How many distinct spacings, >= 1.

    Returns
    -------
    list of (d_A, (h, k, l))
        Largest spacing first. ``(h, k, l)`` refers to ``phase.structure``'s lattice and is
        the representative of its family with non-negative indices, largest first (e.g.
        Li2O (1, 1, 1) 2.67 Å, (2, 0, 0) 2.31 Å).

    Notes
    -----
    Structure factors use the atomic number as scattering factor (weighted by
    occupancy); a reflection counts when ``|F|`` exceeds 1e-6 of ``sum |f|``, which keeps
    every reflection not extinct by symmetry (systematic absences and the like).
    """
    from pymatgen.core import Element

    structure, _ = structure_of(phase)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InterphaseInputError("n", f"expected an integer >= 1, got {n!r}")
    lattice = np.asarray(structure.lattice.matrix, dtype=float)
    total_z = sum(float(occ) * sp.Z for site in structure for sp, occ in site.species.items())
    d_min = 0.5 * min(structure.lattice.abc)
    while True:
        hkl, d = reflection_grid(lattice, d_min)
        amp = np.abs(structure_factors(structure, hkl, lambda symbol, _d: Element(symbol).Z, d))
        ok = amp > 1e-6 * total_z
        hkl, d = hkl[ok], d[ok]
        group = spacing_groups(d)
        if group.max(initial=-1) + 1 >= n or d_min < 0.05:
            break
        d_min *= 0.5
    out = []
    for g in range(min(n, group.max(initial=-1) + 1)):
        out.append((float(d[group == g].mean()), family_label(hkl[group == g])))
    return out


def spacing_groups(d: np.ndarray, rtol: float = 1e-6) -> np.ndarray:
    """Group index of each spacing: equal spacings (within ``rtol``) share one, largest first (0).

    Sorting and splitting where neighbours differ by more than ``rtol`` keeps a family
    together even when its spacing sits on a rounding boundary.

    Parameters
    ----------
    d : (n,) array
        Spacings (any length unit, e.g. Å).
    rtol : float
        Relative difference below which two neighbouring spacings are equal.

    Returns
    -------
    ndarray of int, shape (n,)
        The group of each spacing, 0 for the largest.
    """
    d = np.asarray(d, dtype=float)
    order = np.argsort(-d, kind="stable")
    ds = d[order]
    new = np.ones(ds.size, dtype=bool)
    new[1:] = (ds[:-1] - ds[1:]) > rtol * ds[:-1]
    group = np.empty(ds.size, dtype=int)
    group[order] = np.cumsum(new) - 1
    return group


def family_label(members: np.ndarray) -> tuple[int, int, int]:
    """The representative of a family of reflections: non-negative indices if any, largest first.

    Parameters
    ----------
    members : (m, 3) int array
        The family's reflections (h, k, l).

    Returns
    -------
    (int, int, int)
        The largest (lexicographically) member with non-negative indices, else the
        largest member.
    """
    nonneg = members[np.all(members >= 0, axis=1)]
    pool = nonneg if len(nonneg) else members
    return tuple(int(v) for v in max(map(tuple, pool.tolist())))
