"""Structure-file formats of a model: which ones suit its size, and CIF with per-site labels.

CIF readers are slow on large models: ASE symmetrizes every site (even in P 1) and
pymatgen parses the loop into Python objects, so a model of a few thousand atoms already
takes seconds to load and a whole model (10^5 atoms and more) does not load in minutes.
extxyz and LAMMPS data load at any size; CIF is refused above :data:`CIF_MAX_ATOMS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError

__all__ = ["CIF_MAX_ATOMS", "check_formats", "cif_labels", "write_cif"]

#: The largest model written as CIF (atoms). Measured: ``ase.io.read`` (ASE 3.29) of CIFs
#: written by :func:`write_cif` for random subsets of a li_sei_lipon model, on a shared
#: 2-core machine, took 1.1-2.0 s for 500 atoms, 4.2-6.0 s for 1000, 8.2-8.4 s for 1500
#: and 15-18 s for 2000 (growing as N^2: ASE's symmetrization, even in P 1, compares
#: every pair of sites; ASE's own labels take as long). 1000 atoms loads in under ~10 s
#: with margin; 2000 does not.
CIF_MAX_ATOMS = 1000

#: the spellings of CIF among format names (CLI names and ASE names)
_CIF_NAMES = {"cif"}

#: characters kept in a CIF label (no whitespace, quotes, brackets or semicolons)
_UNSAFE = re.compile(r"[^A-Za-z0-9.+()-]+")


def check_formats(formats: Iterable[str], n_atoms: int, *, field: str = "--formats") -> None:
    """Refuse structure formats that cannot hold a model of ``n_atoms`` usefully.

    Parameters
    ----------
    formats : iterable of str
        Format names (``"extxyz"``, ``"cif"``, ``"lammps"``, ``"lammps-data"``, ...;
        case-insensitive).
    n_atoms : int
        Atoms in the model.
    field : str
        The field the error names (the CLI flag by default).

    Raises
    ------
    InterphaseInputError
        CIF asked for more than :data:`CIF_MAX_ATOMS` atoms (one line naming the format,
        the count, the limit and what to use instead).
    """
    for fmt in formats:
        if str(fmt).strip().lower() in _CIF_NAMES and int(n_atoms) > CIF_MAX_ATOMS:
            raise InterphaseInputError(
                field, f"cif of a {int(n_atoms):,}-atom model is refused: CIF is written up to "
                       f"{CIF_MAX_ATOMS:,} atoms (larger CIFs take minutes to load in ASE or pymatgen); "
                       "use extxyz or lammps, which load at any size")


def _safe(name: Any) -> str:
    return _UNSAFE.sub("-", str(name)).strip("-") or "x"


def cif_labels(atoms: Any) -> list[str] | None:
    """Per-site CIF labels naming each atom's layer and phase, e.g. ``Li12_SEI-inner_Li2O``.

    Parameters
    ----------
    atoms : ase.Atoms
        A model with the ``layer`` and ``phase`` arrays and ``info["layer_names"]`` /
        ``info["phase_names"]`` (as :func:`~interphase_sim.build.atoms_from_stack` makes).

    Returns
    -------
    list of str or None
        Element symbol and a per-element count (unique labels, as ASE's own), then the
        layer and phase names with characters a CIF label cannot hold replaced by ``-``;
        None when the model has no layer/phase arrays.
    """
    layer_names, phase_names = atoms.info.get("layer_names"), atoms.info.get("phase_names")
    if "layer" not in atoms.arrays or "phase" not in atoms.arrays or not layer_names or not phase_names:
        return None
    layers = [_safe(n) for n in layer_names]
    phases = [_safe(n) for n in phase_names]
    count: dict[str, int] = {}
    out = []
    for sym, lay, ph in zip(atoms.get_chemical_symbols(), atoms.arrays["layer"], atoms.arrays["phase"]):
        count[sym] = count.get(sym, 0) + 1
        lay_name = layers[lay] if 0 <= lay < len(layers) else f"layer{lay}"
        ph_name = phases[ph] if 0 <= ph < len(phases) else f"phase{ph}"
        out.append(f"{sym}{count[sym]}_{lay_name}_{ph_name}")
    return out


def write_cif(atoms: Any, path: Any) -> None:
    """Write ``atoms`` as CIF with per-site labels (see :func:`cif_labels`) and the
    ``layer``, ``phase`` and ``grain`` indices as extra ``_atom_site_interphase_*`` columns.

    Parameters
    ----------
    atoms : ase.Atoms
        The model (Å); not checked against :data:`CIF_MAX_ATOMS` here.
    path : path-like
        The file, written directly (the caller makes it atomic).

    Notes
    -----
    ``ase.io.read(path)`` gives the atoms back in order; with ``store_tags=True`` its
    ``info`` holds ``_atom_site_label`` and the ``_atom_site_interphase_*`` columns.
    """
    import ase.io

    labels = cif_labels(atoms)
    loop_keys = {f"atom_site_interphase_{name}": [np.asarray(atoms.arrays[name]).astype(int).tolist()]
                 for name in ("layer", "phase", "grain") if name in atoms.arrays}
    ase.io.write(path, atoms, format="cif", labels=None if labels is None else [labels],
                 loop_keys=loop_keys)
