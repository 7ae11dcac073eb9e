"""Atomistic builders: crystal slabs, amorphous phases, nanocrystalline mosaics, stacks.

Coordinates are Å (ASE). The Stack is the single description: :func:`atoms_from_stack`
turns the same Layers and Parameters that the NDP and EELS models read into one
``ase.Atoms``; :func:`cross_section` orients it for HRTEM (beam along z).
"""

from __future__ import annotations

from typing import Any

from interphase_sim.build.assemble import atoms_from_stack, cross_section, estimate_atoms, lnmo_lipon_interface

__all__ = [
    "amorphous",
    "atoms_from_stack",
    "cross_section",
    "crystal_slab",
    "estimate_atoms",
    "lnmo_lipon_interface",
    "structure_report",
    "write_structure",
]

_LAZY = {"amorphous": "amorphous", "structure_report": "amorphous", "crystal_slab": "crystal"}


def __getattr__(name: str) -> Any:
    # the builders import scipy/pymatgen machinery: load them when first used
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)


def write_structure(atoms: Any, path: Any, format: str | None = None) -> None:
    """Write a model with ASE (extxyz keeps the per-atom arrays; also cif, lammps-data),
    to a temporary name first, then renamed."""
    import ase.io

    from interphase_sim.core.fileio import atomic_path

    fmt = format or {"xyz": "extxyz", "extxyz": "extxyz", "cif": "cif", "lmp": "lammps-data",
                     "data": "lammps-data"}.get(str(path).rsplit(".", 1)[-1].lower(), "extxyz")
    with atomic_path(path) as tmp:
        if fmt == "lammps-data":
            ase.io.write(tmp, atoms, format=fmt, masses=True, specorder=sorted(set(atoms.get_chemical_symbols())))
        else:
            ase.io.write(tmp, atoms, format=fmt)
