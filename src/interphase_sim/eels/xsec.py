"""Partial ionization cross-sections for core-loss EELS (hydrogenic K and L2,3 shells).

Model
-----
This is the model of R.F. Egerton's programs SIGMAK3 and SIGMAL3 (R.F. Egerton, *Electron
Energy-Loss Spectroscopy in the Electron Microscope*, 3rd ed., Springer 2011, Sect. 3.6
and Appendix B; K shell: Egerton, Ultramicroscopy 4 (1979) 169; L shell: Egerton, Proc.
39th EMSA (1981) 198), re-derived and vectorized here, not translated.

* Energy-differential cross-section per atom (first Born approximation),
  ``dsigma/dE = 4 pi a0^2 (R^2 / (E T)) * integral of df/dE(E, q) d ln(q^2 a0^2)``
  from ``q_min`` to ``q_max(beta)``, with ``R`` the Rydberg energy, ``a0`` the Bohr radius
  and ``T = m0 v^2 / 2`` (not the kinetic energy: the relativistic form of Bethe theory).
* Relativistic kinematics, exact: ``(k0 a0)^2 = gamma^2 T / R``,
  ``(k1 a0)^2 = (k0 a0)^2 - (E / R)(gamma - E / (2 m0 c^2))``, ``q_min = k0 - k1`` and
  ``q_max^2 = q_min^2 + 4 k0 k1 sin^2(beta / 2)``. (SIGMAK3 uses the series
  ``E^2 / (4 R T) + E^3 / (8 gamma^3 R T^2)`` for ``(q_min a0)^2``; the two agree to
  better than 1e-5 relative at TEM energies.)
* K shell: hydrogenic generalized oscillator strength (GOS) with screened charge
  ``Zs = Z - 0.5`` (``Zs = 1`` for hydrogen), two electrons. With ``Q = (q a0)^2 / Zs^2``
  and ``kH^2 = E / (R Zs^2) - 1``:
  ``df/dE = 128 n E / (R^2 Zs^4) (Q + kH^2/3 + 1/3) C / (D [(Q - kH^2 + 1)^2 + 4 kH^2]^3)``,
  above the hydrogenic threshold (``kH^2 >= 0``) ``C = exp(-(2/kH) atan(2 kH / (Q - kH^2 + 1)))``
  (the arctangent taken in (0, pi)) and ``D = 1 - exp(-2 pi / kH)``; below it (real edges
  start below ``R Zs^2``) the analytic continuation
  ``C = exp(-(1/|kH|) ln((Q + 1 - kH^2 + 2|kH|) / (Q + 1 - kH^2 - 2|kH|)))``, ``D = 1``.
* L2,3 shell: hydrogenic n = 2 GOS with Slater screening ``Zs = Z - 0.35 * 7 - 1.7``,
  ``kH^2 = E / (R Zs^2) - 1/4``, the 2p polynomial (the 2s one above the L1 onset) of
  SIGMAL3, times Egerton's empirical correction ``((E + 0.1 - E_L3) / (1.8 Z^2))^u``,
  whose exponent ``u`` he tabulated for Z = 11-36 (column ``xu`` of :data:`EDGES`). SIGMAL3's
  optional white-line tweak for 3d metals (correction set to 1 within 20 eV of the onset)
  is left out, as in exspy: white lines belong to the user's fine-structure model.

Constants are CODATA 2018; Egerton's programs use 13.606 eV, 511.06 keV and the prefactor
3.5166e8 barn (0.07 % below 4 pi a0^2), so results differ from theirs at the 0.1 % level.

Convergent probe
----------------
For a convergence semi-angle ``alpha > 0`` the illumination fills a disc of radius
``alpha`` uniformly and the aperture (radius ``beta``) is centred on the optic axis
(Egerton 2011 Sect. 4.5). An electron scattered by the angle ``theta``, in a random
azimuth, is collected with the probability ``w(theta) = A(theta) / (pi alpha^2)``, ``A``
the area of the overlap of two discs of radii ``alpha`` and ``beta`` whose centres are
``theta`` apart: ``w = min(1, beta^2 / alpha^2)`` up to ``|beta - alpha|``, falling to 0
at ``alpha + beta``. The cross-section per incident electron is then exactly

``dsigma/dE = 4 pi a0^2 (R^2 / (E T)) * integral of w(theta(q)) df/dE d ln(q^2 a0^2)``

from ``q_min`` to ``q(alpha + beta)``, with ``theta(q)`` from the kinematics above: the
hydrogenic angular distribution itself (Bethe ridge included) is averaged, with no
Lorentzian approximation. The integral is split where ``w`` has a kink
(``|beta - alpha|``) and at the Bethe ridge, 48-point Gauss-Legendre on each piece
(within 1e-5 of adaptive quadrature); a brute-force 2-D average over incident and
scattered directions agrees to < 0.2 % for ``alpha = 2-4 beta`` at 200-300 kV (the tests
do it). ``normalization="incident"`` (the default) gives this; use it with the beam dose.
``normalization="low-loss"`` multiplies it by ``max(1, alpha^2 / beta^2)``, pairing the
cross-section with a low-loss intensity recorded through the same aperture, which for
``alpha > beta`` is itself cut by ``beta^2 / alpha^2`` (the usual quantification ratio).
With a GOSH file the same collection factor, computed with the hydrogenic GOS, multiplies
the GOSH parallel-beam cross-section. Tables are cached per (edge, beam, alpha, beta).

:func:`convergence_correction` returns the factors ``F1`` (per incident electron),
``F2 = F1 max(1, alpha^2 / beta^2)`` and ``beta*``. Given an edge it computes ``F1`` as
the exact ratio above; without one it evaluates the closed form for a Lorentzian angular
distribution of width ``theta_E`` (M. Scheinfein and M. Isaacson, SEM/1984 (1984) 1685;
Egerton's program CONCOR2): ``F1 = eta / (2 a ln(1 + b / t))`` with ``a = alpha^2``,
``b = beta^2``, ``t = theta_E^2``, ``S = sqrt((a + b + t)^2 - 4 a b)``,
``eta = S - a - b - t + 2 b ln((S + a + t - b) / (2 t)) + 2 a ln((S + b + t - a) / (2 t))``
(evaluated in cancellation-free form), ``theta_E = E / (2 gamma T)`` the characteristic
angle of Egerton 2011 Ch. 3. That closed form, which the cross-sections used before, is
within 1 % of the exact average for ``alpha <= beta`` but 6-25 % high near the onset for
``alpha = 2-4 beta`` at 200-300 kV, and too low (by up to half: Li K 300 eV above its
onset) far above the onset, where the Bethe ridge, not a Lorentzian, sets the angular
distribution. CONCOR2 as distributed, and exspy's ``effective_angle`` after it, use
``E / (gamma T)`` (twice ``theta_E``); exspy also replaces ``beta`` by ``beta*`` at the
onset energy only.

Units: energies eV, angles mrad, cross-sections barn (1 barn = 1e-24 cm2) and barn/eV.
Energy losses above ``E0 / 2`` give zero (beyond it the faster of two indistinguishable
electrons is the "primary"; the model is meaningless there long before).
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from interphase_sim.core import validate as V
from interphase_sim.core.constants import ELECTRON_REST_ENERGY_EV, RYDBERG_EV
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.settings import BEAM_ENERGY_EV, COLLECTION_MRAD, CONVERGENCE_MRAD

__all__ = [
    "EDGES",
    "ConvergenceCorrection",
    "Edge",
    "convergence_correction",
    "differential_cross_section",
    "edge",
    "edges_for",
    "ionization_cross_section",
]

# CODATA 2018 (the Rydberg and rest energies: core.constants).
_A0_CM = 5.29177210903e-9  # Bohr radius, cm
_FOUR_PI_A0SQ_BARN = 4.0 * math.pi * _A0_CM**2 / 1e-24  # 3.5189e8 barn

# the physical ranges of the beam energy and the angles: one declaration, in core.settings
MAX_BEAM_ENERGY_EV = BEAM_ENERGY_EV.high

_SOURCE_ONSETS = (
    "onset: Egerton 2011 Appendix D / Gatan EELS Atlas (Ahn & Krivanek 1983), the values of "
    "exspy's element database"
)
_SOURCE_ATLAS = "onset: Ahn & Krivanek, EELS Atlas (1983); Egerton, EELS in the EM (2011)"


@dataclass(frozen=True)
class Edge:
    """One ionization edge.

    Attributes
    ----------
    name : str
        Canonical name, e.g. ``"O K"`` or ``"Mn L2,3"``.
    element : str
        Element symbol.
    z : int
        Atomic number.
    shell : str
        ``"K"`` or ``"L2,3"``.
    onset_eV : float
        Edge onset (K, or L3 for L2,3 edges), eV.
    l2_onset_eV, l1_onset_eV : float or None
        L2 and L1 onsets (eV) of L2,3 edges; the L1 onset is where SIGMAL3 switches from
        the 2p to the 2s polynomial, the L2 onset is used only with a GOSH file.
    xu : float or None
        Exponent ``u`` of Egerton's empirical L-shell correction (SIGMAL3's table, Z = 11-36).
    source : str
        Where the onset comes from.
    """

    name: str
    element: str
    z: int
    shell: str
    onset_eV: float
    l2_onset_eV: float | None = None
    l1_onset_eV: float | None = None
    xu: float | None = None
    source: str = _SOURCE_ONSETS


def _k(el: str, z: int, onset: float, source: str = _SOURCE_ONSETS) -> Edge:
    return Edge(f"{el} K", el, z, "K", onset, source=source)


def _l(el: str, z: int, l3: float, l2: float, l1: float, xu: float, source: str = _SOURCE_ONSETS) -> Edge:
    return Edge(f"{el} L2,3", el, z, "L2,3", l3, l2, l1, xu, source)


# L1 onsets and u exponents: Egerton's SIGMAL3 tables (its IE1 and XU arrays, identical to
# the L1 onsets of exspy's database except Si, 149.7 there). L2 onsets: docs/references.md for Mn
# and Ni, exspy's database for Cu, and L3 plus the 2p spin-orbit splitting for Si (exspy's
# 0.6 eV) and Al, P, S (X-ray Data Booklet, LBNL 2009, Table 1-1: 0.4, 1.0, 1.1 eV).
EDGES: dict[str, Edge] = {
    e.name: e
    for e in (
        _k("Li", 3, 55.0, _SOURCE_ATLAS),
        _k("B", 5, 188.0),
        _k("C", 6, 284.0),
        _k("N", 7, 401.0, _SOURCE_ATLAS),
        _k("O", 8, 532.0, _SOURCE_ATLAS),
        _k("F", 9, 685.0, _SOURCE_ATLAS),
        _k("Al", 13, 1560.0),
        _k("Si", 14, 1839.0),
        _k("P", 15, 2146.0),
        _l("Al", 13, 73.0, 73.4, 118.0, 0.52),
        _l("Si", 14, 99.0, 99.6, 149.0, 0.42),
        _l("P", 15, 132.0, 133.0, 189.0, 0.30, _SOURCE_ATLAS),
        _l("S", 16, 165.0, 166.1, 229.0, 0.29),
        _l("Mn", 25, 640.0, 651.0, 769.0, 0.16, _SOURCE_ATLAS + " (L3 640, L2 651)"),
        _l("Ni", 28, 855.0, 872.0, 1008.0, 0.22, _SOURCE_ATLAS + " (L3 855, L2 872)"),
        _l("Cu", 29, 931.0, 951.0, 1096.0, 0.14),
    )
}


# -- names ---------------------------------------------------------------------------------
_SHELL_ALIASES = {"k": "K", "l23": "L2,3", "l2,3": "L2,3", "l3": "L2,3", "l": "L2,3"}


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text).lower()


@functools.cache
def _lookup() -> dict[str, str]:
    table = {}
    for name, e in EDGES.items():
        for alias, shell in _SHELL_ALIASES.items():
            if shell == e.shell:
                table[_squash(e.element + alias)] = name
    return table


def edge(name: str | Edge) -> Edge:
    """Look up an edge by name, tolerant of case and spacing.

    Parameters
    ----------
    name : str or Edge
        ``"Li K"``, ``"li k"``, ``"Li-K"``, ``"P L2,3"``, ``"P L23"``, ``"P_L3"`` ...; an
        :class:`Edge` is returned as it is.

    Returns
    -------
    Edge

    Raises
    ------
    InterphaseInputError
        Unknown name; the message lists close matches and all available edges.
    """
    if isinstance(name, Edge):
        return name
    if not isinstance(name, str):
        raise InterphaseInputError("edge", f"expected an edge name such as 'O K' or an Edge, got {name!r}")
    key = _squash(name)
    table = _lookup()
    if key in table:
        return EDGES[table[key]]
    close = sorted({table[k] for k in difflib.get_close_matches(key, list(table), n=6, cutoff=0.6)})
    hint = f"close matches: {', '.join(close)}; " if close else ""
    raise InterphaseInputError("edge", f"unknown edge {name!r}; {hint}available: {', '.join(EDGES)}")


def edges_for(elements: Iterable[str] | str) -> list[str]:
    """Names of the tabulated edges of the given elements, in :data:`EDGES` order per element.

    Parameters
    ----------
    elements : iterable of str, or str
        Element symbols (case-insensitive: ``"li"`` is Li). A single symbol is accepted too.

    Returns
    -------
    list of str
        Possibly empty for elements without tabulated edges (e.g. H).

    Raises
    ------
    InterphaseInputError
        An entry that is not an element symbol.
    """
    from pymatgen.core.periodic_table import Element

    items = [elements] if isinstance(elements, str) else list(elements)
    out: list[str] = []
    for i, item in enumerate(items):
        sym = item.strip().capitalize() if isinstance(item, str) else None
        if sym is None or not Element.is_valid_symbol(sym):
            raise InterphaseInputError(f"elements[{i}]", f"not an element symbol: {item!r}")
        out.extend(n for n, e in EDGES.items() if e.element == sym and n not in out)
    return out


# -- input checks ----------------------------------------------------------------------------
def _settings(e: Edge, beam: Any, beta: Any, alpha: Any) -> tuple[float, float, float]:
    e0 = V.number(beam, "beam_energy_eV", BEAM_ENERGY_EV)
    if e0 <= 2.0 * e.onset_eV:
        raise InterphaseInputError(
            "beam_energy_eV",
            f"must exceed twice the {e.name} onset ({2 * e.onset_eV:g} eV) and be <= {MAX_BEAM_ENERGY_EV:g} eV; "
            f"got {beam!r} (the model is for fast electrons, E0 >> onset)",
        )
    b = V.number(beta, "collection_mrad", COLLECTION_MRAD)
    a = V.number(alpha, "convergence_mrad", CONVERGENCE_MRAD)
    return e0, b, a


# -- kinematics and the convergence correction ----------------------------------------------
def _kinematics(e0: float) -> tuple[float, float]:
    """(gamma, T = m0 v^2 / 2 in eV) of an electron of kinetic energy ``e0`` (eV)."""
    gamma = 1.0 + e0 / ELECTRON_REST_ENERGY_EV
    return gamma, 0.5 * ELECTRON_REST_ENERGY_EV * (1.0 - 1.0 / gamma**2)


def _theta_e(energy: np.ndarray, e0: float) -> np.ndarray:
    """Characteristic angle ``E / (gamma m0 v^2)`` (rad) at energy losses ``energy`` (eV).

    Not CONCOR2's ``E / (gamma T)``: see the module notes for why and by how much it matters.
    """
    gamma, t = _kinematics(e0)
    return energy / (2.0 * gamma * t)


class ConvergenceCorrection(NamedTuple):
    """The convergence correction at each energy loss (see the module notes).

    Attributes
    ----------
    f1 : ndarray
        Collected fraction relative to parallel illumination (per incident electron).
    f2 : ndarray
        ``f1 max(1, alpha^2 / beta^2)``: the factor for quantification against a low-loss
        intensity recorded through the same aperture; what ``beta*`` reproduces.
    effective_collection_mrad : ndarray
        ``beta*`` (mrad).
    """

    f1: np.ndarray
    f2: np.ndarray
    effective_collection_mrad: np.ndarray


def _correction(energy: np.ndarray, e0: float, beta_mrad: float, alpha_mrad: float) -> ConvergenceCorrection:
    th = _theta_e(energy, e0)
    t, b = th * th, (beta_mrad * 1e-3) ** 2
    a = np.full_like(t, (alpha_mrad * 1e-3) ** 2)
    parallel = a < 1e-10 * (b + t)  # below this F1 differs from 1 by < 1e-10
    a = np.where(parallel, 1e-10 * (b + t), a)  # keeps the formulas finite; replaced below
    s = np.sqrt((a + b + t) ** 2 - 4.0 * a * b)
    # The textbook eta cancels to O(a) as a -> 0; these forms are exact rearrangements:
    # S - a - b - t = -4ab / (S + a + b + t), and (S + a + t - b) / 2t = 1 + 2a / (S + t + b - a)
    # (since S^2 - (t + b - a)^2 = 4at); likewise with a and b swapped.
    eta1 = -4.0 * a * b / (s + a + b + t)
    q2, q3 = t + b - a, t + a - b
    with np.errstate(divide="ignore", invalid="ignore"):
        l2 = np.where(q2 >= 0, np.log1p(2.0 * a / (s + q2)), np.log((s + a + t - b) / (2.0 * t)))
        l3 = np.where(q3 >= 0, np.log1p(2.0 * b / (s + q3)), np.log((s + b + t - a) / (2.0 * t)))
    log_par = np.log1p(b / t)
    f1 = (eta1 + 2.0 * b * l2 + 2.0 * a * l3) / (2.0 * a * log_par)
    f1 = np.where(parallel, 1.0, f1)
    f2 = f1 * np.maximum(1.0, a / b)
    f2 = np.where(parallel, 1.0, f2)
    beta_eff = th * np.sqrt(np.expm1(f2 * log_par)) * 1e3
    return ConvergenceCorrection(f1, f2, np.where(parallel, beta_mrad, beta_eff))


def convergence_correction(
    energy_loss_eV: Any, beam_energy_eV: float, collection_mrad: float, convergence_mrad: float,
    edge: str | Edge | None = None,
) -> ConvergenceCorrection:
    """Convergence correction (``F1``, ``F2``, ``beta*``) at each energy loss.

    Parameters
    ----------
    energy_loss_eV : float or array
        Energy losses (eV), > 0.
    beam_energy_eV : float
        Beam kinetic energy ``E0`` (eV), in (1 keV, 10 MeV].
    collection_mrad, convergence_mrad : float
        Collection semi-angle ``beta`` in (0, 500] and convergence semi-angle ``alpha`` in [0, 200], mrad.
    edge : str or Edge, optional
        With an edge, ``F1`` is the exact ratio of the convergent to the parallel-beam
        hydrogenic cross-section of that edge (what :func:`differential_cross_section`
        applies); without, the Scheinfein-Isaacson closed form for a Lorentzian angular
        distribution (module notes: 6-25 % high for ``alpha = 2-4 beta``).

    Returns
    -------
    ConvergenceCorrection
        Arrays of the shape of ``energy_loss_eV``; all ones and ``beta`` for ``alpha = 0``.
        With an edge, ``F1 = 1`` below its onset (no cross-section to correct).
    """
    e0 = V.number(beam_energy_eV, "beam_energy_eV", BEAM_ENERGY_EV)
    b = V.number(collection_mrad, "collection_mrad", COLLECTION_MRAD)
    a = V.number(convergence_mrad, "convergence_mrad", CONVERGENCE_MRAD)
    energy = _energy_axis(energy_loss_eV)
    if np.any(energy <= 0.0):
        raise InterphaseInputError("energy_loss_eV", "must be > 0 eV for the convergence correction")
    if edge is None or a == 0.0:
        return _correction(energy, e0, b, a)
    e = _edge_arg(edge)
    _settings(e, e0, b, a)
    flat = energy.ravel()
    inside = (flat > e.onset_eV) & (flat < 0.5 * e0)
    f1 = np.ones_like(flat)
    if inside.any():
        f1[inside] = _collection_factor(e, flat[inside], e0, b, a)
    f1 = f1.reshape(energy.shape)
    f2 = f1 * max(1.0, a * a / (b * b))
    th = _theta_e(energy, e0)
    beta_eff = th * np.sqrt(np.expm1(f2 * np.log1p((b * 1e-3) ** 2 / (th * th)))) * 1e3
    return ConvergenceCorrection(f1, f2, beta_eff)


# -- hydrogenic GOS ------------------------------------------------------------------------------
def _coulomb_factors(kh2: np.ndarray, x: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Coulomb factors (C, D) of the hydrogenic GOS, both branches.

    ``x = Q - kH^2 + n^-2`` and ``width = 2 / n`` (2 for K, 1 for L): above threshold
    ``C = exp(-(2/kH) atan(width kH / x))`` in (0, pi); below it the analytic continuation
    ``C = (( x + width |kH|) / (x - width |kH|))^(-1/|kH|)``.
    """
    # kH -> 0 is a removable singularity (C -> exp(-2 width / x) from both sides); the floor
    # only avoids 0/0 and changes C by < 1e-8 relative.
    akh = np.sqrt(np.maximum(np.abs(kh2), 1e-8))
    above = kh2 >= 0.0
    c_above = np.exp(-2.0 / akh * np.arctan2(width * akh, x))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # x - width |kH| = Q + (1/n - |kH|)^2 > 0 below threshold; masked elsewhere.
        c_below = np.exp(-np.log1p(2.0 * width * akh / (x - width * akh)) / akh)
        d = np.where(above, -np.expm1(-2.0 * math.pi / akh), 1.0)
    return np.where(above, c_above, c_below), d


def _gos_k(energy: np.ndarray, qa02: np.ndarray, e: Edge) -> np.ndarray:
    """K-shell df/dE (1/eV) at energy losses ``energy`` (n, 1) and (q a0)^2 ``qa02`` (n, m)."""
    zs, n_el = (e.z - 0.5, 2.0) if e.z > 1 else (1.0, 1.0)
    q = qa02 / zs**2
    kh2 = energy / (RYDBERG_EV * zs**2) - 1.0
    x = q - kh2 + 1.0
    c, d = _coulomb_factors(kh2, x, 2.0)
    a = (x * x + 4.0 * kh2) ** 3
    return 128.0 * n_el * energy / (RYDBERG_EV**2 * zs**4) * (q + kh2 / 3.0 + 1.0 / 3.0) * c / (d * a)


def _gos_l(energy: np.ndarray, qa02: np.ndarray, e: Edge) -> np.ndarray:
    """L2,3-shell df/dE (1/eV) with Egerton's empirical correction; shapes as :func:`_gos_k`."""
    zs = e.z - 0.35 * 7.0 - 1.7
    q = qa02 / zs**2
    kh2 = energy / (RYDBERG_EV * zs**2) - 0.25
    x = q - kh2 + 0.25
    c, d = _coulomb_factors(kh2, x, 1.0)
    k4 = kh2 * kh2
    base = x * x + kh2
    # 2p (L2,3) terms up to the L1 onset, 2s (L1) terms above it (SIGMAL3's two branches).
    g_p = (
        2.25 * q**4 - (0.75 + 3.0 * kh2) * q**3 + (0.59375 - 0.75 * kh2 - 0.5 * k4) * q * q
        + (0.11146 + 0.85417 * kh2 + 1.8833 * k4 + kh2 * k4) * q
        + 0.0035807 + kh2 / 21.333 + k4 / 4.5714 + kh2 * k4 / 2.4 + k4 * k4 / 4.0
    )  # fmt: skip
    g_s = (
        q**3 - (5.0 / 3.0 * kh2 + 11.0 / 12.0) * q * q + (k4 / 3.0 + 1.5 * kh2 + 65.0 / 48.0) * q
        + kh2 * k4 / 3.0 + 0.75 * k4 + 23.0 / 48.0 * kh2 + 5.0 / 64.0
    )  # fmt: skip
    l1 = energy > e.l1_onset_eV
    g_over_a = np.where(l1, g_s / base**4, g_p / base**5)
    rf = ((energy + 0.1 - e.onset_eV) / (1.8 * e.z**2)) ** e.xu
    return rf * 32.0 * energy / (RYDBERG_EV**2 * zs**4) * g_over_a * c / d


_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)


def _disc_overlap_fraction(theta: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Collection probability ``w(theta)`` of a scattering angle ``theta`` (rad, any shape):
    the overlap area of discs of radii ``alpha`` (illumination) and ``beta`` (aperture) with
    centres ``theta`` apart, over the illumination disc's area ``pi alpha^2``."""
    full = min(alpha, beta) ** 2 / alpha**2
    d = np.clip(theta, abs(alpha - beta), alpha + beta)
    d = np.maximum(d, 1e-300)
    c1 = np.clip((d * d + alpha * alpha - beta * beta) / (2.0 * d * alpha), -1.0, 1.0)
    c2 = np.clip((d * d + beta * beta - alpha * alpha) / (2.0 * d * beta), -1.0, 1.0)
    kite = np.sqrt(np.maximum((alpha + beta - d) * (d + alpha - beta) * (d - alpha + beta) * (d + alpha + beta), 0.0))
    lens = (alpha * alpha * np.arccos(c1) + beta * beta * np.arccos(c2) - 0.5 * kite) / (math.pi * alpha * alpha)
    inner = theta <= abs(alpha - beta)
    return np.where(inner, full, np.where(theta >= alpha + beta, 0.0, np.minimum(lens, full)))


def _dsigma_hydrogenic(e: Edge, energy: np.ndarray, e0: float, beta_mrad: float,
                       alpha_mrad: float = 0.0) -> np.ndarray:
    """dsigma/dE (barn/eV) per incident electron at energy losses ``energy`` (module notes).

    Collection semi-angle ``beta_mrad``; a convergence semi-angle ``alpha_mrad > 0`` weights
    the GOS by the collection probability of each scattering angle.
    """
    gamma, t = _kinematics(e0)
    p02 = gamma**2 * t / RYDBERG_EV  # (k0 a0)^2
    pp2 = p02 - energy / RYDBERG_EV * (gamma - energy / (2.0 * ELECTRON_REST_ENERGY_EV))  # (k1 a0)^2
    k0, k1 = math.sqrt(p02), np.sqrt(pp2)
    qmin2 = ((p02 - pp2) / (k0 + k1)) ** 2  # (k0 - k1)^2 without cancellation
    alpha, beta = alpha_mrad * 1e-3, beta_mrad * 1e-3

    def ln_q2(theta: float) -> np.ndarray:
        return np.log(qmin2 + 4.0 * k0 * k1 * math.sin(0.5 * theta) ** 2)

    lo = np.log(qmin2)
    hi = ln_q2(alpha + beta) if alpha > 0.0 else ln_q2(beta)
    kink = ln_q2(abs(beta - alpha)) if alpha > 0.0 else hi
    # The GOS is smooth in ln q^2 (flat in the dipole region) apart from the Bethe ridge at
    # (q a0)^2 ~ E / R, sharp far above the onset; w has kinks at |beta - alpha| and
    # alpha + beta. 48-point Gauss-Legendre on each piece between these breaks matches
    # adaptive quadrature to < 1e-9 (parallel beam) and < 1e-5 (convergent) for all edges
    # here, 0.5-1000 mrad, 60 keV-1 MeV.
    ridge = np.clip(np.log(energy / RYDBERG_EV), lo, hi)
    breaks = np.sort(np.stack([lo, np.minimum(kink, hi), ridge, hi]), axis=0)
    gos_fn = _gos_k if e.shell == "K" else _gos_l
    integral = np.zeros_like(energy)
    for a, b in zip(breaks[:-1], breaks[1:]):
        half = 0.5 * (b - a)
        lnq = (0.5 * (a + b))[:, None] + half[:, None] * _GL_X[None, :]
        f = gos_fn(energy[:, None], np.exp(lnq), e)
        if alpha > 0.0:
            s2 = np.clip((np.exp(lnq) - qmin2[:, None]) / (4.0 * k0 * k1[:, None]), 0.0, 1.0)
            f = f * _disc_overlap_fraction(2.0 * np.arcsin(np.sqrt(s2)), alpha, beta)
        integral += half * (f @ _GL_W)
    return _FOUR_PI_A0SQ_BARN * RYDBERG_EV**2 / (energy * t) * integral


def _collection_factor(e: Edge, energy: np.ndarray, e0: float, beta_mrad: float,
                       alpha_mrad: float) -> np.ndarray:
    """``F1``: the convergent cross-section per incident electron over the parallel-beam one."""
    par = _dsigma_hydrogenic(e, energy, e0, beta_mrad)
    conv = _dsigma_hydrogenic(e, energy, e0, beta_mrad, alpha_mrad)
    return np.where(par > 0, conv / np.where(par > 0, par, 1.0), 1.0)


_edge_arg = edge  # the public functions' parameter named ``edge`` shadows :func:`edge`


# -- tabulation, caching, interpolation ------------------------------------------------------
_SPAN_EV = 4000.0  # tabulated range above the onset; a power-law tail continues it


def _grid(e: Edge, e0: float) -> np.ndarray:
    """Energy nodes (eV): 0.01 eV steps at the onset growing to 1 % steps (interpolation and
    trapezoid errors < 1e-4 relative), nodes on both sides of the L1 switch."""
    top = min(_SPAN_EV, 0.5 * e0 - e.onset_eV)
    n = max(2, math.ceil(math.log1p(top) / 0.01))
    nodes = e.onset_eV + np.expm1(np.linspace(0.0, math.log1p(top), n + 1))
    if e.shell != "K" and nodes[0] < e.l1_onset_eV < nodes[-1]:
        nodes = np.union1d(nodes, [e.l1_onset_eV, np.nextafter(e.l1_onset_eV, np.inf)])
    return nodes


class _Table(NamedTuple):
    energy: np.ndarray  # nodes, eV
    dsigma: np.ndarray  # barn/eV
    cumulative: np.ndarray  # barn, integral from the onset
    tail_r: float  # dsigma ~ A E^-r beyond the last node
    tail_a: float
    e_max: float  # E0 / 2


_NORMALIZATIONS = ("incident", "low-loss")


def _normalization(value: Any) -> str:
    key = value.strip().lower().replace("_", "-").replace(" ", "-") if isinstance(value, str) else None
    if key not in _NORMALIZATIONS:
        raise InterphaseInputError("normalization", f"must be 'incident' (F1) or 'low-loss' (F2), got {value!r}")
    return key


@functools.lru_cache(maxsize=256)
def _table(e: Edge, e0: float, beta: float, alpha: float, norm: str, gos_file: str | None) -> _Table:
    energy = _grid(e, e0)
    if gos_file is None:
        dsigma = _dsigma_hydrogenic(e, energy, e0, beta, alpha)
    else:
        dsigma = _dsigma_gosh(e, energy, e0, beta, gos_file)
        if alpha > 0.0:  # the hydrogenic collection factor (module notes)
            dsigma = dsigma * _collection_factor(e, energy, e0, beta, alpha)
    if alpha > 0.0 and norm == "low-loss":
        dsigma = dsigma * max(1.0, alpha**2 / beta**2)
    steps = 0.5 * (dsigma[1:] + dsigma[:-1]) * np.diff(energy)
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    (e1, e2), (y1, y2) = energy[-2:], dsigma[-2:]
    r = math.log(y1 / y2) / math.log(e2 / e1) if y1 > 0 and y2 > 0 else 0.0
    for arr in (energy, dsigma, cumulative):
        arr.setflags(write=False)
    return _Table(energy, dsigma, cumulative, r, y2 * e2**r, 0.5 * e0)


def _tail_integral(tab: _Table, upper: np.ndarray) -> np.ndarray:
    """Integral of the power-law tail from the last node to ``upper`` (>= it)."""
    e_last, r = tab.energy[-1], tab.tail_r
    if abs(r - 1.0) < 1e-12:
        return tab.tail_a * np.log(upper / e_last)
    return tab.tail_a * (upper ** (1.0 - r) - e_last ** (1.0 - r)) / (1.0 - r)


def _energy_axis(energy_loss_eV: Any) -> np.ndarray:
    try:
        energy = np.asarray(energy_loss_eV, dtype=float)
    except (TypeError, ValueError):
        raise InterphaseInputError("energy_loss_eV", f"expected numbers (eV), got {energy_loss_eV!r}") from None
    if not np.isfinite(energy).all():
        raise InterphaseInputError("energy_loss_eV", "must be finite (no NaN or inf)")
    return energy


def _gos_path(gos_file: Any) -> str | None:
    if gos_file is None:
        return None
    import os

    path = os.fspath(gos_file) if isinstance(gos_file, (str, os.PathLike)) else None
    if path is None or not os.path.isfile(path):
        raise InterphaseInputError("gos_file", f"must be the path of a local GOSH (.gosh, HDF5) file, got {gos_file!r}")
    return os.path.abspath(path)


def differential_cross_section(
    edge: str | Edge,
    energy_loss_eV: Any,
    beam_energy_eV: float,
    collection_mrad: float,
    convergence_mrad: float = 0.0,
    normalization: str = "incident",
    gos_file: Any = None,
) -> np.ndarray | float:
    """Energy-differential partial ionization cross-section of one edge, per atom.

    Tabulated once per (edge, beam energy, angles, normalization, GOS) on a fine grid from
    the onset to 4 keV above it, then interpolated linearly (a power law beyond): repeated
    calls with the same settings cost one interpolation.

    Parameters
    ----------
    edge : str or Edge
        Edge name (see :func:`edge`).
    energy_loss_eV : float or array
        Energy losses (eV), any shape and order.
    beam_energy_eV : float
        Beam kinetic energy ``E0`` (eV), above twice the onset and at most 1e7.
    collection_mrad : float
        Collection semi-angle ``beta`` (mrad), in (0, 1000].
    convergence_mrad : float
        Convergence semi-angle ``alpha`` (mrad), in [0, 500]; ``alpha > 0`` averages the
        GOS over the illumination disc and the aperture at each energy loss (exact for any
        ``alpha`` and ``beta``; module notes).
    normalization : {"incident", "low-loss"}
        With ``alpha > 0``: ``"incident"`` applies ``F1`` (cross-section per incident
        electron, for use with the beam dose), ``"low-loss"`` applies ``F2`` (for use with a
        low-loss intensity recorded through the same aperture). Equal for ``alpha <= beta``.
    gos_file : path, optional
        A local GOSH file: use exspy's ``GoshGOS`` (needs exspy) instead of the hydrogenic
        GOS. Nothing is ever downloaded.

    Returns
    -------
    ndarray or float
        dsigma/dE in barn/eV, the shape of ``energy_loss_eV``; zero below the onset and
        above ``E0 / 2``.
    """
    e = _edge_arg(edge)
    settings = _settings(e, beam_energy_eV, collection_mrad, convergence_mrad)
    tab = _table(e, *settings, _normalization(normalization), _gos_path(gos_file))
    energy = _energy_axis(energy_loss_eV)
    out = np.interp(energy, tab.energy, tab.dsigma, left=0.0, right=0.0)
    beyond = energy > tab.energy[-1]
    if beyond.any():
        tail = tab.tail_a * np.where(beyond, energy, 1.0) ** -tab.tail_r
        out = np.where(beyond & (energy <= tab.e_max), tail, out)
    return float(out) if out.ndim == 0 else out


def ionization_cross_section(
    edge: str | Edge,
    beam_energy_eV: float,
    collection_mrad: float,
    window_eV: Any,
    convergence_mrad: float = 0.0,
    normalization: str = "incident",
    gos_file: Any = None,
) -> np.ndarray | float:
    """Partial ionization cross-section: dsigma/dE integrated from the onset over a window.

    Parameters
    ----------
    edge, beam_energy_eV, collection_mrad, convergence_mrad, normalization, gos_file
        As in :func:`differential_cross_section`.
    window_eV : float or array
        Integration window(s) above the onset (eV), > 0.

    Returns
    -------
    ndarray or float
        ``sigma(beta, Delta)`` in barn (per atom), the shape of ``window_eV``.
    """
    e = _edge_arg(edge)
    settings = _settings(e, beam_energy_eV, collection_mrad, convergence_mrad)
    tab = _table(e, *settings, _normalization(normalization), _gos_path(gos_file))
    try:
        window = np.asarray(window_eV, dtype=float)
    except (TypeError, ValueError):
        raise InterphaseInputError("window_eV", f"expected a number (eV), got {window_eV!r}") from None
    if not (np.isfinite(window).all() and (window > 0).all()):
        raise InterphaseInputError("window_eV", f"must be finite and > 0 eV, got {window_eV!r}")
    upper = np.minimum(e.onset_eV + window, tab.e_max)
    # Inside the grid: cumulative trapezoid up to the node below, plus the partial panel.
    u_in = np.minimum(upper, tab.energy[-1])
    i = np.clip(np.searchsorted(tab.energy, u_in, side="right") - 1, 0, len(tab.energy) - 2)
    x0, y0 = tab.energy[i], tab.dsigma[i]
    y_u = np.interp(u_in, tab.energy, tab.dsigma)
    sigma = tab.cumulative[i] + 0.5 * (y0 + y_u) * (u_in - x0)
    sigma = sigma + np.where(upper > tab.energy[-1], _tail_integral(tab, np.maximum(upper, tab.energy[-1])), 0.0)
    return float(sigma) if sigma.ndim == 0 else sigma


# -- GOSH (tabulated GOS) through exspy ------------------------------------------------------
def _dsigma_gosh(e: Edge, energy: np.ndarray, e0: float, beta: float, path: str) -> np.ndarray:
    """dsigma/dE (barn/eV) for parallel illumination from exspy's ``GoshGOS`` and a local file.

    exspy does the q integral (its ``integrateq``, Simpson in ln q^2 between the same
    relativistic limits); L2,3 edges sum exspy's L3 and L2 tables (each scaled by the file's
    occupancy ratio) placed at our L3 and L2 onsets.
    """
    try:
        from exspy._misc.eels.gosh_gos import GoshGOS  # exspy >= 0.3
    except ImportError:  # pragma: no cover - depends on the environment
        try:
            from exspy.misc.eels.gosh_gos import GoshGOS  # exspy 0.2
        except ImportError:
            raise InterphaseInputError("gos_file", "a GOSH file needs exspy (pip install 'interphase_sim[eels]')") from None
    angle = beta * 1e-3  # rad
    parts = [("K", e.onset_eV)] if e.shell == "K" else [("L3", e.onset_eV), ("L2", e.l2_onset_eV)]
    total = np.zeros_like(energy)
    for sub, onset in parts:
        try:
            gos = GoshGOS(f"{e.element}_{sub}", gos_file_path=path)
        except (ValueError, KeyError, OSError) as exc:
            raise InterphaseInputError("gos_file", f"exspy cannot use {path!r} for {e.element} {sub}: {exc}") from None
        spline = gos.integrateq(onset, angle, e0 * 1e-3)
        x = gos.energy_axis + gos.energy_shift
        y = np.asarray(gos.qint, dtype=float)
        inside = (energy >= onset) & (energy <= x[-1])
        part = np.where(inside, spline(np.clip(energy, x[0], x[-1])), 0.0)
        # Beyond the table, the power law through its last two points (exspy does the same).
        r = math.log(y[-2] / y[-1]) / math.log(x[-1] / x[-2]) if y[-1] > 0 and y[-2] > 0 else 0.0
        part = np.where(energy > x[-1], y[-1] * (x[-1] / energy) ** r, part)
        total += np.clip(part, 0.0, None)
    return total
