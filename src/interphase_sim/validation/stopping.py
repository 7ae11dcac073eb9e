"""Validation of ion stopping: the package's ICRU 49 stopping against NIST and CATIMA.

Two independent references:

* NIST's ASTAR (alphas) and PSTAR (protons) electronic mass stopping powers, shipped in
  ``data/nist_stopping.csv`` with their source (Berger et al., NIST Standard Reference
  Database 124, by the methods of ICRU Report 49). Tritons are compared with PSTAR's
  proton at the same velocity.
* CATIMA (the ``pycatima`` package, called directly here, not through the package's
  :class:`~interphase_sim.ndp.stopping.PyCatima` source) for the Li compounds an NDP
  measurement passes through, at the energies of the NDP particles. When ``pycatima`` is
  not installed these rows are skipped with that reason.

The package's numbers come from :func:`interphase_sim.ndp.stopping.mass_stopping_power`
(looked up on the module at call time, so a test may patch it).
"""

from __future__ import annotations

import csv
import io
import time
from importlib import resources
from typing import Any

import numpy as np

from interphase_sim.ndp import stopping as st
from interphase_sim.validation.report import Context, Row, Section, compare, register

__all__ = ["NIST_TOLERANCE", "CATIMA_TOLERANCE", "CATIMA_CASES", "LIF_KNOWN_BOUNDS", "LOW_ENERGY_KNOWN_BOUNDS",
           "nist_reference", "nist_rows", "catima_mass_stopping", "catima_rows", "check_stopping"]

#: Relative tolerance against ASTAR / PSTAR: ICRU Report 49 quotes a few percent for the
#: elements at these energies (the package's 2 % prior), Bragg's rule adds a few percent for
#: compounds (J. F. Ziegler and J. M. Manoyan, Nucl. Instrum. Methods B 35, 215 (1988)).
NIST_TOLERANCE = 0.03
#: Relative tolerance against CATIMA for the Li compounds (the package's 3 % Bragg-rule prior).
CATIMA_TOLERANCE = 0.03

#: The NDP particles: 6Li(n,alpha)t gives alpha 2055 keV and triton 2727 keV; the 1472 keV
#: alpha is 10B(n,alpha)7Li* (the calibration line); 500 keV is an alpha near the end of its
#: path, below the stopping maximum's shoulder.
CATIMA_PARTICLES = (("alpha", 500.0), ("alpha", 1472.0), ("alpha", 2055.0), ("triton", 2727.0))
#: Materials compared with CATIMA: label -> chemical formula (LiPON: Bates et al., Solid State
#: Ionics 53-56, 647 (1992)).
CATIMA_MATERIALS = {"Li": "Li", "Li2O": "Li2O", "Li3N": "Li3N", "Li3PO4": "Li3PO4", "LiPON": "Li2.9PO3.3N0.46"}
CATIMA_CASES = tuple((m, ion, e) for m in CATIMA_MATERIALS for ion, e in CATIMA_PARTICLES)

_NIST_SOURCE = {
    "ASTAR": "NIST ASTAR (Berger et al., NIST SRD 124; ICRU Report 49)",
    "PSTAR": "NIST PSTAR (Berger et al., NIST SRD 124; ICRU Report 49)",
}
#: The documented deviations hold within these bounds of the relative difference only; outside
#: them the row fails (a +10 % error in LiF is not the known -4.6 %).
LIF_KNOWN_BOUNDS = (-0.06, 0.0)
LOW_ENERGY_KNOWN_BOUNDS = (0.0, 0.07)
_LIF_KNOWN = ("Bragg's rule on the ICRU 49 Li and F fits (F fitted to the gas) gives 2 MeV alphas in LiF about "
              "4.6 % below ASTAR, whose LiF value rests on LiF data (README: Known limitation)")
_LOW_ENERGY_KNOWN = ("below 1 MeV the package's alpha stopping in Li compounds runs 4-6 % above CATIMA's (Li metal "
                     "alone: within 1 %): ICRU 49's He fits for O, N and P and CATIMA's low-energy fits differ "
                     "near the stopping maximum")


def nist_reference() -> list[dict[str, Any]]:
    """The shipped NIST table (``data/nist_stopping.csv``).

    Returns
    -------
    list of dict
        One per row: ``database`` (``"ASTAR"`` or ``"PSTAR"``), ``ion``, ``energy_keV``
        (keV), ``material`` and ``electronic_MeV_cm2_g`` (electronic mass stopping power,
        MeV cm2/g).
    """
    text = resources.files("interphase_sim.validation").joinpath("data/nist_stopping.csv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    out = []
    for rec in csv.DictReader(io.StringIO("\n".join(lines))):
        rec["energy_keV"] = float(rec["energy_keV"])
        rec["electronic_MeV_cm2_g"] = float(rec["electronic_MeV_cm2_g"])
        out.append(rec)
    return out


def _known_within(reason: str, bounds: tuple[float, float], reference: float, value: float) -> str:
    """``reason`` when the relative difference lies inside ``bounds``, else ``""``."""
    diff = (value - reference) / abs(reference)
    return reason if bounds[0] <= diff <= bounds[1] else ""


def _composition(formula: str) -> dict[str, float]:
    """``{element: amount}`` of a formula: mass stopping needs the composition only, and the
    dict form does not build the crystal structure of a library phase of that name."""
    from pymatgen.core import Composition

    return Composition(formula).get_el_amt_dict()


def _same_velocity_keV(energy_keV: float, ion_from: str, ion_to: str) -> float:
    """The energy (keV) of ``ion_to`` moving as fast as ``ion_from`` at ``energy_keV``."""
    return energy_keV * st.IONS[ion_to][1] / st.IONS[ion_from][1]


def nist_rows() -> list[Row]:
    """The package's electronic mass stopping against every row of the NIST table; for each
    PSTAR proton row also the triton at the same velocity (the 2727 keV NDP triton).

    Returns
    -------
    list of Row
        Values in MeV cm2/g, relative differences, tolerance :data:`NIST_TOLERANCE`; LiF
        alphas are the documented Bragg's-rule deviation while 0-6 % below ASTAR.
    """
    rows = []
    for ref in nist_reference():
        ion, e, mat, s_ref = ref["ion"], ref["energy_keV"], ref["material"], ref["electronic_MeV_cm2_g"]
        value = float(st.mass_stopping_power(ion, e, _composition(mat), nuclear=False))
        known = _known_within(_LIF_KNOWN, LIF_KNOWN_BOUNDS, s_ref, value) if (mat, ion) == ("LiF", "alpha") else ""
        rows.append(compare(f"{ion} {e:g} keV in {mat}: electronic mass stopping", s_ref, value, NIST_TOLERANCE,
                            _NIST_SOURCE[ref["database"]], unit="MeV cm2/g", known=known))
        if ion == "proton":
            e_t = _same_velocity_keV(e, "proton", "triton")
            value_t = float(st.mass_stopping_power("triton", e_t, _composition(mat), nuclear=False))
            rows.append(compare(f"triton {e_t:.0f} keV in {mat}: electronic mass stopping (proton {e:g} keV, same "
                                "velocity)", s_ref, value_t, NIST_TOLERANCE, _NIST_SOURCE[ref["database"]],
                                unit="MeV cm2/g"))
    return rows


def _catima():
    """The ``pycatima`` module and its version, or ``(None, reason)``."""
    try:
        import pycatima
    except ImportError as exc:
        return None, f"pycatima is not installed ({exc}); pip install pycatima"
    from importlib import metadata

    try:
        version = metadata.version("pycatima")
    except metadata.PackageNotFoundError:
        version = "unknown version"
    return pycatima, version


def catima_mass_stopping(ion: str, energy_keV: float, formula: str) -> float:
    """CATIMA's total (electronic + nuclear) mass stopping power, called directly.

    Parameters
    ----------
    ion : str
        ``"alpha"``, ``"proton"``, ``"deuteron"`` or ``"triton"``.
    energy_keV : float
        Kinetic energy of the ion (keV).
    formula : str
        Chemical formula of the target (e.g. ``"Li2.9PO3.3N0.46"``).

    Returns
    -------
    float
        MeV cm2/g.

    Raises
    ------
    ImportError
        ``pycatima`` is not installed.
    """
    import pycatima
    from pymatgen.core import Composition, Element

    z1, m1, _ = st.IONS[ion]
    amounts = Composition(formula).get_el_amt_dict()
    smallest = min(amounts.values())
    # CATIMA reads amounts below 1 as mass fractions: atom counts scaled to >= 1; A = 0 picks
    # CATIMA's own atomic weight of the element
    material = pycatima.Material([[0, Element(el).Z, n / smallest] for el, n in amounts.items()])
    material.density(1.0)  # mass stopping does not depend on it
    projectile = pycatima.Projectile(m1, z1)
    projectile.T(energy_keV * 1e-3 / m1)  # MeV per u
    return float(pycatima.dedx(projectile, material))


def catima_rows() -> list[Row]:
    """The package's total mass stopping against CATIMA for :data:`CATIMA_CASES`.

    Returns
    -------
    list of Row
        Values in MeV cm2/g, tolerance :data:`CATIMA_TOLERANCE`; rows below 1 MeV up to 7 %
        above CATIMA are the documented low-energy spread; all skipped (with the reason)
        without pycatima.
    """
    module, version = _catima()
    rows = []
    for label, ion, e in CATIMA_CASES:
        name = f"{ion} {e:g} keV in {label}: total mass stopping"
        if module is None:
            rows.append(Row.skipped(name, "CATIMA (pycatima)", version))
            continue
        formula = CATIMA_MATERIALS[label]
        ref = catima_mass_stopping(ion, e, formula)
        value = float(st.mass_stopping_power(ion, e, _composition(formula), nuclear=True))
        known = _known_within(_LOW_ENERGY_KNOWN, LOW_ENERGY_KNOWN_BOUNDS, ref, value) if e < 1000.0 else ""
        rows.append(compare(name, ref, value, CATIMA_TOLERANCE, f"CATIMA (pycatima {version})", unit="MeV cm2/g",
                            known=known))
    return rows


def _figure(ctx: Context) -> tuple[str, str]:
    """Package stopping versus energy with the NIST points (and CATIMA curves when present)."""
    from interphase_sim.core.fileio import atomic_savefig
    from interphase_sim.plotting.common import pyplot_module

    plt = pyplot_module()
    module, _ = _catima()
    ref = nist_reference()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, ion, database in ((axes[0], "alpha", "ASTAR"), (axes[1], "proton", "PSTAR")):
        e = np.geomspace(100.0, 3000.0, 80)
        for i, mat in enumerate(("Si", "Au", "LiF", "LiPON")):
            color = f"C{i}"
            formula = CATIMA_MATERIALS.get(mat, mat)
            ax.plot(e / 1e3, st.mass_stopping_power(ion, e, _composition(formula), nuclear=False), color=color,
                    label=f"{mat} (package)")
            if module is not None:
                cat = [catima_mass_stopping(ion, x, formula) for x in e[::4]]
                ax.plot(e[::4] / 1e3, cat, "--", color=color, lw=1, label=f"{mat} (CATIMA, total)")
            pts = [r for r in ref if r["ion"] == ion and r["material"] == mat]
            if pts:
                ax.plot([p["energy_keV"] / 1e3 for p in pts], [p["electronic_MeV_cm2_g"] for p in pts], "o",
                        color=color, mec="k", label=f"{mat} ({database})")
        ax.set(xscale="log", yscale="log", xlabel=f"{ion} energy (MeV)", ylabel="mass stopping (MeV cm$^2$/g)",
               title=f"{ion}s: ICRU 49 (package) vs {database}" + (" and CATIMA" if module is not None else ""))
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    name = "stopping_vs_nist.png"
    atomic_savefig(fig, ctx.figure_path(name), dpi=110)
    plt.close(fig)
    return name, ("Electronic mass stopping of the package (ICRU 49 fits, Bragg's rule) from 0.1 to 3 MeV, "
                  "with the NIST ASTAR/PSTAR reference points and CATIMA's total stopping (dashed).")


@register("stopping")
def check_stopping(ctx: Context) -> Section:
    """Stopping powers against NIST ASTAR/PSTAR and CATIMA (same rows in quick and full mode).

    Parameters
    ----------
    ctx : Context
        Report folder (the figure goes there) and mode.

    Returns
    -------
    Section
        9 NIST rows (LiF alphas a known deviation) and 20 CATIMA rows (skipped without pycatima).
    """
    t0 = time.perf_counter()
    rows = nist_rows() + catima_rows()
    figure = _figure(ctx)
    text = (
        "The package's stopping (ICRU Report 49 element fits, Bragg's additivity for compounds, ZBL nuclear "
        "stopping) is compared with two independent references. (1) NIST ASTAR and PSTAR electronic mass "
        "stopping powers (NIST Standard Reference Database 124, Berger et al.; ICRU Report 49) for Si, Au and "
        "LiF at the NDP energies, shipped with their source in validation/data/nist_stopping.csv: the 2055 keV "
        "alpha of 6Li(n,alpha)t, the proton at 910.9 keV and the 2727 keV triton at the same velocity (the "
        "package uses proton stopping at equal velocity for tritons). Tolerance 3 % (ICRU 49 quotes a few "
        "percent for the elements; Bragg's rule adds a few percent for compounds). (2) CATIMA, called "
        "directly through pycatima with each compound's stoichiometry, for Li metal, Li2O, Li3N, Li3PO4 and "
        "LiPON (Li2.9PO3.3N0.46) at alpha 0.5, 1.472 (10B(n,alpha)7Li*) and 2.055 MeV and triton 2.727 MeV; "
        "total stopping (electronic + nuclear) on both sides, tolerance 3 %. Quick and full mode run the same "
        f"rows; run time {time.perf_counter() - t0:.1f} s (most of it the figure)."
    )
    return Section("Ion stopping powers", text, rows, [figure])
