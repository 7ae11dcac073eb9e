"""Validation of the fits' error bars: coverage of the 68 % and 95 % intervals over seeded
data sets made with other physics than the fit model assumes, and the pulls.

Data sets and fit models follow the coverage studies of the test suite:

- NDP, EELS and NDP + EELS: LiPON | Li2O-rich SEI | Li, the two thicknesses free; each data
  set's "true" physics drawn from what the fit only knows as priors (6Li abundance,
  LiPON density, stopping powers per material, EELS scan origin and step, per-edge
  cross-sections), the true probe 25 % wider than the fit's; fits start 15 % off;
- HRTEM: phase maps drawn from grains (Voronoi cells of a jittered 5 nm lattice, each
  labelled with rates drawn per data set around the mean rates the fit's confusion is
  calibrated with), reduced to labelled fractions along depth and fitted with
  :class:`~interphase_sim.hrtem.fitting.StackPhaseFractions`; SEI-outer and SEI-inner free.

An interval is value +/- k x total error (k = 1, 1.96); it holds the truth or not. With n
intervals the share is binomial: the tolerance is 2.5 binomial standard deviations,
``2.5 sqrt(p (1 - p) / n)``. Pulls (fit - truth) / error should have mean 0 (tolerance
2.5 / sqrt(n)) and standard deviation 1 (tolerance 2.5 / sqrt(2 n)).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.stats

from interphase_sim.validation.report import Context, Row, Section, compare, register

__all__ = ["check_fitting", "Tally", "coverage_rows", "N_SETS"]

#: Data sets per modality (quick, full).
N_SETS = {"NDP": (40, 240), "EELS": (16, 120), "HRTEM": (40, 200), "NDP + EELS": (12, 120),
          "NDP + EELS + HRTEM": (0, 80)}  # the three-way joint fit: full mode only (~11 s a set)
ORIGIN_SD_NM = 8.0
K_SIGMA = 2.5
SOURCE = "binomial, 2.5 sigma"
#: The HRTEM fits' errors are still somewhat small in the tails on the report's seeds
#: (200 data sets: 68 % intervals hold the truth in 63 %, 95 % ones in 91 %, pull sd 1.12;
#: on other seeds 0.67-0.70 / 0.94-0.95, sd 1.03-1.08). Two causes were found and mended:
#: the Gaussian form's errors came from the observed shares (now the shares' multinomial
#: likelihood, ``phase_map_depth_fractions(counts=True)`` with ``loss="poisson"``), and each
#: image's mislabel rates were taken for the calibration's (now a scale per rate,
#: ``hrtem.mislabel.<label>.<phase>``, N(1, 50 %)); before, 61 % / 87 %, sd 1.25. With the
#: data's labelling rates fixed at the calibration's the pulls are narrow (sd 0.93), so
#: what is left is in how the rates vary per image: a wider efficiency prior (25 %)
#: moves the report's seeds to 65 % / 93 % (sd 1.09), a wider mislabel prior does not.
KNOWN = {"HRTEM": ("HRTEM phase-map fits' errors are about 10 % too small in the tails on these seeds (200 data "
                   "sets: 63 % / 91 % coverage, pull sd 1.12; other seeds 67-70 % / 94-95 %); what is left is in "
                   "how the labelling rates vary per image (with them fixed at the calibration's, 300 other data "
                   "sets have pulls of sd 0.93); the test suite's HRTEM coverage study accepts 90-98 % for the 95 % share")}


@dataclass
class Tally:
    """Intervals value +/- k x total error (k = 1, 1.96) that hold the truth, over fits."""

    inside68: int = 0
    inside95: int = 0
    total: int = 0
    sets: int = 0
    pulls: list[float] = field(default_factory=list)
    unconstrained: list[str] = field(default_factory=list)

    def fit(self, objectives: list, truth: dict[str, float]) -> None:
        """Fit ``objectives`` and count each truth's intervals (a parameter whose error is
        its prior's, ``not_constrained``, has no interval to test)."""
        from interphase_sim.fit import fit

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            res = fit(objectives)
        self.sets += 1
        for name, t in truth.items():
            if name in res.not_constrained:
                self.unconstrained.append(name)
                continue
            err = res.stderr[name]
            self.inside68 += abs(res.values[name] - t) <= err
            self.inside95 += abs(res.values[name] - t) <= 1.96 * err
            self.total += 1
            self.pulls.append((res.values[name] - t) / err)

    def result(self) -> tuple[float, float, list[float], list[str]]:
        """(68 % coverage, 95 % coverage, pulls, parameters not constrained)."""
        return self.inside68 / self.total, self.inside95 / self.total, self.pulls, self.unconstrained


# -- NDP and EELS: LiPON | SEI | Li ---------------------------------------------------------
TRUTH2 = {"LiPON.thickness_nm": 120.0, "SEI.thickness_nm": 60.0}


def _stack2(thickness: tuple[float, float] = (120.0, 60.0)):
    """LiPON | Li2O-rich SEI | Li: the two thicknesses (nm) free within wide bounds."""
    from interphase_sim import Layer, Parameter, Stack

    return Stack([
        Layer("LiPON", {"LiPON": 1.0}, Parameter(thickness[0], bounds=(40.0, 300.0), vary=True), roughness_nm=2.0),
        Layer("SEI", {"Li2O": 0.7, "Li3N": 0.3}, Parameter(thickness[1], bounds=(20.0, 150.0), vary=True),
              roughness_nm=2.0),
        Layer("Li", {"Li": 1.0}, "inf"),
    ])


def _draw(p, rng: np.random.Generator) -> None:
    """Set a Parameter to a draw from its prior, inside its bounds."""
    p.value = float(np.clip(rng.normal(p.prior.mean(), p.prior.std()), *p.bounds))


def ndp_model(stack, rng: np.random.Generator | None = None):
    """The coverage NDP model (alpha, 15 keV FWHM, 4e12 n/cm2); with ``rng`` the data's
    physics: stopping powers drawn from their priors."""
    from interphase_sim.ndp.model import NDPModel

    model = NDPModel.from_stack(stack, particles=["alpha"], fwhm_keV=15.0, fluence=4e12, channels=512,
                                gain_keV=4.2, low_energy_cutoff_keV=1000.0)
    if rng is not None:
        for p in model.stopping_scale.values():
            _draw(p, rng)
    return model


def eels_model(stack, rng: np.random.Generator | None = None, scan: tuple[float, float, int] = (100.0, 200.0, 40)):
    """An N K + O K line scan over ``scan`` = (start nm, stop nm, positions); with ``rng`` the
    data's physics: origin, step and cross-sections from their priors, a 25 % wider probe."""
    from interphase_sim.eels.model import EELSModel

    model = EELSModel.from_stack(stack, edges=["N K", "O K"], channels=256, offset_eV=380.0, dispersion_eV=1.0,
                                 scan_start_nm=scan[0], scan_stop_nm=scan[1], positions=scan[2], dose_e_per_A2=2e4,
                                 plural=False)
    model.probe_fwhm_nm.vary = True
    model.scan_origin_nm.prior = scipy.stats.norm(0.0, ORIGIN_SD_NM)
    if rng is not None:
        model.scan_origin_nm.value = float(np.clip(rng.normal(0.0, ORIGIN_SD_NM), *model.scan_origin_nm.bounds))
        model.probe_fwhm_nm.value = 1.25 * model.probe_fwhm_nm.value
        _draw(model.scan_step_scale, rng)
        for p in model.xsec_scale.values():
            _draw(p, rng)
    return model


def sample_systematics(stack, rng: np.random.Generator):
    """The data's sample: 6Li abundance and LiPON density drawn from their priors."""
    for p in (stack.li6_abundance, stack.phases["LiPON"].density_parameter):
        _draw(p, rng)
    return stack


def coverage_ndp_eels(kinds: tuple[str, ...], n_sets: int, seed: int) -> Tally:
    """Coverage of NDP, EELS or both over ``n_sets`` data sets."""
    from interphase_sim.fit import Objective

    tally = Tally()
    makers = {"ndp": ndp_model, "eels": eels_model}
    for i in range(n_sets):
        rng = np.random.default_rng([seed, i])
        truth_stack = sample_systematics(_stack2(), rng)
        data = {k: makers[k](truth_stack, rng).simulate(noise=True, seed=rng) for k in kinds}
        stack = _stack2(thickness=(120.0 * 1.15, 60.0 * 0.85))
        tally.fit([Objective(makers[k](stack), data[k]) for k in kinds], TRUTH2)
    return tally


# -- HRTEM phase maps drawn from grains -----------------------------------------------------
TRUTH3 = {"SEI-outer.thickness_nm": 30.0, "SEI-inner.thickness_nm": 40.0}
LABELS = ["Li", "Li2O", "Li3N"]
PHASES = ["LiPON", "Li2O", "Li3N", "Li"]
GRAIN_NM, JITTER = 5.0, 0.3
WINDOW_NM, STEP_NM = 3.0, 1.5
BIN_NM = 2.0 * WINDOW_NM
LATERAL_NM, DEPTH_NM = 48.0, (110.0, 210.0)
N_CALIBRATION = 10
MEAN_RATES = np.array([[0.025 if p == "LiPON" else 0.6 if lab == p else 0.085 for p in PHASES] for lab in LABELS])


def _stack3(thickness: tuple[float, float, float] = (120.0, 30.0, 40.0), lipon_free: bool = False):
    """LiPON (fixed unless ``lipon_free``) | Li3N-rich SEI-outer | Li2O-rich SEI-inner | Li, 5 nm grains."""
    from interphase_sim import Layer, Parameter, Stack

    return Stack([
        Layer("LiPON", {"LiPON": 1.0}, Parameter(thickness[0], bounds=(40.0, 300.0), vary=lipon_free),
              roughness_nm=2.0),
        Layer("SEI-outer", {"LiPON": 0.4, "Li3N": 0.6}, Parameter(thickness[1], bounds=(5.0, 80.0), vary=True),
              roughness_nm=2.0, grain_size_nm=GRAIN_NM),
        Layer("SEI-inner", {"Li2O": 0.8, "LiPON": 0.2}, Parameter(thickness[2], bounds=(5.0, 90.0), vary=True),
              roughness_nm=2.0, grain_size_nm=GRAIN_NM),
        Layer("Li", {"Li": 1.0}, "inf", grain_size_nm=GRAIN_NM),
    ])


def grain_label_rates(rng: np.random.Generator) -> np.ndarray:
    """(labels, phases) probabilities that a grain of each phase gets each label."""
    rates = np.empty((len(LABELS), len(PHASES)))
    for i, phase in enumerate(PHASES):
        for j, label in enumerate(LABELS):
            lo, hi = (0.0, 0.05) if phase == "LiPON" else (0.45, 0.75) if label == phase else (0.02, 0.15)
            rates[j, i] = rng.uniform(lo, hi)
    return rates


def phase_map(stack, rates: np.ndarray, rng: np.random.Generator):
    """A map of ``stack`` with grains labelled by ``rates``, and its truth (one-hot windows)."""
    from scipy.spatial import cKDTree

    from interphase_sim.hrtem.fitting import PhaseMapTruth
    from interphase_sim.hrtem.phasemap import PhaseMap

    depth = np.arange(DEPTH_NM[0] + WINDOW_NM / 2, DEPTH_NM[1] - WINDOW_NM / 2 + 1e-9, STEP_NM)
    lateral = np.arange(WINDOW_NM / 2, LATERAL_NM - WINDOW_NM / 2 + 1e-9, STEP_NM)
    gy = np.arange(DEPTH_NM[0] - 2 * GRAIN_NM, DEPTH_NM[1] + 2 * GRAIN_NM, GRAIN_NM) + rng.uniform(0, GRAIN_NM)
    gx = np.arange(-2 * GRAIN_NM, LATERAL_NM + 2 * GRAIN_NM, GRAIN_NM) + rng.uniform(0, GRAIN_NM)
    centres = np.stack(np.meshgrid(gy, gx, indexing="ij"), axis=-1).reshape(-1, 2)
    centres += rng.uniform(-JITTER, JITTER, centres.shape) * GRAIN_NM
    prof = stack.profile(np.clip(centres[:, 0], 0.0, None))
    phi = np.stack([prof.fraction(n) for n in PHASES], axis=1)
    cum = np.cumsum(phi / phi.sum(axis=1, keepdims=True), axis=1)
    phase = np.minimum((rng.random(len(centres))[:, None] > cum).sum(axis=1), len(PHASES) - 1)
    label = (rng.random(len(centres))[:, None] > np.cumsum(rates[:, phase].T, axis=1)).sum(axis=1)  # 3: none
    y, x = np.meshgrid(depth, lateral, indexing="ij")
    grain = cKDTree(centres).query(np.stack([y.ravel(), x.ravel()], axis=1))[1].reshape(y.shape)
    labels = np.array(LABELS + [""], dtype=object)[label[grain]]
    zeros = np.zeros(y.shape)
    pm = PhaseMap(labels=labels, confidence=zeros, probability=np.zeros((*y.shape, len(LABELS))),
                  phase_names=list(LABELS), score=zeros, depth_nm=depth, lateral_nm=lateral,
                  window_nm=WINDOW_NM, step_nm=STEP_NM)
    return pm, PhaseMapTruth(fractions=np.eye(len(PHASES))[phase[grain]], phase_names=list(PHASES))


def _hrtem_objective(truth_stack, stack, rng: np.random.Generator):
    """A data set's labelled fractions along depth and the fit's model (confusion
    calibrated on maps of ``stack`` drawn with the mean rates), as an Objective."""
    from interphase_sim.fit import Objective
    from interphase_sim.hrtem.fitting import StackPhaseFractions, label_confusion, phase_map_depth_fractions
    from interphase_sim.hrtem.workflow import largest_grain_nm

    maps = [phase_map(stack, MEAN_RATES, rng) for _ in range(N_CALIBRATION)]
    confusion = label_confusion([m for m, _ in maps], [t for _, t in maps], LABELS)
    model = StackPhaseFractions(stack, window_nm=BIN_NM, confusion=confusion)
    pm, _ = phase_map(truth_stack, grain_label_rates(rng), rng)
    data = phase_map_depth_fractions(pm, LABELS, bin_nm=BIN_NM, correlation_nm=largest_grain_nm(stack), counts=True)
    return Objective(model, data, loss="poisson")


def coverage_hrtem(n_sets: int, seed: int) -> Tally:
    """Coverage of HRTEM phase-map fractions alone (LiPON fixed at its truth)."""
    tally = Tally()
    for i in range(n_sets):
        rng = np.random.default_rng([seed, i])
        truth_stack = sample_systematics(_stack3(), rng)
        stack = _stack3(thickness=(120.0, 30.0 * 1.15, 40.0 * 0.85))
        tally.fit([_hrtem_objective(truth_stack, stack, rng)], TRUTH3)
    return tally


def coverage_joint3(n_sets: int, seed: int) -> Tally:
    """Coverage of the NDP + EELS + HRTEM joint fit: all three thicknesses free (EELS scan
    100-220 nm, 48 positions, over the whole map)."""
    from interphase_sim.fit import Objective

    truth = {"LiPON.thickness_nm": 120.0, **TRUTH3}
    tally = Tally()
    for i in range(n_sets):
        rng = np.random.default_rng([seed, i])
        truth_stack = sample_systematics(_stack3(lipon_free=True), rng)
        stack = _stack3(thickness=(120.0 * 1.15, 30.0 * 1.15, 40.0 * 0.85), lipon_free=True)
        objectives = [Objective(ndp_model(stack), ndp_model(truth_stack, rng).simulate(noise=True, seed=rng))]
        scan = (100.0, 220.0, 48)
        objectives.append(Objective(eels_model(stack, scan=scan),
                                    eels_model(truth_stack, rng, scan=scan).simulate(noise=True, seed=rng)))
        objectives.append(_hrtem_objective(truth_stack, stack, rng))
        tally.fit(objectives, truth)
    return tally


# -- rows and figure -------------------------------------------------------------------------
def coverage_rows(label: str, tally: Tally) -> list[Row]:
    """68 % and 95 % coverage, pull mean and standard deviation of one modality."""
    n = tally.total
    pulls = np.asarray(tally.pulls)
    known = KNOWN.get(label, "")
    rows = []
    for p, inside in ((0.6827, tally.inside68), (0.9545, tally.inside95)):
        rows.append(compare(f"{label}: {round(100 * p)} % interval coverage ({n} intervals)", p,
                            inside / n if n else math.nan, K_SIGMA * math.sqrt(p * (1 - p) / max(n, 1)), SOURCE,
                            relative=False, known=known))
    # the thicknesses of one data set are correlated (EELS: both move with the scan origin), so
    # the mean's standard error is taken with the number of data sets, not of pulls
    rows.append(compare(f"{label}: pull mean ({tally.sets} data sets)", 0.0, float(pulls.mean()) if n else math.nan,
                        K_SIGMA / math.sqrt(max(tally.sets, 1)), "unit normal, 2.5 sigma of the mean per data set",
                        relative=False))
    rows.append(compare(f"{label}: pull standard deviation", 1.0, float(pulls.std(ddof=1)) if n > 1 else math.nan,
                        K_SIGMA / math.sqrt(2 * max(n - 1, 1)), "unit normal, 2.5 sigma of the sd", relative=False,
                        known=known))
    if tally.unconstrained:
        rows.append(compare(f"{label}: parameters not constrained by the data", 0.0, len(tally.unconstrained), 0.0,
                            "every thickness measured", relative=False))
    return rows


def _figure(ctx: Context, tallies: dict[str, Tally]) -> tuple[str, str]:
    """Histograms of the pulls per modality with the unit normal."""
    from interphase_sim.core.fileio import atomic_savefig
    from interphase_sim.plotting.common import pyplot_module

    plt = pyplot_module()
    fig, axes = plt.subplots(1, len(tallies), figsize=(3.6 * len(tallies), 3.2), squeeze=False)
    x = np.linspace(-4, 4, 200)
    try:
        for ax, (label, tally) in zip(axes[0], tallies.items()):
            ax.hist(np.clip(tally.pulls, -4, 4), bins=np.linspace(-4, 4, 17), density=True, alpha=0.6, edgecolor="white")
            ax.plot(x, scipy.stats.norm.pdf(x), "k-", lw=1.2, label="unit normal")
            ax.set_title(f"{label} ({tally.total})")
            ax.set_xlabel("(fit - truth) / sigma")
        axes[0, 0].set_ylabel("density")
        axes[0, 0].legend(fontsize=8)
        fig.tight_layout()
        name = "fitting_pulls.png"
        atomic_savefig(fig, ctx.figure_path(name), dpi=110)
    finally:
        plt.close(fig)
    return name, "Pulls (fit - truth) / total error of the thicknesses per modality, with the unit normal."


STUDIES: dict[str, Callable[[int, int], Tally]] = {
    "NDP": lambda n, seed: coverage_ndp_eels(("ndp",), n, seed),
    "EELS": lambda n, seed: coverage_ndp_eels(("eels",), n, seed),
    "HRTEM": coverage_hrtem,
    "NDP + EELS": lambda n, seed: coverage_ndp_eels(("ndp", "eels"), n, seed),
    "NDP + EELS + HRTEM": coverage_joint3,
}


@register("fitting")
def check_fitting(ctx: Context) -> Section:
    """The coverage section: per modality, 68 %/95 % coverage and pulls; a pull figure."""
    tallies, times = {}, {}
    seeds = ctx.rng("fitting").integers(0, 2**31, size=len(STUDIES))
    for (label, study), seed in zip(STUDIES.items(), seeds):
        n = N_SETS[label][0 if ctx.quick else 1]
        if n == 0:
            continue
        t0 = time.perf_counter()
        tallies[label] = study(n, int(seed))
        times[label] = time.perf_counter() - t0
    rows = [r for label, tally in tallies.items() for r in coverage_rows(label, tally)]
    fig = _figure(ctx, tallies)
    per_set = ", ".join(f"{k} {times[k] / max(N_SETS[k][0 if ctx.quick else 1], 1):.1f} s" for k in times)
    text = (
        "Coverage of the fits' total errors (statistical and systematic) over seeded data sets made with "
        "other physics than the fit assumes: each data set's 6Li abundance, LiPON density, stopping powers, "
        "EELS scan origin, step and cross-sections are drawn from the priors the fit carries, the true EELS "
        "probe is 25 % wider than the fit's, HRTEM labelling rates are drawn around the mean rates the "
        "fit's label confusion is calibrated with; fits start 15 % off. Samples: LiPON | Li2O-rich SEI | Li "
        "(NDP, EELS, NDP + EELS; both thicknesses free) and LiPON | SEI-outer | SEI-inner | Li (HRTEM "
        "with the two SEI thicknesses free; the NDP + EELS + HRTEM joint fit, full mode only, with all "
        "three). An interval value +/- k sigma (k = 1, 1.96) holds the truth or "
        "not: the tolerance is 2.5 binomial standard deviations for the number of intervals; the pulls' "
        "mean within 2.5 standard errors per data set (one set's thicknesses are correlated), their "
        "standard deviation within 2.5 standard errors per pull. Quick mode runs 12-40 data sets a "
        "modality (wide binomial bands); the full mode is the validation. Data sets per modality: "
        + ", ".join(f"{k} {v[0]} (quick) / {v[1]} (full)" for k, v in N_SETS.items())
        + f"; fit time per data set {per_set} (full mode: about 10 min on two unloaded cores, several "
        "times that under load)."
    )
    return Section("Fitting: coverage of the error bars", text, rows, [fig])
