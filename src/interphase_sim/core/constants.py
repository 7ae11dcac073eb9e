"""Physical constants and unit factors: one definition each, used by every module.

Values are CODATA 2018 unless stated. Names carry their units.
"""

from __future__ import annotations

__all__ = [
    "ELECTRON_REST_ENERGY_EV",
    "HC_EV_A",
    "RYDBERG_EV",
    "ANGSTROM_PER_NM",
    "MIN_DISTANCE_A",
]

#: Electron rest energy m0 c^2 (eV), CODATA 2018.
ELECTRON_REST_ENERGY_EV = 510998.95000
#: Planck constant times the speed of light, h c (eV Å), CODATA 2018.
HC_EV_A = 12398.419843320026
#: Rydberg energy (eV), CODATA 2018.
RYDBERG_EV = 13.605693122994
#: Ångström per nanometre.
ANGSTROM_PER_NM = 10.0
#: Shortest interatomic distance the structure builders accept (Å): P-O bonds in
#: phosphates are the shortest bonds of the phase library (about 1.5 Å;
#: docs/references.md), so anything closer than 1.4 Å is a clash.
MIN_DISTANCE_A = 1.4
