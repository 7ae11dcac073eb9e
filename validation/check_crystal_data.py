#!/usr/bin/env python
"""Validate the built-in crystal-structure data files of ``interphase_sim``.

Reads every ``*.json`` file in ``src/interphase_sim/phases/data`` (or the folder given on
the command line), builds the structure with
``pymatgen.core.Structure.from_spacegroup(spacegroup, Lattice.from_parameters(...),
species, coords)`` and checks, for each file:

1. schema: required keys present and of the right type, ``spacegroup`` symbol and
   ``spacegroup_number`` agree (pymatgen ``SpaceGroup``);
2. atom count: every site generates exactly the multiplicity of its Wyckoff label (a wrong
   origin choice or setting shows up here as doubled/halved orbits), and the cell holds
   Z x (atoms per formula unit) atoms, with Z an integer obtained from the reference density;
3. space group: ``SpacegroupAnalyzer(structure, symprec=0.01)`` finds ``spacegroup_number``
   (sites with mixed/partial occupancy are replaced by their majority element first,
   because spglib cannot handle partial occupancy);
4. density: ``structure.density`` within 2 % of ``reference_density_g_cm3``;
5. minimum interatomic distance > 1.4 A;
6. composition: the cell composition reduces to ``formula``.

Prints one table row per file and exits with status 1 if any check fails.

Usage::

    python validation/check_crystal_data.py [DATA_DIR] [--pairs]

``--pairs`` also prints the shortest distance for every element pair of every phase.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import warnings
from pathlib import Path

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / "src" / "interphase_sim" / "sample" / "phases" / "data"

REQUIRED = {
    "name": str,
    "formula": str,
    "description": str,
    "spacegroup": str,
    "spacegroup_number": int,
    "lattice": dict,
    "sites": list,
    "source": str,
    "reference_density_g_cm3": (int, float),
    "reference_density_source": str,
    "notes": str,
}
LATTICE_KEYS = ("a", "b", "c", "alpha", "beta", "gamma")

DENSITY_TOL = 0.02  # relative
MIN_DISTANCE = 1.4  # Angstrom
SYMPREC = 0.01
N_A = 6.02214076e23


class CheckError(Exception):
    pass


def _species_arg(sp):
    """Species entry as accepted by pymatgen (str or {element: occupancy})."""
    if isinstance(sp, str):
        return sp
    if isinstance(sp, dict) and sp:
        occ = {str(k): float(v) for k, v in sp.items()}
        if any(v <= 0 for v in occ.values()) or sum(occ.values()) > 1.0 + 1e-6:
            raise CheckError(f"bad occupancies {sp!r} (must be > 0 and sum to <= 1)")
        return occ
    raise CheckError(f"bad species {sp!r}")


def _majority(sp):
    if isinstance(sp, str):
        return sp
    return max(sp.items(), key=lambda kv: kv[1])[0]


def _multiplicity(label: str) -> int:
    m = re.match(r"^\s*(\d+)\s*[a-zA-Z]\s*$", label or "")
    if not m:
        raise CheckError(f"cannot read Wyckoff label {label!r} (expected e.g. '16d')")
    return int(m.group(1))


def load(path: Path) -> dict:
    with open(path) as fh:
        data = json.load(fh)
    for key, typ in REQUIRED.items():
        if key not in data:
            raise CheckError(f"missing key {key!r}")
        if not isinstance(data[key], typ) or isinstance(data[key], bool):
            raise CheckError(f"key {key!r} has type {type(data[key]).__name__}")
    for key in LATTICE_KEYS:
        if not isinstance(data["lattice"].get(key), (int, float)):
            raise CheckError(f"lattice.{key} missing or not a number")
    if not data["sites"]:
        raise CheckError("no sites")
    for i, s in enumerate(data["sites"]):
        for key in ("species", "wyckoff", "xyz"):
            if key not in s:
                raise CheckError(f"site {i}: missing {key!r}")
        if len(s["xyz"]) != 3:
            raise CheckError(f"site {i}: xyz must have 3 numbers")
    if not data["source"].strip():
        raise CheckError("empty source")
    return data


def build(data: dict, ordered: bool = False, sites=None):
    from pymatgen.core import Lattice, Structure

    lat = Lattice.from_parameters(*(float(data["lattice"][k]) for k in LATTICE_KEYS))
    sites = data["sites"] if sites is None else sites
    species = [_majority(s["species"]) if ordered else _species_arg(s["species"]) for s in sites]
    coords = [[float(v) for v in s["xyz"]] for s in sites]
    return Structure.from_spacegroup(data["spacegroup"], lat, species, coords)


def pair_distances(structure, rmax: float = 4.0) -> dict:
    """Shortest distance per (element, element) pair, using periodic neighbours."""
    out: dict = {}
    for i, neighbors in enumerate(structure.get_all_neighbors(rmax)):
        ei = structure[i].species.elements
        for nb in neighbors:
            for a in ei:
                for b in nb.species.elements:
                    key = tuple(sorted((a.symbol, b.symbol)))
                    out[key] = min(out.get(key, math.inf), nb.nn_distance)
    return out


def check_file(path: Path) -> tuple[dict, list[str]]:
    """Returns (row, failures)."""
    from pymatgen.core import Composition
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
    from pymatgen.symmetry.groups import SpaceGroup

    row = {"key": path.stem, "sg_exp": "?", "sg_found": "?", "atoms": "?", "rho": math.nan,
           "rho_ref": math.nan, "diff": math.nan, "dmin": math.nan, "pairs": {}}
    fails: list[str] = []
    try:
        data = load(path)
    except (CheckError, json.JSONDecodeError) as exc:
        return row, [f"schema: {exc}"]

    row["sg_exp"] = data["spacegroup_number"]
    try:
        sg_num = SpaceGroup(data["spacegroup"]).int_number
    except Exception as exc:  # pymatgen raises various errors for unknown symbols
        return row, [f"spacegroup symbol {data['spacegroup']!r} not understood by pymatgen ({exc})"]
    if sg_num != data["spacegroup_number"]:
        fails.append(f"symbol {data['spacegroup']} is No. {sg_num}, file says {data['spacegroup_number']}")

    try:
        struct = build(data)
    except CheckError as exc:
        return row, fails + [f"sites: {exc}"]

    # (1a) each site must generate exactly its Wyckoff multiplicity
    for i, s in enumerate(data["sites"]):
        try:
            mult = _multiplicity(s["wyckoff"])
        except CheckError as exc:
            fails.append(f"site {i}: {exc}")
            continue
        n = len(build(data, sites=[s]))
        if n != mult:
            fails.append(f"site {i} ({s['species']} {s['wyckoff']} at {s['xyz']}) generates {n} atoms, "
                         f"expected {mult}: wrong setting/origin or wrong Wyckoff label")
    # (1b) total = Z x formula, Z integer from the reference density
    formula = Composition(data["formula"])
    n_total = len(struct)
    row["atoms"] = n_total
    z_float = data["reference_density_g_cm3"] * struct.volume * 1e-24 * N_A / formula.weight
    z = round(z_float)
    if z < 1 or abs(z_float - z) > 0.1 * max(z, 1) + 0.05:
        fails.append(f"Z from reference density = {z_float:.3f} is not close to an integer")
    elif not math.isclose(n_total, z * formula.num_atoms, abs_tol=1e-6):
        fails.append(f"{n_total} atoms in cell, expected Z x formula = {z} x {formula.num_atoms:g}")
    row["atoms"] = f"{n_total} (Z={z})"

    # (2) space group, on an ordered copy if needed
    ordered = build(data, ordered=True)
    try:
        found = SpacegroupAnalyzer(ordered, symprec=SYMPREC).get_space_group_number()
    except Exception as exc:
        found = f"error: {exc}"
    row["sg_found"] = found
    if found != data["spacegroup_number"]:
        fails.append(f"spglib finds space group {found}, expected {data['spacegroup_number']}")

    # (3) density
    row["rho"] = float(struct.density)
    row["rho_ref"] = float(data["reference_density_g_cm3"])
    row["diff"] = 100.0 * (row["rho"] - row["rho_ref"]) / row["rho_ref"]
    if abs(row["diff"]) > 100 * DENSITY_TOL:
        fails.append(f"density {row['rho']:.3f} differs from reference {row['rho_ref']} by {row['diff']:+.2f} %")

    # (4) minimum distance
    pairs = pair_distances(struct)
    row["pairs"] = pairs
    row["dmin"] = min(pairs.values()) if pairs else math.inf
    if row["dmin"] <= MIN_DISTANCE:
        worst = min(pairs, key=pairs.get)
        fails.append(f"minimum distance {row['dmin']:.3f} A ({'-'.join(worst)}) <= {MIN_DISTANCE} A")

    # (5) composition
    if not struct.composition.fractional_composition.almost_equals(formula.fractional_composition, rtol=1e-4, atol=1e-6):
        fails.append(f"cell composition {struct.composition.formula} does not reduce to {data['formula']}")

    return row, fails


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="?", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--pairs", action="store_true", help="print shortest distance per element pair")
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore")  # pymatgen chatter (e.g. partial-occupancy warnings)
    data_dir = Path(args.data_dir)
    files = sorted(data_dir.glob("*.json"))
    if not files:
        print(f"no JSON files in {data_dir}", file=sys.stderr)
        return 1

    header = (f"{'key':<17} {'SG exp':>6} {'SG found':>8} {'atoms':>10} {'rho calc':>9} {'rho ref':>8} "
              f"{'diff %':>7} {'d_min A':>8}  status")
    print(header)
    print("-" * len(header))
    n_fail = 0
    details = []
    for path in files:
        row, fails = check_file(path)
        status = "OK" if not fails else "FAIL"
        n_fail += bool(fails)
        print(f"{row['key']:<17} {row['sg_exp']!s:>6} {row['sg_found']!s:>8} {row['atoms']!s:>10} "
              f"{row['rho']:>9.4f} {row['rho_ref']:>8.3f} {row['diff']:>+7.2f} {row['dmin']:>8.3f}  {status}")
        for f in fails:
            details.append(f"  {row['key']}: {f}")
        if args.pairs and row["pairs"]:
            txt = ", ".join(f"{a}-{b} {d:.3f}" for (a, b), d in sorted(row["pairs"].items()))
            details.append(f"  {row['key']} shortest pairs: {txt}")
    if details:
        print()
        print("\n".join(details))
    print()
    print(f"{len(files) - n_fail}/{len(files)} files pass")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
