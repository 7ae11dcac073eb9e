"""Atomistic builders: crystal slabs, amorphous phases, nanocrystalline mosaics, stacks.

Coordinates are Å (ASE). The Stack is the single description: :func:`atoms_from_stack`
turns the same Layers and Parameters that the NDP and EELS models read into one
``ase.Atoms``; :func:`cross_section` orients it for HRTEM (beam along z).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interphase_sim.build.assemble import atoms_from_stack, cross_section, estimate_atoms, lnmo_lipon_interface
from interphase_sim.build.formats import CIF_MAX_ATOMS, check_formats
from interphase_sim.build.results import DepthProfile, MosaicFill, PhaseFractions, StructureReport

__all__ = [
    "CIF_MAX_ATOMS",
    "DepthProfile",
    "MosaicFill",
    "PhaseFractions",
    "StructureReport",
    "amorphous",
    "atoms_from_stack",
    "check_formats",
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
    """Write a model with ASE, to a temporary name first, then renamed.

    Parameters
    ----------
    atoms : ase.Atoms
        The model (e.g. from :func:`atoms_from_stack`); left unchanged.
    path : str or path-like
        Output file; its suffix picks the format when ``format`` is None (``.xyz`` and
        ``.extxyz``: extended XYZ, ``.cif``, ``.lmp`` / ``.data``: LAMMPS data; anything
        else: extended XYZ).
    format : str, optional
        An ASE format name (``"extxyz"``, ``"cif"``, ``"lammps-data"``, ...).

    Notes
    -----
    extxyz keeps the per-atom arrays (``layer``, ``phase``, ``grain``) and ``atoms.info``:
    scalars and arrays as ASE writes them, lists and dicts as ASE's JSON values (read
    back as lists and dicts by ``ase.io.read``). Numpy values nested in lists or dicts
    are converted to plain numbers here, at write time, so that nothing is dropped.

    CIF is written only up to :data:`CIF_MAX_ATOMS` atoms (see :func:`check_formats`),
    with per-site labels naming the layer and phase (``Li12_SEI-inner_Li2O``) and the
    ``layer``/``phase``/``grain`` indices as ``_atom_site_interphase_*`` columns (see
    :func:`interphase_sim.build.formats.write_cif`).

    Raises
    ------
    InterphaseInputError
        CIF asked for a model of more than :data:`CIF_MAX_ATOMS` atoms.
    """
    import ase.io

    from interphase_sim.build.formats import write_cif
    from interphase_sim.core.fileio import atomic_path
    from interphase_sim.core.model import plain

    fmt = format or {"xyz": "extxyz", "extxyz": "extxyz", "cif": "cif", "lmp": "lammps-data",
                     "data": "lammps-data"}.get(str(path).rsplit(".", 1)[-1].lower(), "extxyz")
    check_formats([fmt], len(atoms), field="format")
    info = atoms.info
    try:
        # plain values for the writer, on the caller's object only while writing
        atoms.info = {str(k): v if isinstance(v, np.ndarray) else plain(v) for k, v in info.items()}
        with atomic_path(path) as tmp:
            if fmt == "lammps-data":
                ase.io.write(tmp, atoms, format=fmt, masses=True,
                             specorder=sorted(set(atoms.get_chemical_symbols())))
            elif fmt.lower() == "cif":
                write_cif(atoms, tmp)
            else:
                ase.io.write(tmp, atoms, format=fmt)
    finally:
        atoms.info = info
