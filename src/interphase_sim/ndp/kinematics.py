"""Birth energies of the NDP reaction products from Q-values and masses (two-body decay).

A thermal neutron (0.025 eV) brings no appreciable energy or momentum, so the compound
nucleus decays at rest into two products ``a`` and ``b`` that share the kinetic energy
``Q - E_x`` (``E_x`` the excitation energy left in ``b``, e.g. 7Li* at 477.6 keV) with
equal and opposite momenta. Relativistically, with ``M = m_a + m_b + Q - E_x`` (``m_b``
including ``E_x``)::

    T_a = ((M - m_a)^2 - m_b^2) / (2 M),

and classically ``T_a = (Q - E_x) m_b / (m_a + m_b)``. The relativistic split gives the
heavier product a little more than the classical one (0.24 keV for the 6Li alpha, 0.11 keV
for the 7Li of 10B); :func:`reaction_products` uses it by default.

Masses are AME2020 atomic masses (Wang et al., Chinese Phys. C 45, 030003 (2021); see
docs/references.md). The Q-value is the atomic-mass difference (the tabulated Q-value);
the kinematic split uses nuclear masses ``M_A - Z m_e + B_e(Z)``, with the total electron
binding energy ``B_e(Z) = 14.4381 Z^2.39 + 1.55468e-6 Z^5.35`` eV of the AME2020 paper.
The electron-binding difference between the atoms on both sides (0.1-0.4 keV) goes into
the atomic shells and is left out of the products' energies. Units: keV.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from interphase_sim.core.errors import InterphaseInputError

__all__ = ["ATOMIC_MASS_UU", "REACTIONS", "Reaction", "atomic_mass_keV", "nuclear_mass_keV", "reaction_products"]

#: Atomic mass unit (keV), CODATA 2018.
U_KEV = 931494.10242
#: Electron mass (keV), CODATA 2018.
ELECTRON_KEV = 510.99895000

#: AME2020 atomic masses in micro-u, and the charge number of each nuclide.
ATOMIC_MASS_UU: dict[str, tuple[float, int]] = {
    "n": (1008664.91590, 0),
    "3H": (3016049.28132, 1),
    "4He": (4002603.25413, 2),
    "6Li": (6015122.8874, 3),
    "7Li": (7016003.434, 3),
    "10B": (10012936.862, 5),
}

#: Excitation energy of the first excited state of 7Li (keV; Tilley et al., Nucl. Phys. A 708, 3 (2002)).
LI7_EXCITED_KEV = 477.603


@dataclass(frozen=True)
class Reaction:
    """A neutron-capture reaction with two charged products.

    Attributes
    ----------
    target : str
        Capturing nuclide (``"6Li"``, ``"10B"``).
    products : tuple of str
        The two products ``(a, b)``; ``b`` carries the excitation.
    excitation_keV : float
        Excitation energy left in product ``b`` (keV), 0 for the ground state.
    label : str
        The reaction as written, e.g. ``"10B(n,alpha)7Li*"``.
    """

    target: str
    products: tuple[str, str]
    excitation_keV: float
    label: str

    @property
    def q_keV(self) -> float:
        """Ground-state Q-value (keV) from the atomic masses."""
        m = {k: v[0] for k, v in ATOMIC_MASS_UU.items()}
        return (m["n"] + m[self.target] - m[self.products[0]] - m[self.products[1]]) * 1e-6 * U_KEV


#: The NDP reactions: key -> Reaction (``"10B*"`` is the branch to 7Li*).
REACTIONS: dict[str, Reaction] = {
    "6Li": Reaction("6Li", ("4He", "3H"), 0.0, "6Li(n,alpha)3H"),
    "10B": Reaction("10B", ("4He", "7Li"), 0.0, "10B(n,alpha)7Li"),
    "10B*": Reaction("10B", ("4He", "7Li"), LI7_EXCITED_KEV, "10B(n,alpha)7Li*"),
}

_NAMES = {"4He": "alpha", "3H": "triton", "7Li": "7Li"}


def atomic_mass_keV(nuclide: str) -> float:
    """AME2020 atomic mass of ``nuclide`` (keV)."""
    try:
        return ATOMIC_MASS_UU[nuclide][0] * 1e-6 * U_KEV
    except KeyError:
        raise InterphaseInputError("nuclide", f"no mass for {nuclide!r}; known: {', '.join(ATOMIC_MASS_UU)}") from None


def nuclear_mass_keV(nuclide: str) -> float:
    """Nuclear mass (keV): the atomic mass less Z electrons plus their binding energy."""
    z = ATOMIC_MASS_UU[nuclide][1] if nuclide in ATOMIC_MASS_UU else 0
    binding_eV = 14.4381 * z**2.39 + 1.55468e-6 * z**5.35
    return atomic_mass_keV(nuclide) - z * ELECTRON_KEV + binding_eV * 1e-3


@functools.cache
def reaction_products(reaction: str, relativistic: bool = True) -> dict[str, float]:
    """Kinetic energies (keV) of the two products of a capture at rest.

    Parameters
    ----------
    reaction : str
        A key of :data:`REACTIONS`: ``"6Li"``, ``"10B"`` (to the 7Li ground state) or
        ``"10B*"`` (to 7Li* at 477.6 keV).
    relativistic : bool
        Split the energy with relativistic two-body kinematics (default) or classically.

    Returns
    -------
    dict
        Product name (``"alpha"``, ``"triton"``, ``"7Li"``) -> kinetic energy (keV).
    """
    try:
        r = REACTIONS[reaction]
    except KeyError:
        raise InterphaseInputError("reaction", f"unknown reaction {reaction!r}; choose from {', '.join(REACTIONS)}") from None
    t = r.q_keV - r.excitation_keV  # kinetic energy shared by the products
    ma = nuclear_mass_keV(r.products[0])
    mb = nuclear_mass_keV(r.products[1]) + r.excitation_keV
    if relativistic:
        m_tot = ma + mb + t
        ta = ((m_tot - ma) ** 2 - mb**2) / (2.0 * m_tot)
    else:
        ta = t * mb / (ma + mb)
    return {_NAMES[r.products[0]]: ta, _NAMES[r.products[1]]: t - ta}
