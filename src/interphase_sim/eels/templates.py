"""ELNES templates: the near-edge fine structure of an edge in a given phase.

A template is a multiplicative factor ``F(E)`` on the atomic (hydrogenic) differential
cross-section of one edge in one phase. It is 1 beyond the near-edge region (the join
to the atomic cross-section is smooth) and is normalised so that the integral of
``F dsigma/dE`` over the template's extent equals the atomic one: fine structure moves
intensity within the first tens of eV but does not change what an integration window
longer than the extent quantifies.

Built-in templates are PARAMETRIC and APPROXIMATE: a smooth onset (with the phase's
chemical shift) and a few Gaussian peaks whose positions follow the features reported
for these phases in the cryo-EM and core-loss literature to within 1-2 eV, with
qualitative amplitudes. They make phases distinguishable in simulations; they are not
measured fingerprints. Replace any of them with a measured, background-subtracted
reference spectrum (:meth:`ELNESTemplate.from_spectrum`, :meth:`ELNESTemplate.from_file`).
Mn M2,3 (~49 eV) and Ni M2,3 (~68 eV), which crowd the Li K region in LNMO, are not modelled.
A template multiplies the atomic edge, so it cannot add intensity below the atomic onset
(features a few eV below it, like LNMO's O K pre-peak, are placed at the onset).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError

__all__ = ["ELNESTemplate", "default_templates", "TEMPLATE_PEAKS"]

# (phase, edge) -> (chemical shift of the onset in eV, [(peak offset from the atomic onset eV,
# FWHM eV, amplitude relative to the atomic edge)], extent eV). Illustrative; see module docstring.
TEMPLATE_PEAKS: dict[tuple[str, str], tuple[float, list[tuple[float, float, float]], float]] = {
    ("Li", "Li K"): (0.0, [(3.5, 4.0, 0.6)], 25.0),
    ("Li2O", "Li K"): (2.5, [(3.0, 1.5, 1.5), (7.5, 3.0, 1.2)], 25.0),
    ("Li3N", "Li K"): (1.5, [(2.5, 1.5, 1.3), (6.5, 3.0, 0.8)], 25.0),
    ("Li3P", "Li K"): (1.0, [(3.0, 2.5, 0.8), (8.0, 3.0, 0.5)], 25.0),
    ("LiF", "Li K"): (5.5, [(6.8, 1.0, 2.5), (8.5, 2.0, 1.0)], 25.0),
    ("Li3PO4", "Li K"): (4.0, [(5.5, 1.5, 1.6), (8.0, 2.5, 1.0)], 25.0),
    ("Li3PO4-beta", "Li K"): (4.0, [(5.5, 1.5, 1.6), (8.0, 2.5, 1.0)], 25.0),
    ("LiPON", "Li K"): (3.5, [(5.5, 2.5, 1.0), (8.5, 3.5, 0.6)], 25.0),
    ("Li2O", "O K"): (1.0, [(3.0, 2.0, 1.2), (10.0, 5.0, 0.8)], 40.0),
    ("Li3PO4", "O K"): (2.0, [(5.0, 2.5, 1.0), (15.0, 6.0, 0.7)], 40.0),
    ("Li3PO4-beta", "O K"): (2.0, [(5.0, 2.5, 1.0), (15.0, 6.0, 0.7)], 40.0),
    ("LiPON", "O K"): (2.0, [(5.0, 3.0, 0.8), (14.0, 7.0, 0.6)], 40.0),
    # the TM 3d - O 2p pre-peak sits ~2 eV below the main O K edge; a template multiplies
    # the atomic edge and so cannot put intensity below its onset: it is placed just above
    ("LNMO", "O K"): (0.0, [(0.8, 1.5, 1.5), (10.0, 5.0, 0.8)], 40.0),
    ("LNMO-disordered", "O K"): (0.0, [(0.8, 2.0, 1.2), (10.0, 5.0, 0.8)], 40.0),
    ("Li3N", "N K"): (0.5, [(3.0, 2.0, 1.3), (12.0, 6.0, 0.6)], 40.0),
    ("LiPON", "N K"): (1.5, [(4.0, 3.0, 1.0), (14.0, 6.0, 0.5)], 40.0),
    ("Li3PO4", "P L2,3"): (3.0, [(6.0, 2.0, 1.5), (14.0, 4.0, 1.0)], 40.0),
    ("Li3PO4-beta", "P L2,3"): (3.0, [(6.0, 2.0, 1.5), (14.0, 4.0, 1.0)], 40.0),
    ("LiPON", "P L2,3"): (3.0, [(6.0, 2.5, 1.2), (14.0, 5.0, 0.8)], 40.0),
    ("Li3P", "P L2,3"): (0.5, [(2.0, 2.0, 1.0), (8.0, 4.0, 0.6)], 40.0),
    ("LiF", "F K"): (0.5, [(2.5, 2.0, 1.3), (10.0, 5.0, 0.7)], 40.0),
}


def _smooth_step(x: np.ndarray, width: float) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(x / max(width, 1e-6)))


@dataclass(frozen=True)
class ELNESTemplate:
    """Near-edge factor for one edge in one phase.

    Attributes
    ----------
    edge : str
        Edge name, e.g. ``"Li K"``.
    phase : str
        Phase name.
    offset_eV : (N,) ndarray
        Energy relative to the edge's atomic onset (eV), strictly increasing.
    factor : (N,) ndarray
        Multiplier of the atomic differential cross-section (>= 0); taken as 1 outside.
    source : str
        Where the shape comes from.
    """

    edge: str
    phase: str
    offset_eV: np.ndarray
    factor: np.ndarray
    source: str

    def __post_init__(self) -> None:
        x = np.asarray(self.offset_eV, dtype=float)
        f = np.asarray(self.factor, dtype=float)
        if x.ndim != 1 or x.size < 2 or x.shape != f.shape:
            raise InterphaseInputError("template", "energy and factor must be 1-D arrays of the same length (>= 2)")
        if not np.all(np.isfinite(x)) or np.any(np.diff(x) <= 0):
            raise InterphaseInputError("template.energy", "the energy axis must be finite and strictly increasing")
        if not np.all(np.isfinite(f)) or np.any(f < 0):
            raise InterphaseInputError("template.factor", "must be finite and non-negative")
        object.__setattr__(self, "offset_eV", x)
        object.__setattr__(self, "factor", f)

    def apply(self, energy_eV: np.ndarray, onset_eV: float, dsigma: np.ndarray) -> np.ndarray:
        """``dsigma`` (atomic, on ``energy_eV``) times the template factor."""
        f = np.interp(np.asarray(energy_eV) - onset_eV, self.offset_eV, self.factor, left=1.0, right=1.0)
        return dsigma * f

    @classmethod
    def parametric(cls, edge: str, phase: str, shift_eV: float, peaks: list[tuple[float, float, float]],
                   extent_eV: float, atomic: Any = None, source: str = "parametric") -> ELNESTemplate:
        """A smooth onset shifted by ``shift_eV`` plus Gaussian peaks (offset, FWHM, amplitude).

        ``atomic(offsets_eV) -> dsigma/dE`` (any units) normalises the template so that its
        integral over ``[min(0, shift) - 5, extent]`` equals the atomic one; without it a
        sawtooth ``1/E``-like edge shape is assumed for the normalisation.
        """
        lo = min(0.0, shift_eV, min((p[0] for p in peaks), default=0.0)) - 5.0
        x = np.linspace(lo, extent_eV + 10.0, 600)
        shape = _smooth_step(x - shift_eV, 0.7)
        for d, fwhm, amp in peaks:
            shape = shape + amp * np.exp(-0.5 * ((x - d) / (fwhm / 2.3548)) ** 2)
        taper = _smooth_step(extent_eV - x, 3.0)  # join to 1 over the last ~10 eV
        f = shape * taper + (1.0 - taper)
        base = atomic(x) if atomic is not None else np.where(x >= 0, 1.0 / (1.0 + np.maximum(x, 0) / 50.0), 0.0)
        inside = x <= extent_eV
        target = np.trapezoid(base[inside], x[inside])
        got = np.trapezoid((f * base)[inside], x[inside])
        if got > 0 and target > 0:
            f = np.where(inside, f * target / got, f)
            f = f * taper + (1.0 - taper)  # keep the far end exactly 1
        return cls(edge, phase, x, np.maximum(f, 0.0), source)

    @classmethod
    def from_spectrum(cls, edge: str, phase: str, energy_eV: Any, intensity: Any, onset_eV: float,
                      atomic_dsigma: Any, join_eV: tuple[float, float] | None = None,
                      source: str = "measured reference") -> ELNESTemplate:
        """A template from a measured, background-subtracted reference spectrum.

        ``atomic_dsigma`` is the atomic differential cross-section on the same axis; the
        ratio intensity / atomic is scaled to 1 over ``join_eV`` (offsets from the onset,
        default the last fifth of the axis) and set to 1 beyond it.
        """
        e = np.asarray(energy_eV, dtype=float)
        y = np.asarray(intensity, dtype=float)
        a = np.asarray(atomic_dsigma, dtype=float)
        if e.shape != y.shape or e.shape != a.shape or e.ndim != 1 or e.size < 10:
            raise InterphaseInputError("reference", "energy, intensity and atomic cross-section: 1-D, same length >= 10")
        if not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
            raise InterphaseInputError("reference.energy", "must be finite and strictly increasing (eV)")
        x = e - onset_eV
        if join_eV is None:
            join_eV = (x[int(0.8 * x.size)], x[-1])
        sel = (x >= join_eV[0]) & (x <= join_eV[1]) & (a > 0)
        if not np.any(sel):
            raise InterphaseInputError("join_eV", "no points above the onset with a non-zero atomic cross-section")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(a > 0, y / a, 0.0)
        ratio = ratio / np.mean(ratio[sel])
        ratio = np.where(x > join_eV[1], 1.0, np.maximum(ratio, 0.0))
        return cls(edge, phase, x, ratio, source)

    @classmethod
    def from_file(cls, path: str | os.PathLike, edge: str, phase: str, onset_eV: float,
                  atomic: Any, **kw: Any) -> ELNESTemplate:
        """Read a reference spectrum (CSV ``energy_eV,intensity`` or .msa via rosettasciio).

        ``atomic(energy_eV) -> dsigma/dE`` gives the atomic cross-section on the file's axis.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise InterphaseInputError("template", f"no such file: {path}")
        if path.lower().endswith((".msa", ".ems", ".mas", ".emsa")):
            from rsciio.msa import file_reader

            d = file_reader(path)[0]
            ax = d["axes"][0]
            energy = ax["offset"] + ax["scale"] * np.arange(ax["size"])
            intensity = np.asarray(d["data"], dtype=float)
        else:
            try:
                table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
            except ValueError as exc:
                raise InterphaseInputError("template", f"{path}: expected CSV energy_eV,intensity ({exc})") from None
            if table.shape[1] < 2:
                raise InterphaseInputError("template", f"{path}: expected two columns energy_eV,intensity")
            energy, intensity = table[:, 0], table[:, 1]
        return cls.from_spectrum(edge, phase, energy, intensity, onset_eV, atomic(energy),
                                 source=f"reference spectrum {path}", **kw)


def default_templates(atomic: Any = None) -> dict[tuple[str, str], ELNESTemplate]:
    """The built-in parametric templates, keyed by (phase, edge).

    ``atomic(edge, offsets_eV)``, if given, normalises each against the real atomic shape.
    """
    out = {}
    for (phase, edge), (shift, peaks, extent) in TEMPLATE_PEAKS.items():
        at = None if atomic is None else (lambda x, e=edge: atomic(e, x))
        out[(phase, edge)] = ELNESTemplate.parametric(
            edge, phase, shift, peaks, extent, atomic=at,
            source="built-in parametric shape (approximate; see interphase_sim.eels.templates)",
        )
    return out
