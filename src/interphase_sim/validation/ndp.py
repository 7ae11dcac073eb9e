"""Validation of the NDP forward model: absolute yield, invariance, resolution and an
independent second implementation (:mod:`interphase_sim.validation.ndp_reference`).

Rows:

- absolute yield: a 20 nm Li2O film's counts against N(6Li) x 940 b x fluence x area x
  Omega / 4 pi, the 6Li areal density computed independently from the phase's
  composition and density;
- layer splitting: a layer split into two identical halves (no roughness between them)
  must leave the spectrum unchanged to rounding;
- surface depth resolution: the 16-84 % width of the surface edge of a thick LiPON layer
  against the detector resolution combined with the channel width (straggling over the
  few nm the edge spans is negligible), for three detector FWHMs;
- independent forward check: the package against the reference simulator (Runge-Kutta
  march, erf interfaces evaluated cell by cell, exact bin-integrated Gaussians) on the
  shipped samples, per particle: total counts and the largest channel difference
  relative to the peak (the tolerances of the test suite's independent-simulator test).
"""

from __future__ import annotations

import math
import time

import numpy as np

from interphase_sim.validation.report import Context, Row, Section, compare, register

__all__ = ["check_ndp", "absolute_yield_rows", "splitting_rows", "surface_resolution_rows",
           "independent_rows"]

#: Tolerances of tests/test_ndp_independent.py: total counts, largest channel difference / peak.
TOTAL_TOL, PEAK_TOL = 1e-3, 0.01
SPLIT_TOL = 1e-9  # relative, total counts
SPLIT_SHAPE_TOL = 1e-3  # of the peak: birth points are placed per region, a split moves them (~1e-4)
YIELD_TOL = 1e-6  # relative: exact up to the model's quadrature (~3e-9)
EDGE_TOL = 0.02  # relative: measured within 0.6 % (the test suite allows 10 % for a straggled back edge)
SAMPLES = ("lnmo_lipon", "li_sei_lipon")


def _wide_model(stack, **kw):
    """An NDPModel of ``stack`` on a wide 2 keV axis without cutoff (keywords override)."""
    from interphase_sim.ndp import NDPModel

    args = dict(energy_keV=np.arange(1.0, 3200.0, 2.0), low_energy_cutoff_keV=0.0, fwhm_keV=12.0,
                acceptance_half_angle_deg=4.0)
    args.update(kw)
    return NDPModel(stack, **args)


def absolute_yield_rows() -> list[Row]:
    """Counts of a 20 nm Li2O film on Si (alpha, triton) against the analytic yield."""
    from interphase_sim import Layer, Stack
    from interphase_sim.validation.ndp_reference import SIGMA_LI6_B, number_densities

    t_nm, fluence, area, half_angle = 20.0, 2e12, 0.5, 4.0
    stack = Stack([Layer("film", {"Li2O": 1}, t_nm), Layer("sub", {"Si": 1}, "inf")])
    n6, _ = number_densities("Li2O", 0.0759)  # 6Li / nm3
    omega = 0.5 * (1.0 - math.cos(math.radians(half_angle)))
    expected = n6 * t_nm * 1e14 * SIGMA_LI6_B * 1e-24 * fluence * area * omega
    rows = []
    for particle in ("alpha", "triton"):
        model = _wide_model(stack, particles=[particle], fluence=fluence, area_cm2=area,
                            acceptance_half_angle_deg=half_angle)
        _, comps = model.simulate_components()
        rows.append(compare(f"absolute yield, 20 nm Li2O, {particle}: total counts", expected,
                            float(comps[particle].sum()), YIELD_TOL,
                            "N(6Li) x 940 b x fluence x area x Omega/4pi (6Li from composition, density)",
                            unit="counts"))
    return rows


def splitting_rows() -> list[Row]:
    """A LiPON layer split into two identical halves: total counts per particle (exact) and
    the spectrum's largest channel change / peak (birth points move with the region edges)."""
    from interphase_sim import Layer, Stack

    whole = Stack([Layer("LiPON", {"LiPON": 1}, 800, roughness_nm=5), Layer("LNMO", {"LNMO": 1}, 400),
                   Layer("Au", {"Au": 1}, "inf")])
    split = Stack([Layer("LiPON1", {"LiPON": 1}, 400), Layer("LiPON2", {"LiPON": 1}, 400, roughness_nm=5),
                   Layer("LNMO", {"LNMO": 1}, 400), Layer("Au", {"Au": 1}, "inf")])
    _, a = _wide_model(whole).simulate_components()
    _, b = _wide_model(split).simulate_components()
    rows = [compare(f"LiPON 800 nm as 2 x 400 nm, {p}: total counts", float(a[p].sum()), float(b[p].sum()),
                    SPLIT_TOL, "exact (invariance)", unit="counts") for p in a]
    ta, tb = sum(a.values()), sum(b.values())
    rows.append(compare("LiPON 800 nm as 2 x 400 nm: max |channel change| / peak", math.nan,
                        float(np.abs(tb - ta).max() / ta.max()), SPLIT_SHAPE_TOL,
                        "exact (invariance) up to the birth-point placement"))
    return rows


def _edge_sigma(e: np.ndarray, y: np.ndarray, e_surface: float) -> float:
    """Half the 16-84 % width (keV) of the falling surface edge near ``e_surface``: the
    counts divided by the plateau below the edge (a straight line fitted 60-150 keV below
    it, extended under the edge: counts per keV go with 1 / S(E))."""
    flat = (e > e_surface - 150) & (e < e_surface - 60)
    line = np.polyval(np.polyfit(e[flat], y[flat], 1), e)
    win = (e > e_surface - 60) & (e < e_surface + 60)
    ew, yw = e[win], y[win] / line[win]
    # the edge falls with energy: interpolate on the reversed (rising) arrays
    hi = np.interp(0.16, yw[::-1], ew[::-1])
    lo = np.interp(0.84, yw[::-1], ew[::-1])
    return 0.5 * (hi - lo)


def surface_resolution_rows(fwhms: tuple[float, ...] = (10.0, 18.0, 30.0)) -> list[Row]:
    """The alpha surface edge of 2 um LiPON is as wide as the detector (and channel) resolution."""
    from interphase_sim import Layer, Stack
    from interphase_sim.ndp import NDPModel
    from interphase_sim.ndp.geometry import PARTICLES

    stack = Stack([Layer("LiPON", {"LiPON": 1}, 2000), Layer("sub", {"Si": 1}, "inf")])
    e0 = PARTICLES["alpha"].max_energy_keV
    rows = []
    for fwhm in fwhms:
        m = NDPModel(stack, particles=["alpha"], energy_keV=np.arange(1500.0, 2200.0, 1.0), fwhm_keV=fwhm,
                     low_energy_cutoff_keV=0.0, acceptance_half_angle_deg=0.2, angle_nodes=1)
        e, comps = m.simulate_components()
        expected = math.sqrt((fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))) ** 2 + 1.0 / 12.0)
        rows.append(compare(f"alpha surface edge, FWHM {fwhm:g} keV: 16-84 % half-width", expected,
                            _edge_sigma(e, comps["alpha"], e0), EDGE_TOL,
                            "sqrt(sigma_det^2 + channel^2/12)", unit="keV"))
    return rows


def independent_spectra(name: str, quick: bool) -> tuple[np.ndarray, dict, dict, float]:
    """(energy keV, reference components, package components, reference run time s) of a
    shipped sample; the package's below its cutoff set to zero, as the reference's."""
    from interphase_sim import samples
    from interphase_sim.ndp import NDPModel
    from interphase_sim.validation.ndp_reference import layers_from_stack, reference_spectrum

    stack = samples.load(name)
    model = NDPModel.from_stack(stack)
    s = model.settings()
    t0 = time.perf_counter()
    e, ref = reference_spectrum(
        layers_from_stack(stack), li6_abundance=stack.li6_abundance.value, particles=tuple(s["particles"]),
        fwhm_keV=s["fwhm_keV"], channels=len(model.channels), gain_keV=s["gain_keV"], offset_keV=s["offset_keV"],
        acceptance_half_angle_deg=s["acceptance_half_angle_deg"], fluence=s["fluence"], area_cm2=s["area_cm2"],
        low_energy_cutoff_keV=s["low_energy_cutoff_keV"], step_keV=3.0 if quick else 1.5, dz_nm=None)
    dt = time.perf_counter() - t0
    e_pkg, pkg = model.simulate_components()
    if not np.allclose(e_pkg, e):
        raise RuntimeError(f"{name}: the two energy axes differ")
    cut = e >= s["low_energy_cutoff_keV"]
    return e, ref, {k: np.where(cut, v, 0.0) for k, v in pkg.items()}, dt


def independent_rows(name: str, e: np.ndarray, ref: dict, pkg: dict) -> list[Row]:
    """Total counts and largest difference / peak, per particle."""
    rows = []
    src = "independent simulator (validation/ndp_reference.py)"
    for part in ref:
        a, b = ref[part], pkg[part]
        rows.append(compare(f"{name}, {part}: total counts", float(a.sum()), float(b.sum()), TOTAL_TOL, src,
                            unit="counts"))
        rows.append(compare(f"{name}, {part}: max |package - reference| / peak", math.nan,
                            float(np.abs(a - b).max() / b.max()), PEAK_TOL, src))
    return rows


def _figure(ctx: Context, spectra: dict) -> tuple[str, str]:
    """The package's and the reference's spectra and their difference, per sample."""
    from interphase_sim.core.fileio import atomic_savefig
    from interphase_sim.plotting.common import pyplot_module

    plt = pyplot_module()
    fig, axes = plt.subplots(2, len(spectra), figsize=(6 * len(spectra), 6), sharex="col",
                             gridspec_kw={"height_ratios": [3, 1]}, squeeze=False)
    try:
        for j, (name, (e, ref, pkg)) in enumerate(spectra.items()):
            top, bottom = axes[0, j], axes[1, j]
            for part in ref:
                top.plot(e, pkg[part], lw=1.2, label=f"{part}, package")
                top.plot(e, ref[part], "--", lw=1.0, label=f"{part}, reference")
                bottom.plot(e, 100 * (pkg[part] - ref[part]) / pkg[part].max(), lw=1.0, label=part)
            top.set_title(name)
            top.set_ylabel("counts per channel")
            top.legend(fontsize=8)
            bottom.set_xlabel("energy (keV)")
            bottom.set_ylabel("diff. (% of peak)")
            bottom.axhline(0.0, color="k", lw=0.5)
        fig.tight_layout()
        name = "ndp_independent.png"
        atomic_savefig(fig, ctx.figure_path(name), dpi=110)
    finally:
        plt.close(fig)
    return name, ("NDP spectra of the shipped samples: the package and the independent reference simulator "
                  "(top), their difference in % of each particle's peak (bottom).")


@register("ndp")
def check_ndp(ctx: Context) -> Section:
    """The NDP section: yield, splitting, surface resolution, independent simulator."""
    rows = absolute_yield_rows() + splitting_rows() + surface_resolution_rows()
    spectra, times = {}, {}
    for name in SAMPLES:
        e, ref, pkg, dt = independent_spectra(name, ctx.quick)
        spectra[name] = (e, ref, pkg)
        times[name] = dt
        rows += independent_rows(name, e, ref, pkg)
    fig = _figure(ctx, spectra)
    step = "3" if ctx.quick else "1.5"
    text = (
        "The NDP forward model (`NDPModel`) against exact statements and a second implementation. "
        "Absolute yield: a 20 nm Li2O film's total counts against N(6Li) x 940 b x fluence x area x "
        "(1 - cos theta)/2, with N(6Li) from Li2O's composition and density (tolerance 1e-6; exact but for "
        "rounding). Splitting: LiPON 800 nm as 2 x 400 nm with no roughness between the halves: the "
        "total counts per particle within 1e-9, the spectrum within 1e-3 of its peak (the package places "
        "its birth points by energy steps within each region of constant composition, so a split moves "
        "them; about 1e-4 of the peak). Surface resolution: the 16-84 % half-width of "
        "the alpha surface edge of 2 um LiPON (0.2 deg cone, 1 keV channels) against "
        "sqrt(sigma_det^2 + 1 keV^2/12), within 2 % (the counts divided by the plateau below the edge, a "
        "line fitted 60-150 keV below it). Independent check: "
        "`interphase_sim.validation.ndp_reference` shares only the stopping powers and the phases' "
        "compositions and densities with the package; it marches each particle out of the sample with "
        "Runge-Kutta steps (cells losing at most " + step + " keV; the erf interfaces and phase gradients "
        "evaluated cell by cell), carries the straggling variance with Tschalaer's equation and "
        "integrates each packet's Gaussian exactly over the channel edges. It runs on the shipped samples "
        f"with their [ndp] settings ({', '.join(f'{k}: {v:.0f} s' for k, v in times.items())}); tolerances "
        "as the test suite's: 0.1 % on the total counts above the cutoff, 1 % of the peak for the largest "
        "channel difference. Full mode halves the reference's cells (about twice its run time)."
    )
    return Section("NDP forward model", text, rows, [fig])
