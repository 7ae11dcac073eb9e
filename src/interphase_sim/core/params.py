"""Fit parameters: a value with bounds, a vary flag and an optional prior.

A :class:`Parameter` is shared by identity: the same object read by two layers (or by a
layer and an instrument model) is one variable for the fitter. Bounds are the user's
limits and double as the default uniform prior; an explicit ``scipy.stats`` frozen
distribution may replace that prior while the bounds still cut it off. Physical limits
(a thickness is positive) are enforced by the objects that read a Parameter, not by the
Parameter itself. No string expressions are ever evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError

__all__ = ["Parameter", "Parameters", "as_parameter", "check_physical", "value_of"]


#: What a Parameter is to a fit's error budget (:attr:`Parameter.role`).
ROLES = ("physical", "nuisance", "systematic")


def _as_float(x: Any, field: str) -> float:
    """Convert ``x`` to float or raise an :class:`InterphaseInputError` naming ``field``."""
    if isinstance(x, bool):
        raise InterphaseInputError(field, f"expected a number, got the boolean {x!r}")
    try:
        return float(x)
    except (TypeError, ValueError):
        raise InterphaseInputError(field, f"expected a number, got {x!r}") from None


class Parameter:
    """A scalar model quantity that a fitter may vary.

    Parameters
    ----------
    value : float
        Current value, in ``units``. NaN is refused; +/-inf is accepted only where the
        reading object allows it (e.g. a semi-infinite layer's thickness) and never for
        a varying parameter.
    bounds : tuple of (float or None, float or None), optional
        Inclusive lower and upper limits; ``None`` on a side means unbounded. They are
        the fitter's box and, unless ``prior`` is given, a uniform prior.
    vary : bool
        Whether a fit refines this parameter.
    name : str, optional
        A label. Collections (``Stack.parameters()``) give their own dotted names.
    units : str, optional
        Units of ``value`` (e.g. ``"nm"``, ``"g/cm3"``).
    prior : scipy.stats frozen distribution, optional
        Replaces the uniform prior; still truncated at ``bounds``.
    role : {"physical", "nuisance", "systematic"}
        What the parameter is to a fit's error budget: a property of the sample
        (``physical``, the default), an instrument setting the data constrain
        (``nuisance``: calibration, resolution, scan origin), or a model uncertainty
        known only from its prior (``systematic``: a stopping-power or cross-section
        scale). A fit's statistical error holds the systematic parameters fixed; the
        total error lets them move within their priors.
    """

    __slots__ = ("_value", "_bounds", "vary", "name", "units", "_prior", "_role", "_normal")

    def __init__(
        self,
        value: float,
        bounds: tuple[float | None, float | None] | None = None,
        vary: bool = False,
        name: str | None = None,
        units: str | None = None,
        prior: Any = None,
        role: str = "physical",
    ) -> None:
        self.name = name
        self.role = role
        self.units = units
        self._bounds = self._check_bounds(bounds)
        self.vary = bool(vary)
        self._prior = None
        self._normal: tuple[float, float, float] | None = None
        self._value = math.nan
        self.value = value
        self.prior = prior

    # -- validation -------------------------------------------------------------------
    @property
    def _label(self) -> str:
        return self.name or "Parameter"

    def _check_bounds(self, bounds: Any) -> tuple[float, float]:
        if bounds is None:
            return (-math.inf, math.inf)
        try:
            lo, hi = bounds
        except (TypeError, ValueError):
            raise InterphaseInputError(
                self._label + ".bounds", f"expected (min, max), got {bounds!r}"
            ) from None
        lo = -math.inf if lo is None else _as_float(lo, self._label + ".min")
        hi = math.inf if hi is None else _as_float(hi, self._label + ".max")
        if math.isnan(lo) or math.isnan(hi):
            raise InterphaseInputError(self._label + ".bounds", "min and max must not be NaN")
        if not lo < hi:
            raise InterphaseInputError(
                self._label + ".bounds", f"min must be below max, got min={lo}, max={hi}"
            )
        return (lo, hi)

    @property
    def value(self) -> float:
        """Current value (float, in ``units``)."""
        return self._value

    @value.setter
    def value(self, v: Any) -> None:
        v = _as_float(v, self._label)
        if math.isnan(v):
            raise InterphaseInputError(self._label, "value is NaN; a finite number is required")
        lo, hi = self._bounds
        if not lo <= v <= hi:
            raise InterphaseInputError(
                self._label, f"value {v} is outside its bounds [{lo}, {hi}]"
            )
        self._value = v

    @property
    def bounds(self) -> tuple[float, float]:
        """(min, max); infinite where unbounded."""
        return self._bounds

    @bounds.setter
    def bounds(self, b: Any) -> None:
        new = self._check_bounds(b)
        if not new[0] <= self._value <= new[1]:
            raise InterphaseInputError(
                self._label + ".bounds",
                f"new bounds {new} exclude the current value {self._value}",
            )
        self._bounds = new

    @property
    def role(self) -> str:
        """``"physical"``, ``"nuisance"`` or ``"systematic"`` (see the class docstring)."""
        return self._role

    @role.setter
    def role(self, r: str) -> None:
        if r not in ROLES:
            raise InterphaseInputError(self._label + ".role", f"choose one of {', '.join(ROLES)}, got {r!r}")
        self._role = r

    @property
    def has_finite_bounds(self) -> bool:
        """True when both bounds are finite."""
        return math.isfinite(self._bounds[0]) and math.isfinite(self._bounds[1])

    @property
    def prior(self) -> Any:
        """The explicit prior (a scipy.stats frozen distribution) or None."""
        return self._prior

    @prior.setter
    def prior(self, p: Any) -> None:
        if p is not None and not hasattr(p, "logpdf"):
            raise InterphaseInputError(
                self._label + ".prior",
                f"expected a scipy.stats frozen distribution (with .logpdf), got {p!r}",
            )
        if p is not None and not math.isnan(getattr(self, "_value", math.nan)):
            try:
                lp = float(p.logpdf(self._value))
            except Exception as exc:  # scipy raises many types for bad arguments
                raise InterphaseInputError(self._label + ".prior", f"cannot evaluate the prior: {exc}") from None
            if not math.isfinite(lp):
                raise InterphaseInputError(
                    self._label + ".prior", f"the prior has zero (or undefined) density at the value {self._value}"
                )
        self._prior = p
        # a normal prior's log density, evaluated directly (a sampler asks for it every step;
        # scipy's frozen logpdf costs ~60 us a call)
        self._normal = None
        if p is not None and getattr(getattr(p, "dist", None), "name", None) == "norm":
            mean, sd = float(p.mean()), float(p.std())
            self._normal = (mean, sd, -math.log(sd * math.sqrt(2.0 * math.pi)))

    # -- statistics -------------------------------------------------------------------
    def logprior(self, value: float | None = None) -> float:
        """Log prior density at ``value`` (default: the current value).

        ``-inf`` outside the bounds; the explicit prior's ``logpdf`` if there is one;
        otherwise uniform over finite bounds (``-log(max - min)``), or 0 (improper flat)
        when a side is unbounded.
        """
        v = self._value if value is None else float(value)
        lo, hi = self._bounds
        if not lo <= v <= hi:
            return -math.inf
        if self._normal is not None:
            mean, sd, norm = self._normal
            return norm - 0.5 * ((v - mean) / sd) ** 2
        if self._prior is not None:
            return float(self._prior.logpdf(v))
        if self.has_finite_bounds:
            return -math.log(hi - lo)
        return 0.0

    # -- conveniences -----------------------------------------------------------------
    def __float__(self) -> float:
        return self._value

    def __repr__(self) -> str:
        parts = [f"value={self._value!r}"]
        if self._bounds != (-math.inf, math.inf):
            parts.append(f"bounds={self._bounds!r}")
        if self.vary:
            parts.append("vary=True")
        if self.name:
            parts.insert(0, f"name={self.name!r}")
        if self.units:
            parts.append(f"units={self.units!r}")
        if self._prior is not None:
            parts.append("prior=<scipy.stats>")
        if self._role != "physical":
            parts.append(f"role={self._role!r}")
        return f"Parameter({', '.join(parts)})"


def as_parameter(x: Any, name: str, units: str | None = None) -> Parameter:
    """Return ``x`` if it is a :class:`Parameter` (identity kept), else wrap the number.

    A fresh Parameter takes ``name`` and ``units``; an existing one keeps its own name if
    it has one.
    """
    if isinstance(x, Parameter):
        if x.name is None:
            x.name = name
        if x.units is None:
            x.units = units
        return x
    return Parameter(_as_float(x, name), name=name, units=units)


def value_of(x: Any) -> float:
    """The float value of a Parameter or a number."""
    return x.value if isinstance(x, Parameter) else float(x)


def check_physical(
    p: Parameter, field: str, lo: float, hi: float, *, lo_open: bool = False, allow_inf: bool = False
) -> None:
    """Check a Parameter's value, and a varying one's bounds, against a physical range.

    The value must lie in ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``); infinite values
    only when ``allow_inf`` and the parameter does not vary. A varying parameter's finite
    bounds must lie in the closed range ``[lo, hi]`` (a fit may touch ``lo``).
    Raises :class:`InterphaseInputError` naming ``field`` otherwise.
    """
    rng = f"{'(' if lo_open else '['}{lo}, {hi}]"
    v = p.value
    inside = (v > lo if lo_open else v >= lo) and v <= hi
    if math.isinf(v) and not allow_inf:
        inside = False
    if not inside:
        raise InterphaseInputError(field, f"value {v} is outside the physical range {rng}")
    if p.vary:
        if math.isinf(v):
            raise InterphaseInputError(field, "an infinite value cannot vary in a fit")
        for b, limit in zip(p.bounds, (lo, hi)):
            if math.isinf(b) and math.isfinite(limit):
                raise InterphaseInputError(
                    field, f"a varying parameter needs min and max within the physical range [{lo}, {hi}]"
                )
            if math.isfinite(b) and not lo <= b <= hi:
                raise InterphaseInputError(
                    field, f"bounds {p.bounds} reach outside the physical range [{lo}, {hi}]"
                )


class Parameters(Mapping[str, Parameter]):
    """An ordered, read-only collection of named Parameters, unique by identity.

    Built from ``(name, Parameter)`` pairs; a Parameter met again under another name is
    kept once, under the first name, and the other names are recorded as aliases. So a
    Parameter shared by two layers is one entry, i.e. one fit variable.
    """

    def __init__(self, items: Iterable[tuple[str, Parameter]] = ()) -> None:
        self._params: dict[str, Parameter] = {}
        self._aliases: dict[str, list[str]] = {}
        seen: dict[int, str] = {}
        for name, p in items:
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: expected a Parameter, got {type(p).__name__}")
            first = seen.get(id(p))
            if first is None:
                if name in self._params:
                    raise InterphaseInputError(name, "two different Parameters share this name")
                seen[id(p)] = name
                self._params[name] = p
                self._aliases[name] = [name]
            else:
                self._aliases[first].append(name)

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._params[name]
        except KeyError:
            for first, names in self._aliases.items():
                if name in names:
                    return self._params[first]
            import difflib

            close = difflib.get_close_matches(name, list(self._params), n=5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"no parameter named {name!r}{hint}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def aliases(self, name: str) -> list[str]:
        """All dotted names under which the Parameter ``name`` is read."""
        return list(self._aliases[name])

    def varying(self) -> Parameters:
        """The sub-collection whose ``vary`` is True, in the same order."""
        return Parameters((n, p) for n, p in self._params.items() if p.vary)

    def get_values(self) -> np.ndarray:
        """Current values as a float array, in collection order."""
        return np.array([p.value for p in self._params.values()], dtype=float)

    def set_values(self, values: Iterable[float]) -> None:
        """Set every Parameter's value from ``values`` (collection order); bounds checked."""
        vals = list(values)
        if len(vals) != len(self._params):
            raise InterphaseInputError(
                "values", f"expected {len(self._params)} values, got {len(vals)}"
            )
        for p, v in zip(self._params.values(), vals, strict=True):
            p.value = v

    def bounds_array(self) -> np.ndarray:
        """Bounds as an (n, 2) array; infinite where unbounded."""
        return np.array([p.bounds for p in self._params.values()], dtype=float).reshape(-1, 2)

    def table(self) -> str:
        """A plain-text table: name, value, units, min, max, vary."""
        rows = [("name", "value", "units", "min", "max", "vary")]
        for n, p in self._params.items():
            lo, hi = p.bounds
            rows.append(
                (
                    n,
                    f"{p.value:.6g}",
                    p.units or "",
                    "" if math.isinf(lo) else f"{lo:.6g}",
                    "" if math.isinf(hi) else f"{hi:.6g}",
                    "yes" if p.vary else "",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

    def __repr__(self) -> str:
        return f"Parameters({list(self._params)})"
