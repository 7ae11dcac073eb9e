"""The phase library: built-in crystalline and amorphous phases.

Crystal structures (pymatgen Structures) are expanded from the space group, lattice and
Wyckoff positions recorded, with their literature sources, in ``phases/data/*.json``
(:mod:`~interphase_sim.sample.phases.symmetry`); densities are computed from those cells. Where a phase has polymorphs the bare name selects the
common one (``Li3PO4`` is gamma, ``LNMO`` is the ordered P4_332 spinel, ``Li3N`` is
alpha) and explicit names (``Li3PO4-beta``, ``LNMO-disordered``) select the others.

Examples
--------
>>> from interphase_sim import phases
>>> phases.get("Li2O").density  # g/cm3, from the antifluorite cell
2.01...
"""

from __future__ import annotations

import difflib
import functools
import json
from importlib import resources
from typing import Any

import scipy.stats

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.params import Parameter
from interphase_sim.sample.phases.phase import Phase, parse_composition
from interphase_sim.sample.phases.symmetry import structure_from_record

__all__ = ["Phase", "get", "names", "info", "parse_composition", "resolve"]

# File keys whose phase goes by a shorter everyday name (the common polymorph).
_CANONICAL = {"Li3PO4-gamma": "Li3PO4", "LNMO-ordered": "LNMO", "Li3N-alpha": "Li3N"}
# Extra spellings users type; looked up case-insensitively.
_ALIASES = {
    **_CANONICAL,
    "gamma-Li3PO4": "Li3PO4",
    "beta-Li3PO4": "Li3PO4-beta",
    "alpha-Li3N": "Li3N",
    "LiNi0.5Mn1.5O4": "LNMO",
    "quartz": "SiO2",
    "corundum": "Al2O3",
    "sapphire": "Al2O3",
}

# Amorphous built-ins: composition and a default density that is a fit Parameter.
_AMORPHOUS = {
    "LiPON": dict(
        formula="Li2.9PO3.3N0.46",
        density=2.4,
        density_sd=0.1,
        density_bounds=(2.0, 2.8),
        description="amorphous lithium phosphorus oxynitride electrolyte",
        source=(
            "composition Li2.9PO3.3N0.46: Bates et al., Solid State Ionics 53-56, 647 (1992); "
            "density 2.3-2.5 g/cm3 (films differ with deposition): a free systematic with prior "
            "norm(2.4, 0.1)"
        ),
    ),
}


def _data_files() -> dict[str, Any]:
    folder = resources.files(__package__) / "data"
    out = {}
    for f in sorted(folder.iterdir(), key=lambda p: p.name):
        if f.name.endswith(".json"):
            out[f.name[:-5]] = f
    return out


@functools.cache
def _records() -> dict[str, dict]:
    """Canonical name -> JSON record of every crystalline built-in."""
    recs = {}
    for key, f in _data_files().items():
        rec = json.loads(f.read_text(encoding="utf-8"))
        recs[_CANONICAL.get(key, key)] = rec
    return recs


@functools.cache
def _prototype(name: str) -> Phase:
    ph = _build(name)
    ph.builtin = True
    return ph


def _build(name: str) -> Phase:
    if name in _AMORPHOUS:
        d = _AMORPHOUS[name]
        # the density of an amorphous film is known to its prior only: a free systematic
        # (NDP measures areal densities; see interphase_sim.fit.budget)
        dens = Parameter(d["density"], bounds=d["density_bounds"], units="g/cm3", vary=True,
                         prior=scipy.stats.norm(loc=d["density"], scale=d["density_sd"]), role="systematic")
        return Phase.amorphous(
            name, d["formula"], dens, source=d["source"], description=d["description"]
        )
    rec = _records()[name]
    return Phase(
        name,
        rec["formula"],
        structure=structure_from_record(rec),
        spacegroup=rec["spacegroup"],
        source=rec["source"],
        description=rec.get("description"),
    )


def names() -> list[str]:
    """Names of all built-in phases (canonical spellings), sorted."""
    return sorted([*_records(), *_AMORPHOUS], key=str.lower)


def resolve(name: str) -> str:
    """The canonical built-in name for ``name`` (aliases, case-insensitive).

    Raises :class:`InterphaseInputError` listing close matches when unknown.
    """
    if not isinstance(name, str):
        raise InterphaseInputError("phase", f"expected a phase name (str), got {name!r}")
    known = names()
    if name in known:
        return name
    lower = {n.lower(): n for n in known}
    lower.update({a.lower(): c for a, c in _ALIASES.items()})
    if name.lower() in lower:
        return lower[name.lower()]
    close = difflib.get_close_matches(name, [*known, *_ALIASES], n=4, cutoff=0.5)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise InterphaseInputError(
        "phase", f"unknown phase {name!r}{hint}. Known phases: {', '.join(known)}"
    )


def get(name: str) -> Phase:
    """A new :class:`Phase` object for the built-in ``name``.

    Each call returns an independent copy, so an amorphous phase's density Parameter is
    not shared between callers unless they share the object.
    """
    return _prototype(resolve(name)).copy()


def info(name: str) -> dict[str, Any]:
    """The record behind a built-in: source, space group, lattice, reference density."""
    canon = resolve(name)
    if canon in _AMORPHOUS:
        return dict(_AMORPHOUS[canon])
    return dict(_records()[canon])
