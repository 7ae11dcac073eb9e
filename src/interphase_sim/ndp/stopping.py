"""Stopping of light ions (H and He isotopes) in elements, compounds and phases, for NDP.

Electronic stopping
-------------------
Elements Z = 1..92 use the ICRU Report 49 (1993) parameterizations, with the coefficients
shipped in ``data/icru49_proton.csv`` and ``data/icru49_helium.csv`` (each file's header gives
its source, formula and units). ``S`` is a stopping cross-section in eV / (1e15 atoms/cm2).

* Protons (Andersen-Ziegler form), ``T = E / m_p`` in keV/u:
  ``S = S_low S_high / (S_low + S_high)``, ``S_low = A2 T^0.45``,
  ``S_high = (A3 / T) ln(1 + A4 / T + A5 T)`` for 10 <= T <= 1000 keV/u (the fit range).
  Below 10 keV/u the velocity-proportional branch ``S(10 keV/u) (T / 10)^0.5``; it equals the
  table's ``A1 T^0.5`` to 0.04 % except for carbon, where A1 would leave a 15 % step.
* He ions (Ziegler form), ``T`` = He energy in MeV: ``S_low = A1 (1000 T)^A2`` and ``S_high``
  as above, for 1 keV <= E <= 8 MeV (the table's effective He charge is built in); below
  1 keV ``S(1 keV) (E / 1 keV)^0.5``. Be and Au use Ziegler's 1977 rows, as Geant4's
  ``G4BraggIonModel`` does (the Au row is the closer one to NIST ASTAR at 2 MeV).
* Above the upper limit (1 MeV/u for protons, 8 MeV for He) the Bethe formula with the
  mean excitation energies of ``data/mean_excitation_energy.csv`` (ICRU 37/49 values), no
  shell, Barkas, Bloch or density corrections, times ``1 + (r - 1) E_lim / E`` where ``r`` is
  the ratio parameterization / Bethe at the limit: continuous there, plain Bethe far above.
* Deuterons and tritons use proton stopping at the same velocity, ``E_p = E m_p / m_ion``.

Nuclear stopping is the ZBL universal formula (Ziegler, Biersack and Littmark, *The Stopping
and Range of Ions in Solids*, 1985): reduced energy ``eps = 32.53 M2 E / (Z1 Z2 (M1 + M2)
(Z1^0.23 + Z2^0.23))`` (E in keV, masses in u), ``S_n = 8.462 Z1 Z2 M1 s_n(eps) / ((M1 + M2)
(Z1^0.23 + Z2^0.23))`` with ``s_n = ln(1 + 1.1383 eps) / (2 (eps + 0.01321 eps^0.21226 +
0.19593 eps^0.5))`` for eps <= 30 and ``ln(eps) / (2 eps)`` above. It is well under 1 % of the
electronic stopping at NDP energies, but it is on by default (``nuclear=True``).

Compounds follow Bragg's additivity rule (atom-fraction-weighted sum of the elements), which
ignores chemical binding and physical state: expect errors of a few percent in oxides and
fluorides (LiF, 2 MeV alphas: 4.6 % below ASTAR, which rests on LiF data; F's fit is for the gas).

Units: energies keV (up to :data:`MAX_ENERGY_KEV`); cross-sections eV / (1e15 atoms/cm2);
mass stopping MeV cm2/g; linear stopping keV/nm; ranges and thicknesses nm; densities g/cm3.
Materials are a built-in phase name (:mod:`interphase_sim.sample.phases`), a :class:`Phase`, a chemical
formula string, a ``{element: amount}`` dict or a pymatgen ``Composition``; a formula or dict
has no density, so linear stopping, ranges and paths need ``density_g_cm3`` with it.

:class:`StoppingTable` holds tabulated stopping (e.g. SRIM's "Stopping/Range Tables" output,
:meth:`StoppingTable.from_srim`); a :class:`StoppingSource` (:class:`ICRU49`,
:class:`TableSource`, :class:`PyCatima`) is what forward models ask for stopping.
"""

from __future__ import annotations

import abc
import csv
import functools
import math
import os
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, NamedTuple

import numpy as np

from interphase_sim.sample import phases
from interphase_sim.core.constants import ELECTRON_REST_ENERGY_EV
from interphase_sim.core import validate as V
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.sample.phases import Phase, parse_composition

__all__ = [
    "ICRU49",
    "IONS",
    "MAX_ENERGY_KEV",
    "PyCatima",
    "StoppingSource",
    "StoppingTable",
    "TableSource",
    "csda_range",
    "exit_energy",
    "ion_name",
    "linear_stopping_power",
    "mass_stopping_power",
    "stopping_cross_section",
]

MAX_ENERGY_KEV = 1.0e5  # 100 MeV: the Bethe continuation has no density or Bloch/Mott terms
AVOGADRO = 6.02214076e23  # 1/mol (exact)
_EV15_TO_MEV_CM2_MOL = AVOGADRO * 1e-21  # eV/(1e15 atoms/cm2) -> MeV cm2/g, times g/mol
_U_KEV = 931494.10242  # atomic mass unit, keV (CODATA 2018)
# 4 pi r_e^2 m_e c^2 in eV cm2, times 1e15 atoms/cm2: Bethe prefactor per atom.
_K_BETHE = 4.0 * math.pi * (2.8179403262e-13) ** 2 * ELECTRON_REST_ENERGY_EV * 1e15

# Ion name -> (Z1, nuclear mass in u (CODATA 2018), which ICRU 49 table).
IONS: dict[str, tuple[int, float, str]] = {
    "proton": (1, 1.007276467, "H"),
    "deuteron": (1, 2.013553213, "H"),
    "triton": (1, 3.015500716, "H"),
    "alpha": (2, 4.001506179, "He"),
}
_ION_NAMES = {
    "alpha": "alpha", "he-4": "alpha", "he4": "alpha", "4he": "alpha",
    "triton": "triton", "h-3": "triton", "h3": "triton", "3h": "triton",
    "proton": "proton", "h-1": "proton", "h1": "proton", "1h": "proton",
    "deuteron": "deuteron", "h-2": "deuteron", "h2": "deuteron", "2h": "deuteron",
}  # fmt: skip
_M_P = IONS["proton"][1]

_T_LOW_H, _T_HIGH_H = 10.0, 1000.0  # keV/u: Andersen-Ziegler fit range (protons)
_E_LOW_HE, _E_HIGH_HE = 1.0, 8000.0  # keV: where the He fit is used (He energy)


# -- input checks ----------------------------------------------------------------------
def ion_name(ion: Any) -> str:
    """Canonical ion name ("alpha", "triton", "proton", "deuteron")."""
    key = ion.strip().lower() if isinstance(ion, str) else None
    if key not in _ION_NAMES:
        accepted = "alpha, He-4, triton, H-3, proton, H-1, deuteron, H-2"
        raise InterphaseInputError("ion", f"unknown ion {ion!r}; accepted (case-insensitive): {accepted}")
    return _ION_NAMES[key]


def _energies(energy_keV: Any, field: str = "energy_keV") -> tuple[np.ndarray, bool]:
    """(float array, was-scalar) after checking 0 < E <= MAX_ENERGY_KEV, finite."""
    try:
        e = np.asarray(energy_keV, dtype=float)
    except (TypeError, ValueError):
        raise InterphaseInputError(field, f"expected a number or array of numbers (keV), got {energy_keV!r}") from None
    bad = ~np.isfinite(e) | (e <= 0.0) | (e > MAX_ENERGY_KEV)
    if bad.any():
        raise InterphaseInputError(field, f"must be finite, > 0 and <= {MAX_ENERGY_KEV:g} keV; got {e[bad].flat[0]!r}")
    return e, e.ndim == 0


def _out(x: np.ndarray, scalar: bool) -> Any:
    return float(x) if scalar else x


# -- coefficient data -------------------------------------------------------------------
def _read_table(name: str) -> list[dict[str, str]]:
    text = (resources.files(__package__) / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")))


@functools.cache
def _coefficients(kind: str) -> np.ndarray:
    """(93, 5) array of A1..A5 indexed by Z for ``kind`` "H" (protons) or "He"."""
    out = np.full((93, 5), np.nan)
    for row in _read_table({"H": "icru49_proton.csv", "He": "icru49_helium.csv"}[kind]):
        out[int(row["Z"])] = [float(row[f"A{i}"]) for i in range(1, 6)]
    return out


@functools.cache
def _mean_excitation_ev() -> np.ndarray:
    out = np.full(93, np.nan)
    for row in _read_table("mean_excitation_energy.csv"):
        out[int(row["Z"])] = float(row["I_eV"])
    return out


def _fit_h(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Andersen-Ziegler main branch; ``a`` (k, 5), ``t`` keV/u broadcastable to (k, n)."""
    s_low = a[:, 1:2] * t**0.45
    s_high = a[:, 2:3] / t * np.log1p(a[:, 3:4] / t + a[:, 4:5] * t)
    return s_low * s_high / (s_low + s_high)


def _fit_he(a: np.ndarray, e_kev: np.ndarray) -> np.ndarray:
    """Ziegler He main branch; ``e_kev`` is the He energy (keV); (1000 T)^A2 = E_keV^A2."""
    t = e_kev * 1e-3
    s_low = a[:, 0:1] * e_kev ** a[:, 1:2]
    s_high = a[:, 2:3] / t * np.log1p(a[:, 3:4] / t + a[:, 4:5] * t)
    return s_low * s_high / (s_low + s_high)


def _bethe(z2: np.ndarray, i_ev: np.ndarray, e_kev: np.ndarray, mass_u: float, z1: int) -> np.ndarray:
    """Bethe stopping cross-section (eV / 1e15 atoms/cm2), no corrections, exact W_max."""
    mc2 = mass_u * _U_KEV
    gamma = 1.0 + e_kev / mc2
    b2 = 1.0 - 1.0 / gamma**2
    r = ELECTRON_REST_ENERGY_EV * 1e-3 / mc2
    wmax = 2.0 * ELECTRON_REST_ENERGY_EV * b2 * gamma**2 / (1.0 + 2.0 * gamma * r + r * r)
    stopping_number = 0.5 * np.log(2.0 * ELECTRON_REST_ENERGY_EV * b2 * gamma**2 * wmax / i_ev**2) - b2
    return _K_BETHE * z1 * z1 * z2 / b2 * stopping_number


class _Comp(NamedTuple):
    """Per-composition arrays, shapes (k, 1) unless noted."""

    z: np.ndarray
    x: np.ndarray  # (k,) atom fractions
    m: np.ndarray  # atomic masses, u
    m_mean: float  # mean atomic mass per atom, u
    a_h: np.ndarray  # (k, 5)
    a_he: np.ndarray  # (k, 5)
    i_ev: np.ndarray
    r_h: np.ndarray  # parameterization / Bethe at the upper limits
    r_he: np.ndarray


@functools.lru_cache(maxsize=512)
def _comp_data(key: tuple[tuple[str, float], ...]) -> _Comp:
    from pymatgen.core import Element

    els = [Element(sym) for sym, _ in key]
    z = np.array([[float(el.Z)] for el in els])
    x = np.array([f for _, f in key])
    m = np.array([[float(el.atomic_mass)] for el in els])
    zi = z[:, 0].astype(int)
    a_h, a_he, i_ev = _coefficients("H")[zi], _coefficients("He")[zi], _mean_excitation_ev()[zi][:, None]
    e_h = np.array([_T_HIGH_H * _M_P])
    r_h = _fit_h(a_h, np.array([_T_HIGH_H])) / _bethe(z, i_ev, e_h, _M_P, 1)
    e_he = np.array([_E_HIGH_HE])
    r_he = _fit_he(a_he, e_he) / _bethe(z, i_ev, e_he, IONS["alpha"][1], 2)
    return _Comp(z, x, m, float(x @ m[:, 0]), a_h, a_he, i_ev, r_h, r_he)


def _electronic_h(c: _Comp, e_p: np.ndarray) -> np.ndarray:
    """(k, n) proton electronic stopping at proton energies ``e_p`` (keV)."""
    t = e_p / _M_P
    s = _fit_h(c.a_h, np.clip(t, _T_LOW_H, _T_HIGH_H))
    s = np.where(t < _T_LOW_H, s * np.sqrt(t / _T_LOW_H), s)
    high = t > _T_HIGH_H
    if high.any():
        e_lim = _T_HIGH_H * _M_P
        e_hi = np.maximum(e_p, e_lim)
        bethe = _bethe(c.z, c.i_ev, e_hi, _M_P, 1) * (1.0 + (c.r_h - 1.0) * e_lim / e_hi)
        s = np.where(high, bethe, s)
    return s


def _electronic_he(c: _Comp, e: np.ndarray) -> np.ndarray:
    """(k, n) He-ion electronic stopping at He energies ``e`` (keV)."""
    s = _fit_he(c.a_he, np.clip(e, _E_LOW_HE, _E_HIGH_HE))
    s = np.where(e < _E_LOW_HE, s * np.sqrt(e / _E_LOW_HE), s)
    high = e > _E_HIGH_HE
    if high.any():
        e_hi = np.maximum(e, _E_HIGH_HE)
        bethe = _bethe(c.z, c.i_ev, e_hi, IONS["alpha"][1], 2)
        s = np.where(high, bethe * (1.0 + (c.r_he - 1.0) * _E_HIGH_HE / e_hi), s)
    return s


def _nuclear_zbl(c: _Comp, e: np.ndarray, z1: int, m1: float) -> np.ndarray:
    """(k, n) ZBL universal nuclear stopping cross-section at lab energies ``e`` (keV)."""
    zz = z1**0.23 + c.z**0.23
    eps = 32.53 * c.m * e / (z1 * c.z * (m1 + c.m) * zz)
    low = np.log1p(1.1383 * eps) / (2.0 * (eps + 0.01321 * eps**0.21226 + 0.19593 * np.sqrt(eps)))
    # eps > 30: unscreened Coulomb limit, as ZBL prescribe (a <3 % step in S_n there).
    sn = np.where(eps <= 30.0, low, np.log(np.maximum(eps, 30.0)) / (2.0 * np.maximum(eps, 30.0)))
    return 8.462 * z1 * c.z * m1 * sn / ((m1 + c.m) * zz)


def _cross_section(ion: str, e: np.ndarray, key: tuple, nuclear: bool | None) -> np.ndarray:
    """Per-atom stopping cross-section (eV / 1e15 atoms/cm2) of composition ``key``.

    ``nuclear``: True adds ZBL nuclear stopping, False leaves it out, None gives it alone.
    """
    z1, m1, kind = IONS[ion]
    c = _comp_data(key)
    flat = e.reshape(-1)
    s = _nuclear_zbl(c, flat, z1, m1) if nuclear is not False else 0.0
    if nuclear is not None:
        s = s + (_electronic_he(c, flat) if kind == "He" else _electronic_h(c, flat * (_M_P / m1)))
    return (c.x @ s).reshape(e.shape)


def _mass(ion: str, e: np.ndarray, key: tuple, nuclear: bool | None) -> np.ndarray:
    """Mass stopping (MeV cm2/g): cross-section times N_A / mean atomic mass."""
    return _cross_section(ion, e, key, nuclear) * (_EV15_TO_MEV_CM2_MOL / _comp_data(key).m_mean)


# -- materials ----------------------------------------------------------------------------
def _composition_key(comp: Any, field: str) -> tuple[tuple[str, float], ...]:
    from pymatgen.core import Element

    amounts = comp.get_el_amt_dict()
    total = math.fsum(amounts.values())
    high = [el for el in amounts if Element(el).Z > 92]
    if high:
        raise InterphaseInputError(field, f"no ICRU 49 stopping data for {', '.join(high)} (Z > 92)")
    return tuple(sorted((el, round(a / total, 12)) for el, a in amounts.items() if a > 0))


@functools.lru_cache(maxsize=1024)
def _formula_key(formula: str, field: str) -> tuple[tuple[str, float], ...]:
    return _composition_key(parse_composition(formula, field), field)


@functools.lru_cache(maxsize=256)
def _named_phase(name: str) -> tuple[tuple, float, str] | None:
    """(composition key, default density, canonical name) of a built-in phase, or None."""
    try:
        canon = phases.resolve(name)
    except InterphaseInputError:
        return None
    ph = phases.get(canon)
    return _formula_key(ph.formula, "material"), ph.density, canon


def _material(material: Any, density_g_cm3: Any, field: str) -> tuple[tuple, float | None, str]:
    """(composition key, density g/cm3 or None, label) of any accepted material form."""
    if isinstance(material, Phase):
        key, rho, label = _formula_key(material.formula, field), material.density, material.name
    elif isinstance(material, str):
        named = _named_phase(material)
        key, rho, label = named if named else (_formula_key(material, field), None, material)
    else:
        from pymatgen.core import Composition

        if not isinstance(material, (Mapping, Composition)):
            kinds = "a phase name, Phase, chemical formula, {element: amount} dict or pymatgen Composition"
            raise InterphaseInputError(field, f"expected {kinds}, got {material!r}")
        comp = parse_composition(dict(material) if isinstance(material, Mapping) else material, field)
        # (not comp.reduced_formula: it warns for elements without an electronegativity, e.g. He)
        key, rho, label = _composition_key(comp, field), None, "".join(f"{el}{a:g}" for el, a in comp.get_el_amt_dict().items())
    if density_g_cm3 is not None:
        rho = V.positive(density_g_cm3, "density_g_cm3")
    return key, rho, label


def _need_density(rho: float | None, label: str, field: str = "density_g_cm3") -> float:
    if rho is None:
        raise InterphaseInputError(field, f"{label!r} is a composition without a density; pass density_g_cm3 (g/cm3)")
    return rho


# -- public stopping functions -------------------------------------------------------------
def stopping_cross_section(ion: str, energy_keV: Any, composition: Any, nuclear: bool = True) -> Any:
    """Stopping cross-section per atom, averaged over the composition (Bragg's rule).

    Parameters
    ----------
    ion : str
        "alpha"/"He-4", "triton"/"H-3", "proton"/"H-1" or "deuteron"/"H-2".
    energy_keV : float or array
        Ion kinetic energies (keV), each in (0, :data:`MAX_ENERGY_KEV`].
    composition : str, dict, Composition or Phase
        Phase name, formula, ``{element: amount}`` or a Phase (only its composition is used).
    nuclear : bool
        Add ZBL nuclear stopping to the electronic stopping.

    Returns
    -------
    float or ndarray
        eV / (1e15 atoms/cm2), the shape of ``energy_keV``.
    """
    name = ion_name(ion)
    e, scalar = _energies(energy_keV)
    key, _, _ = _material(composition, None, "composition")
    return _out(_cross_section(name, e, key, bool(nuclear)), scalar)


def mass_stopping_power(ion: str, energy_keV: Any, material: Any, nuclear: bool = True) -> Any:
    """Mass stopping power S/rho in MeV cm2/g (no density needed). See :func:`stopping_cross_section`."""
    name = ion_name(ion)
    e, scalar = _energies(energy_keV)
    key, _, _ = _material(material, None, "material")
    return _out(_mass(name, e, key, bool(nuclear)), scalar)


def linear_stopping_power(
    ion: str, energy_keV: Any, material: Any, nuclear: bool = True, density_g_cm3: float | None = None
) -> Any:
    """Linear stopping power -dE/dx in keV/nm.

    ``material`` is a phase name or Phase (its density, unless ``density_g_cm3`` overrides
    it), or a formula / dict / Composition together with ``density_g_cm3`` (g/cm3).
    """
    name = ion_name(ion)
    e, scalar = _energies(energy_keV)
    key, rho, label = _material(material, density_g_cm3, "material")
    rho = _need_density(rho, label)
    return _out(_mass(name, e, key, bool(nuclear)) * (rho * 1e-4), scalar)  # MeV/cm = 1e-4 keV/nm


# -- ranges and exit energies ----------------------------------------------------------------
_RANGE_E = np.geomspace(1e-2, MAX_ENERGY_KEV, 2801)  # keV, 400 nodes per decade
_RANGE_LNE = np.log(_RANGE_E)


@functools.lru_cache(maxsize=512)
def _range_table(ion: str, key: tuple, nuclear: bool) -> np.ndarray:
    """ln(CSDA range in g/cm2) on ``_RANGE_E`` for composition ``key``."""
    s_mass = _mass(ion, _RANGE_E, key, nuclear)
    f = _RANGE_E * 1e-3 / s_mass  # dR/dlnE in g/cm2 (E in MeV)
    steps = 0.5 * (f[1:] + f[:-1]) * np.diff(_RANGE_LNE)
    # Below the grid S ~ sqrt(E) (velocity-proportional), whose range is exactly 2 E / S.
    r0 = 2.0 * _RANGE_E[0] * 1e-3 / s_mass[0]
    return np.log(r0 + np.concatenate([[0.0], np.cumsum(steps)]))


def _range_gcm2(ln_r: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.exp(np.interp(np.log(e), _RANGE_LNE, ln_r))


def _energy_at_range(ln_r: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Inverse of the range table; r > 0 in g/cm2."""
    lr = np.log(r)
    e = np.exp(np.interp(lr, ln_r, _RANGE_LNE))
    below = lr < ln_r[0]  # R ~ sqrt(E) below the grid
    return np.where(below, _RANGE_E[0] * np.exp(2.0 * (lr - ln_r[0])), e)


def csda_range(
    ion: str, energy_keV: Any, material: Any, density_g_cm3: float | None = None, nuclear: bool = True
) -> Any:
    """CSDA range (nm): the integral of dE / S(E) from 0 to E (total stopping by default).

    Integrated by the trapezoidal rule in ln E on 400 nodes per decade from 10 eV (relative
    error ~1e-5), with the velocity-proportional law below 10 eV; tables are cached per
    (ion, composition) in mass units, so the density may change freely.
    """
    name = ion_name(ion)
    e, scalar = _energies(energy_keV)
    key, rho, label = _material(material, density_g_cm3, "material")
    rho = _need_density(rho, label)
    r = _range_gcm2(_range_table(name, key, bool(nuclear)), e) / rho * 1e7  # cm -> nm
    return _out(r, scalar)


def _path_layers(path: Any) -> list[tuple[tuple, float, float]]:
    """[(composition key, density g/cm3, thickness nm)] from ``path``."""
    if isinstance(path, (str, bytes, Mapping)) or not isinstance(path, Sequence):
        raise InterphaseInputError("path", f"expected a list of (material, thickness_nm[, density_g_cm3]), got {path!r}")
    layers = []
    for i, item in enumerate(path):
        field = f"path[{i}]"
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) not in (2, 3):
            raise InterphaseInputError(field, f"expected (material, thickness_nm[, density_g_cm3]), got {item!r}")
        try:
            t = float(item[1])
        except (TypeError, ValueError):
            raise InterphaseInputError(f"{field}.thickness_nm", f"expected a number, got {item[1]!r}") from None
        if not (math.isfinite(t) and t >= 0):
            raise InterphaseInputError(f"{field}.thickness_nm", f"must be finite and >= 0 nm, got {item[1]!r}")
        key, rho, label = _material(item[0], item[2] if len(item) == 3 else None, f"{field}.material")
        layers.append((key, _need_density(rho, label, f"{field}.density_g_cm3"), t))
    return layers


def exit_energy(ion: str, energy_keV: Any, path: Any, angle_deg: Any = 0.0, nuclear: bool = True) -> Any:
    """Energy (keV) left after crossing ``path``; 0 where the ion stops inside.

    Parameters
    ----------
    ion : str
        Ion name (see :func:`stopping_cross_section`).
    energy_keV : float or array
        Energy at the birth point (keV).
    path : list of (material, thickness_nm) or (material, thickness_nm, density_g_cm3)
        Layers from the birth point to the surface; thickness >= 0 nm, measured along the
        surface normal.
    angle_deg : float or array
        Direction from the surface normal, 0 <= angle < 90 degrees (broadcast against
        ``energy_keV``); the path length in a layer is thickness / cos(angle).
    nuclear : bool
        Include nuclear stopping.

    Notes
    -----
    Uses the cached range-energy tables: E_out = R^-1(R(E) - s) layer by layer, which is
    the exact solution of dE/ds = -S(E) for continuous slowing down.
    """
    name = ion_name(ion)
    e, e_scalar = _energies(energy_keV)
    try:
        ang = np.asarray(angle_deg, dtype=float)
        ok = bool(np.all(np.isfinite(ang) & (ang >= 0.0) & (ang < 90.0)))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InterphaseInputError("angle_deg", f"angles must be finite, >= 0 and < 90 degrees from the normal, got {angle_deg!r}")
    layers = _path_layers(path)
    e, inv_cos = np.broadcast_arrays(e, 1.0 / np.cos(np.radians(ang)))
    out = np.array(e, dtype=float)
    for key, rho, t in layers:
        alive = out > 0.0
        if t == 0.0 or not alive.any():
            continue
        ln_r = _range_table(name, key, bool(nuclear))
        left = _range_gcm2(ln_r, out[alive]) - rho * t * 1e-7 * inv_cos[alive]  # g/cm2
        new = np.zeros_like(left)
        ok = left > 0.0
        new[ok] = _energy_at_range(ln_r, left[ok])
        out[alive] = new
    return _out(out, e_scalar and ang.ndim == 0)


# -- tabulated stopping (SRIM) -----------------------------------------------------------------
_NUM = r"[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?"
_E_UNITS = {"ev": 1e-3, "kev": 1.0, "mev": 1e3, "gev": 1e6}
_L_UNITS = {"a": 0.1, "nm": 1.0, "um": 1e3, "mm": 1e6, "cm": 1e7, "m": 1e9, "km": 1e12}
_ROW = re.compile(rf"^\s*({_NUM})\s*(eV|keV|MeV|GeV)\s+({_NUM})\s+({_NUM})\s+({_NUM})\s*(A|nm|um|mm|cm|m|km)(?:\s|$)")
# SRIM stopping units (spaces removed, lower case) -> factor to keV/nm given (rho g/cm3, n atoms/cm3).
_SRIM_UNITS = {
    "ev/angstrom": lambda rho, n: 1e-2,
    "kev/micron": lambda rho, n: 1e-3,
    "mev/mm": lambda rho, n: 1e-3,
    "kev/(ug/cm2)": lambda rho, n: 0.1 * rho,
    "mev/(mg/cm2)": lambda rho, n: 0.1 * rho,
    "kev/(mg/cm2)": lambda rho, n: 1e-4 * rho,
    "ev/(1e15atoms/cm2)": lambda rho, n: None if n is None else 1e-25 * n,
    "l.s.s.reducedunits": lambda rho, n: None,  # only through the file's conversion table
}


def _unit_key(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


class StoppingTable:
    """Tabulated stopping of one ion in one material, at a stated density.

    Parameters
    ----------
    energy_keV : array
        Strictly increasing energies (keV), at least two.
    electronic_keV_nm, nuclear_keV_nm : array
        Electronic (> 0) and nuclear (>= 0) linear stopping at ``density_g_cm3`` (keV/nm).
    density_g_cm3 : float
        Density the linear stopping refers to (g/cm3).
    ion : str
        Ion name (see :func:`stopping_cross_section`); kept canonical in ``ion``.
    name, source : str, optional
        A label (e.g. the target) and where the numbers came from (e.g. a file path).
    projected_range_nm : array, optional
        Projected range column, if the source has one (informative only).
    """

    def __init__(
        self,
        energy_keV: Any,
        electronic_keV_nm: Any,
        nuclear_keV_nm: Any,
        density_g_cm3: float,
        ion: str,
        name: str | None = None,
        source: str | None = None,
        projected_range_nm: Any = None,
    ) -> None:
        self.ion = ion_name(ion)
        e = np.asarray(energy_keV, dtype=float)
        se = np.asarray(electronic_keV_nm, dtype=float)
        sn = np.asarray(nuclear_keV_nm, dtype=float)
        if e.ndim != 1 or e.size < 2 or se.shape != e.shape or sn.shape != e.shape:
            raise InterphaseInputError("table", "energy, electronic and nuclear columns must be 1-D, equal length >= 2")
        if not (np.all(np.isfinite(e)) and np.all(e > 0) and np.all(np.diff(e) > 0)):
            raise InterphaseInputError("table.energy_keV", "energies must be finite, > 0 and strictly increasing")
        if not (np.all(np.isfinite(se)) and np.all(se > 0) and np.all(np.isfinite(sn)) and np.all(sn >= 0)):
            raise InterphaseInputError("table.stopping", "electronic stopping must be > 0 and nuclear >= 0, finite")
        self.energy_keV, self.electronic_keV_nm, self.nuclear_keV_nm = e, se, sn
        self.density_g_cm3 = V.positive(density_g_cm3, "density_g_cm3")
        self.name, self.source = name, source
        self.projected_range_nm = None if projected_range_nm is None else np.asarray(projected_range_nm, dtype=float)
        self._lne, self._lnse = np.log(e), np.log(se)
        # Log-log where possible; a zero in the nuclear column forces linear-in-ln E there.
        self._lnsn = np.log(sn) if np.all(sn > 0) else None

    def linear(self, energy_keV: Any, nuclear: bool = True) -> Any:
        """Linear stopping (keV/nm) at the table's density, log-log interpolated.

        Energies outside [energy_keV[0], energy_keV[-1]] raise :class:`InterphaseInputError`.
        """
        e, scalar = _energies(energy_keV)
        lo, hi = self.energy_keV[0], self.energy_keV[-1]
        outside = (e < lo * (1 - 1e-12)) | (e > hi * (1 + 1e-12))
        if outside.any():
            what = self.name or self.source or "this StoppingTable"
            raise InterphaseInputError("energy_keV", f"{e[outside].flat[0]:g} keV is outside [{lo:g}, {hi:g}] keV of {what}")
        x = np.log(e)
        s = np.exp(np.interp(x, self._lne, self._lnse))
        if nuclear:
            if self._lnsn is not None:
                s = s + np.exp(np.interp(x, self._lne, self._lnsn))
            else:
                s = s + np.interp(x, self._lne, self.nuclear_keV_nm)
        return _out(s, scalar)

    def mass(self, energy_keV: Any, nuclear: bool = True) -> Any:
        """Mass stopping (MeV cm2/g)."""
        return self.linear(energy_keV, nuclear) / (self.density_g_cm3 * 1e-4)

    def __repr__(self) -> str:
        e = self.energy_keV
        return f"StoppingTable({self.ion} in {self.name or '?'}, {e[0]:g}-{e[-1]:g} keV, {self.density_g_cm3:.4g} g/cm3)"

    @classmethod
    def from_srim(cls, path: str | os.PathLike, density_g_cm3: float | None = None) -> StoppingTable:
        """Read the text file SRIM's "Stopping/Range Tables" (SR.exe / SRModule) writes.

        The header gives the ion (``Ion = Helium [2] , Mass = 4.003 amu``), the density
        (``Density = 2.3210E+00 g/cm3 = 4.9766E+22 atoms/cm3``; "Target Density" in SR.exe) and
        ``Stopping Units = MeV / (mg/cm2)`` (also eV/Angstrom, keV/micron, MeV/mm,
        keV/(ug/cm2), keV/(mg/cm2), eV/(1E15 atoms/cm2), L.S.S. reduced units). Rows carry
        energy units (eV .. GeV) and range units (A .. km). The footer's "Multiply Stopping by"
        table, when present, converts the units (SRIM's own factors); otherwise the density is
        used. ``density_g_cm3`` rescales the table to another density (mass stopping kept).
        Supported ions: H-1, H-2, H-3 and He-4.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise InterphaseInputError("srim", f"no such file: {path}")
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        return cls(**_parse_srim(text, path, density_g_cm3))


def _parse_srim(text: str, source: str, density_override: float | None) -> dict[str, Any]:
    where = f"SRIM file {source}"
    m = re.search(rf"Ion\s*=\s*([A-Za-z]+)\s*\[\s*(\d+)\s*\]\s*,\s*Mass\s*=\s*({_NUM})\s*amu", text)
    if not m:
        raise InterphaseInputError("srim", f"{where}: no 'Ion = <name> [Z] , Mass = <m> amu' header line")
    z_ion, mass = int(m.group(2)), float(m.group(3))
    ions = {(1, 1): "proton", (1, 2): "deuteron", (1, 3): "triton", (2, 4): "alpha"}
    ion = ions.get((z_ion, round(mass)))
    if ion is None:
        raise InterphaseInputError("srim", f"{where}: ion Z = {z_ion}, {mass} amu is not one of H-1, H-2, H-3, He-4")
    d = re.search(rf"Density\s*=\s*({_NUM})\s*g/cm3(?:\s*=\s*({_NUM})\s*atoms/cm3)?", text)
    if not d:
        raise InterphaseInputError("srim", f"{where}: no 'Density = <rho> g/cm3' header line")
    rho, n_atoms = float(d.group(1)), (float(d.group(2)) if d.group(2) else None)
    u = re.search(r"Stopping\s+Units\s*=\s*([^\r\n]+)", text)
    if not u:
        raise InterphaseInputError("srim", f"{where}: no 'Stopping Units = ...' header line")
    unit = _unit_key(u.group(1))
    if unit not in _SRIM_UNITS:
        known = "MeV/(mg/cm2), keV/(ug/cm2), keV/(mg/cm2), keV/micron, MeV/mm, eV/Angstrom, eV/(1E15 atoms/cm2), L.S.S."
        raise InterphaseInputError("srim", f"{where}: unknown stopping units {u.group(1).strip()!r}; supported: {known}")
    rows, factors, in_footer = [], {}, False
    for line in text.splitlines():
        if "Multiply Stopping by" in line:
            in_footer = True
        elif in_footer:
            f = re.match(rf"^\s*({_NUM})\s+(\S.*?)\s*$", line)
            if f:
                factors[_unit_key(f.group(2))] = float(f.group(1))
        elif r := _ROW.match(line):
            rows.append((float(r.group(1)) * _E_UNITS[r.group(2).lower()], float(r.group(3)),
                         float(r.group(4)), float(r.group(5)) * _L_UNITS[r.group(6).lower()]))  # fmt: skip
    if len(rows) < 2:
        raise InterphaseInputError("srim", f"{where}: fewer than two stopping table rows found")
    analytic = _SRIM_UNITS[unit](rho, n_atoms)
    if "kev/micron" in factors:
        to_kev_nm = factors["kev/micron"] * 1e-3  # SRIM's own factor
        if analytic is not None and abs(to_kev_nm / analytic - 1.0) > 0.01:
            raise InterphaseInputError("srim", f"{where}: the conversion table disagrees with the header density")
    elif analytic is not None:
        to_kev_nm = analytic
    else:
        raise InterphaseInputError("srim", f"{where}: {u.group(1).strip()!r} needs the missing 'Multiply Stopping by' table")
    arr = np.array(rows)
    scale = 1.0 if density_override is None else V.positive(density_override, "density_g_cm3") / rho
    k = to_kev_nm * scale
    target = re.search(r"Disk File Name\s*=\s*([^\r\n]+)", text)
    name = target.group(1).strip() if target else None
    return dict(energy_keV=arr[:, 0], electronic_keV_nm=arr[:, 1] * k, nuclear_keV_nm=arr[:, 2] * k,
                density_g_cm3=rho * scale, ion=ion, name=name, source=source, projected_range_nm=arr[:, 3] / scale)  # fmt: skip


# -- stopping sources -------------------------------------------------------------------------
class StoppingSource(abc.ABC):
    """Where a forward model gets stopping powers from.

    Any object with a ``linear_stopping(ion, energy_keV, phase)`` method returning keV/nm
    at the phase's current density serves; subclassing this base is optional.
    """

    @abc.abstractmethod
    def linear_stopping(self, ion: str, energy_keV: Any, phase: Any) -> Any:
        """Linear stopping (keV/nm) of ``ion`` at ``energy_keV`` in ``phase`` (Phase or name)."""


class ICRU49(StoppingSource):
    """ICRU 49 electronic (+ ZBL nuclear) stopping of the elements, Bragg's rule for phases."""

    def __init__(self, nuclear: bool = True) -> None:
        self.nuclear = bool(nuclear)

    def linear_stopping(self, ion: str, energy_keV: Any, phase: Any) -> Any:
        return linear_stopping_power(ion, energy_keV, phase, nuclear=self.nuclear)

    def __repr__(self) -> str:
        return f"ICRU49(nuclear={self.nuclear})"


class TableSource(StoppingSource):
    """Tabulated stopping for some phases, another source for the rest.

    Parameters
    ----------
    tables : mapping of phase name -> StoppingTable or sequence of StoppingTable
        Tables per phase (one per ion at most). A table is scaled to the phase's density
        (mass stopping kept); an H-isotope table serves the other H isotopes at the same
        velocity (electronic part), with ZBL nuclear stopping for the actual ion.
    fallback : StoppingSource or None
        Used for phases or ions without a table (default :class:`ICRU49`); None makes a
        missing table an error.
    nuclear : bool
        Include nuclear stopping from the tables.
    """

    _DEFAULT: Any = object()

    def __init__(self, tables: Mapping[str, Any], fallback: Any = _DEFAULT, nuclear: bool = True) -> None:
        if not isinstance(tables, Mapping):
            raise InterphaseInputError("tables", f"expected a mapping phase name -> StoppingTable, got {tables!r}")
        self.tables: dict[str, list[StoppingTable]] = {}
        for name, value in tables.items():
            lst = [value] if isinstance(value, StoppingTable) else list(value) if isinstance(value, Sequence) else [value]
            if not lst or not all(isinstance(t, StoppingTable) for t in lst):
                raise InterphaseInputError(f"tables[{name!r}]", "expected a StoppingTable or a list of them")
            self.tables[self._canon(name)] = lst
        self.fallback = ICRU49(nuclear) if fallback is TableSource._DEFAULT else fallback
        self.nuclear = bool(nuclear)

    @staticmethod
    def _canon(name: str) -> str:
        try:
            return phases.resolve(name)
        except InterphaseInputError:
            return str(name)

    def _find(self, ion: str, phase_name: str) -> StoppingTable | None:
        tables = self.tables.get(self._canon(phase_name), [])
        same = [t for t in tables if t.ion == ion]
        same_z = [t for t in tables if IONS[t.ion][0] == IONS[ion][0] == 1]
        return (same or same_z or [None])[0]

    def linear_stopping(self, ion: str, energy_keV: Any, phase: Any) -> Any:
        name = ion_name(ion)
        table = self._find(name, phase.name if isinstance(phase, Phase) else str(phase))
        if table is None:
            if self.fallback is None:
                raise InterphaseInputError("phase", f"no stopping table for {name} in {phase!r} and no fallback source")
            return self.fallback.linear_stopping(name, energy_keV, phase)
        e, scalar = _energies(energy_keV)
        key, rho, label = _material(phase, None, "phase")
        rho = _need_density(rho, label)
        scale = rho / table.density_g_cm3
        if table.ion == name:
            s = table.linear(e, nuclear=self.nuclear) * scale
        else:  # another H isotope: same velocity for the electronic part
            s = table.linear(e * (IONS[table.ion][1] / IONS[name][1]), nuclear=False) * scale
            if self.nuclear:
                s = s + _mass(name, e, key, None) * (rho * 1e-4)
        return _out(np.asarray(s), scalar)

    def __repr__(self) -> str:
        return f"TableSource({sorted(self.tables)}, fallback={self.fallback!r})"


class PyCatima(StoppingSource):
    """Stopping from CATIMA (``pycatima`` package: SRIM-type fits at low energy, Bethe with
    Lindhard-Sorensen corrections at high energy; total = electronic + nuclear).

    ``nuclear=False`` subtracts this module's ZBL nuclear stopping, the same universal
    formula CATIMA adds. Raises :class:`InterphaseInputError` if ``pycatima`` is missing.
    """

    def __init__(self, nuclear: bool = True) -> None:
        try:
            import pycatima
        except ImportError:
            raise InterphaseInputError("stopping", "PyCatima needs the optional package pycatima (pip install pycatima)") from None
        self._catima = pycatima
        self.nuclear = bool(nuclear)

    def linear_stopping(self, ion: str, energy_keV: Any, phase: Any) -> Any:
        name = ion_name(ion)
        e, scalar = _energies(energy_keV)
        key, rho, label = _material(phase, None, "phase")
        rho = _need_density(rho, label)
        c = self._catima
        z1, m1, _ = IONS[name]
        c_data = _comp_data(key)
        # CATIMA reads amounts below 1 as mass fractions: give atom counts >= 1 instead.
        counts = c_data.x / c_data.x.min()
        mat = c.Material([[float(m), int(z), float(n)] for m, z, n in zip(c_data.m[:, 0], c_data.z[:, 0], counts)])
        mat.density(rho)
        proj = c.Projectile(m1, z1)
        flat = e.reshape(-1)
        mass = np.empty(flat.size)
        for i, ei in enumerate(flat):
            proj.T(ei * 1e-3 / m1)  # CATIMA wants MeV per u
            mass[i] = c.dedx(proj, mat)  # MeV cm2/g, electronic + nuclear
        if not self.nuclear:
            mass -= _mass(name, flat, key, None)
        return _out((mass * (rho * 1e-4)).reshape(e.shape), scalar)

    def __repr__(self) -> str:
        return f"PyCatima(nuclear={self.nuclear})"
