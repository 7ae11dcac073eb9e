"""Layers and stacks: the one structural description every instrument model reads.

A :class:`Stack` lists :class:`Layer` objects from the top surface (z = 0, the side that
faces an NDP detector) downward; the last layer may be semi-infinite
(``thickness_nm=inf``). Every number is (or becomes) a :class:`~interphase_sim.Parameter`,
shared by identity with whatever else reads it.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from interphase_sim.sample import phases as _phases
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.params import Parameter, Parameters, as_parameter, check_physical
from interphase_sim.sample.phases import Phase
from interphase_sim.sample.profile import DepthProfile
from interphase_sim.sample import toml_io
from interphase_sim.sample.profile_kernel import layer_profile
from interphase_sim.sample.isotopes import NATURAL_LI6_ABUNDANCE, li6_parameter

__all__ = ["Layer", "Stack", "NATURAL_LI6_ABUNDANCE"]

@functools.cache
def _atomic_number(symbol: str) -> int:
    from pymatgen.core import Element

    return Element(symbol).Z


def _fraction_dict(
    phases: Any, field: str, layer_name: str, key: str
) -> tuple[dict[str, Parameter], dict[str, Phase]]:
    """Validate a ``{phase: fraction}`` mapping -> (name -> Parameter, name -> Phase)."""
    if not isinstance(phases, Mapping) or len(phases) == 0:
        raise InterphaseInputError(
            field, f"expected a non-empty mapping {{phase: volume fraction}}, got {phases!r}"
        )
    fracs: dict[str, Parameter] = {}
    objects: dict[str, Phase] = {}
    for ph, frac in phases.items():
        if isinstance(ph, Phase):
            name = ph.name
            objects[name] = ph
        else:
            try:
                name = _phases.resolve(ph)
            except InterphaseInputError as exc:
                raise InterphaseInputError(f"{field}.{ph}", exc.problem) from None
        if name in fracs:
            raise InterphaseInputError(f"{field}.{name}", "phase listed twice")
        p = as_parameter(frac, f"{layer_name}.{key}.{name}")
        check_physical(p, f"{field}.{name}", 0.0, math.inf)
        fracs[name] = p
    if sum(p.value for p in fracs.values()) <= 0:
        raise InterphaseInputError(field, "volume fractions sum to zero; at least one must be > 0")
    return fracs, objects


#: Physical ranges of a layer's numbers: (low, high, low excluded when declared). A fit may
#: take a value to a bound, so :meth:`Layer.check_values` re-checks the closed range.
LAYER_RANGES: dict[str, tuple[float, float, bool]] = {
    "thickness_nm": (0.0, math.inf, True),
    "roughness_nm": (0.0, 1e6, False),
    "grain_size_nm": (0.0, 1e6, True),
    "density_scale": (0.0, 100.0, True),
    "li6_abundance": (0.0, 1.0, False),
}


class Layer:
    """One layer of a sample.

    Parameters
    ----------
    name : str
        Unique name within the stack (no dots: it prefixes dotted parameter names).
    phases : mapping {Phase or str: float or Parameter}
        Volume fractions of each phase at the layer's top; normalized, so any
        non-negative weights with a positive sum are accepted.
    thickness_nm : float or Parameter
        Thickness (nm), > 0; ``inf`` (or ``"inf"``) for a semi-infinite last layer.
    roughness_nm : float or Parameter
        Width sigma (nm) of the error-function interface with the layer below (or with
        vacuum below a finite last layer); 0 for a sharp interface.
    grain_size_nm : float or Parameter, optional
        Mean crystallite size (nm) for atomistic builders; None for no grain structure.
    phases_bottom : mapping, optional
        Volume fractions at the layer's bottom; fractions vary linearly with depth
        between ``phases`` and ``phases_bottom``. Not allowed on a semi-infinite layer.
    density_scale : float or Parameter
        Multiplies every phase's density in this layer (porosity, strain), > 0.
    li6_abundance : float or Parameter, optional
        6Li atom fraction of this layer's lithium (0..1); None uses the stack's.
    """

    def __init__(
        self,
        name: str,
        phases: Mapping[Any, Any],
        thickness_nm: float | Parameter | str,
        roughness_nm: float | Parameter = 0.0,
        grain_size_nm: float | Parameter | None = None,
        phases_bottom: Mapping[Any, Any] | None = None,
        density_scale: float | Parameter = 1.0,
        li6_abundance: float | Parameter | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip() or "." in name:
            raise InterphaseInputError(
                "layer.name", f"a non-empty string without dots is required, got {name!r}"
            )
        self.name = name
        f = f"layers.{name}"
        self.fractions, objs = _fraction_dict(phases, f + ".phases", name, "phases")
        self.fractions_bottom: dict[str, Parameter] | None = None
        if phases_bottom is not None:
            self.fractions_bottom, objs_b = _fraction_dict(
                phases_bottom, f + ".phases_bottom", name, "phases_bottom"
            )
            for k, ph in objs_b.items():
                if objs.setdefault(k, ph) is not ph:
                    raise InterphaseInputError(
                        f + ".phases_bottom." + k, "a different Phase object has the same name"
                    )
        self.phase_objects: dict[str, Phase] = objs
        if isinstance(thickness_nm, str) and thickness_nm.strip().lower() in ("inf", "infinity"):
            thickness_nm = math.inf
        self.thickness_nm = as_parameter(thickness_nm, f"{name}.thickness_nm", "nm")
        self.roughness_nm = as_parameter(roughness_nm, f"{name}.roughness_nm", "nm")
        self.grain_size_nm = (
            None if grain_size_nm is None else as_parameter(grain_size_nm, f"{name}.grain_size_nm", "nm")
        )
        self.density_scale = as_parameter(density_scale, f"{name}.density_scale")
        self.li6_abundance = (
            None if li6_abundance is None else as_parameter(li6_abundance, f"{name}.li6_abundance")
        )
        for key, (lo, hi, lo_open) in LAYER_RANGES.items():
            if getattr(self, key) is not None:
                check_physical(getattr(self, key), f"{f}.{key}", lo, hi, lo_open=lo_open,
                               allow_inf=key == "thickness_nm")
        toml_io.check_thickness(self.thickness_nm, f"{f}.thickness_nm")
        if self.semi_infinite and self.fractions_bottom is not None:
            raise InterphaseInputError(
                f + ".phases_bottom", "a semi-infinite layer has no bottom; remove phases_bottom"
            )

    @property
    def semi_infinite(self) -> bool:
        """True when the thickness is infinite."""
        return math.isinf(self.thickness_nm.value)

    def check_values(self) -> None:
        """Re-check the current values against their physical ranges (a fit or a user may
        have set them since construction); raises InterphaseInputError naming the field."""
        f = f"layers.{self.name}"
        for key, (lo, hi, _) in LAYER_RANGES.items():
            # the closed range: a fit may take a value to its bound, and a bound may touch lo
            p = getattr(self, key)
            if p is not None and not lo <= p.value <= (math.inf if key == "thickness_nm" else hi):
                raise InterphaseInputError(f"{f}.{key}", f"value {p.value} is outside the physical range "
                                           f"[{lo:g}, {hi:g}]")
        toml_io.check_thickness(self.thickness_nm.value, f"{f}.thickness_nm")
        for key, table in (("phases", self.fractions), ("phases_bottom", self.fractions_bottom or {})):
            for name, p in table.items():
                if not p.value >= 0:
                    raise InterphaseInputError(f"{f}.{key}.{name}", f"value {p.value} is negative")

    @property
    def phase_names(self) -> list[str]:
        """Phases in this layer (top, then any only at the bottom)."""
        names = list(self.fractions)
        for k in self.fractions_bottom or {}:
            if k not in names:
                names.append(k)
        return names

    def normalized_fractions(self, where: str = "top") -> dict[str, float]:
        """Volume fractions normalized to sum 1, at ``"top"`` or ``"bottom"``."""
        src = self.fractions if where == "top" or self.fractions_bottom is None else self.fractions_bottom
        vals = {k: p.value for k, p in src.items()}
        tot = math.fsum(vals.values())
        if not tot > 0:
            raise InterphaseInputError(f"layers.{self.name}.phases", "volume fractions sum to zero")
        return {k: vals.get(k, 0.0) / tot for k in self.phase_names}

    def parameters(self) -> list[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` pairs of this layer."""
        n = self.name
        out = [(f"{n}.thickness_nm", self.thickness_nm), (f"{n}.roughness_nm", self.roughness_nm)]
        if self.grain_size_nm is not None:
            out.append((f"{n}.grain_size_nm", self.grain_size_nm))
        out.append((f"{n}.density_scale", self.density_scale))
        if self.li6_abundance is not None:
            out.append((f"{n}.li6_abundance", self.li6_abundance))
        out += [(f"{n}.phases.{k}", p) for k, p in self.fractions.items()]
        out += [(f"{n}.phases_bottom.{k}", p) for k, p in (self.fractions_bottom or {}).items()]
        return out

    def __repr__(self) -> str:
        t = self.thickness_nm.value
        fr = ", ".join(f"{k}: {v:.3g}" for k, v in self.normalized_fractions().items())
        return f"Layer({self.name!r}, {{{fr}}}, thickness_nm={t:g})"


def _optional_ok(layers: list[Layer]) -> bool:
    """True when every layer's grain size and own 6Li abundance (where set) lie in their
    physical ranges (:data:`LAYER_RANGES`)."""
    for lay in layers:
        g, li6 = lay.grain_size_nm, lay.li6_abundance
        if (g is not None and not 0.0 <= g.value <= 1e6) or (li6 is not None and not 0.0 <= li6.value <= 1.0):
            return False
    return True


class Stack:
    """Layers from the top surface downward, plus sample-wide settings.

    Parameters
    ----------
    layers : sequence of Layer
        Top (z = 0) first. Names must be unique; only the last may be semi-infinite.
    li6_abundance : float or Parameter
        6Li atom fraction of lithium (default natural, 0.0759), unless a layer overrides.
    name : str, optional
        Sample name.
    phases : mapping {name: Phase}, optional
        Phase objects to use for built-in names that layers give as strings (e.g. a
        LiPON whose density varies). Other strings get the library's phase, one shared
        object per name across the stack; custom phases are given to layers as Phase
        objects.
    sections : mapping, optional
        Instrument tables from a sample file (``ndp``, ``eels``, ``hrtem``, ``build``,
        ``fit``, ``sweep``), kept verbatim for the instrument models and written back by
        :meth:`to_toml`.
    """

    def __init__(
        self,
        layers: list[Layer],
        li6_abundance: float | Parameter = NATURAL_LI6_ABUNDANCE,
        name: str | None = None,
        phases: Mapping[str, Phase] | None = None,
        sections: Mapping[str, Any] | None = None,
    ) -> None:
        layers = list(layers)
        if not layers:
            raise InterphaseInputError("layers", "a stack needs at least one layer")
        seen: set[str] = set()
        for i, lay in enumerate(layers):
            if not isinstance(lay, Layer):
                raise InterphaseInputError(f"layers[{i}]", f"expected a Layer, got {type(lay).__name__}")
            if lay.name in seen:
                raise InterphaseInputError(f"layers[{i}].name", f"duplicate layer name {lay.name!r}")
            seen.add(lay.name)
            if lay.semi_infinite and i != len(layers) - 1:
                raise InterphaseInputError(
                    f"layers.{lay.name}.thickness_nm",
                    f"only the last layer may be semi-infinite (this is layer {i + 1} of {len(layers)})",
                )
        self.layers = layers
        self.name = name
        self.li6_abundance = li6_parameter(li6_abundance, "li6_abundance")
        check_physical(self.li6_abundance, "sample.li6_abundance", 0.0, 1.0)
        self.sections = dict(sections or {})
        # One Phase object per name across the stack.
        registry: dict[str, Phase] = {}
        for key, ph in (phases or {}).items():
            if not isinstance(ph, Phase):
                raise InterphaseInputError(f"phases.{key}", f"expected a Phase, got {type(ph).__name__}")
            registry[ph.name] = ph
        for lay in layers:
            for key, ph in lay.phase_objects.items():
                if registry.setdefault(key, ph) is not ph:
                    raise InterphaseInputError(
                        f"layers.{lay.name}.phases.{key}",
                        "two different Phase objects share this name; share one object or rename one",
                    )
        for lay in layers:
            for key in lay.phase_names:
                if key not in registry:
                    registry[key] = _phases.get(key)
        # Order of first appearance down the stack, so equal stacks list phases alike.
        order = [k for lay in layers for k in lay.phase_names]
        order += list(registry)
        self.phases: dict[str, Phase] = {k: registry[k] for k in dict.fromkeys(order)}

    # -- container protocol ---------------------------------------------------------------
    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, key: int | str) -> Layer:
        if isinstance(key, str):
            for lay in self.layers:
                if lay.name == key:
                    return lay
            raise KeyError(f"no layer named {key!r}; layers: {[l.name for l in self.layers]}")
        return self.layers[key]

    # -- geometry -------------------------------------------------------------------------
    @property
    def semi_infinite(self) -> bool:
        """True when the last layer is semi-infinite."""
        return self.layers[-1].semi_infinite

    def interfaces_nm(self) -> np.ndarray:
        """Depths (nm) of the layer bottoms (the last is ``inf`` if semi-infinite)."""
        return np.cumsum([lay.thickness_nm.value for lay in self.layers])

    def total_thickness_nm(self) -> float:
        """Sum of layer thicknesses (nm); ``inf`` for a semi-infinite stack."""
        return float(self.interfaces_nm()[-1])

    def finite_depth_nm(self) -> float:
        """Depth (nm) of the top of a semi-infinite last layer, else of the bottom."""
        t = [lay.thickness_nm.value for lay in self.layers if not lay.semi_infinite]
        return float(math.fsum(t))

    # -- parameters -----------------------------------------------------------------------
    def parameters(self, isotopes: bool = True, densities: bool = True) -> Parameters:
        """Every Parameter by dotted name (``SEI.thickness_nm``, ``SEI.phases.Li2O``,
        ``li6_abundance``, ``phases.LiPON.density``), each object once.

        A model that does not depend on the 6Li abundances (``isotopes=False``: EELS, phase
        maps) or on mass densities (``densities=False``: volume fractions) leaves them out,
        so that a fit never varies what its prediction cannot see.
        """
        items: list[tuple[str, Parameter]] = [("li6_abundance", self.li6_abundance)]
        for lay in self.layers:
            items += lay.parameters()
        for name, ph in self.phases.items():
            if ph.density_parameter is not None:
                items.append((f"phases.{name}.density", ph.density_parameter))
        if not isotopes:
            items = [(n, q) for n, q in items if not n.endswith("li6_abundance")]
        if not densities:
            items = [(n, q) for n, q in items if not n.endswith((".density", ".density_scale"))]
        return Parameters(items)

    # -- depth profile --------------------------------------------------------------------
    def elements(self) -> list[str]:
        """Elements present, ordered by atomic number."""
        els = {e for lay in self.layers for k in lay.phase_names for e in self.phases[k].elements}
        return sorted(els, key=_atomic_number)

    def layer_arrays(self) -> dict[str, Any]:
        """Per-layer numbers the profile kernel needs (validated, current values).

        Returns a dict with ``thickness_nm`` (L,), ``sigma_nm`` (L + 1,), ``elements``,
        ``phases``, ``dens_top``/``dens_bot`` (L, E + 1; the last column is 6Li, in
        atoms/nm3), ``frac_top``/``frac_bot`` (L, P) and ``density_scale`` (L,).

        Notes
        -----
        What depends only on the stack's structure (elements, phase order, where each
        layer's fractions go) is kept between calls under a key of that structure
        (:meth:`_arrays_plan`); every number is read afresh, and the compositions are
        recomputed unless the fractions, density scales, 6Li abundances and phase
        densities are all those of the last call (:meth:`_compositions`).
        """
        plan = self._arrays_plan()
        layers = self.layers
        L = len(layers)
        stack_li6 = self.li6_abundance
        thick = [lay.thickness_nm.value for lay in layers]
        rough = [lay.roughness_nm.value for lay in layers]
        scale = [lay.density_scale.value for lay in layers]
        a6 = [(lay.li6_abundance or stack_li6).value for lay in layers]
        vals = [p.value for lay in layers for p in lay.fractions.values()]
        vals += [p.value for lay in layers if lay.fractions_bottom is not None for p in lay.fractions_bottom.values()]
        sums = [math.fsum(vals[a:b]) for a, b in plan["spans"]]
        if not (min(rough) >= 0.0 and max(rough) <= 1e6 and min(thick) >= 0.0 and min(scale) >= 0.0
                and max(scale) <= 100.0 and min(vals) >= 0.0 and min(sums) > 0.0 and _optional_ok(layers)):
            for lay in layers:  # the first layer at fault raises, naming the field
                lay.check_values()
                lay.normalized_fractions("top")
                lay.normalized_fractions("bottom")
        frac, dens = self._compositions(plan, vals, sums, scale, a6)
        sigma = np.zeros(L + 1)
        sigma[1:] = rough
        return dict(thickness_nm=np.array(thick), sigma_nm=sigma, elements=list(plan["elements"]),
                    phases=list(plan["phases"]), dens_top=dens[0].copy(), dens_bot=dens[1].copy(),
                    frac_top=frac[0].copy(), frac_bot=frac[1].copy(), density_scale=np.array(scale))

    def _compositions(self, plan: dict[str, Any], vals: list[float], sums: list[float], scale: list[float],
                      a6: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """(2, L, P) normalized volume fractions and (2, L, E + 1) atoms/nm3 (6Li last) at the
        top and bottom of each layer, from the fraction values ``vals`` (plan order), their
        table sums, the density scales and 6Li abundances; kept in the plan for the last
        numbers seen (with the phase densities)."""
        nd = self._number_densities(plan)  # (P, E + 1); column E (6Li) is filled below
        key = (vals, scale, a6, plan["nd"][0])
        got = plan.get("compositions")
        if got is not None and got[0] == key:
            return got[1], got[2]
        L, E, P = len(scale), len(plan["elements"]), len(plan["phases"])
        # each fraction over its table's sum (as Layer.normalized_fractions)
        norm = np.array([v / sums[k] for v, k in zip(vals, plan["table_of"])])
        frac = np.zeros(2 * L * P)
        frac[plan["slots"]] = norm[plan["source"]]
        frac = frac.reshape(2, L, P)
        # (2, L, E + 1) atoms/nm3 at the top and bottom of each layer, as one product (the
        # same numbers as the (2, L, P) stack of products, which a single layer needs)
        prod = (frac.reshape(2 * L, P) @ nd).reshape(2, L, E + 1) if L > 1 else frac @ nd
        dens = prod * np.array(scale)[None, :, None]
        li = plan["eidx"].get("Li")
        if li is not None:
            dens[:, :, E] = np.array(a6)[None, :] * dens[:, :, li]
        plan["compositions"] = (key, frac, dens)
        return frac, dens

    def _arrays_plan(self) -> dict[str, Any]:
        """The structure :meth:`layer_arrays` reads values into, kept (as ``_arrays_cache``)
        under a key of the layers, their phase names and the phases: the elements, the
        phase order, and for the fraction values (top tables, then bottom tables, in layer
        order) their table spans and the flat (2, L, P) slots they fill. After a call,
        ``plan["nd"][0]`` holds the phase densities (g/cm3, ``phases`` order) it used."""
        key = (tuple(map(id, self.layers)), tuple(map(id, self.phases.values())), tuple(self.phases),
               tuple([(tuple(lay.fractions), lay.fractions_bottom and tuple(lay.fractions_bottom))
                      for lay in self.layers]))
        plan = getattr(self, "_arrays_cache", None)
        if plan is None or plan["key"] != key:
            plan = self._make_plan(key)
            self._arrays_cache = plan
        return plan

    def _make_plan(self, key: tuple) -> dict[str, Any]:
        """:meth:`_arrays_plan` for the current structure (``key``)."""
        els = self.elements()
        pidx = {p: i for i, p in enumerate(self.phases)}
        n_l, n_p = len(self.layers), len(pidx)
        tables = [(i, 0, lay.fractions) for i, lay in enumerate(self.layers)]
        tables += [(i, 1, lay.fractions_bottom) for i, lay in enumerate(self.layers) if lay.fractions_bottom is not None]
        spans, table_of, start = [], [], {}
        for t, (i, side, table) in enumerate(tables):
            start[(i, side)] = len(table_of)
            spans.append((len(table_of), len(table_of) + len(table)))
            table_of += [t] * len(table)
        slots, source = [], []
        for i, lay in enumerate(self.layers):
            for side in (0, 1):
                own = side == 0 or lay.fractions_bottom is not None
                table = lay.fractions_bottom if side and own else lay.fractions
                a = start[(i, side if own else 0)]  # no bottom table: the top one again
                slots += [(side * n_l + i) * n_p + pidx[k] for k in table]
                source += range(a, a + len(table))
        return {"key": key, "elements": tuple(els), "phases": tuple(pidx), "eidx": {e: i for i, e in enumerate(els)},
                "spans": spans, "table_of": table_of, "slots": np.array(slots, dtype=np.intp),
                "source": np.array(source, dtype=np.intp)}

    def _number_densities(self, plan: dict[str, Any]) -> np.ndarray:
        """(P, E + 1) element number densities (atoms/nm3) of the phases over the plan's
        elements, the last column (6Li) 0; kept in the plan for the densities (g/cm3) they
        were made at."""
        rho = tuple([ph.density for ph in self.phases.values()])
        got = plan.get("nd")
        if got is None or got[0] != rho:
            nd = np.zeros((len(plan["phases"]), len(plan["elements"]) + 1))
            for p, ph in enumerate(self.phases.values()):
                for e, n in ph.number_density().items():
                    nd[p, plan["eidx"][e]] = n
            got = (rho, nd)
            plan["nd"] = got
        return got[1]

    def profile(self, z_nm: Any, *, layer_arrays: dict[str, Any] | None = None) -> DepthProfile:
        """Element number densities and phase volume fractions on a depth grid.

        Parameters
        ----------
        z_nm : array_like
            Depths (nm) from the top surface, any order; finite. Negative depths are
            vacuum.
        layer_arrays : dict, optional
            The output of :meth:`layer_arrays` for the current parameter values, to save
            recomputing it when profiling the same state several times.

        Returns
        -------
        DepthProfile
            Element densities (atoms/nm3; 6Li separately), phase volume fractions.
        """
        try:
            z = np.asarray(z_nm, dtype=float)
        except (TypeError, ValueError):
            raise InterphaseInputError("z_nm", f"expected an array of depths in nm, got {z_nm!r}") from None
        if z.ndim != 1 or z.size == 0:
            raise InterphaseInputError("z_nm", f"a non-empty 1-D array of depths is required, got shape {z.shape}")
        if not np.all(np.isfinite(z)):
            raise InterphaseInputError("z_nm", "depths must be finite numbers (nm)")
        arr = self.layer_arrays() if layer_arrays is None else layer_arrays
        dens, frac = layer_profile(
            z, arr["thickness_nm"], arr["sigma_nm"], arr["dens_top"], arr["dens_bot"],
            arr["frac_top"], arr["frac_bot"],
        )
        return DepthProfile(
            z_nm=z,
            elements=tuple(arr["elements"]),
            densities=dens[:-1],
            li6=dens[-1],
            phases=tuple(arr["phases"]),
            fractions=frac,
        )

    def depth_grid(self, step_nm: float | None = None, below_nm: float | None = None) -> np.ndarray:
        """A convenient depth grid (nm) covering the stack.

        ``below_nm`` extends past the last interface (default: 20 % of the finite depth,
        at least 20 nm); ``step_nm`` defaults to 1/2000 of the range.
        """
        depth = self.finite_depth_nm()
        extra = max(0.2 * depth, 20.0) if below_nm is None else float(below_nm)
        zmax = depth + extra
        step = zmax / 2000 if step_nm is None else float(step_nm)
        if not step > 0:
            raise InterphaseInputError("step_nm", f"must be > 0, got {step_nm}")
        return np.arange(0.0, zmax + 0.5 * step, step)

    # -- presentation ---------------------------------------------------------------------
    def table(self) -> str:
        """A plain-text layer table: thickness, roughness, grains, density, phases."""
        head = ("layer", "thickness nm", "rough nm", "grain nm", "g/cm3", "phases (vol %)")
        rows = [head]
        for lay in self.layers:
            top = lay.normalized_fractions("top")
            bot = lay.normalized_fractions("bottom")
            rho = lay.density_scale.value * math.fsum(top[k] * self.phases[k].density for k in top)
            ph = ", ".join(
                f"{k} {100 * top[k]:.0f}" + (f"->{100 * bot[k]:.0f}" if lay.fractions_bottom is not None else "")
                for k in lay.phase_names
            )
            g = lay.grain_size_nm
            rows.append((
                lay.name,
                "inf" if lay.semi_infinite else f"{lay.thickness_nm.value:g}",
                f"{lay.roughness_nm.value:g}",
                "" if g is None else f"{g.value:g}",
                f"{rho:.3f}",
                ph,
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        title = f"{self.name or 'stack'} (6Li abundance {self.li6_abundance.value:g})"
        return "\n".join([title, *lines])

    def __repr__(self) -> str:
        return f"Stack({self.name!r}, layers={[l.name for l in self.layers]})"

    # -- files ----------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: toml_io.SampleSpec) -> Stack:
        """The Stack a checked sample-file specification describes (see :mod:`~interphase_sim.sample.toml_io`)."""
        return spec.build(lambda s: cls([Layer(**kw) for kw in s.layers], **s.stack))

    @classmethod
    def from_toml(cls, path: str | os.PathLike) -> Stack:
        """Read a sample file (format in :mod:`interphase_sim.sample.toml_io`)."""
        return cls.from_spec(toml_io.read_sample_spec(path))

    @classmethod
    def from_toml_string(cls, text: str, base_dir: str | os.PathLike = ".") -> Stack:
        """Read a sample from TOML text; relative CIF paths resolve against ``base_dir``."""
        return cls.from_spec(toml_io.parse_sample_spec(text, source="<string>", base_dir=base_dir))

    def to_toml(self, path: str | os.PathLike) -> None:
        """Write the sample file (atomically: a temporary name, then renamed)."""
        toml_io.write_stack(self, path)

    def to_toml_string(self) -> str:
        """The sample file's text."""
        return toml_io.dump_stack(self)
