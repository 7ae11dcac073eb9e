"""Typed results of the builders: frozen dataclasses with unit-suffixed fields.

Lengths are Å (``_A``), volumes Å³ (``_A3``), grain sizes nm (``_nm``); fractions are
volume fractions (0-1) keyed by phase name. The arrays inside are not copied: treat them
as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DepthProfile", "MosaicFill", "PhaseFractions", "StructureReport"]


@dataclass(frozen=True, eq=False)
class PhaseFractions:
    """How well a phase assignment meets its volume fractions (:func:`.mosaic.assign_phases`).

    Attributes
    ----------
    target_fractions : dict {phase: float}
        Volume fractions the depth gradient asks for over the region (sum 1).
    achieved_fractions : dict {phase: float}
        Volume fractions of the grains given each phase (sum 1).
    max_abs_error : float
        Largest ``|achieved - target|`` over the phases.
    n_grains : int
        Number of grains assigned.
    """

    target_fractions: dict[str, float]
    achieved_fractions: dict[str, float]
    max_abs_error: float
    n_grains: int


@dataclass(frozen=True, eq=False)
class DepthProfile:
    """Volume fractions of a mosaic per depth band (about half a grain thick).

    Attributes
    ----------
    z_A : ndarray, shape (B,)
        Band centres (Å, depth in the model's frame).
    achieved_fractions : dict {phase: ndarray (B,)}
        Fraction of each band's volume (counted on a point grid) in grains of the phase.
    target_fractions : dict {phase: ndarray (B,)}
        The linear gradient's fractions at the band centres.
    """

    z_A: np.ndarray
    achieved_fractions: dict[str, np.ndarray]
    target_fractions: dict[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class MosaicFill:
    """A Voronoi mosaic of grains filling one layer region (:func:`.mosaic.mosaic_fill`).

    Attributes
    ----------
    symbols : list of str
        Element of each atom (N).
    positions_A : ndarray, shape (N, 3)
        Å; x and y wrapped into the box, z within ``z_range_A``.
    atom_phase : ndarray of str, shape (N,)
        The phase each atom was built as (an amorphous unit reaching past its grain keeps
        its phase).
    atom_grain : ndarray of int, shape (N,)
        Index of the grain (nearest seed) each atom lies in.
    achieved_fractions, target_fractions : dict {phase: float}
        Volume fractions over the region, from the exact Voronoi grain volumes; every phase
        given appears (0.0 where it is wanted nowhere).
    max_abs_error : float
        Largest ``|achieved - target|``.
    grain_phase : tuple of str
        Phase of each grain (n_grains).
    grain_volume_A3 : ndarray, shape (n_grains,)
        Grain volumes (Å³).
    grain_rotation : ndarray, shape (n_grains, 3, 3)
        Rotation of each crystalline grain's crystal (``r_box = R @ r_crystal + origin``);
        NaN for amorphous grains.
    seeds_A : ndarray, shape (n_grains, 3)
        Grain centres (Å).
    grain_size_nm : float
        Mean grain spacing asked for (nm).
    z_range_A : (float, float)
        Top and bottom of the region (Å).
    removed_at_boundaries : int
        Atoms dropped for still coming closer than 1.4 Å across a grain boundary after
        the contacts were pushed apart.
    depth_profile : DepthProfile
        Achieved and target fractions per depth band.
    """

    symbols: list[str]
    positions_A: np.ndarray
    atom_phase: np.ndarray
    atom_grain: np.ndarray
    achieved_fractions: dict[str, float]
    target_fractions: dict[str, float]
    max_abs_error: float
    grain_phase: tuple[str, ...]
    grain_volume_A3: np.ndarray
    grain_rotation: np.ndarray
    seeds_A: np.ndarray
    grain_size_nm: float
    z_range_A: tuple[float, float]
    removed_at_boundaries: int
    depth_profile: DepthProfile

    @property
    def n_grains(self) -> int:
        """Number of grains (int)."""
        return len(self.seeds_A)


@dataclass(frozen=True, eq=False)
class StructureReport:
    """Radial distribution, bonds, coordination, density and composition of a periodic
    model (:func:`.amorphous.structure_report`).

    Attributes
    ----------
    r_A : ndarray
        g(r) bin centres (Å).
    g_total : ndarray
        Total radial distribution function.
    g_partial : dict {"P-O", "P-N", "Li-O": ndarray}
        g of the second element around the first.
    mean_P_O_A, mean_P_N_A : float
        Mean P-O and P-N bond length (bonds shorter than 2.0 Å; Å); NaN when absent.
    mean_Li_O_nearest_A : float
        Mean distance from each Li to its nearest O (Å); NaN when absent.
    P_coordination : dict {int: int}
        Histogram of the number of O+N within 2.0 Å of each P.
    fraction_P_4fold : float
        Fraction of P with four O+N neighbours; NaN without P.
    n_N_bridging, n_N_apical : int
        N bonded to two / one P.
    min_distance_A : float
        Shortest interatomic distance (Å, periodic).
    min_distance_pair : (str, str)
        Elements of that closest pair.
    density_g_cm3 : float
        Mass density (g/cm³).
    counts : dict {str: int}
        Atoms per element.
    formula : str
        Composition per P (per the most abundant element without P), e.g. ``"P1 O3.3"``.
    """

    r_A: np.ndarray
    g_total: np.ndarray
    g_partial: dict[str, np.ndarray]
    mean_P_O_A: float
    mean_P_N_A: float
    mean_Li_O_nearest_A: float
    P_coordination: dict[int, int]
    fraction_P_4fold: float
    n_N_bridging: int
    n_N_apical: int
    min_distance_A: float
    min_distance_pair: tuple[str, str]
    density_g_cm3: float
    counts: dict[str, int]
    formula: str
