"""The :class:`Phase`: one material, crystalline or amorphous."""

from __future__ import annotations

import math
import os
from typing import Any

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.params import Parameter, as_parameter, check_physical

__all__ = ["Phase", "parse_composition"]

AVOGADRO = 6.02214076e23  # 1/mol (exact, SI 2019)


def parse_composition(formula: Any, field: str = "formula"):
    """A pymatgen ``Composition`` from a formula string, dict or Composition.

    Raises :class:`InterphaseInputError` naming ``field`` for unknown elements, empty or
    negative amounts.
    """
    from pymatgen.core import Composition, Element

    try:
        comp = formula if isinstance(formula, Composition) else Composition(formula)
    except (ValueError, KeyError, TypeError) as exc:
        raise InterphaseInputError(
            field, f"cannot read {formula!r} as a chemical formula ({exc})"
        ) from None
    if comp.num_atoms <= 0 or any(v < 0 for v in comp.values()):
        raise InterphaseInputError(
            field, f"{formula!r} must contain a positive amount of at least one element"
        )
    unknown = [str(el) for el in comp if not isinstance(el, Element)]
    if unknown:
        raise InterphaseInputError(
            field, f"unknown element(s) {', '.join(unknown)} in {formula!r}; use symbols H..Og"
        )
    return comp


class Phase:
    """A material: composition, mass density and, for crystals, a structure.

    Parameters
    ----------
    name : str
        Name used in layers and sample files (e.g. ``"Li2O"``).
    composition : str, dict or pymatgen Composition
        Chemical formula (amounts per formula unit).
    density : float or Parameter, optional
        Mass density in g/cm3. Required for amorphous phases; for crystals it is computed
        from ``structure`` and must not be given.
    structure : pymatgen Structure, optional
        Crystal structure (cell in Å). Its composition must match ``composition``.
    amorphous : bool
        True for phases without long-range order (no structure).
    spacegroup : str, optional
        Hermann-Mauguin symbol of the intended space group (for information).
    source : str, optional
        Literature source of the structure or composition.
    description : str, optional
        A line a user reads in ``interphase-sim phases``.

    Notes
    -----
    ``Phase.amorphous(name, formula, density)`` (class method) builds an amorphous phase;
    on an instance, ``phase.amorphous`` is the boolean flag.
    """

    def __init__(
        self,
        name: str,
        composition: Any,
        density: float | Parameter | None = None,
        structure: Any = None,
        amorphous: bool = False,
        spacegroup: str | None = None,
        source: str | None = None,
        description: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InterphaseInputError("phase.name", f"a non-empty string is required, got {name!r}")
        self.name = name
        self.composition = parse_composition(composition, f"phases.{name}.formula")
        # Keep the formula as the user wrote it (e.g. Li2.9PO3.3N0.46) for display.
        self._formula_text = composition if isinstance(composition, str) else self.composition.reduced_formula
        self.structure = structure
        self.amorphous = bool(amorphous)
        self.spacegroup = spacegroup
        self.source = source
        self.description = description
        self.builtin = False  # set by the library for its own phases
        if structure is not None:
            if self.amorphous:
                raise InterphaseInputError(f"phases.{name}", "an amorphous phase cannot have a structure")
            if density is not None:
                raise InterphaseInputError(
                    f"phases.{name}.density",
                    "a crystalline phase's density is computed from its structure; "
                    "scale it with a layer's density_scale instead",
                )
            if not structure.composition.fractional_composition.almost_equals(
                self.composition.fractional_composition, rtol=1e-3, atol=1e-4
            ):
                raise InterphaseInputError(
                    f"phases.{name}.formula",
                    f"structure composition {structure.composition.reduced_formula} "
                    f"does not match {self.composition.reduced_formula}",
                )
            self._density_param = None
        else:
            if density is None:
                raise InterphaseInputError(
                    f"phases.{name}.density", "a phase without a structure needs a density (g/cm3)"
                )
            self._density_param = as_parameter(density, f"phases.{name}.density", "g/cm3")
            check_physical(self._density_param, f"phases.{name}.density", 0.0, 30.0, lo_open=True)
        # Crystal number densities and density are computed on first use and kept: the
        # structure is treated as immutable once in a Phase (pymatgen recomputes them,
        # with unit bookkeeping, on every access).
        self._crystal_nd: dict[str, float] | None = None
        self._crystal_density: float | None = None
        # Atoms per nm3 per (g/cm3) of each element, from the formula (natural masses).
        mass = self.composition.weight  # g/mol per formula unit
        self._per_density = {
            str(el): float(amt) * AVOGADRO / float(mass) * 1e-21
            for el, amt in self.composition.get_el_amt_dict().items()
        }

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def amorphous(cls, name: str, formula: Any, density: float | Parameter, **kw: Any) -> Phase:  # type: ignore[override]
        """An amorphous phase of ``formula`` at ``density`` g/cm3 (a float or Parameter)."""
        return cls(name, formula, density=density, amorphous=True, **kw)

    @classmethod
    def from_structure(cls, name: str, structure: Any, **kw: Any) -> Phase:
        """A crystalline phase from a pymatgen ``Structure`` (density from the cell)."""
        return cls(name, structure.composition, structure=structure, **kw)

    @classmethod
    def from_cif(cls, path: str | os.PathLike, name: str | None = None) -> Phase:
        """A crystalline phase read from a CIF file (the first structure in it).

        Parameters
        ----------
        path : path-like
            CIF file.
        name : str, optional
            Phase name; defaults to the reduced formula.
        """
        from pymatgen.io.cif import CifParser

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise InterphaseInputError("cif", f"no such file: {path}")
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                structures = CifParser(path).parse_structures(primitive=False)
        except Exception as exc:  # pymatgen raises many types for malformed CIFs
            raise InterphaseInputError("cif", f"cannot read a structure from {path}: {exc}") from None
        if not structures:
            raise InterphaseInputError("cif", f"{path} contains no structure")
        s = structures[0]
        sg = None
        try:
            sg = s.get_space_group_info(symprec=0.01)[0]
        except Exception:  # symmetry detection is informative only
            pass
        return cls.from_structure(name or s.composition.reduced_formula, s, spacegroup=sg, source=path)

    # -- properties -------------------------------------------------------------------
    @property
    def formula(self) -> str:
        """Chemical formula as given (reduced formula when given as a Composition)."""
        return self._formula_text

    @property
    def density(self) -> float:
        """Mass density in g/cm3 (from the structure for crystals)."""
        if self._density_param is not None:
            return self._density_param.value
        if self._crystal_density is None:
            self._crystal_density = float(self.structure.density)
        return self._crystal_density

    @property
    def density_parameter(self) -> Parameter | None:
        """The density Parameter (g/cm3) of a phase without structure; None for crystals."""
        return self._density_param

    @property
    def elements(self) -> list[str]:
        """Element symbols in the formula, in formula order."""
        return list(self._per_density)

    def number_density(self) -> dict[str, float]:
        """Number density of each element in atoms/nm3.

        For crystals this is the count of atoms in the cell over its volume; for
        amorphous phases density x N_A / molar mass with natural atomic masses.
        """
        if self.structure is not None:
            if self._crystal_nd is None:
                vol_nm3 = self.structure.volume * 1e-3  # Å3 -> nm3
                counts = self.structure.composition.get_el_amt_dict()
                self._crystal_nd = {el: float(n) / vol_nm3 for el, n in counts.items()}
            return dict(self._crystal_nd)
        rho = self.density
        return {el: k * rho for el, k in self._per_density.items()}

    def total_number_density(self) -> float:
        """All atoms per nm3."""
        return math.fsum(self.number_density().values())

    def copy(self) -> Phase:
        """An independent copy (new density Parameter, copied structure)."""
        dens = None
        if self._density_param is not None:
            p = self._density_param
            dens = Parameter(p.value, bounds=p.bounds, vary=p.vary, name=p.name, units=p.units, prior=p.prior,
                             role=p.role)
        new = Phase(
            self.name,
            self._formula_text,
            density=dens,
            structure=None if self.structure is None else self.structure.copy(),
            amorphous=self.amorphous,
            spacegroup=self.spacegroup,
            source=self.source,
            description=self.description,
        )
        new.builtin = self.builtin
        return new

    def __repr__(self) -> str:
        kind = "amorphous" if self.amorphous else (self.spacegroup or "crystal")
        return f"Phase({self.name!r}, {self.formula}, {kind}, {self.density:.4g} g/cm3)"
