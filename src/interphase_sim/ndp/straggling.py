"""Energy-loss straggling of light ions along their path out of the sample.

Rate
----
Bohr's variance per path length, ``d(Omega_B^2)/dx = 4 pi e^4 Z1^2 N Z2`` (0.2606 Z1^2 keV^2
per 1e18 electrons/cm2, :data:`~interphase_sim.ndp.geometry.BOHR_KEV2_PER_E_NM2`), holds
for ions much faster than the target electrons. Slower ions cannot transfer the Bohr
share to bound electrons; Lindhard and Scharff (Mat. Fys. Medd. Dan. Vid. Selsk. 27,
no. 15, 1953) give the correction, per target element::

    Omega^2 / Omega_B^2 = L(chi) / 2,   L(chi) = 1.36 chi^(1/2) - 0.016 chi^(3/2)   (chi < 3)
                        = 1                                                       (chi >= 3)

with the reduced energy ``chi = v^2 / (Z2 v0^2) = (E / M1) / (24.80 keV/u x Z2)`` (E in
keV, M1 the ion mass in u, v0 the Bohr velocity). Compounds add their elements' rates
(Bragg's rule), weighted by atom density. The prescription jumps by 13 % at chi = 3 (as
published); the integrated variance is continuous. No charge-state (Yang) term.

Propagation
-----------
An energy spread dE made at depth x is carried to the exit as
``dE S(E_out) / S(E(x))`` (particles with more energy have less stopping ahead of them
when dS/dE < 0, and the spread grows). To first order (Tschalaer, Nucl. Instrum. Methods
61, 141 (1968); Payne, Phys. Rev. 185, 611 (1969)), ``d(var)/dx = omega^2(E) - 2 S'(E) var``,
whose solution through a layer of one composition is::

    var_out = (S(E_out) / S(E_in))^2 var_in + S(E_out)^2 int_{E_out}^{E_in} omega^2(E) / S(E)^3 dE.

Layer boundaries are crossed with the energy spread continuous. This is what
:func:`straggling_variance` evaluates and what the forward model
(:class:`~interphase_sim.ndp.model.NDPModel`, kernels in :mod:`~interphase_sim.ndp._kernels`)
does on its energy grid. The first-order theory fails in the last few percent of the
range, where the spread is no longer small compared to the energy.

Units: keV, nm, keV^2, keV^2/nm.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.ndp.geometry import BOHR_KEV2_PER_E_NM2

__all__ = ["MODELS", "V0_KEV_PER_U", "lindhard_scharff_factor", "rate_table", "straggling_rate", "straggling_variance"]

#: Energy per nucleon of an ion moving at the Bohr velocity v0 = c / 137.036: (1/2) m_u v0^2 (keV/u).
V0_KEV_PER_U = 0.5 * 931494.10242 / 137.035999084**2
#: Straggling rate models: Bohr with the Lindhard-Scharff correction (default), plain Bohr.
MODELS = ("lindhard-scharff", "bohr")


def lindhard_scharff_factor(energy_per_u_keV: Any, z2: int) -> Any:
    """Lindhard-Scharff ratio of the straggling rate to Bohr's for target element ``z2``.

    Parameters
    ----------
    energy_per_u_keV : float or array
        Ion energy per nucleon (keV/u), >= 0.
    z2 : int
        Atomic number of the target element.

    Returns
    -------
    float or array
        ``L(chi) / 2`` for chi < 3, 1 above (dimensionless).
    """
    e = np.asarray(energy_per_u_keV, dtype=float)
    chi = np.maximum(e, 0.0) / (V0_KEV_PER_U * z2)
    low = 0.5 * (1.36 * np.sqrt(chi) - 0.016 * chi**1.5)
    out = np.where(chi < 3.0, low, 1.0)
    return float(out) if out.ndim == 0 else out


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise InterphaseInputError("straggling_model", f"choose one of {', '.join(MODELS)}, got {model!r}")
    return model


@functools.cache
def _atomic_number(symbol: str) -> int:
    from pymatgen.core import Element

    return Element(symbol).Z


def _element_terms(phase: Any) -> tuple[np.ndarray, np.ndarray]:
    """(Z, atoms/nm3) of each element of a phase at its current density."""
    dens = phase.number_density()
    return np.array([_atomic_number(el) for el in dens], dtype=float), np.array(list(dens.values()), dtype=float)


def _phase_of(material: Any) -> Any:
    from interphase_sim.ndp.materials import resolve_material

    return resolve_material(material, "material")


def rate_table(ion: str, phase: Any, energy_keV: np.ndarray, model: str = "lindhard-scharff") -> np.ndarray:
    """Straggling rate d(var)/dx (keV^2/nm) of ``ion`` in ``phase`` at each energy (keV).

    ``phase`` is a :class:`~interphase_sim.sample.phases.Phase` (its current density) or a
    built-in phase name; ``energy_keV`` may include 0.
    """
    from interphase_sim.ndp.stopping import IONS, ion_name

    z1, m1, _ = IONS[ion_name(ion)]
    ph = _phase_of(phase)
    z2, n2 = _element_terms(ph)
    e = np.asarray(energy_keV, dtype=float)
    if _check_model(model) == "bohr":
        factor = np.full(e.shape + (z2.size,), 1.0)
    else:
        factor = np.stack([lindhard_scharff_factor(e / m1, int(z)) for z in z2], axis=-1)
    return BOHR_KEV2_PER_E_NM2 * z1 * z1 * (factor @ (n2 * z2))


def straggling_rate(ion: str, energy_keV: Any, material: Any, model: str = "lindhard-scharff") -> Any:
    """Straggling rate d(var)/dx (keV^2/nm) at ``energy_keV`` (keV) in a phase (name or Phase).

    See :func:`rate_table`; returns a float for a scalar energy.
    """
    e = np.asarray(energy_keV, dtype=float)
    out = rate_table(ion, material, e.reshape(-1), model).reshape(e.shape)
    return float(out) if out.ndim == 0 else out


def _layer(ion: str, e_in: float, phase: Any, path_nm: float, var_in: float, model: str, propagate: bool,
           stopping: Any) -> tuple[float, float]:
    """(exit energy, exit variance) after ``path_nm`` of ``phase`` entered at ``e_in`` with ``var_in``."""
    from interphase_sim.ndp.stopping import exit_energy

    e_out = float(exit_energy(ion, e_in, [(phase, path_nm)])) if stopping is None else _exit(ion, e_in, phase, path_nm, stopping)
    if e_out <= 0.0:
        return 0.0, 0.0
    e = np.geomspace(e_out, e_in, 2001)
    s = _stopping(ion, e, phase, stopping)
    w = rate_table(ion, phase, e, model)
    if not propagate:
        return e_out, var_in + float(np.trapezoid(w / s, e))
    s_out, s_in = s[0], s[-1]
    return e_out, (s_out / s_in) ** 2 * var_in + s_out**2 * float(np.trapezoid(w / s**3, e))


def _stopping(ion: str, e: np.ndarray, phase: Any, stopping: Any) -> np.ndarray:
    from interphase_sim.ndp.stopping import linear_stopping_power

    if stopping is None:
        return np.asarray(linear_stopping_power(ion, e, phase))
    return np.asarray(stopping.linear_stopping(ion, e, phase), dtype=float)


def _exit(ion: str, e_in: float, phase: Any, path_nm: float, stopping: Any) -> float:
    """Exit energy through ``path_nm`` with a custom stopping source (range table by quadrature)."""
    e = np.geomspace(1e-2, e_in, 4001)
    r = np.concatenate(([0.0], np.cumsum(0.5 * (1 / _stopping(ion, e[1:], phase, stopping)
                                                + 1 / _stopping(ion, e[:-1], phase, stopping)) * np.diff(e))))
    left = r[-1] - path_nm
    return float(np.interp(left, r, e)) if left > 0 else 0.0


def straggling_variance(
    ion: str,
    energy_keV: float,
    path: Any,
    angle_deg: float = 0.0,
    model: str = "lindhard-scharff",
    propagate: bool = True,
    stopping: Any = None,
) -> float:
    """Energy variance (keV^2) of an ion after crossing ``path``, from zero spread at birth.

    Parameters
    ----------
    ion : str
        ``"alpha"``, ``"triton"``, ``"proton"`` or ``"deuteron"``.
    energy_keV : float
        Energy at the birth point (keV).
    path : list of (material, thickness_nm)
        Layers from the birth point to the surface (phase names or Phases), thickness
        along the surface normal (nm).
    angle_deg : float
        Direction from the surface normal (degrees, < 90): path length thickness / cos.
    model : {"lindhard-scharff", "bohr"}
        Rate: Bohr with the Lindhard-Scharff correction, or plain Bohr.
    propagate : bool
        Carry the spread made at each depth to the exit with S(E_out) / S(E) (Tschalaer);
        False adds the rates along the path (the energy-independent picture for ``"bohr"``).
    stopping : StoppingSource, optional
        Stopping source (default ICRU 49 with Bragg's rule, total stopping).

    Returns
    -------
    float
        Variance (keV^2); 0 if the ion stops inside.
    """
    if not (math.isfinite(angle_deg) and 0.0 <= angle_deg < 90.0):
        raise InterphaseInputError("angle_deg", f"must be in [0, 90) degrees, got {angle_deg!r}")
    _check_model(model)
    k = 1.0 / math.cos(math.radians(angle_deg))
    e, var = float(energy_keV), 0.0
    for i, item in enumerate(path):
        material, t = item[0], float(item[1])
        if not (math.isfinite(t) and t >= 0.0):
            raise InterphaseInputError(f"path[{i}].thickness_nm", f"must be finite and >= 0 nm, got {item[1]!r}")
        if t == 0.0:
            continue
        e, var = _layer(ion, e, _phase_of(material), t * k, var, model, propagate, stopping)
        if e <= 0.0:
            return 0.0
    return var
