"""Crystal structures of the built-in phases from their records, without pymatgen's
space-group set-up.

pymatgen's :class:`~pymatgen.symmetry.groups.SpaceGroup` generates its operations from
generators, comparing every pair (about 0.4 s a group, once per process: 2-3 s before
the first sample of a shipped stack). The operations of the groups the built-ins use are
stored, as pymatgen generates them and in its order, in
``data/spacegroups/operations.json``; :func:`structure_from_record` expands a record's
sites with them exactly as :meth:`pymatgen.core.Structure.from_spacegroup` does (same
arithmetic, same order, same tolerance), so the structure is the same site for site.
A group not in the file goes through pymatgen. ``python -m
interphase_sim.sample.phases.symmetry`` rewrites the file from the installed pymatgen.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import numpy as np

__all__ = ["structure_from_record", "space_group_operations", "pymatgen_operations", "ORBIT_TOL"]

#: Fractional tolerance (summed over x, y, z) within which two images of a site are one.
ORBIT_TOL = 1e-3
_FILE = ("data", "spacegroups", "operations.json")


@functools.cache
def _stored() -> dict[str, Any]:
    path = resources.files(__package__).joinpath(*_FILE)
    return json.loads(path.read_text(encoding="utf-8"))


def space_group_operations(number: int) -> np.ndarray | None:
    """(n, 4, 4) affine operations of space group ``number`` (pymatgen's, in its order;
    hexagonal setting for the rhombohedral groups), or None when not stored."""
    ops = _stored()["groups"].get(str(int(number)))
    return None if ops is None else np.array(ops, dtype=np.float64).reshape(-1, 4, 4)


def pymatgen_operations(number: int) -> np.ndarray:
    """(n, 4, 4) affine operations of space group ``number`` as pymatgen generates them."""
    from pymatgen.symmetry.groups import SpaceGroup

    return np.array([op.affine_matrix for op in SpaceGroup.from_int_number(int(number)).symmetry_ops])


def _orbit(ops: np.ndarray, point: np.ndarray, tol: float) -> list[np.ndarray]:
    """The distinct images (fractional, in [0, 1)) of ``point`` under ``ops``, in the order
    the operations first reach them (pymatgen's ``SpaceGroup.get_orbit``)."""
    affine_point = np.append(point, 1.0)
    orbit: list[np.ndarray] = []
    for m in ops:
        pp = np.mod(np.round(np.dot(m, affine_point)[:3], decimals=10), 1)
        if not orbit or not np.any(np.sum(np.abs(np.array(orbit) - pp[None, :]), axis=1) < tol):
            orbit.append(pp)
    return orbit


def structure_from_record(rec: dict[str, Any], tol: float = ORBIT_TOL) -> Any:
    """The pymatgen Structure of a phase record (lattice parameters in Å and degrees,
    the asymmetric sites' species and fractional ``xyz``, the space group): every site
    expanded over the group, as ``Structure.from_spacegroup(..., tol=tol)`` makes it."""
    from pymatgen.core import Lattice, Structure

    lat = rec["lattice"]
    lattice = Lattice.from_parameters(lat["a"], lat["b"], lat["c"], lat["alpha"], lat["beta"], lat["gamma"])
    species = [s["species"] for s in rec["sites"]]
    coords = np.asarray([s["xyz"] for s in rec["sites"]], dtype=np.float64)
    number = rec.get("spacegroup_number")
    ops = space_group_operations(number) if number else None
    if ops is None:
        return Structure.from_spacegroup(number or rec["spacegroup"], lattice, species, coords, tol=tol)
    all_species: list[Any] = []
    all_coords: list[np.ndarray] = []
    for sp, c in zip(species, coords):
        images = _orbit(ops, c, tol)
        all_species.extend([sp] * len(images))
        all_coords.extend(images)
    return Structure(lattice, all_species, all_coords, site_properties={}, labels=[None] * len(all_species))


def write_operations(numbers: list[int]) -> str:
    """Rewrite the stored operations for ``numbers`` from the installed pymatgen; returns the path."""
    from importlib import metadata

    groups = {str(n): pymatgen_operations(n).reshape(-1, 16).tolist() for n in sorted(set(numbers))}
    path = resources.files(__package__).joinpath(*_FILE)
    source = f"pymatgen {metadata.version('pymatgen')}: SpaceGroup.from_int_number(n).symmetry_ops, row-major 4 x 4"
    body = ",\n".join(f'  "{n}": [\n' + ",\n".join("    " + json.dumps(op) for op in ops) + "\n  ]"
                      for n, ops in groups.items())
    with open(str(path), "w", encoding="utf-8") as fh:
        fh.write(f'{{"source": {json.dumps(source)},\n "groups": {{\n{body}\n}}}}\n')
    return str(path)


if __name__ == "__main__":
    from interphase_sim.sample.phases import _records

    print(write_operations([r["spacegroup_number"] for r in _records().values() if r.get("spacegroup_number")]))
