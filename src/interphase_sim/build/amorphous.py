"""Amorphous structures with exact composition, target density and short-range order.

:func:`amorphous` fills a periodic orthorhombic box (edges in nm; positions in Å, as in
ASE), :func:`amorphous_fill` the part of a box a mask selects (the matrix of a mosaic
layer); :func:`structure_report` and :func:`structure_factor` describe a model.

1. *Counts*: number density x volume, rounded (largest remainders) for the most exact
   composition within 0.25 % of the density.
2. *Short-range order* (P and O present): every P in a tetrahedron of four anions. With
   fewer than four O+N per P the deficit ``B = 4 n_P - n_O - n_N`` is made of anions
   bridging two tetrahedra, which then form short chains (dimers for LiPON,
   ``B = 0.24 n_P``). A fraction ``n_bridging_fraction`` (default 1/2, capped by ``B``)
   of the N bridges (P-N-P, "N_d"), the rest is apical (P-N, "N_a"); remaining bridges
   are P-O-P; anions beyond four per P are free. This is the LiPON glass network of
   Lacivita, Artrith and Ceder, Chem. Mater. 30, 7077 (2018) and Marple et al.,
   Angew. Chem. Int. Ed. 59, 22185 (2020). P-O 1.55 Å (1.60 Å bridging), P-N 1.65 Å,
   tetrahedral angles, P-X-P 130° (O) / 125° (N) +/- 5°, staggered. Other compositions
   are a random packing of single atoms.
3. *Placement*: random sequential addition on a neighbour grid. Each rigid chain or free
   atom tries random positions and orientations until it overlaps nothing placed (pair
   minima x 0.85), else keeps its least-overlapping try; Li (and other non-network
   elements) then try spots 2.0 Å from a terminal or free anion (Li-O 1.9-2.1 Å).
4. *Relaxation*: position-based projection (Gauss-Seidel, as in position-based dynamics,
   Müller et al., J. Vis. Commun. Image R. 18, 109 (2007)) holds each unit's bonded
   pairs (P-X, X-X edges, bridged P-P) at their built lengths and pushes every other pair
   to at least its minimum (:func:`pair_minimum_table`), using a cell-list pair list with
   a skin; cost linear in the number of atoms (numba kernels).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from interphase_sim.build._packing import SKIN_A, TOL_A, relax, rsa, wrap
from interphase_sim.build.results import StructureReport
from interphase_sim.core.constants import MIN_DISTANCE_A
from interphase_sim.core.errors import InterphaseInputError

if TYPE_CHECKING:
    import ase

__all__ = ["StructureReport", "amorphous", "amorphous_fill", "pair_minimum_table", "structure_factor", "structure_report"]

P_O_TERMINAL_A, P_O_BRIDGING_A, P_N_A = 1.55, 1.60, 1.65  # bridging P-O ~0.05 Å longer
LI_ANION_START_A = 2.0  # middle of Li-O 1.9-2.1 Å (docs/references.md)
BRIDGE_ANGLE_DEG = {"O": 130.0, "N": 125.0}
TETRA_COS = -1.0 / 3.0  # cos 109.47°
ANIONS = frozenset({"O", "N", "F", "S", "Cl", "Se", "Br", "I"})
NETWORK = frozenset({"P", "O", "N"})
MIN_EDGE_A = 10.0  # minimum-image bonds and pairs need edges > 2 x (3.0 + skin) Å
RSA_SCALE, RSA_TRIALS = 0.85, 20  # placement tolerance and tries; relaxation does the rest
AVOGADRO_E_24 = 0.602214076  # N_A x 1e-24: g/cm3 = amu / (Å3 x this)

# Non-bonded minima (Å): Li-O 1.9 (1.9-2.1 Å in Li3PO4, Li2O), O-O 2.4 between units
# (2.5 Å is a PO4 edge), Li-Li 2.2 (Li2O: 2.31), P to atoms of other units 2.5-3.0.
_PAIR_MIN = {("Li", "Li"): 2.2, ("Li", "O"): 1.9, ("Li", "N"): 1.9, ("Li", "P"): 2.5,
             ("O", "O"): 2.4, ("N", "O"): 2.4, ("N", "N"): 2.4, ("O", "P"): 2.7,
             ("N", "P"): 2.7, ("P", "P"): 3.0}


# -- inputs and composition ---------------------------------------------------------------
def _resolve_phase(phase: Any):
    from interphase_sim.sample import phases as _phases

    if isinstance(phase, str):
        phase = _phases.get(phase)
    if not isinstance(phase, _phases.Phase):
        raise InterphaseInputError("phase", f"expected a Phase or a built-in name, got {type(phase).__name__}")
    if phase.structure is not None:
        raise InterphaseInputError("phase", f"{phase.name} is crystalline: build it with the crystal builder "
                                   "(interphase_sim.build.crystal), or make an amorphous form of its formula "
                                   "with Phase.amorphous(name, formula, density)")
    return phase


def _check_inputs(values: Any, field: str, to_A: float, unit: str, min_distance_A, max_atoms, n_bridging_fraction):
    """Box edges in Å and the floor (Å), after checking every argument."""
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InterphaseInputError(field, f"expected three edge lengths in {unit}, got {values!r}") from None
    lo = MIN_EDGE_A / to_A
    if arr.shape != (3,) or not np.all(np.isfinite(arr)) or np.any(arr < lo):
        raise InterphaseInputError(field, f"expected three finite edges (x, y, z) >= {lo:g} {unit}, got {values!r}")
    floor = MIN_DISTANCE_A if min_distance_A is None else float(min_distance_A)
    if not 0.5 <= floor <= 3.0:
        raise InterphaseInputError("min_distance_A", f"must be within 0.5-3.0 Å, got {min_distance_A!r}")
    if isinstance(max_atoms, bool) or not isinstance(max_atoms, (int, np.integer)) or max_atoms < 1:
        raise InterphaseInputError("max_atoms", f"must be a positive integer, got {max_atoms!r}")
    if not 0.0 <= float(n_bridging_fraction) <= 1.0:
        raise InterphaseInputError("n_bridging_fraction", f"must be within 0-1, got {n_bridging_fraction!r}")
    return arr * to_A, floor


def _round_counts(number_density: dict[str, float], volume_nm3: float, window: float = 0.0025) -> dict[str, int]:
    """Integer counts per element: of the totals within ``window`` of the ideal one, split
    by largest remainders, the one with the smallest worst relative error in the atom
    fractions (ties: nearest the ideal total)."""
    ideal = np.array(list(number_density.values())) * volume_nm3
    fracs = ideal / ideal.sum()  # the phase's atom fractions
    n0, half = max(1, round(ideal.sum())), min(1000, int(window * ideal.sum()))
    best, best_key = None, None
    for nt in range(max(1, n0 - half), n0 + half + 1):
        n = np.floor(fracs * nt).astype(np.int64)
        # stable order: ties go to the element listed first in the formula
        n[np.argsort(-(fracs * nt - n), kind="stable")[: nt - int(n.sum())]] += 1
        key = (round(float(np.max(np.abs(n / nt - fracs) / fracs)), 12), abs(nt - ideal.sum()))
        if best_key is None or key < best_key:
            best, best_key = n, key
    return {e: int(c) for e, c in zip(number_density, best)}


def pair_minimum_table(elements: Sequence[str], floor_A: float = MIN_DISTANCE_A, network: bool = True) -> np.ndarray:
    """Non-bonded minimum distances (Å) between ``elements``, a symmetric matrix.

    Li/P/O/N pairs from a crystal-chemistry table (pairs with P only for a phosphate
    network, where P-O/P-N bonds are constraints), others 0.85 x the sum of covalent
    radii (ASE's table: Cordero et al., Dalton Trans. 2008, 2832), anion pairs at least
    2.4 Å; nothing below ``floor_A`` + 0.02 Å (the relaxation's tolerance).

    Parameters
    ----------
    elements : sequence of str
        Element symbols, in the order of the table's rows and columns.
    floor_A : float
        Smallest minimum allowed (Å).
    network : bool
        Whether P-O/P-N bonds are constraints (a phosphate network).

    Returns
    -------
    ndarray, shape (n, n)
        Minimum distances (Å).
    """
    from ase.data import atomic_numbers, covalent_radii

    tab = np.empty((len(elements), len(elements)))
    for a, ea in enumerate(elements):
        for b, eb in enumerate(elements):
            v = _PAIR_MIN.get(tuple(sorted((ea, eb))))
            if v is None or (not network and "P" in (ea, eb)):
                v = 0.85 * (covalent_radii[atomic_numbers[ea]] + covalent_radii[atomic_numbers[eb]])
                v = max(v, 2.4) if ea in ANIONS and eb in ANIONS else v
            tab[a, b] = max(v, floor_A + TOL_A)
    return tab


# -- structure plan ----------------------------------------------------------------------------
def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _perp(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """A random unit vector perpendicular to each row of the unit vectors ``t``."""
    g = rng.standard_normal(t.shape)
    return _unit(g - np.sum(g * t, axis=1, keepdims=True) * t)


def _tetra_dirs(t: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """(n, 4, 3) tetrahedron vertex directions: vertex 0 along ``t``, vertex 1 towards
    ``p1`` (perpendicular to ``t``), vertices 2 and 3 at +/-120° about ``t``."""
    p2 = np.cross(t, p1)
    out = np.empty((t.shape[0], 4, 3))
    out[:, 0] = t
    for m in range(3):
        phi = 2.0 * math.pi * m / 3.0
        out[:, m + 1] = TETRA_COS * t + math.sqrt(8.0 / 9.0) * (math.cos(phi) * p1 + math.sin(phi) * p2)
    return out


def _network(rng, counts: dict[str, int], n_bridging_fraction: float):
    """Phosphate chains (centred on the origin), free anions and modifiers.

    Returns symbols, positions relative to each unit's centre, unit ids, per-unit
    "anchored" flags (modifiers go next to an anion), host anions, bonds (i, j, length)
    and a report.
    """
    n_p, n_o, n_n = counts["P"], counts["O"], counts.get("N", 0)
    modifiers = [(e, c) for e, c in counts.items() if e not in NETWORK and c > 0]
    bridges = 4 * n_p - n_o - n_n
    free_o = min(n_o, max(0, -bridges))  # more anions than corners: the excess is free
    free_n = max(0, -bridges) - free_o
    bridges, n_free = max(bridges, 0), free_o + free_n
    n_chains, terminal = n_p - bridges, 4 * n_p - 2 * max(bridges, 0)
    n_d = min(int(round(n_bridging_fraction * (n_n - free_n))), bridges)
    n_a = n_n - free_n - n_d
    # Topology: chains as short as the bridge count allows, P contiguous per chain;
    # bridge b joins P src[b] and src[b] + 1.
    q, r = divmod(n_p, n_chains)
    lengths = np.full(n_chains, q, dtype=np.int64)
    lengths[rng.permutation(n_chains)[:r]] += 1
    chain_of = np.repeat(np.arange(n_chains), lengths)
    k_in = np.arange(n_p) - np.concatenate([[0], np.cumsum(lengths)[:-1]])[chain_of]
    src = np.flatnonzero(k_in < lengths[chain_of] - 1)
    b_is_n = np.zeros(bridges, bool)
    b_is_n[rng.permutation(bridges)[:n_d]] = True
    t_is_n = np.zeros(terminal, bool)
    t_is_n[rng.permutation(terminal)[:n_a]] = True
    b_len = np.where(b_is_n, P_N_A, P_O_BRIDGING_A)
    b_of_src = np.full(n_p, -1)
    b_of_src[src] = np.arange(bridges)
    # Geometry, one chain position at a time. Vertex 0 is a tetrahedron's incoming
    # bridge (if any), vertex 1 its outgoing one.
    ppos, dirs = np.zeros((n_p, 3)), np.zeros((n_p, 4, 3))
    t = _unit(rng.standard_normal((n_chains, 3)))
    dirs[k_in == 0] = _tetra_dirs(t, _perp(rng, t))
    for k in range(1, int(lengths.max())):
        cur = np.flatnonzero(k_in == k)
        prev, b = cur - 1, b_of_src[cur - 1]
        a = -dirs[prev, 1]  # from the bridge atom back to the previous P
        ang = np.where(b_is_n[b], BRIDGE_ANGLE_DEG["N"], BRIDGE_ANGLE_DEG["O"])
        ang = np.radians(ang + rng.uniform(-5, 5, len(cur)))
        v = np.cos(ang)[:, None] * a + np.sin(ang)[:, None] * _perp(rng, a)
        ppos[cur] = ppos[prev] + b_len[b][:, None] * (dirs[prev, 1] + v)
        # staggered: one vertex opposite the previous P (+/-15°) keeps O...O apart
        anti = _unit(np.sum(a * v, axis=1, keepdims=True) * v - a)
        psi = 2 * np.pi * rng.integers(0, 3, len(cur)) / 3 + np.radians(rng.uniform(-15, 15, len(cur)))
        dirs[cur] = _tetra_dirs(-v, np.cos(psi)[:, None] * anti + np.sin(psi)[:, None] * np.cross(anti, v))
    centre = np.zeros((n_chains, 3))
    np.add.at(centre, chain_of, ppos / lengths[chain_of][:, None])
    slot_atom, slot_len = np.full((n_p, 4), -1, dtype=np.int64), np.zeros((n_p, 4))
    slot_atom[src, 1] = slot_atom[src + 1, 0] = n_p + np.arange(bridges)
    slot_len[src, 1] = slot_len[src + 1, 0] = b_len
    tp, ts = np.nonzero(slot_atom < 0)
    slot_atom[tp, ts] = n_p + bridges + np.arange(terminal)
    slot_len[tp, ts] = np.where(t_is_n, P_N_A, P_O_TERMINAL_A)
    n_mod = sum(c for _, c in modifiers)
    xyz = np.concatenate([ppos, ppos[src] + b_len[:, None] * dirs[src, 1],
                          ppos[tp] + slot_len[tp, ts][:, None] * dirs[tp, ts]])
    xyz -= centre[np.concatenate([chain_of, chain_of[src], chain_of[tp]])]
    symbols = np.concatenate([np.full(n_p, "P", dtype="<U3"), np.where(b_is_n, "N", "O"), np.where(t_is_n, "N", "O"),
                              np.array(["O"] * free_o + ["N"] * free_n, dtype="<U3"),
                              *[np.full(c, e, dtype="<U3") for e, c in modifiers]])
    unit = np.concatenate([chain_of, chain_of[src], chain_of[tp], n_chains + np.arange(n_free + n_mod)])
    anchored = np.concatenate([np.zeros(n_chains + n_free, bool), np.ones(n_mod, bool)])
    hosts = np.arange(n_p + bridges, n_p + bridges + terminal + n_free)
    # Constraints: P-X bonds, X-X tetrahedron edges, P-P across each bridge.
    e_a, e_b = np.triu_indices(4, 1)
    la, lb = slot_len[:, e_a].reshape(-1), slot_len[:, e_b].reshape(-1)
    bonds = (np.concatenate([np.repeat(np.arange(n_p), 4), slot_atom[:, e_a].reshape(-1), src]),
             np.concatenate([slot_atom.reshape(-1), slot_atom[:, e_b].reshape(-1), src + 1]),
             np.concatenate([slot_len.reshape(-1), np.sqrt(la**2 + lb**2 - 2 * la * lb * TETRA_COS),
                             np.linalg.norm(ppos[src + 1] - ppos[src], axis=1)]))
    info = dict(n_bridging_N=int(n_d), n_apical_N=int(n_a), n_bridging_O=int(bridges - n_d),
                n_free_anions=int(n_free), n_chains=int(n_chains), max_chain_length=int(lengths.max()))
    xyz = np.concatenate([xyz, np.zeros((n_free + n_mod, 3))])
    return symbols, xyz, unit, anchored, hosts, bonds, info


# -- builders ------------------------------------------------------------------------------------
def _build(phase, cell_A: np.ndarray, seed, floor_A: float, max_atoms: int, n_bridging_fraction: float, field: str):
    """Shared by :func:`amorphous` and :func:`amorphous_fill`: symbols, positions, unit
    ids and a flat report."""
    volume_nm3 = float(np.prod(cell_A)) * 1e-3
    estimate = phase.total_number_density() * volume_nm3
    if estimate > max_atoms:  # refuse before allocating anything
        raise InterphaseInputError(
            field, f"a {' x '.join(f'{v / 10:g}' for v in cell_A)} nm box of {phase.name} holds about "
            f"{estimate:,.0f} atoms, over max_atoms={max_atoms:,}; use a smaller box or raise max_atoms",
        )
    counts = _round_counts(phase.number_density(), volume_nm3)
    rng = np.random.default_rng(seed)
    n_p, n_x = counts.get("P", 0), counts.get("O", 0) + counts.get("N", 0)
    network = n_p > 0 and counts.get("O", 0) > 0 and 4 * n_p - n_x < n_p
    if n_p > 0 and counts.get("O", 0) > 0 and not network:
        warnings.warn(f"{phase.name}: {n_x / n_p:.2f} O+N per P is below 3, which needs branched or ring "
                      "phosphate networks; building a random packing", stacklevel=3)
    if network:
        symbols, rel, unit, anchored, hosts, bonds, sro = _network(rng, counts, float(n_bridging_fraction))
    else:
        symbols = np.concatenate([np.full(c, e, dtype="<U3") for e, c in counts.items()])
        none = np.zeros(0, np.int64)
        rel, unit, anchored = np.zeros((len(symbols), 3)), np.arange(len(symbols)), np.zeros(len(symbols), bool)
        hosts, bonds, sro = none, (none, none, np.zeros(0)), {}

    def reorder(order, *arrays):  # arrays permuted, bonds and hosts renumbered
        new_of = np.empty_like(order)
        new_of[order] = np.arange(len(order))
        return [a[order] for a in arrays], (new_of[bonds[0]], new_of[bonds[1]], bonds[2]), new_of[hosts]

    # Units contiguous for placement, then atoms numbered cell by cell of the pair grid so
    # that neighbours are near in memory (the relaxation's loops then run from cache).
    (symbols, rel, unit), bonds, hosts = reorder(np.argsort(unit, kind="stable"), symbols, rel, unit)
    ustart = np.concatenate([[0], np.cumsum(np.bincount(unit))]).astype(np.int64)
    first_host = np.zeros(len(anchored), np.int64)
    if len(hosts):  # each host gets its share of modifiers before any gets a second
        first_host[anchored] = hosts[np.resize(rng.permutation(len(hosts)), int(anchored.sum()))]
    elements = sorted(counts)
    typ = np.searchsorted(np.array(elements), symbols).astype(np.int64)
    min_tab = pair_minimum_table(elements, floor_A, network)
    pos = rsa(rel, ustart, anchored, first_host, hosts, typ, RSA_SCALE * min_tab, cell_A,
               LI_ANION_START_A, RSA_TRIALS, int(rng.integers(2**31)))
    nc = np.maximum(1, (cell_A / (min_tab.max() + SKIN_A)).astype(np.int64))
    cells = np.minimum((pos / cell_A * nc).astype(np.int64), nc - 1)
    (symbols, pos, unit, typ), bonds, hosts = reorder(np.lexsort(cells.T[::-1]), symbols, pos, unit, typ)
    # P moves half as far as its partner in a correction, so tetrahedra move as a whole
    sweeps, worst_b, worst_nb = relax(pos, cell_A, typ, unit, min_tab, bonds, np.where(symbols == "P", 0.5, 1.0))
    if max(worst_b, worst_nb) > TOL_A:
        warnings.warn(f"{phase.name}: relaxation stopped with bonds off by {worst_b:.3f} Å and pairs "
                      f"{worst_nb:.3f} Å below their minimum", stacklevel=3)
    # Output ordered by element as in the formula; units stay identifiable by their id.
    order = np.argsort(np.array([list(counts).index(e) for e in elements])[typ], kind="stable")
    symbols, pos, unit = symbols[order], pos[order], unit[order]

    from pymatgen.core import Element

    target, n_tot = phase.composition.fractional_composition, sum(counts.values())
    mass = math.fsum(float(Element(e).atomic_mass) * c for e, c in counts.items())
    density = mass / (float(np.prod(cell_A)) * AVOGADRO_E_24)
    ref = "P" if n_p else max(counts, key=counts.get)
    report = dict(
        phase=phase.name, structure_model="phosphate network" if network else "random packing",
        formula_target=phase.formula,
        formula_achieved=" ".join(f"{e}{c / counts[ref]:.4g}" for e, c in counts.items() if c),
        composition_max_rel_error=float(max(abs(counts[str(e)] / n_tot - target[e]) / target[e] for e in target)),
        target_density_g_cm3=float(phase.density), density_g_cm3=float(density),
        relax_sweeps=int(sweeps), relax_worst_bond_A=float(worst_b), relax_worst_overlap_A=float(worst_nb), **sro,
    )
    if abs(density / phase.density - 1.0) > 0.01:
        warnings.warn(f"{phase.name}: the box is too small to get within 1 % of the density "
                      f"({density:.4g} vs {phase.density:.4g} g/cm3 with {n_tot} atoms)", stacklevel=3)
    return symbols, pos, unit, report


def amorphous(phase: Any, box_nm: Sequence[float], seed: int | None, min_distance_A: float | None = None,
              max_atoms: int = 5_000_000, n_bridging_fraction: float = 0.5) -> ase.Atoms:
    """A periodic orthorhombic box of an amorphous phase, as an ``ase.Atoms``.

    Parameters
    ----------
    phase : Phase or str
        An amorphous :class:`~interphase_sim.sample.phases.Phase` (composition and density, e.g.
        ``phases.get("LiPON")``) or a built-in name; crystals are refused.
    box_nm : sequence of 3 float
        Box edges (x, y, z) in nm, each >= 1 nm.
    seed : int or None
        Seed of ``numpy.random.default_rng``: the same seed gives the same structure.
    min_distance_A : float, optional
        Floor of non-bonded distances in Å, 0.5-3.0 (default 1.4, docs/references.md). Pair minima
        above it (Li-O 1.9 Å, O-O 2.4 Å, :func:`pair_minimum_table`) still apply; P-O and
        P-N bond lengths are set by the short-range order.
    max_atoms : int
        Atom budget: a box estimated to hold more is refused before anything is allocated.
    n_bridging_fraction : float
        Fraction (0-1) of the N bridging two P ("N_d"), the rest apical ("N_a"); capped by
        the number of bridges the composition implies, ``4 n_P - n_O - n_N``.

    Returns
    -------
    ase.Atoms
        Positions in Å inside the cell, ``pbc=True``. ``atoms.arrays["unit"]`` is each
        atom's unit id (the atoms of one phosphate chain share it). ``atoms.info`` is a flat
        report: ``formula_achieved`` (per P), ``composition_max_rel_error``,
        ``density_g_cm3``, ``target_density_g_cm3``, ``n_bridging_N``, ``n_apical_N``,
        ``n_bridging_O``, relaxation residuals (Å).

    Raises
    ------
    InterphaseInputError
        For a crystalline phase, a bad box or argument, or a box over the atom budget.

    Notes
    -----
    The density is within 0.25 % of the target above a few hundred atoms (a warning says
    when a tiny box misses 1 %). The module docstring describes the algorithm.
    """
    from ase import Atoms

    phase = _resolve_phase(phase)
    cell, floor = _check_inputs(box_nm, "box_nm", 10.0, "nm", min_distance_A, max_atoms, n_bridging_fraction)
    symbols, pos, unit, report = _build(phase, cell, seed, floor, max_atoms, n_bridging_fraction, "box_nm")
    atoms = Atoms(symbols=list(symbols), positions=pos, cell=cell, pbc=True)
    atoms.new_array("unit", unit.astype(np.int64))
    atoms.info.update(report)
    return atoms


def amorphous_fill(phase: Any, cell_A: Sequence[float], inside: Callable[[np.ndarray], np.ndarray],
                   seed: int | None, min_distance_A: float | None = None, max_atoms: int = 5_000_000,
                   n_bridging_fraction: float = 0.5, balance: bool = True,
                   rule: str = "whole", tile_nm: float | None = None) -> tuple[list[str], np.ndarray]:
    """The amorphous phase filling only the part of a periodic box where ``inside`` holds.

    Parameters
    ----------
    phase : Phase or str
        Amorphous phase, as for :func:`amorphous`.
    cell_A : sequence of 3 float
        Box edges in Å (>= 10 Å each).
    inside : callable
        ``inside(positions)``, positions an (N, 3) array in Å, returns an (N,) bool mask:
        True where the matrix belongs (e.g. between the crystallites of a mosaic).
    seed, min_distance_A, max_atoms, n_bridging_fraction
        As for :func:`amorphous`.
    balance : bool
        Drop surplus single atoms (Li, free anions) so that their count per P is the full
        box's (see Notes).
    rule : {"whole", "centroid"}
        ``"whole"`` keeps a unit only if all its atoms are inside; ``"centroid"`` keeps it
        if its centroid is inside, which samples the region without bias (no density deficit
        at the boundary) at the price of atoms up to a unit's size (~3 Å) outside it; the
        caller resolves the resulting contacts (a mosaic's grain boundaries).
    tile_nm : float, optional
        Build a periodic box of at most this edge (nm) and repeat it to fill the cell:
        much faster when only a small part is kept (a mosaic's amorphous matrix), at the
        price of a repeat period the size of the tile.

    Returns
    -------
    symbols : list of str
    positions : ndarray, shape (N, 3)
        Å, inside ``[0, cell_A)``.

    Notes
    -----
    The full box is built, then a unit (a phosphate chain with its O/N; any other atom is
    a unit of its own) is kept only if all its atoms are inside: every kept PO4 is whole,
    no atom is outside the mask, and whole units keep P:O:N exactly. Units crossing the
    boundary are lost more often than single atoms, so the kept part would be Li-rich:
    ``balance`` drops the surplus of each single-atom element at random (seeded). The
    density is lower within a unit's size (~3 Å) of the mask's boundary.
    """
    phase = _resolve_phase(phase)
    cell, floor = _check_inputs(cell_A, "cell_A", 1.0, "Å", min_distance_A, max_atoms, n_bridging_fraction)
    if not callable(inside):
        raise InterphaseInputError("inside", "expected a function of positions (N, 3) Å returning a bool mask (N,)")
    if rule not in ("whole", "centroid"):
        raise InterphaseInputError("rule", f"choose 'whole' or 'centroid', got {rule!r}")
    symbols, pos, unit = _build_tiled(phase, cell, seed, floor, max_atoms, n_bridging_fraction, tile_nm)
    mask = np.asarray(inside(pos.copy()))
    if mask.shape != (len(pos),) or mask.dtype != bool:
        raise InterphaseInputError(
            "inside", f"must return a bool array of shape ({len(pos)},), got {mask.dtype} {mask.shape}")
    n_units = int(unit.max()) + 1
    if rule == "centroid":
        pos, keep = _keep_by_centroid(pos, unit, cell, inside, mask)
    else:
        keep = np.bincount(unit[~mask], minlength=n_units)[unit] == 0
    if balance and (symbols == "P").any():
        keep = _balance_single_atoms(symbols, unit, keep, seed)
    return [str(s) for s in symbols[keep]], pos[keep]


def _build_tiled(phase, cell: np.ndarray, seed, floor: float, max_atoms: int, n_bridging_fraction: float,
                 tile_nm: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symbols, positions (Å) and unit ids of the whole box: one periodic build, or a
    tile of at most ``tile_nm`` that divides the box, repeated (units renumbered)."""
    if tile_nm is None or not np.any(cell > 10.0 * tile_nm):
        symbols, pos, unit, _ = _build(phase, cell, seed, floor, max_atoms, n_bridging_fraction, "cell_A")
        return symbols, pos, unit
    reps = np.maximum(np.ceil(cell / (10.0 * tile_nm)).astype(int), 1)
    tile = cell / reps  # divides the cell exactly: the repeat stays periodic
    t_sym, t_pos, t_unit, _ = _build(phase, tile, seed, floor, max_atoms, n_bridging_fraction, "cell_A")
    shifts = np.array([[i, j, k] for i in range(reps[0]) for j in range(reps[1]) for k in range(reps[2])]) * tile
    symbols = np.tile(t_sym, len(shifts))
    pos = (t_pos[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    unit = (t_unit[None, :] + (int(t_unit.max()) + 1) * np.arange(len(shifts))[:, None]).reshape(-1)
    return symbols, pos, unit


def _keep_by_centroid(pos: np.ndarray, unit: np.ndarray, cell: np.ndarray, inside: Callable[[np.ndarray], np.ndarray],
                      mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions with each unit's atoms next to its centroid (x, y wrapped), and which
    atoms to keep: small units by their centroid, long chains atom by atom (``mask``)."""
    n_units = int(unit.max()) + 1
    first = np.full(n_units, len(pos))
    np.minimum.at(first, unit, np.arange(len(pos)))
    d = pos - pos[first[unit]]
    d -= cell * np.round(d / cell)  # minimum image within each unit
    counts = np.bincount(unit, minlength=n_units)[:, None]
    mean = np.stack([np.bincount(unit, weights=d[:, k], minlength=n_units) for k in range(3)], axis=1) / counts
    centroid = (pos[first] + mean) % cell
    # a unit's atoms are returned next to its centroid (unwrapped), not wrapped round
    pos = centroid[unit] + (d - mean[unit])
    pos[:, :2] %= cell[:2]
    small = counts[:, 0] <= 12  # PO4 and P2O7-like units; long chains are cut per atom
    return pos, np.where(small[unit], np.asarray(inside(centroid))[unit], mask)


def _balance_single_atoms(symbols: np.ndarray, unit: np.ndarray, keep: np.ndarray, seed) -> np.ndarray:
    """Drop kept single-atom units at random (seeded) so that each element's count per
    kept P is the whole box's."""
    keep = keep.copy()
    is_p = symbols == "P"
    n_units = int(unit.max()) + 1
    rng = np.random.default_rng(None if seed is None else [int(seed), 1])
    single = np.bincount(unit, minlength=n_units)[unit] == 1
    for el in np.unique(symbols[single]):
        cand = np.flatnonzero(keep & single & (symbols == el))
        want = int(round(np.sum(single & (symbols == el)) * np.sum(keep & is_p) / np.sum(is_p)))
        if len(cand) > want:
            keep[rng.choice(cand, size=len(cand) - want, replace=False)] = False
    return keep


# -- analysis ---------------------------------------------------------------------------------
def _periodic_box(atoms) -> tuple[np.ndarray, np.ndarray]:
    """Wrapped positions and edge lengths of an orthorhombic periodic ``ase.Atoms``."""
    cell = np.asarray(atoms.cell[:], float)
    if not np.all(atoms.pbc) or np.abs(cell - np.diag(np.diag(cell))).max() > 1e-8 or np.any(np.diag(cell) <= 0):
        raise InterphaseInputError("atoms", "needs an orthorhombic cell, periodic along x, y and z")
    return wrap(atoms.positions, np.diag(cell)), np.diag(cell).copy()


def _rdf(pos, box, centres, others, edges) -> np.ndarray:
    """g(r) of atoms ``others`` around atoms ``centres`` (index arrays), bins ``edges`` (Å).

    Pair distances come from a periodic k-d tree in chunks of centres and are binned
    directly (linear in the number of pairs; self pairs are skipped).
    """
    from scipy.spatial import cKDTree

    hist = np.zeros(len(edges) - 1)
    if len(centres) == 0 or len(others) == 0:
        return hist
    tb = cKDTree(pos[others], boxsize=box)
    dr = edges[1] - edges[0]
    for c0 in range(0, len(centres), 1000):
        chunk = centres[c0:c0 + 1000]
        pairs = cKDTree(pos[chunk], boxsize=box).sparse_distance_matrix(tb, edges[-1], output_type="ndarray")
        d = pairs["v"][chunk[pairs["i"]] != others[pairs["j"]]]
        hist += np.bincount(np.minimum((d / dr).astype(np.int64), len(hist) - 1), minlength=len(hist))[: len(hist)]
    shell = 4.0 / 3.0 * np.pi * np.diff(edges**3)
    return hist / (len(centres) * len(others) / float(np.prod(box)) * shell)


def structure_report(atoms: ase.Atoms, r_max_A: float = 8.0, bins: int = 160) -> StructureReport:
    """Radial distribution, bond lengths, coordination, density and composition.

    Parameters
    ----------
    atoms : ase.Atoms
        Orthorhombic periodic cell, positions in Å.
    r_max_A, bins : float, int
        g(r) up to ``r_max_A`` Å (at most half the shortest edge) in ``bins`` bins.

    Returns
    -------
    StructureReport
        ``r_A`` (bin centres, Å), ``g_total``, ``g_partial`` (``"P-O"``, ``"P-N"``,
        ``"Li-O"``: g of the second element around the first), ``mean_P_O_A`` and
        ``mean_P_N_A`` (bonds shorter than 2.0 Å), ``mean_Li_O_nearest_A`` (each Li's
        nearest O), ``P_coordination`` (histogram of O+N within 2.0 Å of P),
        ``fraction_P_4fold``, ``n_N_bridging`` / ``n_N_apical`` (N bonded to 2 / 1 P),
        ``min_distance_A`` with ``min_distance_pair``, ``density_g_cm3``, ``counts``,
        ``formula`` (per P when P is present). Means are NaN when a species is absent.
    """
    from scipy.spatial import cKDTree

    pos, box = _periodic_box(atoms)
    sym = np.array(atoms.get_chemical_symbols())
    if len(sym) < 2:
        raise InterphaseInputError("atoms", "needs at least two atoms")
    edges = np.linspace(0.0, min(float(r_max_A), 0.5 * float(box.min())), int(bins) + 1)
    idx = {str(e): np.flatnonzero(sym == e) for e in np.unique(sym)}
    none, every = np.zeros(0, np.int64), np.arange(len(sym))
    out: dict[str, Any] = dict(r_A=0.5 * (edges[1:] + edges[:-1]), g_total=_rdf(pos, box, every, every, edges))
    out["g_partial"] = {f"{a}-{b}": _rdf(pos, box, idx.get(a, none), idx.get(b, none), edges)
                        for a, b in (("P", "O"), ("P", "N"), ("Li", "O"))}
    trees = {e: cKDTree(pos[i], boxsize=box) for e, i in idx.items()}
    n_p = len(idx.get("P", none))
    coord = np.zeros(n_p, np.int64)
    out["n_N_bridging"] = out["n_N_apical"] = 0
    for x in ("O", "N"):
        out[f"mean_P_{x}_A"] = math.nan
        if n_p and x in trees:
            bonds = trees["P"].sparse_distance_matrix(trees[x], 2.0, output_type="ndarray")
            out[f"mean_P_{x}_A"] = float(bonds["v"].mean()) if len(bonds) else math.nan
            coord += np.bincount(bonds["i"], minlength=n_p)
            n_p_of = np.bincount(bonds["j"], minlength=len(idx[x]))
            if x == "N":
                out["n_N_bridging"], out["n_N_apical"] = int(np.sum(n_p_of == 2)), int(np.sum(n_p_of == 1))
    out["P_coordination"] = {int(k): int(v) for k, v in zip(*np.unique(coord, return_counts=True))}
    out["fraction_P_4fold"] = float(np.mean(coord == 4)) if n_p else math.nan
    has_li_o = "Li" in trees and "O" in trees
    out["mean_Li_O_nearest_A"] = float(trees["O"].query(pos[idx["Li"]])[0].mean()) if has_li_o else math.nan
    d, j = cKDTree(pos, boxsize=box).query(pos, k=2)
    i = int(np.argmin(d[:, 1]))
    out["min_distance_A"], out["min_distance_pair"] = float(d[i, 1]), (str(sym[i]), str(sym[j[i, 1]]))
    out["density_g_cm3"] = float(atoms.get_masses().sum() / (np.prod(box) * AVOGADRO_E_24))
    out["counts"] = counts = {e: len(i) for e, i in idx.items()}
    ref = "P" if n_p else max(counts, key=counts.get)
    out["formula"] = " ".join(f"{e}{c / counts[ref]:.4g}" for e, c in counts.items())
    return StructureReport(**out)


def structure_factor(atoms: ase.Atoms, q_max_inv_A: float = 6.0, nq: int = 300, r_max_A: float | None = None,
                     dr_A: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic structure factor S(q) from the total g(r) (unit scattering lengths).

    ``S(q) = 1 + 4 pi rho int_0^R r^2 (g(r) - 1) sin(qr)/(qr) L(r) dr`` with the Lorch
    window ``L(r) = sinc(r/R)`` that damps the ripples of the cut at ``R``
    (Lorch, J. Phys. C 2, 229 (1969)). An amorphous model gives broad features of height
    ~1-2; a crystal gives Bragg peaks that grow with R (a test of "no long-range order").

    Parameters
    ----------
    atoms : ase.Atoms
        Orthorhombic periodic cell.
    q_max_inv_A, nq : float, int
        ``nq`` points of q, uniform over (0, q_max] in 1/Å.
    r_max_A, dr_A : float
        Cut R of the transform (default half the shortest edge, at most 20 Å) and the g(r)
        bin width, in Å.

    Returns
    -------
    q, s : ndarray
        q in 1/Å and S(q).
    """
    pos, box = _periodic_box(atoms)
    r_max = min(0.5 * float(box.min()), 20.0 if r_max_A is None else float(r_max_A))
    n, edges = len(pos), np.linspace(0.0, r_max, max(2, int(round(r_max / dr_A))) + 1)
    # At most ~2000 centres (every k-th atom) keep the cost flat for big boxes; the
    # g(r) noise this leaves is far below a Bragg peak.
    centres = np.arange(0, n, max(1, n // 2000))
    g = _rdf(pos, box, centres, np.arange(n), edges) * n / (n - 1)
    r = 0.5 * (edges[1:] + edges[:-1])
    q = np.linspace(q_max_inv_A / nq, q_max_inv_A, nq)
    kernel = np.sinc(np.outer(q, r) / np.pi) * (r**2 * (g - 1.0) * np.sinc(r / r_max))
    s = 1.0 + 4.0 * np.pi * n / float(np.prod(box)) * kernel.sum(axis=1) * (edges[1] - edges[0])
    return q, s
