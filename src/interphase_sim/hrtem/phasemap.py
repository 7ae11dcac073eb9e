"""Phase maps of HRTEM images: which crystalline phase shows the fringes in each region.

A window slides over the image; the peaks of its diffractogram (lattice spacings, from
:func:`interphase_sim.hrtem.analysis.find_lattice_spacings`' kernel) are compared with
each candidate phase's spacings. Candidates come with weights: the kinematic electron
intensity of each spacing (:func:`electron_reflections`), so a spacing that electrons
hardly see counts for little. Li2O (200), for instance, is below 1e-3 of (111) because
its Li and O contributions cancel, and Li3N (101) 2.45 Å nearly vanishes for the same
reason, so it is no rival to bcc Li (110) 2.48 Å.

Each window gets a probability per phase, and one for "none of the candidates", with
equal priors. Under a phase, a real peak at spacing ``d`` is one of the phase's
reflections (probability ``1 - 0.02``, shared in proportion to their weights, with a
Gaussian error of relative width ``tolerance``) or unrelated (probability 0.02: a
neighbouring grain, moiré), spread evenly in ``ln d`` over the searched range (taken at
least one e-fold wide). Under "none", every peak is unrelated.

A weak peak may also be speckle, a chance maximum of an amorphous region's spectrum,
unrelated to any phase. A peak whose power is ``r`` times its ring's background (the
strongest single peak, where one spacing shows in several directions) is speckle with
likelihood ``exp(-(r - prominence))`` (the exponential tail of a speckle periodogram
above the threshold) and real with likelihood ``1 / (r ln 1000)`` (real peaks spread
log-uniformly over three decades), at even prior odds. So a peak just over the threshold
counts for little and a strong one fully.

The peaks' log-likelihoods are summed with weights equal to their share of the
window's peak strength. That tempers the likelihood to one effective observation per
window, so many weak peaks do not overwhelm one strong one; the result is a
pseudo-posterior. A phase with many reflections spreads its weight over them, so it
does not win a window that shows one spacing of a phase with few reflections (the
Occam factor).

A single spacing rarely identifies a phase: several of this field's phases share
spacings within 1-2 % (Li2O (111) 2.67 Å and Li3PO4 2.64 Å, for example). The map
therefore labels a window only when one phase is clearly the most probable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from interphase_sim.core.constants import ANGSTROM_PER_NM as _ANGSTROM_PER_NM
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.hrtem._spectra import (
    MIN_SIDE as _MIN_SIDE,
    NYQUIST_FRACTION as _NYQUIST_FRACTION,
    count_number as _count,
    check_d_range as _d_range,
    image_input as _image_input,
    spectrum_peaks as _peaks,
    positive_number as _positive,
)

__all__ = ["PhaseMap", "candidate_reflections", "candidate_spacings", "electron_reflections", "phase_map"]

# Probability that a real diffractogram peak is not a reflection of the phase being tested.
_OUTLIER = 0.02
# Prior probability that a detected peak is speckle (a chance maximum of an amorphous
# region's spectrum), and the span of power ratios over which real peaks spread.
_SPECKLE_PRIOR = 0.5
_REAL_RATIO_SPAN = 1000.0


# --------------------------------------------------------------------------- candidates


@lru_cache(maxsize=None)
def _scattering_factor(symbol: str):
    # abTEM's Lobato-van Dyck parametrization: f_e as a function of k^2 (k in 1/Å), in Å
    from abtem.parametrizations import LobatoParametrization

    return LobatoParametrization().scattering_factor(symbol)


def electron_reflections(phase: Any, d_min_A: float = 1.2,
                         min_intensity: float = 0.0) -> list[tuple[float, float, tuple[int, int, int], int]]:
    """Kinematic electron intensities of a crystalline phase's lattice spacings.

    For each distinct spacing ``d >= d_min_A`` the intensity is the sum, over the
    reflections ``g`` with that spacing, of ``|F(g)|^2`` with
    ``F(g) = sum_j occ_j f_j(|g|) exp(2 pi i g . r_j)`` and the electron scattering
    factors ``f_j`` of Lobato and van Dyck (as tabulated in abTEM). It is the weight a
    spacing carries in a ring pattern of randomly oriented grains; no Debye-Waller
    factor, no dynamical scattering.

    Parameters
    ----------
    phase : Phase, str or pymatgen Structure
        Crystalline phase (a name is looked up in :mod:`interphase_sim.sample.phases`).
    d_min_A : float
        Smallest spacing (Å), > 0: choose it at the microscope's resolution.
    min_intensity : float
        Spacings weaker than this fraction of the strongest are dropped, in [0, 1).

    Returns
    -------
    list of (d_A, relative_intensity, (h, k, l), multiplicity)
        Largest spacing first; the strongest spacing has intensity 1. Forbidden
        spacings (|F|^2 below 1e-12 of what the cell's atoms give in phase at that
        spacing) are left out, even when no allowed one lies above ``d_min_A``.
        ``(h, k, l)`` names the family in ``phase.structure``'s lattice. ``multiplicity`` counts every
        reflection with that spacing: Friedel mates, and families that coincide by
        accident (cubic (333) and (511)).
    """
    from interphase_sim.sample import phases
    from interphase_sim.build.crystal import structure_of, family_label, reflection_grid, spacing_groups, structure_factors

    if isinstance(phase, str):
        phase = phases.get(phase)
    structure, _ = structure_of(phase)
    d_min = _positive(d_min_A, "d_min_A")
    try:
        rel_min = float(min_intensity)
    except (TypeError, ValueError):
        rel_min = math.nan
    if isinstance(min_intensity, bool) or not 0.0 <= rel_min < 1.0:
        raise InterphaseInputError("min_intensity", f"expected a fraction in [0, 1), got {min_intensity!r}")
    hkl, d = reflection_grid(np.asarray(structure.lattice.matrix, dtype=float), d_min)
    if d.size == 0:
        return []
    def electron_f(symbol: str, d_A: np.ndarray) -> np.ndarray:
        return _scattering_factor(symbol)(1.0 / d_A**2)

    inten = np.abs(structure_factors(structure, hkl, electron_f, d)) ** 2
    # |F|^2 if every atom scattered in phase (hkl = 0 at the same spacing): a reflection far
    # below it is forbidden, whatever the other reflections above d_min are
    in_phase = np.abs(structure_factors(structure, np.zeros_like(hkl), electron_f, d)) ** 2
    inten = np.where(inten < 1e-12 * in_phase, 0.0, inten)
    group = spacing_groups(d)
    total = np.bincount(group, weights=inten)
    if total.max() <= 0:
        return []
    total = total / total.max()
    out = []
    for g, i_rel in enumerate(total):
        if i_rel > 0.0 and i_rel >= rel_min:
            members = hkl[group == g]
            out.append((float(d[group == g].mean()), float(i_rel), family_label(members), int(len(members))))
    return out


def candidate_reflections(phase_names: Any, d_min_A: float = 1.2,
                          min_intensity: float = 0.02) -> dict[str, dict[str, list[float]]]:
    """Candidates for :func:`phase_map`: each phase's spacings weighted by electron intensity.

    Parameters
    ----------
    phase_names : str or iterable of str
        Crystalline phases known to :func:`interphase_sim.sample.phases.get`.
    d_min_A : float
        Smallest spacing (Å), > 0; set it at the resolution the objective aperture and
        the information limit pass (e.g. ``1.05 lambda / alpha``).
    min_intensity : float
        Drop spacings weaker than this fraction of the phase's strongest, in [0, 1).

    Returns
    -------
    dict
        ``{name: {"d_A": [...], "weight": [...]}}`` (weights are relative intensities,
        from :func:`electron_reflections`). A phase with no spacing above ``d_min_A`` is
        left out: it shows no fringes at this resolution.
    """
    if isinstance(phase_names, str):
        phase_names = [phase_names]
    if not isinstance(phase_names, (list, tuple, set)) or not all(isinstance(n, str) for n in phase_names):
        raise InterphaseInputError("phase_names", f"expected a phase name or a list of them, got {phase_names!r}")
    out: dict[str, dict[str, list[float]]] = {}
    for name in phase_names:
        refl = electron_reflections(name, d_min_A, min_intensity)
        if refl:
            out[str(name)] = {"d_A": [r[0] for r in refl], "weight": [r[1] for r in refl]}
    return out


def candidate_spacings(phase_names: Any, n: int = 6, d_min_A: float = 1.2) -> dict[str, list[float]]:
    """The ``n`` largest lattice spacings (Å) >= ``d_min_A`` of each named crystalline phase.

    Uses :func:`interphase_sim.build.crystal.lattice_spacings` (reflections not extinct by
    symmetry), so kinematically weak reflections are included too, with equal weights in
    :func:`phase_map`. :func:`candidate_reflections` weights them by electron intensity.

    Parameters
    ----------
    phase_names : iterable of str
        Names known to :func:`interphase_sim.sample.phases.get` (e.g. ``["Li2O", "Li3N"]``).
    n : int
        Spacings per phase, >= 1.
    d_min_A : float
        Smallest spacing kept (Å), > 0: choose it above the image's resolution.

    Returns
    -------
    dict
        ``{name: [d_A, ...]}``, largest spacing first.
    """
    from interphase_sim.sample import phases
    from interphase_sim.build.crystal import lattice_spacings

    if isinstance(phase_names, str):
        phase_names = [phase_names]
    n = _count(n, "n")
    d_min = _positive(d_min_A, "d_min_A")
    out: dict[str, list[float]] = {}
    for name in phase_names:
        phase = phases.get(name)
        # ask for extra spacings: some of the n largest may fall below d_min_A anyway
        ds = [d for d, _ in lattice_spacings(phase, n + 10) if d >= d_min]
        out[str(name)] = ds[:n]
    return out


def _candidate_arrays(candidates: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Validated ``{name: (d_A, weight)}``, weights relative to the largest."""
    if not isinstance(candidates, dict) or not candidates:
        raise InterphaseInputError("candidates", "expected a non-empty dict {phase name: [d_A, ...]}")
    out = {}
    for name, spec in candidates.items():
        field = f"candidates[{name!r}]"
        if isinstance(spec, dict):
            ds, ws = spec.get("d_A"), spec.get("weight")
        else:
            ds, ws = spec, None
        try:
            d = np.asarray(ds, dtype=float).reshape(-1)
            w = np.ones_like(d) if ws is None else np.asarray(ws, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise InterphaseInputError(field, "expected spacings in Å (a list, or {'d_A': [...], 'weight': [...]})") \
                from None
        if d.size == 0 or not np.all(np.isfinite(d) & (d > 0)):
            raise InterphaseInputError(field, "expected one or more finite spacings > 0 Å")
        if w.shape != d.shape or not np.all(np.isfinite(w) & (w > 0)):
            raise InterphaseInputError(f"{field}.weight", f"expected {d.size} finite weights > 0")
        out[str(name)] = (d, w / w.max())
    return out


# --------------------------------------------------------------------------- the map


def _window_posterior(peaks, cands, sigma, log_range, prominence):
    """Per phase: probability, distinct reflections matched, share of peak strength explained.

    ``cands`` values are (d_A, weights summing to 1, or empty). The probabilities sum
    to 1 together with the "none of the candidates" hypothesis.
    """
    d = np.array([p[0] for p in peaks])
    strength = np.array([p[1] for p in peaks])
    s = strength / strength.sum()
    # is a peak speckle or a lattice reflection? By its power ratio r to the background
    # (the strongest single peak where several directions merged): speckle's exponential
    # tail above the threshold T, exp(-(r - T)), against real peaks log-uniform over
    # T..1000 T
    r = np.array([p[2] for p in peaks])
    speckle = _SPECKLE_PRIOR * np.exp(-(r - prominence))
    real = (1.0 - _SPECKLE_PRIOR) / (r * math.log(_REAL_RATIO_SPAN))
    uniform = 1.0 / log_range  # density per unit ln d of an unrelated peak
    norm = 1.0 / (sigma * math.sqrt(2.0 * math.pi))
    n = len(cands)
    loglike, matched, explained = np.zeros(n + 1), np.zeros(n, dtype=int), np.zeros(n)
    loglike[n] = s @ np.log((speckle + real) * uniform)  # "none": every peak unrelated
    for i, (ds, ws) in enumerate(cands.values()):
        if ds.size == 0:  # no reflection in range: every peak is unrelated, as under "none"
            loglike[i] = loglike[n]
            continue
        rel = (d[:, None] - ds[None, :]) / ds[None, :]
        # density per unit relative spacing (= per unit ln d) of the phase's reflections
        resp = np.exp(-0.5 * (rel / sigma) ** 2) * ws[None, :]
        dens = norm * resp.sum(axis=1)
        loglike[i] = s @ np.log(speckle * uniform + real * ((1.0 - _OUTLIER) * dens + _OUTLIER * uniform))
        # the reflection most likely to have made each peak, if it lies within 2 sigma
        best = np.argmax(resp, axis=1)
        hit = np.abs(rel[np.arange(d.size), best]) <= 2.0 * sigma
        matched[i] = np.unique(best[hit]).size
        explained[i] = s[hit].sum()
    post = np.exp(loglike - loglike.max())
    return post[:n] / post.sum(), matched, explained


@dataclass(frozen=True, eq=False)
class PhaseMap:
    """The labels of a phase map, window by window (rows: depth, columns: lateral).

    Attributes
    ----------
    labels : ndarray of str, (n_depth, n_lateral)
        Phase name per window, ``""`` where nothing is identified (amorphous,
        unassigned or ambiguous).
    confidence : ndarray, (n_depth, n_lateral)
        The winner's probability (0 when unlabelled).
    probability : ndarray, (n_depth, n_lateral, n_phases)
        Every candidate's probability, in the order of ``phase_names``; what they leave
        of 1 is the probability that the window's peaks belong to none of them (all of
        it where a window shows no peak).
    phase_names : list of str
        The candidates, in the order of ``probability``'s last axis.
    score : ndarray, (n_depth, n_lateral)
        Share of the window's peak strength the winner's spacings explain.
    depth_nm, lateral_nm : ndarray
        Window centres (nm; a Measurement's own coordinates, else from the first
        pixel's centre at 0).
    window_nm, step_nm : float
        The window side and step actually used (whole pixels, nm).
    """

    labels: np.ndarray
    confidence: np.ndarray
    probability: np.ndarray
    phase_names: list[str]
    score: np.ndarray
    depth_nm: np.ndarray
    lateral_nm: np.ndarray
    window_nm: float
    step_nm: float

    def counts(self) -> dict[str, int]:
        """Labelled windows per phase (phases with none left out)."""
        labels = np.asarray(self.labels, dtype=object)
        return {n: int((labels == n).sum()) for n in sorted({str(v) for v in labels.ravel() if v})}


@dataclass(frozen=True)
class _MapSettings:
    """phase_map's checked arguments, in pixels where the image is sampled."""

    win_px: int
    step_px: int
    sigma: float
    min_peaks: int
    p_min: float
    n_peaks: int
    prominence: float


def _map_settings(shape: tuple[int, int], sampling: float, window_nm: Any, step_nm: Any, tolerance: Any,
                  min_peaks: Any, min_probability: Any, n_peaks: Any, prominence: Any) -> _MapSettings:
    """Check phase_map's arguments (one message each, naming the argument)."""
    win_px = int(round(_positive(window_nm, "window_nm") * _ANGSTROM_PER_NM / sampling))
    step_px = max(1, int(round(_positive(step_nm, "step_nm") * _ANGSTROM_PER_NM / sampling)))
    ny, nx = shape
    if win_px > min(ny, nx):
        raise InterphaseInputError(
            "window_nm",
            f"{window_nm} nm ({win_px} px) exceeds the image's shorter side "
            f"({min(ny, nx) * sampling / _ANGSTROM_PER_NM:g} nm)",
        )
    if win_px < _MIN_SIDE:
        raise InterphaseInputError("window_nm", f"expected at least {_MIN_SIDE} pixels, got {win_px}")
    sigma = _positive(tolerance, "tolerance")
    if sigma >= 0.25:
        raise InterphaseInputError("tolerance", f"expected a relative error in (0, 0.25), got {tolerance!r}")
    p_min = _positive(min_probability, "min_probability")
    if isinstance(min_probability, bool) or p_min > 1.0:
        raise InterphaseInputError("min_probability", f"expected a probability in (0, 1], got {min_probability!r}")
    prom = _positive(prominence, "prominence")
    if prom <= 1.0:
        raise InterphaseInputError("prominence", f"expected a number > 1, got {prominence!r}")
    return _MapSettings(win_px, step_px, sigma, _count(min_peaks, "min_peaks"), p_min,
                        _count(n_peaks, "n_peaks"), prom)


def _searched_candidates(cands: dict[str, tuple[np.ndarray, np.ndarray]], sampling: float,
                         d_min_A: float | None, d_max_A: float | None):
    """(candidates inside the searched spacing range, weights renormalised; lo, hi in Å; log range)."""
    all_d = np.concatenate([d for d, _ in cands.values()])
    lo = 0.95 * all_d.min() if d_min_A is None else d_min_A
    hi = 1.05 * all_d.max() if d_max_A is None else d_max_A
    lo, hi = _d_range(lo, hi)
    # unrelated peaks are spread over the searched range in ln d, taken at least one
    # e-fold wide: a narrow search (one candidate spacing) must not make chance look likely
    log_range = max(math.log(hi) - math.log(lo), 1.0)
    searched = {}
    d_nyquist = 2.0 * sampling / _NYQUIST_FRACTION  # where the peak search stops
    for name, (ds, ws) in cands.items():
        inside = (ds >= max(lo, d_nyquist)) & (ds <= hi)
        w = ws[inside]
        searched[name] = (ds[inside], w / w.sum() if w.size else w)
    return searched, lo, hi, log_range


def _label_windows(arr: np.ndarray, starts_y: np.ndarray, starts_x: np.ndarray, sampling: float,
                   cands: dict[str, tuple[np.ndarray, np.ndarray]], ms: _MapSettings,
                   search: tuple[float, float, float]):
    """(labels, confidence, probability, score) of every window starting at (starts_y, starts_x)."""
    lo, hi, log_range = search
    names = list(cands)
    labels = np.full((starts_y.size, starts_x.size), "", dtype=object)
    confidence = np.zeros(labels.shape)
    score = np.zeros(labels.shape)
    probability = np.zeros((*labels.shape, len(names)))
    for a, sy in enumerate(starts_y):
        for b, sx in enumerate(starts_x):
            peaks = _peaks(arr[sy : sy + ms.win_px, sx : sx + ms.win_px], sampling, lo, hi, ms.n_peaks,
                           ms.prominence)
            if not peaks:
                continue
            post, matched, explained = _window_posterior(peaks, cands, ms.sigma, log_range, ms.prominence)
            probability[a, b] = post
            order = np.argsort(-post)
            best = order[0]
            runner = post[order[1]] if len(order) > 1 else 0.0
            none = 1.0 - post.sum()
            if matched[best] < ms.min_peaks or post[best] < ms.p_min or post[best] - max(runner, none) <= 1e-12:
                continue
            labels[a, b] = names[best]
            confidence[a, b] = post[best]
            score[a, b] = explained[best]
    return labels, confidence, probability, score


def phase_map(
    image: Any,
    sampling_A: float | None = None,
    candidates: dict[str, Any] | None = None,
    window_nm: float = 2.0,
    step_nm: float = 1.0,
    tolerance: float = 0.01,
    min_peaks: int = 2,
    min_probability: float = 0.6,
    d_min_A: float | None = None,
    d_max_A: float | None = None,
    prominence: float = 10.0,
    n_peaks: int = 8,
) -> PhaseMap:
    """Label each region of an image with the candidate phase whose spacings it shows.

    A square window slides over the image. In each, the diffractogram peaks are matched
    to every candidate's spacings, giving a probability per phase and one for "none of
    them" (see the module notes); the window is labelled with the most probable phase
    when that phase is more probable than "none", has at least ``min_peaks`` of its
    spacings matched and a probability of at least ``min_probability``. Only the
    candidate reflections inside the searched spacing range count (their weights are
    renormalised there).

    Parameters
    ----------
    image : ndarray (ny, nx) or Measurement
        Image intensities.
    sampling_A : float, optional
        Pixel size (Å/pixel); required for a plain array.
    candidates : dict
        ``{phase name: {"d_A": [...], "weight": [...]}}`` from
        :func:`candidate_reflections` (spacings weighted by electron intensity), or
        ``{phase name: [d_A, ...]}`` (equal weights, e.g. :func:`candidate_spacings`).
    window_nm : float
        Side of the square analysis window (nm); at most the image's shorter side.
        The frequency resolution is ``1/window``: 2 nm resolves ~1/20 Å^-1.
    step_nm : float
        Distance between window centres (nm), > 0.
    tolerance : float
        Relative 1-sigma error of a measured spacing, in (0, 0.25); a spacing within
        ``2 tolerance`` of a phase's counts as matched. Peaks closer than half a
        Fourier pixel (``d^2 / (2 window)``, 5 % of 2.5 Å in a 2.5 nm window) merge
        into one, so a window cannot separate spacings closer than that.
    min_peaks : int
        Distinct spacings of a phase a window must show to be labelled with it, >= 1.
        The default 2 guards against near-coincident spacings between phases (docs/references.md:
        one spacing rarely identifies a phase) and makes chance matches of speckle rare.
    min_probability : float
        Posterior probability the winner needs, in (0, 1].
    d_min_A, d_max_A : float, optional
        Spacing range searched (Å); default 0.95 x the smallest and 1.05 x the largest
        candidate spacing.
    prominence : float
        Peak threshold in units of the local background (see
        :func:`~interphase_sim.hrtem.analysis.find_lattice_spacings`).
    n_peaks : int
        Strongest spacings per window considered, >= 1.

    Returns
    -------
    PhaseMap
        Labels, probabilities and window centres (see :class:`PhaseMap`).
    """
    arr, sampling, (y0, x0) = _image_input(image, sampling_A)
    given = _candidate_arrays(candidates)
    ms = _map_settings(arr.shape, sampling, window_nm, step_nm, tolerance, min_peaks, min_probability,
                       n_peaks, prominence)
    cands, lo, hi, log_range = _searched_candidates(given, sampling, d_min_A, d_max_A)
    starts_y = np.arange(0, arr.shape[0] - ms.win_px + 1, ms.step_px)
    starts_x = np.arange(0, arr.shape[1] - ms.win_px + 1, ms.step_px)
    labels, confidence, probability, score = _label_windows(arr, starts_y, starts_x, sampling, cands, ms,
                                                            (lo, hi, log_range))
    centre = (ms.win_px - 1) / 2.0
    to_nm = sampling / _ANGSTROM_PER_NM
    return PhaseMap(labels=labels, confidence=confidence, probability=probability, phase_names=list(cands),
                    score=score, depth_nm=y0 + (starts_y + centre) * to_nm,
                    lateral_nm=x0 + (starts_x + centre) * to_nm, window_nm=ms.win_px * to_nm,
                    step_nm=ms.step_px * to_nm)
