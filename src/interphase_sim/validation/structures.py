"""Validation of the structure models: phase library, amorphous LiPON, mosaic fractions.

* Every crystalline phase of :mod:`interphase_sim.sample.phases`: the space group spglib
  (pymatgen's ``SpacegroupAnalyzer``) finds in the built structure against the one the
  library declares; the conventional cell's edges against the published cell
  (``data/phase_references.csv``); the density of the cell against the literature value.
* The amorphous LiPON builder (:func:`interphase_sim.build.amorphous.amorphous`): the
  composition against Li2.9PO3.3N0.46 (Bates et al., Solid State Ionics 53-56, 647 (1992)),
  the density, the P coordination (PO4 tetrahedra), the P-O first-neighbour peak, the
  closest pair and the absence of Bragg peaks. Neighbours, peak and density are counted
  here with scipy's cKDTree and ASE's masses, not with the package's structure report.
* The mosaic builder (:func:`interphase_sim.build.mosaic.mosaic_fill`): the phase volume
  fractions realised per depth band (a point grid labelled by the nearest grain seed,
  periodic laterally) and from the atoms against the requested depth gradient.
"""

from __future__ import annotations

import csv
import io
import math
import time
import warnings
from importlib import resources
from typing import Any

import numpy as np

from interphase_sim.validation.report import Context, Row, Section, compare, register

__all__ = ["LIPON_PER_P", "phase_reference", "crystal_rows", "pair_distribution", "lipon_measures", "lipon_rows",
           "mosaic_fractions", "mosaic_rows", "check_structures"]

#: Li2.9PO3.3N0.46 per P (Bates et al. 1992).
LIPON_PER_P = {"Li": 2.9, "O": 3.3, "N": 0.46}
_BATES = "Bates et al., Solid State Ionics 53-56, 647 (1992)"
_PO4 = "PO4 tetrahedra, P-O 1.53-1.62 Å (Bates et al. 1992; Marple et al., Angew. Chem. 2020)"
_AMU_G = 1.66053906660e-24  # g per u (CODATA 2018)
_P_NEIGHBOUR_CUTOFF_A = 2.0  # P-O/N bonds 1.5-1.7 Å; Li-O 1.9-2.1 Å is not counted (P only)
_MIN_DISTANCE_A = 1.4  # docs/references.md: the shortest sensible interatomic distance


def phase_reference() -> dict[str, dict[str, Any]]:
    """The shipped reference cells and densities (``data/phase_references.csv``).

    Returns
    -------
    dict
        ``{phase: {"abc_A": (a, b, c) or None, "lattice_source": str, "density_g_cm3":
        float, "density_source": str}}``; ``abc_A`` None: the phase's record gives the cell.
    """
    text = resources.files("interphase_sim.validation").joinpath("data/phase_references.csv").read_text(
        encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    out = {}
    for rec in csv.DictReader(io.StringIO("\n".join(lines))):
        abc = tuple(float(rec[k]) for k in ("a_A", "b_A", "c_A")) if rec["a_A"] else None
        out[rec["phase"]] = {"abc_A": abc, "lattice_source": rec["lattice_source"],
                             "density_g_cm3": float(rec["density_g_cm3"]), "density_source": rec["density_source"]}
    return out


def _ordered(structure: Any) -> Any:
    """A copy with every partially occupied site given its majority element (spglib needs
    ordered sites; disordered LNMO's 16d Ni/Mn site becomes Mn)."""
    s = structure.copy()
    for i, site in enumerate(s):
        if not site.is_ordered:
            s.replace(i, max(site.species.items(), key=lambda kv: kv[1])[0].symbol)
    return s


def crystal_rows(name: str, reference: dict[str, Any]) -> list[Row]:
    """Space group, cell edges and density of one built-in crystalline phase.

    Parameters
    ----------
    name : str
        A built-in phase name.
    reference : dict
        Its entry of :func:`phase_reference`.

    Returns
    -------
    list of Row
        Space-group number (exact), largest relative deviation of the sorted conventional
        cell edges (tolerance 1 %), density from the cell (g/cm3, tolerance 2 %).
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from interphase_sim.sample import phases

    phase = phases.get(name)
    record = phases.info(name)
    declared = int(record["spacegroup_number"])
    analyzer = SpacegroupAnalyzer(_ordered(phase.structure), symprec=0.01)
    found = analyzer.get_space_group_number()
    rows = [compare(f"{name}: space group number (spglib on the built cell)", declared, found, 0.0,
                    f"declared by the library ({phase.spacegroup}, No. {declared})", relative=False,
                    note=f"spglib finds {analyzer.get_space_group_symbol()}")]
    if reference["abc_A"] is None:
        lat = record["lattice"]
        report = str(record.get("source", "")).split(";")[0].split(" (a =")[0]
        ref_abc = (lat["a"], lat["b"], lat["c"])
        source = f"structure report of the phase record: {report[:100]}{'...' if len(report) > 100 else ''}"
    else:
        ref_abc, source = reference["abc_A"], reference["lattice_source"]
    # edges compared sorted: a standard setting may order the axes differently
    got = np.sort(analyzer.get_conventional_standard_structure().lattice.abc)
    dev = (got - np.sort(ref_abc)) / np.sort(ref_abc)
    worst = int(np.argmax(np.abs(dev)))
    rows.append(compare(f"{name}: conventional cell edge (largest deviation of a, b, c)", np.sort(ref_abc)[worst],
                        got[worst], 0.01, source, unit="Å"))
    rows.append(compare(f"{name}: density from the cell", reference["density_g_cm3"], phase.density, 0.02,
                        reference["density_source"], unit="g/cm3"))
    return rows


def pair_distribution(atoms: Any, first: str, second: str, r_max_A: float = 3.0,
                      bin_A: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Pair counts of two elements by distance, weighted by r^-2 (the shape of g(r)).

    Parameters
    ----------
    atoms : ase.Atoms
        A periodic orthorhombic model (Å).
    first, second : str
        Elements (e.g. ``"P"`` and ``"O"``), different.
    r_max_A, bin_A : float
        Largest distance and bin width (Å); counting starts at 1 Å.

    Returns
    -------
    r_A : ndarray
        Bin centres (Å).
    weighted : ndarray
        Pairs per bin divided by r^2 (arbitrary unit).
    """
    from scipy.spatial import cKDTree

    sym = np.asarray(atoms.get_chemical_symbols())
    box = np.diag(np.asarray(atoms.cell.array, dtype=float)).copy()
    pos = np.mod(atoms.positions, box)
    tree_a = cKDTree(pos[sym == first], boxsize=box)
    dist = tree_a.sparse_distance_matrix(cKDTree(pos[sym == second], boxsize=box), r_max_A,
                                         output_type="ndarray")["v"]
    edges = np.arange(1.0, r_max_A + 1e-9, bin_A)
    counts, _ = np.histogram(dist, bins=edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return centres, counts / centres**2


def lipon_measures(atoms: Any) -> dict[str, float]:
    """Composition, density and short-range order of an amorphous LiPON model, counted here.

    Parameters
    ----------
    atoms : ase.Atoms
        A periodic orthorhombic model (Å).

    Returns
    -------
    dict
        ``Li_per_P``, ``O_per_P``, ``N_per_P``; ``density_g_cm3`` (ASE masses over the cell
        volume); ``P_coordination`` (mean O + N within 2.0 Å of a P); ``P_fourfold`` (fraction
        of P with exactly 4); ``P_O_peak_A`` (position of the first P-O peak of r^-2-weighted
        pair counts, 0.01 Å bins, Å); ``pairs_below_1p4_A`` (pairs closer than 1.4 Å).
    """
    from scipy.spatial import cKDTree

    sym = np.asarray(atoms.get_chemical_symbols())
    box = np.diag(np.asarray(atoms.cell.array, dtype=float)).copy()
    pos = np.mod(atoms.positions, box)
    n_p = int(np.sum(sym == "P"))
    out = {f"{el}_per_P": float(np.sum(sym == el)) / n_p for el in LIPON_PER_P}
    out["density_g_cm3"] = float(np.sum(atoms.get_masses()) * _AMU_G / (np.prod(box) * 1e-24))
    tree_all = cKDTree(pos, boxsize=box)
    anion = np.isin(sym, ["O", "N"])
    tree_anion = cKDTree(pos[anion], boxsize=box)
    p_pos = pos[sym == "P"]
    coord = np.array([len(n) for n in tree_anion.query_ball_point(p_pos, _P_NEIGHBOUR_CUTOFF_A)])
    out["P_coordination"] = float(coord.mean())
    out["P_fourfold"] = float(np.mean(coord == 4))
    centres, weighted = pair_distribution(atoms, "P", "O")
    out["P_O_peak_A"] = float(centres[np.argmax(weighted)])
    out["pairs_below_1p4_A"] = float(len(tree_all.query_pairs(_MIN_DISTANCE_A)))
    return out


def lipon_rows(measures: dict[str, float], max_sq: float, density_target: float) -> list[Row]:
    """Rows of the amorphous LiPON check from :func:`lipon_measures`.

    Parameters
    ----------
    measures : dict
        From :func:`lipon_measures`.
    max_sq : float
        Largest S(q) for q > 0.5 1/Å (the package's ``structure_factor``).
    density_target : float
        The density the model was built at (g/cm3).

    Returns
    -------
    list of Row
        Composition per P (3 %), density (3 %), mean P coordination (4 +- 0.1), fraction
        of fourfold P (>= 0.95), P-O peak (1.50-1.65 Å), pairs below 1.4 Å (none),
        S(q) peak below 3 (no Bragg peaks).
    """
    rows = [compare(f"LiPON model: {el}/P", per_p, measures[f"{el}_per_P"], 0.03, _BATES)
            for el, per_p in LIPON_PER_P.items()]
    rows += [
        compare("LiPON model: density (ASE masses / cell volume)", density_target, measures["density_g_cm3"], 0.03,
                "the LiPON phase's density (2.4 default; 2.3-2.5 reported)", unit="g/cm3"),
        compare("LiPON model: mean O + N neighbours of P within 2.0 Å", 4.0, measures["P_coordination"], 0.1, _PO4,
                relative=False),
        compare("LiPON model: fraction of P with 4 O + N neighbours", 1.0, measures["P_fourfold"], 0.05, _PO4,
                relative=False),
        compare("LiPON model: first P-O peak position", 1.575, measures["P_O_peak_A"], 0.075, _PO4, unit="Å",
                relative=False),
        compare("LiPON model: pairs closer than 1.4 Å", math.nan, measures["pairs_below_1p4_A"], 0.0,
                "docs/references.md (shortest P-O bond 1.53 Å)", relative=False),
        compare("LiPON model: largest S(q), q > 0.5 1/Å (no Bragg peaks: below 3)", math.nan, max_sq, 3.0,
                "glass criterion (a glass's first sharp peak stays near 1-2)", relative=False),
    ]
    return rows


def _lipon_section_rows(ctx: Context) -> tuple[list[Row], Any]:
    from interphase_sim.build.amorphous import amorphous, structure_factor
    from interphase_sim.sample import phases

    edge_nm = 3.0 if ctx.quick else 5.0
    lipon = phases.get("LiPON")
    seed = int(ctx.rng("structures.lipon").integers(2**31))
    atoms = amorphous(lipon, (edge_nm, edge_nm, edge_nm), seed=seed)
    q, s = structure_factor(atoms)
    return lipon_rows(lipon_measures(atoms), float(np.max(s[q > 0.5])), float(lipon.density)), atoms


def mosaic_fractions(mosaic: Any, cell_A: Any, z_range_A: tuple[float, float], n_bands: int,
                     phase_name: str, grid: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Volume fraction of one phase per depth band of a mosaic, from its grain seeds.

    Parameters
    ----------
    mosaic : MosaicFill
        From :func:`interphase_sim.build.mosaic.mosaic_fill`.
    cell_A : (3,) float
        The box (Å), periodic in x and y.
    z_range_A : (float, float)
        Top and bottom of the mosaic region (Å).
    n_bands : int
        Depth bands of equal thickness.
    phase_name : str
        The phase whose fraction is counted.
    grid : int
        Points per lateral edge (the depth gets ``4 grid``).

    Returns
    -------
    z_A : ndarray (n_bands,)
        Band centres (Å).
    fraction : ndarray (n_bands,)
        Share of each band's grid points whose nearest seed is a grain of ``phase_name``.
    """
    from scipy.spatial import cKDTree

    cell = np.asarray(cell_A, dtype=float)
    z0, z1 = z_range_A
    gx = (np.arange(grid) + 0.5) * cell[0] / grid
    gy = (np.arange(grid) + 0.5) * cell[1] / grid
    gz = z0 + (np.arange(4 * grid) + 0.5) * (z1 - z0) / (4 * grid)
    pts = np.stack(np.meshgrid(gx, gy, gz, indexing="ij"), -1).reshape(-1, 3)
    nearest = cKDTree(mosaic.seeds_A, boxsize=[cell[0], cell[1], 1e6]).query(pts)[1]
    is_phase = np.asarray(mosaic.grain_phase)[nearest] == phase_name
    edges = np.linspace(z0, z1, n_bands + 1)
    band = np.clip(np.digitize(pts[:, 2], edges[1:-1]), 0, n_bands - 1)
    fraction = np.array([is_phase[band == i].mean() for i in range(n_bands)])
    return 0.5 * (edges[1:] + edges[:-1]), fraction


def mosaic_rows(mosaic: Any, cell_A: Any, z_range_A: tuple[float, float], top: dict[str, float],
                bottom: dict[str, float], n_bands: int, band_tolerance: float = 0.08) -> list[Row]:
    """Requested against realised volume fractions of a gradient mosaic.

    Parameters
    ----------
    mosaic : MosaicFill
        The built mosaic.
    cell_A, z_range_A : see :func:`mosaic_fractions`.
    top, bottom : dict {phase: float}
        The requested volume fractions at the top and bottom (each sums to 1); linear between.
    n_bands : int
        Depth bands.
    band_tolerance : float
        Absolute tolerance per band (grains are discrete: a band of ~30 grains moves by
        ~0.03 per grain).

    Returns
    -------
    list of Row
        Per band and phase (one phase of a two-phase mosaic: the other is its complement),
        the fraction of the band (absolute difference);
        per crystalline phase the overall fraction from its atoms (atoms / (number density x
        volume), tolerance 0.03: atoms dropped at grain boundaries lower it slightly).
    """
    from interphase_sim.sample import phases

    z0, z1 = z_range_A
    rows = []
    present = [p for p in top if max(top.get(p, 0.0), bottom.get(p, 0.0)) > 0]
    # of two phases one is the complement of the other: its rows would repeat
    for name in present[1:] if len(present) == 2 else present:
        z, achieved = mosaic_fractions(mosaic, cell_A, z_range_A, n_bands, name)
        for zc, got in zip(z, achieved):
            t = (zc - z0) / (z1 - z0)
            want = (1 - t) * top.get(name, 0.0) + t * bottom.get(name, 0.0)
            rows.append(compare(f"mosaic: {name} volume fraction at depth {zc / 10:.1f} nm", want, got, band_tolerance,
                                "requested linear gradient (band centre)", relative=False))
    volume_nm3 = float(np.prod(np.asarray(cell_A, dtype=float)[:2])) * (z1 - z0) * 1e-3
    for name in top:
        phase = phases.get(name)
        if phase.amorphous:
            continue
        want = 0.5 * (top.get(name, 0.0) + bottom.get(name, 0.0))
        n_atoms = int(np.sum(np.asarray(mosaic.atom_phase) == name))
        got = n_atoms / (phase.total_number_density() * volume_nm3)
        rows.append(compare(f"mosaic: {name} overall volume fraction from its atoms", want, got, 0.03,
                            "requested gradient, averaged over depth", relative=False))
    return rows


def _fractions_text(fractions: dict[str, float]) -> str:
    return " + ".join(f"{v:g} {k}" for k, v in fractions.items() if v > 0)


def _mosaic_section_rows(ctx: Context) -> tuple[list[Row], str, dict[str, Any]]:
    from interphase_sim.build.mosaic import mosaic_fill
    from interphase_sim.sample import phases

    if ctx.quick:
        cell, z_range, grain_nm, bands = (40.0, 40.0, 66.0), (3.0, 63.0), 1.0, 3
        top, bottom = {"Li2O": 1.0, "Li3N": 0.0}, {"Li2O": 0.0, "Li3N": 1.0}
    else:
        cell, z_range, grain_nm, bands = (60.0, 60.0, 100.0), (5.0, 95.0), 1.5, 3
        top, bottom = {"Li2O": 0.6, "Li3N": 0.0, "LiPON": 0.4}, {"Li2O": 0.0, "Li3N": 0.6, "LiPON": 0.4}
    seed = int(ctx.rng("structures.mosaic").integers(2**31))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a shortfall shows in the rows instead
        mosaic = mosaic_fill({n: phases.get(n) for n in top}, top, bottom, cell, z_range, grain_nm, seed=seed)
    desc = (f"a {cell[0] / 10:g} x {cell[1] / 10:g} nm box, region {z_range[0] / 10:g}-{z_range[1] / 10:g} nm deep, "
            f"{grain_nm:g} nm grains ({mosaic.n_grains}), from {_fractions_text(top)} at the top to "
            f"{_fractions_text(bottom)} at the bottom, {bands} depth bands")
    built = dict(mosaic=mosaic, cell_A=cell, z_range_A=z_range, top=top, bottom=bottom)
    return mosaic_rows(mosaic, cell, z_range, top, bottom, bands), desc, built


def _figure(ctx: Context, lipon_atoms: Any, built: dict[str, Any]) -> tuple[str, str]:
    """LiPON's P-O and P-N pair distributions; the mosaic's fractions against depth."""
    from interphase_sim.core.fileio import atomic_savefig
    from interphase_sim.plotting.common import pyplot_module

    plt = pyplot_module()
    fig, (ax_r, ax_z) = plt.subplots(1, 2, figsize=(10, 4))
    for i, other in enumerate(("O", "N")):
        r, g = pair_distribution(lipon_atoms, "P", other)
        ax_r.plot(r, g / g.max(), color=f"C{i}", label=f"P-{other}")
    ax_r.axvspan(1.53, 1.62, color="0.85", label="P-O in PO4, 1.53-1.62 Å")
    ax_r.axvline(_P_NEIGHBOUR_CUTOFF_A, color="k", ls=":", lw=1, label="neighbour cutoff 2.0 Å")
    ax_r.set(xlabel="r (Å)", ylabel="pairs / r$^2$ (max = 1)", title="amorphous LiPON model: pair distribution")
    ax_r.legend(fontsize=7)
    z0, z1 = built["z_range_A"]
    zz = np.linspace(z0, z1, 50)
    for i, name in enumerate(built["top"]):
        top, bottom = built["top"].get(name, 0.0), built["bottom"].get(name, 0.0)
        ax_z.plot(zz / 10, top + (bottom - top) * (zz - z0) / (z1 - z0), color=f"C{i}", label=f"{name} requested")
        z, got = mosaic_fractions(built["mosaic"], built["cell_A"], built["z_range_A"], 12, name)
        ax_z.plot(z / 10, got, "o", color=f"C{i}", ms=4, label=f"{name} built (12 bands)")
    ax_z.set(xlabel="depth (nm)", ylabel="volume fraction", ylim=(-0.05, 1.05), title="mosaic: phase fractions")
    ax_z.legend(fontsize=7)
    fig.tight_layout()
    name = "structures_lipon_mosaic.png"
    atomic_savefig(fig, ctx.figure_path(name), dpi=110)
    plt.close(fig)
    return name, ("Left: P-O and P-N pair distributions (pairs / r^2) of the amorphous LiPON model, with the PO4 "
                  "bond range and the neighbour cutoff. Right: the mosaic's volume fractions per thin depth band "
                  "(nearest-seed grid) against the requested gradient (the rows use thicker bands).")


@register("structures")
def check_structures(ctx: Context) -> Section:
    """The phase library's cells, the amorphous LiPON model and the mosaic's fractions.

    Parameters
    ----------
    ctx : Context
        Mode (quick: a 3 nm LiPON cube and a two-phase mosaic; full: a 5 nm cube and a
        three-phase mosaic with LiPON) and seed.

    Returns
    -------
    Section
        3 rows per crystalline phase, 9 LiPON rows and the mosaic rows.
    """
    from interphase_sim.sample import phases

    t0 = time.perf_counter()
    refs = phase_reference()
    rows: list[Row] = []
    for name in phases.names():
        if phases.get(name).amorphous:
            continue
        if name not in refs:
            rows.append(Row.skipped(f"{name}: cell and density", "data/phase_references.csv",
                                    "no reference cell and density shipped for this phase"))
            continue
        rows += crystal_rows(name, refs[name])
    lipon, lipon_atoms = _lipon_section_rows(ctx)
    mosaic, desc, built = _mosaic_section_rows(ctx)
    rows += lipon + mosaic
    figure = _figure(ctx, lipon_atoms, built)
    text = (
        "Every crystalline phase of the library is built with pymatgen from its data file; spglib (pymatgen's "
        "SpacegroupAnalyzer, symprec 0.01; partially occupied sites given their majority element) must find the "
        "declared space group, the conventional standard cell's edges (sorted, so that axis settings do not "
        "matter) must be within 1 % of the published cell (docs/references.md where it lists one, else the "
        "structure report the phase's record cites) and the density of the cell within 2 % of the literature "
        "value (validation/data/phase_references.csv gives each source). The amorphous LiPON builder's model "
        f"({'3' if ctx.quick else '5'} nm cube) is measured here independently of the package's structure "
        "report: composition per P against Li2.9PO3.3N0.46 (Bates et al. 1992), density from ASE's masses, "
        "mean O + N neighbours of P within 2.0 Å (PO4 tetrahedra: 4), the first P-O peak of the pair "
        "distribution (1.50-1.65 Å), no pair closer than 1.4 Å and no Bragg peak in the package's S(q). "
        f"The mosaic builder's realised volume fractions are counted on a point grid by nearest grain seed "
        f"(periodic laterally) per depth band and from the atoms, against the requested gradient: {desc}. "
        "Full mode builds a 5 nm LiPON cube and a three-phase mosaic with amorphous LiPON grains. Run time "
        f"{time.perf_counter() - t0:.0f} s in {'quick' if ctx.quick else 'full'} mode (two cores: about 15 s "
        "quick, 20 s full, most of it pymatgen building the library's crystal structures, shared with the "
        "other checks of one run)."
    )
    return Section("Crystal structures, amorphous LiPON and mosaics", text, rows, [figure])
