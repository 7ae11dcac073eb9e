"""The :class:`DepthProfile`: element densities and phase fractions versus depth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError

__all__ = ["DepthProfile"]


@dataclass(frozen=True, eq=False)
class DepthProfile:
    """What a Stack holds at each depth.

    Attributes
    ----------
    z_nm : (N,) ndarray
        Depth grid (nm), z = 0 at the top surface, positive downward.
    elements : tuple of str
        Element symbols, ordered by atomic number.
    densities : (E, N) ndarray
        Number density of each element (atoms/nm3). ``Li`` counts all lithium.
    li6 : (N,) ndarray
        Number density of 6Li (atoms/nm3): the part of ``Li`` that is 6Li.
    phases : tuple of str
        Phase names.
    fractions : (P, N) ndarray
        Phase volume fractions (dimensionless); they sum to 1 inside the sample and to 0
        in vacuum (above the surface or below a finite stack).
    """

    z_nm: np.ndarray
    elements: tuple[str, ...]
    densities: np.ndarray
    li6: np.ndarray
    phases: tuple[str, ...]
    fractions: np.ndarray

    def density(self, species: str) -> np.ndarray:
        """Number density (atoms/nm3) of an element, or of ``"6Li"`` / ``"7Li"``.

        An element absent from the sample gives zeros; an invalid symbol raises.
        """
        if species == "6Li":
            return self.li6
        if species == "7Li":
            return self.density("Li") - self.li6
        if species in self.elements:
            return self.densities[self.elements.index(species)]
        from pymatgen.core import Element

        if not Element.is_valid_symbol(species):
            raise InterphaseInputError(
                "element", f"unknown element {species!r}; use a symbol such as 'Li', or '6Li'"
            )
        return np.zeros_like(self.z_nm, dtype=float)

    def fraction(self, phase: str) -> np.ndarray:
        """Volume fraction (0..1) of ``phase`` at each depth; zeros if absent."""
        if phase in self.phases:
            return self.fractions[self.phases.index(phase)]
        from interphase_sim.sample import phases as _phases

        canon = _phases.resolve(phase)  # raises with close matches when unknown
        if canon in self.phases:
            return self.fractions[self.phases.index(canon)]
        return np.zeros_like(self.z_nm, dtype=float)

    def total_density(self) -> np.ndarray:
        """All atoms per nm3 at each depth."""
        return self.densities.sum(axis=0)

    def atom_fractions(self) -> np.ndarray:
        """(E, N) atomic fractions of each element (0 where there are no atoms)."""
        tot = self.total_density()
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(tot > 0, self.densities / np.where(tot > 0, tot, 1.0), 0.0)
        return out

    def areal_density(self, species: str) -> float:
        """Atoms per nm2 of ``species`` integrated over the grid (trapezoid rule)."""
        z = np.asarray(self.z_nm, dtype=float)
        order = np.argsort(z, kind="stable")
        return float(np.trapezoid(self.density(species)[order], z[order]))

    def as_dict(self) -> dict[str, Any]:
        """Plain arrays keyed by ``"z_nm"``, element symbols, ``"6Li"`` and ``"phase:<name>"``."""
        out: dict[str, Any] = {"z_nm": self.z_nm}
        out.update({e: self.densities[i] for i, e in enumerate(self.elements)})
        out["6Li"] = self.li6
        out.update({f"phase:{p}": self.fractions[i] for i, p in enumerate(self.phases)})
        return out
