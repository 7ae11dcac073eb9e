"""The NDP model's own Parameters: roles, dead-layer thicknesses, stopping-power scales.

Roles (:attr:`~interphase_sim.core.params.Parameter.role`)
----------------------------------------------------------
The instrument numbers of ``[ndp]`` (calibration, resolution, geometry, yield,
background, cutoff) and the dead-layer thicknesses ``ndp.dead_layers.<i>.thickness_nm``
are ``"nuisance"``: instrument settings the data constrain. A Parameter handed in with
another role than the default ``"physical"`` keeps it.

Stopping-power scales
---------------------
``ndp.stopping_scale.<phase>`` multiplies the stopping power of one stack phase
(everywhere it occurs). It is ``"systematic"``: the stopping tables are known to a few
percent only, and the data cannot tell a scale from a thickness (the energy loss through
a layer goes with rho t S). Defaults: value 1, bounds (0.8, 1.2), free (so that every NDP
fit carries the stopping uncertainty into its total error), prior ``norm(1, sigma)`` with
sigma from the stated accuracy of the default source: ICRU Report 49 (1993) quotes
uncertainties of a few percent for the stopping of H and He ions in the elements at these
energies, taken here as 2 %; Bragg's additivity rule for compounds ignores chemical binding
and phase and adds errors of a few percent (Ziegler and Manoyan, Nucl. Instrum. Methods B
35, 215 (1988)): sigma = 0.02 for a phase of one element, 0.03 for a compound (LiF, 4.6 %
off, shows that some compounds are worse: widen its prior). A value or a
Parameter may replace a default; a Parameter without a prior or bounds gets the default
ones, and its role becomes systematic unless it was set otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import scipy.stats

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.params import Parameter, as_parameter

__all__ = ["NUISANCE", "STOPPING_SCALE_BOUNDS", "assign_roles", "dead_layer_parameters", "stopping_scale_parameters",
           "stopping_scale_sigma"]

#: ``[ndp]`` numbers that are instrument nuisances (``b10_abundance`` is a sample property).
NUISANCE = ("fwhm_keV", "detector_angle_deg", "acceptance_half_angle_deg", "fluence", "area_cm2", "scale",
            "background", "gain_keV", "offset_keV", "low_energy_cutoff_keV")
#: Bounds of a stopping scale.
STOPPING_SCALE_BOUNDS = (0.8, 1.2)
#: Prior standard deviation of a stopping scale: an element (ICRU 49), a compound (Bragg's rule).
SIGMA_ELEMENT, SIGMA_COMPOUND = 0.02, 0.03


def assign_roles(numbers: Mapping[str, Parameter]) -> None:
    """Give the instrument numbers in :data:`NUISANCE` the role ``"nuisance"`` (in place),
    unless a caller already chose a role other than the default."""
    for name, p in numbers.items():
        if name in NUISANCE and p.role == "physical":
            p.role = "nuisance"


def dead_layer_parameters(layers: Iterable[Mapping[str, Any]], resolve: Callable[[Any, str], Any]) -> list[tuple[Any, Parameter]]:
    """(Phase, thickness Parameter ``ndp.dead_layers.<i>.thickness_nm``, nm, nuisance) per dead layer.

    ``layers`` are the checked ``{material, thickness_nm}`` tables; ``resolve(material,
    field)`` turns a material into a Phase.
    """
    out = []
    for i, d in enumerate(layers):
        phase = resolve(d["material"], f"ndp.dead_layers[{i}].material")
        t = as_parameter(d["thickness_nm"], f"ndp.dead_layers.{i}.thickness_nm", "nm")
        if t.role == "physical":
            t.role = "nuisance"
        out.append((phase, t))
    return out


def stopping_scale_sigma(phase: Any) -> float:
    """Prior standard deviation of a phase's stopping scale: 0.02 (one element) or 0.03."""
    return SIGMA_ELEMENT if len(phase.number_density()) == 1 else SIGMA_COMPOUND


def _scale_parameter(name: str, phase: Any, given: Any) -> Parameter:
    """The stopping scale of one phase from a value, a Parameter or nothing."""
    field = f"ndp.stopping_scale.{name}"
    sigma = stopping_scale_sigma(phase)
    if isinstance(given, Parameter):
        p = given
        if p.name is None:
            p.name = field
        if p.role == "physical":
            p.role = "systematic"
        if p.bounds == (-math.inf, math.inf) and STOPPING_SCALE_BOUNDS[0] <= p.value <= STOPPING_SCALE_BOUNDS[1]:
            p.bounds = STOPPING_SCALE_BOUNDS
        if p.prior is None:
            p.prior = scipy.stats.norm(1.0, sigma)
    else:
        value = 1.0 if given is None else float(given)
        if not STOPPING_SCALE_BOUNDS[0] <= value <= STOPPING_SCALE_BOUNDS[1]:
            raise InterphaseInputError(field, f"must be in [{STOPPING_SCALE_BOUNDS[0]}, {STOPPING_SCALE_BOUNDS[1]}], "
                                       f"got {value}")
        p = Parameter(value, bounds=STOPPING_SCALE_BOUNDS, vary=True, name=field, units="",
                      prior=scipy.stats.norm(1.0, sigma), role="systematic")
    if not (math.isfinite(p.value) and p.value > 0.0):
        raise InterphaseInputError(field, f"must be a finite number > 0, got {p.value}")
    return p


def stopping_scale_parameters(phases: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Parameter]:
    """``{phase name: stopping-scale Parameter}`` for every phase of a stack.

    ``given`` maps phase names to values or Parameters that replace the defaults; a name
    that is not a phase of the stack is an error naming the phases.
    """
    unknown = [n for n in given if n not in phases]
    if unknown:
        raise InterphaseInputError(f"ndp.stopping_scale.{unknown[0]}",
                                   f"not a phase of the stack; its phases: {', '.join(phases)}")
    return {name: _scale_parameter(name, ph, given.get(name)) for name, ph in phases.items()}
