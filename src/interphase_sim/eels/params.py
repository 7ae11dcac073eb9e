"""The EELS model's fit parameters: defaults for the instrument numbers and the
per-edge cross-section scales.

Every ``eels.*`` number is an instrument setting, role ``"nuisance"`` (the data constrain
it, the fit reports it). Given as a plain value, the scan geometry, probe and background
numbers get bounds for a fit (:data:`FIT_DEFAULTS`); the scan origin is free by default,
since no instrument knows where on the stack's depth axis its scan starts to better than
a few nm. A number given as a Parameter, or as a ``{value, min, max, vary, prior}`` table,
keeps its own bounds and ``vary``.

Each simulated edge has a cross-section scale ``eels.xsec_scale.<edge>``: the edge name
with spaces as underscores and no commas (``"O K"`` -> ``O_K``, ``"P L2,3"`` -> ``P_L23``),
role ``"systematic"``, free by default within (0.5, 1.5) times its value, with a normal
prior of relative width :data:`XSEC_PRIOR_WIDTH` about it: hydrogenic K-shell
cross-sections are good to ~5-10 %, L2,3 ones worse (no white lines, an empirical
correction; Egerton 2011, Ch. 4; docs/references.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from interphase_sim.core import validate as V
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.params import Parameter, check_physical
from interphase_sim.core.settings import EELS as EELS_SETTINGS
from interphase_sim.core.settings import read_number
from interphase_sim.eels import xsec as XS

__all__ = ["FIT_DEFAULTS", "SCAN_STEP_PRIOR_WIDTH", "XSEC_PRIOR_WIDTH", "XSEC_RANGE", "instrument_parameter", "xsec_key", "xsec_scales"]

#: Bounds (from the value) and ``vary`` of numbers given as plain values.
FIT_DEFAULTS: dict[str, tuple[Callable[[float], tuple[float, float]], bool]] = {
    "scan_origin_nm": (lambda v: (v - 20.0, v + 20.0), True),  # nm
    "scan_step_scale": (lambda v: (v - 0.1, v + 0.1), True),  # a systematic: prior SCAN_STEP_PRIOR_WIDTH
    "probe_fwhm_nm": (lambda v: (0.0, max(10.0, 5.0 * v)), False),  # nm
    "background_counts": (lambda v: (0.0, max(1e3, 10.0 * v)), False),  # counts per channel
    "background_exponent": (lambda v: (min(1.0, v), max(6.0, v)), False),
}

#: Prior standard deviation of the scan step's scale: a scan calibrated to 1 %, so that a
#: distance between two interfaces the scan sees carries that 1 % (a systematic).
SCAN_STEP_PRIOR_WIDTH = 0.01
#: Prior standard deviation of a cross-section scale, relative to its value, per shell.
XSEC_PRIOR_WIDTH = {"K": 0.05, "L2,3": 0.15}
#: Bounds of a cross-section scale given as a plain value, relative to it.
XSEC_RANGE = (0.5, 1.5)
_XSEC_PHYSICAL = V.Range(0.0, 10.0, low_open=True, units="")


def instrument_parameter(name: str, value: Any) -> Parameter:
    """The checked Parameter of ``[eels]`` number ``name`` (role nuisance, fit defaults).

    Parameters
    ----------
    name : str
        A key of kind ``"parameter"`` of :data:`interphase_sim.core.settings.EELS`.
    value : float, Parameter or mapping
        A plain value gets the bounds and ``vary`` of :data:`FIT_DEFAULTS` (if listed);
        a Parameter (identity kept) or table keeps its own.

    Returns
    -------
    Parameter
        Named ``eels.<name>``, with the setting's units; role ``"nuisance"`` unless it
        already had another than ``"physical"``.
    """
    given = isinstance(value, (Parameter, Mapping))
    p = EELS_SETTINGS.parameter(name, value)
    if not given and name in FIT_DEFAULTS:
        bounds_of, vary = FIT_DEFAULTS[name]
        rng = EELS_SETTINGS[name].range
        lo, hi = bounds_of(p.value)
        p.bounds = (max(lo, rng.low), min(hi, rng.high))
        p.vary = vary
        if name == "scan_step_scale":
            import scipy.stats

            p.prior, p.role = scipy.stats.norm(p.value, SCAN_STEP_PRIOR_WIDTH * p.value), "systematic"
    if p.role == "physical":  # an instrument setting, never a property of the sample
        p.role = "nuisance"
    return p


def xsec_key(edge: str) -> str:
    """The parameter-name form of an edge: ``"P L2,3"`` -> ``"P_L23"``, ``"O K"`` -> ``"O_K"``."""
    return XS.edge(edge).name.replace(" ", "_").replace(",", "")


def _xsec_parameter(edge: XS.Edge, value: Any, field: str) -> Parameter:
    label = f"eels.xsec_scale.{xsec_key(edge.name)}"
    if isinstance(value, Mapping):
        value = read_number(dict(value), field)
    if isinstance(value, Parameter):
        check_physical(value, field, 0.0, _XSEC_PHYSICAL.high, lo_open=True)
        if value.name is None:
            value.name = label
        if value.role == "physical":
            value.role = "systematic"
        return value
    import scipy.stats

    v = V.number(value, field, _XSEC_PHYSICAL)
    width = XSEC_PRIOR_WIDTH["K" if edge.shell == "K" else "L2,3"]
    return Parameter(v, bounds=(XSEC_RANGE[0] * v, XSEC_RANGE[1] * v), vary=True, name=label,
                     prior=scipy.stats.norm(v, width * v), role="systematic")


def xsec_scales(edges: Iterable[str], given: Mapping[str, Any] | None) -> dict[str, Parameter]:
    """One cross-section scale Parameter per edge (canonical edge name -> Parameter).

    Parameters
    ----------
    edges : iterable of str
        The model's edges (canonical names).
    given : mapping, optional
        ``{edge: value, Parameter or table}``; edges named in any form :func:`xsec.edge`
        accepts (``"O K"``, ``"O_K"``, ``"P L23"``). Absent edges get 1.

    Returns
    -------
    dict
        Canonical edge name -> Parameter ``eels.xsec_scale.<key>`` (dimensionless), role
        ``"systematic"``.

    Raises
    ------
    InterphaseInputError
        An unknown edge, or one the model does not simulate (``eels.xsec_scale.<key>``).
    """
    edges = list(edges)
    chosen: dict[str, tuple[str, Any]] = {}
    for key, value in dict(given or {}).items():
        field = f"eels.xsec_scale.{key}"
        try:
            rec = XS.edge(str(key))
        except InterphaseInputError as exc:
            raise InterphaseInputError(field, str(exc).split(": ", 1)[-1]) from None
        if rec.name not in edges:
            raise InterphaseInputError(field, f"{rec.name} is not among the simulated edges ({', '.join(edges)})")
        chosen[rec.name] = (field, value)
    out = {}
    for name in edges:
        field, value = chosen.get(name, (f"eels.xsec_scale.{xsec_key(name)}", 1.0))
        out[name] = _xsec_parameter(XS.edge(name), value, field)
    return out
