"""Study: which instrument constrains which parameter? (the ``study-information`` check)

For each shipped sample, the expected 1-sigma uncertainty of its layer thicknesses and
SEI phase fractions from NDP, EELS, HRTEM and their combinations, from the Fisher
information at the expected (noise-free) data:

- the data sets are the instruments' expected data from the sample's own instrument
  tables (an HRTEM image is reduced to its phase map's labelled fractions along depth, as
  a joint fit does), their objectives built by :func:`interphase_sim.jointfit.data_sets`;
- per objective ``I = J^T diag(w) J`` (:func:`interphase_sim.fit.optimize.jacobians`,
  :func:`~interphase_sim.fit.optimize.information`: central differences, ``w = 1/mu``
  for counts, ``1/sigma^2`` for the phase-map fractions); a combination's information is
  the sum; the free parameters are the studied ones plus each instrument's own free
  nuisances (the EELS scan origin), with the physics systematics held exact
  (:func:`~interphase_sim.fit.hold_systematics`: this is the statistical error);
- ``sigma_i = sqrt((I^-1)_ii)``, "—" where the information is singular along a direction
  that moves parameter i (the instrument cannot see it, or only in a combination with a
  free nuisance). A phase weight's sigma is reported as its normalised fraction's.

The Fisher sigmas are checked against the scatter of fits to seeded noisy data.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interphase_sim.validation.report import Context, Section, compare

__all__ = ["InformationStudy", "study_stack", "expected_data", "objective_information", "combined_sigma",
           "information_study", "fit_scatter", "information_section", "COMBINATIONS"]

#: Instrument combinations of the table, in order.
COMBINATIONS: tuple[tuple[str, ...], ...] = (("ndp",), ("eels",), ("hrtem",), ("ndp", "eels"),
                                               ("ndp", "eels", "hrtem"))
#: Phase weights studied besides the sample's free thicknesses (the top of each SEI sublayer).
PHASE_WEIGHTS = {"li_sei_lipon": ("SEI-outer.phases.Li3PO4", "SEI-inner.phases.Li2O")}
#: A smaller HRTEM lamella and coarser pixels for the quick mode (the full mode images the sample's own).
QUICK_HRTEM = {"lateral_nm": 3.0, "thickness_nm": 1.5, "sampling_A": 0.6}
_PHASE = re.compile(r"^(?P<layer>[^.]+)\.phases\.(?P<phase>[^.]+)$")


def study_stack(name: str) -> tuple[Any, list[str]]:
    """The shipped sample ``name`` with its studied parameters free (its own free
    thicknesses and :data:`PHASE_WEIGHTS`, bounds 0-2), the physics systematics held: (stack, names)."""
    from interphase_sim import samples

    stack = samples.load(name)
    params = stack.parameters()
    for p in params.values():
        if p.role == "systematic":
            p.vary, p.prior = False, None
    studied = [n for n, p in params.items() if p.vary]
    for n in PHASE_WEIGHTS.get(name, ()):
        params[n].bounds, params[n].vary = (0.0, 2.0), True
        studied.append(n)
    return stack, studied


def expected_data(stack: Any, kinds: tuple[str, ...], quick: bool) -> dict[str, Any]:
    """Noise-free data of each instrument in ``kinds`` the sample has a table for
    (HRTEM: the image of :data:`QUICK_HRTEM` in quick mode, the sample's own otherwise)."""
    from interphase_sim.registry import instruments

    out: dict[str, Any] = {}
    for kind in kinds:
        if kind not in stack.sections:
            continue
        if kind == "hrtem":
            from interphase_sim.hrtem.workflow import run_hrtem

            out[kind] = run_hrtem(stack, QUICK_HRTEM if quick else None, noise=False).image
        else:
            out[kind] = instruments[kind].from_stack(stack).simulate()
    return out


def objective_information(objective: Any) -> tuple[list[str], np.ndarray]:
    """(free parameter names, Fisher information) of one objective at its model's values,
    its systematics held exact."""
    from interphase_sim.fit import free_parameters, hold_systematics
    from interphase_sim.fit.optimize import Evaluator, information, jacobians

    hold_systematics(objective.model)
    params = free_parameters([objective])
    ev = Evaluator([objective], params, priors=False)
    jac, mus = jacobians(ev, params.get_values())
    return list(params), information(ev, mus, jac, jac)


def combined_sigma(parts: list[tuple[list[str], np.ndarray]], studied: list[str],
                   rcond: float = 1e-10) -> dict[str, float]:
    """1-sigma of each ``studied`` parameter from the summed information of ``parts``
    ((names, matrix) each); inf where it is singular along a direction moving it."""
    names = list(dict.fromkeys(n for ns, _ in parts for n in ns))
    index = {n: i for i, n in enumerate(names)}
    total = np.zeros((len(names), len(names)))
    for ns, mat in parts:
        k = [index[n] for n in ns]
        total[np.ix_(k, k)] += mat
    d = np.sqrt(np.clip(np.diag(total), 0.0, None))
    seen = d > 0
    out = {n: math.inf for n in studied}
    if not seen.any():
        return out
    scaled = total[np.ix_(seen, seen)] / np.outer(d[seen], d[seen])
    w, v = np.linalg.eigh(scaled)
    null = w <= rcond * w.max()
    cov = (v[:, ~null] / w[~null]) @ v[:, ~null].T
    kept = [names[i] for i in np.flatnonzero(seen)]
    for j, n in enumerate(kept):
        if n in out and float(np.sum(v[j, null] ** 2)) < 1e-6:
            out[n] = math.sqrt(cov[j, j]) / d[seen][j]
    return out


def _fraction_sigma(stack: Any, name: str, sigma_w: float) -> tuple[float, float]:
    """(fraction, its sigma) of the phase weight ``name`` with weight sigma ``sigma_w``:
    ``f = w / W`` over its layer's weights, ``df/dw = (W - w) / W^2``."""
    m = _PHASE.match(name)
    layer = stack[m["layer"]]
    weights = {k: float(p.value) for k, p in layer.fractions.items()}
    w, total = weights[m["phase"]], sum(weights.values())
    return w / total, sigma_w * (total - w) / total**2


@dataclass
class InformationStudy:
    """One sample's Fisher sigmas per instrument combination.

    Attributes
    ----------
    sample : str
    values : dict
        Studied parameter -> its true value (a phase weight: its fraction).
    units : dict
        Parameter -> unit ("nm", or "" for a fraction).
    limits : dict
        Parameter -> the standard deviation of a uniform prior over its bounds (a fraction:
        over 0-1); a larger sigma is no measurement.
    sigma : dict
        Combination label ("ndp+eels") -> parameter -> sigma (inf: no sensitivity; NaN:
        the sample has no table for one of the instruments).
    parts : dict
        Instrument -> (names, information matrix).
    objectives : dict
        Instrument -> its Objective.
    """

    sample: str
    values: dict[str, float]
    units: dict[str, str]
    limits: dict[str, float] = field(default_factory=dict)
    sigma: dict[str, dict[str, float]] = field(default_factory=dict)
    parts: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)
    objectives: dict[str, Any] = field(default_factory=dict)


def information_study(name: str, quick: bool = True, kinds: tuple[str, ...] = ("ndp", "eels", "hrtem"),
                      combinations: tuple[tuple[str, ...], ...] = COMBINATIONS) -> InformationStudy:
    """Fisher sigmas of the sample ``name``'s studied parameters for each combination."""
    from interphase_sim.jointfit import data_sets

    stack, studied = study_stack(name)
    data = expected_data(stack, kinds, quick)
    sets = data_sets(stack, data)
    params = stack.parameters()
    study = InformationStudy(name, {}, {})
    for d in sets:
        study.objectives[d.kind] = d.objective
        study.parts[d.kind] = objective_information(d.objective)
    for n in studied:
        if _PHASE.match(n):
            study.values[n], study.units[n] = _fraction_sigma(stack, n, 0.0)[0], ""
            study.limits[n] = 1.0 / math.sqrt(12.0)
        else:
            study.values[n], study.units[n] = float(params[n].value), params[n].units or "nm"
            lo, hi = params[n].bounds
            study.limits[n] = (hi - lo) / math.sqrt(12.0)
    for combo in combinations:
        label = "+".join(combo)
        if not all(k in study.parts for k in combo):
            study.sigma[label] = {n: math.nan for n in studied}
            continue
        sig = combined_sigma([study.parts[k] for k in combo], studied)
        study.sigma[label] = {n: (_fraction_sigma(stack, n, s)[1] if _PHASE.match(n) and math.isfinite(s) else s)
                              for n, s in sig.items()}
    return study


def _objective(kind: str, model: Any, data: Any) -> Any:
    """An objective as a joint fit makes it (NDP: above the cutoff only)."""
    from interphase_sim.fit import Objective

    mask = model.fit_mask(data) if kind == "ndp" else None
    return Objective(model, data, mask=mask, name=kind)


def fit_scatter(name: str, kind: str, studied: list[str], n_sets: int, rng: np.random.Generator,
                ) -> tuple[dict[str, float], dict[str, float], dict[str, np.ndarray]]:
    """Fit ``n_sets`` seeded noisy data sets of instrument ``kind`` (NDP or EELS) of the
    sample ``name``, only ``studied`` free (plus the instrument's own nuisances): (Fisher
    sigma, scatter of the estimates (sample std), the estimates) per studied parameter."""
    from interphase_sim.fit import fit, free_parameters, hold_systematics
    from interphase_sim.registry import instruments

    stack, all_studied = study_stack(name)
    params = stack.parameters()
    for n in all_studied:
        params[n].vary = n in studied
    model = instruments[kind].from_stack(stack)
    hold_systematics(model)
    objective = _objective(kind, model, model.simulate())
    free = free_parameters([objective])
    truth = free.get_values()
    sigma = combined_sigma([objective_information(objective)], studied)
    estimates: dict[str, list[float]] = {n: [] for n in studied}
    for _ in range(n_sets):
        free.set_values(truth)
        data = model.simulate(noise=True, seed=rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            result = fit(_objective(kind, model, data))
        for n in studied:
            estimates[n].append(result.values[n])
    free.set_values(truth)
    est = {n: np.array(v) for n, v in estimates.items()}
    return sigma, {n: float(np.std(v, ddof=1)) for n, v in est.items()}, est


def _scatter_rows(name: str, kind: str, studied: list[str], n_sets: int, rng: np.random.Generator) -> list:
    """Rows: scatter of fitted values / Fisher sigma, within the 99 % band of a sample
    standard deviation of ``n_sets`` points (chi-square with n - 1 degrees of freedom)."""
    import scipy.stats

    sigma, scatter, _ = fit_scatter(name, kind, studied, n_sets, rng)
    dof = n_sets - 1
    lo, hi = (math.sqrt(scipy.stats.chi2.ppf(q, dof) / dof) for q in (0.005, 0.995))
    rows = []
    for n in studied:
        ratio = scatter[n] / sigma[n]
        rows.append(compare(f"{kind.upper()} fit scatter / Fisher sigma, {n} ({name}, {n_sets} seeded fits)", 1.0,
                            ratio, (hi - 1.0) if ratio >= 1.0 else (1.0 - lo),
                            f"chi-square distribution of a sample std, 99 % band [{lo:.2f}, {hi:.2f}]",
                            note=f"Fisher sigma {sigma[n]:.4g}, scatter {scatter[n]:.4g}"))
    return rows


def _ordering_row(studies: list[InformationStudy]) -> Any:
    """A combination's sigma is at most each of its instruments' (information adds)."""
    bad, checked = 0, 0
    for st in studies:
        for label, sig in st.sigma.items():
            kinds = label.split("+")
            for k in kinds if len(kinds) > 1 else ():
                for n, s in sig.items():
                    single = st.sigma.get(k, {}).get(n, math.nan)
                    if math.isnan(s) or math.isnan(single):
                        continue
                    checked += 1
                    bad += s > single * (1.0 + 1e-9)
    return compare("a combination's Fisher sigma > a single instrument's (count)", 0.0, bad, 0.0,
                   "exact: Fisher information adds over independent data", relative=False,
                   note=f"{checked} comparisons")


def _additivity_row(study: InformationStudy) -> Any:
    """The information of one Evaluator over NDP and EELS together equals the sum of the
    two (the package's joint Jacobians against the per-instrument ones)."""
    from interphase_sim.fit import free_parameters
    from interphase_sim.fit.optimize import Evaluator, information, jacobians

    objs = [study.objectives["ndp"], study.objectives["eels"]]
    params = free_parameters(objs)
    ev = Evaluator(objs, params, priors=False)
    jac, mus = jacobians(ev, params.get_values())
    joint = information(ev, mus, jac, jac)
    names = list(params)
    index = {n: i for i, n in enumerate(names)}
    summed = np.zeros_like(joint)
    for k in ("ndp", "eels"):
        ns, mat = study.parts[k]
        idx = [index[n] for n in ns]
        summed[np.ix_(idx, idx)] += mat
    scale = np.sqrt(np.outer(np.diag(joint), np.diag(joint)))
    worst = float(np.max(np.abs(joint - summed) / np.where(scale > 0, scale, 1.0)))
    return compare(f"joint NDP+EELS information = NDP's + EELS's ({study.sample}), largest difference", 0.0,
                   worst, 1e-6, "exact: independent data sets", relative=False,
                   note="relative to sqrt(I_ii I_jj)")


def _cell(sigma: float, unit: str, value: float, limit: float) -> str:
    """A table cell: sigma with its unit, "—" without sensitivity (singular, or a sigma
    above the bounds' uniform width ``limit``), "n/a" without the instrument."""
    if math.isnan(sigma):
        return "n/a"
    if not math.isfinite(sigma):
        return "—"
    if sigma > limit:
        return f"— (σ {sigma:.2g} {unit}".rstrip() + " > bounds)"
    rel = f" ({100 * sigma / abs(value):.2g} %)" if value else ""
    return f"{sigma:.3g} {unit}".rstrip() + rel


def markdown_table(study: InformationStudy) -> str:
    """Parameter x combination Markdown table of one sample's Fisher sigmas."""
    labels = list(study.sigma)
    head = f"| {study.sample}: parameter (true value) | " + " | ".join(lb.upper() for lb in labels) + " |"
    lines = [head, "|---|" + "---|" * len(labels)]
    for n, v in study.values.items():
        unit = study.units[n]
        what = f"{n.replace('.phases.', ' fraction of ')} ({v:g} {unit})".replace(" )", ")")
        lines.append(f"| {what} | " + " | ".join(_cell(study.sigma[lb][n], unit, v, study.limits[n]) for lb in labels) + " |")
    return "\n".join(lines)


def _figure(studies: list[InformationStudy], path: Any) -> None:
    """Bars of sigma / value per parameter and combination, one panel per sample (log axis;
    a missing bar: no sensitivity or no such instrument)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(studies), figsize=(6.0 * len(studies), 4.5), squeeze=False)
    for ax, st in zip(axes[0], studies):
        labels = list(st.sigma)
        names = list(st.values)
        width = 0.8 / len(labels)
        for k, lb in enumerate(labels):
            rel = [st.sigma[lb][n] / abs(st.values[n]) if math.isfinite(st.sigma[lb][n]) else np.nan for n in names]
            ax.bar(np.arange(len(names)) + (k - (len(labels) - 1) / 2) * width, rel, width, label=lb.upper())
        ax.set_yscale("log")
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels([n.replace(".thickness_nm", " t").replace(".phases.", " f ") for n in names],
                           rotation=20, fontsize=8)
        ax.set_ylabel("Fisher 1-sigma / true value")
        ax.set_title(st.sample)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _settings(quick: bool) -> dict[str, Any]:
    """Fit checks of each mode: (sample, instrument, parameters, number of fits)."""
    lnmo = ["LiPON.thickness_nm", "LNMO.thickness_nm"]
    if quick:
        return {"checks": [("lnmo_lipon", "ndp", lnmo, 20)]}
    return {"checks": [("lnmo_lipon", "ndp", lnmo, 100),
                       ("li_sei_lipon", "eels", ["SEI-outer.thickness_nm", "SEI-inner.thickness_nm"], 40)]}


def information_section(ctx: Context) -> Section:
    """The ``study-information`` check (see the module docstring)."""
    from interphase_sim import samples

    t0 = time.perf_counter()
    studies = [information_study(name, ctx.quick) for name in samples.names()]
    rows = [_ordering_row(studies)]
    rows += [_additivity_row(st) for st in studies if {"ndp", "eels"} <= set(st.objectives)]
    rng = ctx.rng("study-information")
    for name, kind, studied, n_sets in _settings(ctx.quick)["checks"]:
        rows += _scatter_rows(name, kind, studied, n_sets, rng)
    _figure(studies, ctx.figure_path("information_sigma.png"))
    mode = "quick" if ctx.quick else "full"
    hrtem = ("a 3 nm wide, 1.5 nm thick lamella at 0.6 Å pixels (quick mode)" if ctx.quick else
             "the sample's own [hrtem] lamella")
    text = (
        "Expected 1-sigma (statistical) uncertainty of each sample's free thicknesses and of two SEI phase "
        "fractions (the top Li3PO4 fraction of SEI-outer, the top Li2O fraction of SEI-inner; each a free "
        "phase weight, its sigma reported for the normalised fraction), from the Fisher information of each "
        "instrument's expected data (the sample's own [ndp], [eels] and [hrtem] tables; HRTEM: the labelled "
        f"phase fractions along depth of the phase map of one noise-free image, {hrtem}) and of their sums. "
        "Each instrument's own free nuisances are profiled (the EELS scan origin, which the instrument does "
        "not know); the physics systematics (stopping powers, cross-sections, 6Li abundance, LiPON density, "
        "HRTEM label efficiencies) are held exact, so these are the best-case statistical errors, the floor "
        "under the systematic ones. \"—\": the information is singular along a direction that moves the "
        "parameter, or its sigma exceeds the spread of a uniform prior over its bounds (no useful "
        "sensitivity; the sigma is given); \"n/a\": the sample has no table for that instrument (lnmo_lipon has no "
        "[hrtem] table). Percentages are relative to the true value.\n\n"
        + "\n\n".join(markdown_table(st) for st in studies)
        + "\n\nReading: NDP measures the areal density of lithium along depth, so on the micrometre LiPON | "
        "LNMO cell it pins both thicknesses to about a nanometre, while EELS, whose scan never sees the "
        "surface, measures the LiPON thickness only through its free scan origin, hence not at all (or only "
        "weakly) and not the LNMO thickness at all. On the thin SEI the roles reverse: NDP's tens-of-nm "
        "resolution cannot separate the two sublayers from their compositions, EELS at 1 nm steps measures "
        "both, and the joint information is EELS's. HRTEM's phase map of one lamella a few nm wide counts too few "
        "grains per depth bin to add anything: its sigmas are of the order of the bounds. The EELS sigmas "
        "(hundredths of a nm) are what a model fitted to data it made itself quotes at a 1e5 e/A2 dose; the "
        "systematics held here (cross-sections, probe, scan calibration) dominate in practice. The fits to seeded noisy data check the Fisher sigma "
        f"(rows below). Run time: {time.perf_counter() - t0:.0f} s in {mode} mode (full: the sample's own HRTEM "
        "lamella, 100 NDP and 40 EELS fits, about 3 minutes on two shared cores; quick: the small lamella and "
        "20 NDP fits, about 45 s)."
    )
    return Section("Study: which instrument constrains which parameter?", text, rows,
                   [("information_sigma.png", "Fisher 1-sigma relative to the true value per studied parameter, "
                     "per instrument and combination (missing bar: no sensitivity or no such instrument).")])
