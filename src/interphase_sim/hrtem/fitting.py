"""What HRTEM images constrain, as models for :class:`interphase_sim.fit.Objective`.

Three hooks, each a small model with ``parameters()`` and ``expected(measurement)``:

* :class:`PowerSpectrumMixture`: phase (area) fractions from a radially averaged power
  spectrum, as a non-negative sum of per-phase basis spectra simulated with
  :class:`~interphase_sim.hrtem.model.HRTEMModel` (:func:`basis_power_spectra`). The linear
  problem alone is :func:`nnls_phase_fractions`.
* :class:`ThonRingModel`: defocus (and Cs) from the Thon rings of an amorphous region;
  the smooth background and envelope are solved linearly at each defocus (variable
  projection), so only the optics are Parameters.
* :class:`StackPhaseFractions`: the phase map's crystalline fractions along depth
  (:func:`phase_map_depth_fractions`) against a Stack's, so image evidence can refine
  layer thicknesses alongside NDP and EELS. Labels are not phases: this field's
  spacings coincide within 1-2 % (Li2O (111) 2.67 Å and Li3PO4 2.64 Å; Li3N, Li3P and
  Li3PO4 near 3.8 Å), so a :class:`LabelConfusion` calibrated on simulated images
  (:func:`label_confusion`) turns the stack's phase fractions into the label fractions
  a map of it would show, and ``correlation_nm`` (the grain size) makes the fractions'
  errors count grains rather than overlapping windows.

Power spectra are Welch averages (:func:`welch_power_spectrum`): Hann-windowed tiles
with 50 % overlap, each tile weighted equally, so a mixture's spectrum is the
area-weighted sum of its phases' spectra (cross terms between separate regions vanish
on average). Spatial frequencies are in 1/Å, lengths in nm unless named ``_A``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats
from scipy import optimize

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.hrtem._spectra import (
    thon_design as _design,
    hann2d as _hann2d,
    image_input as _image_input,
    windowed_power as _power,
    radial_average as _radial,
    ring_average_sin2 as _ring_average_sin2,
    wavelength_A,
)
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.core.params import Parameter, Parameters, as_parameter
from interphase_sim.hrtem.phasemap import PhaseMap

__all__ = [
    "GRAIN_COUNTS",
    "MISLABEL_SD",
    "LabelConfusion",
    "PhaseMapScore",
    "PhaseMapTruth",
    "PowerSpectrumMixture",
    "StackPhaseFractions",
    "ThonRingModel",
    "basis_power_spectra",
    "label_confusion",
    "nnls_phase_fractions",
    "phase_map_depth_fractions",
    "phase_map_truth",
    "score_phase_map",
    "welch_power_spectrum",
]


# --------------------------------------------------------------------------- spectra


def welch_power_spectrum(image: Any, sampling_A: float | None = None, tile_nm: float = 4.0,
                         k_range: tuple[float, float] | None = None) -> Measurement:
    """Radially averaged power spectrum, averaged over Hann-windowed tiles (Welch).

    Parameters
    ----------
    image : ndarray (ny, nx) or Measurement
        Image intensities; a Measurement's axes in nm give the pixel size.
    sampling_A : float, optional
        Pixel size (Å/pixel), required for a plain array.
    tile_nm : float
        Tile side (nm); rings are ``1 / tile`` wide. Tiles overlap by half.
    k_range : (float, float), optional
        Keep rings with ``kmin <= k <= kmax`` (1/Å); default from 2 rings to 0.9 Nyquist.

    Returns
    -------
    Measurement
        Axis ``k`` (1/Å); values: mean power per ring (the image's mean removed per tile);
        uncertainties: the standard error over tiles (which includes real spatial
        heterogeneity, as it should for an area fraction).
    """
    arr, sampling, _ = _image_input(image, sampling_A)
    tile = int(round(float(tile_nm) * 10.0 / sampling)) if tile_nm and tile_nm > 0 else 0
    if tile < 16 or tile > min(arr.shape):
        raise InterphaseInputError(
            "tile_nm", f"need 16 pixels <= tile <= the image's shorter side "
                       f"({min(arr.shape) * sampling / 10:g} nm), got {tile_nm!r} nm ({tile} px)")
    step = max(1, tile // 2)
    norm = float(np.sum(_hann2d((tile, tile)) ** 2))  # power per unit window area
    dk = 1.0 / (tile * sampling)
    nyq = 0.5 / sampling
    spectra = []
    for y in range(0, arr.shape[0] - tile + 1, step):
        for x in range(0, arr.shape[1] - tile + 1, step):
            p, ky, kx = _power(arr[y:y + tile, x:x + tile], sampling, "hann")
            k, mean, _ = _radial(p / norm, ky, kx, dk, nyq)
            spectra.append(mean)
    spectra = np.asarray(spectra)
    lo, hi = (2 * dk, 0.9 * nyq) if k_range is None else (float(k_range[0]), float(k_range[1]))
    if not 0 <= lo < hi:
        raise InterphaseInputError("k_range", f"expected 0 <= kmin < kmax (1/Å), got {k_range!r}")
    sel = (k >= lo) & (k <= hi) & np.all(np.isfinite(spectra), axis=0)
    if sel.sum() < 3:
        raise InterphaseInputError("k_range", f"fewer than 3 rings between {lo:g} and {hi:g} 1/Å")
    mean = spectra[:, sel].mean(axis=0)
    n = spectra.shape[0]
    err = spectra[:, sel].std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else 0.5 * mean
    return Measurement(values=mean, axes=[Axis("k", "1/Å", k[sel])],
                       uncertainties=np.maximum(err, 1e-6 * mean.max()),
                       metadata={"tile_nm": tile * sampling / 10.0, "tiles": n, "sampling_A": sampling},
                       quantity="power (a.u.)")


def basis_power_spectra(phase_names: Any, microscope: Any = None, lateral_nm: float = 12.0,
                        depth_nm: float = 12.0, thickness_nm: float = 4.0, grain_size_nm: float = 4.0,
                        sampling: float = 0.2, tile_nm: float = 4.0, seed: int = 0,
                        k_range: tuple[float, float] | None = None,
                        realizations: int = 3) -> dict[str, Measurement]:
    """Per-phase power spectra simulated with :class:`~interphase_sim.hrtem.model.HRTEMModel`.

    Each phase fills a ``lateral_nm x depth_nm`` field of a ``thickness_nm`` lamella
    (``grain_size_nm <= thickness_nm``): amorphous phases as a random network, crystals
    as randomly oriented grains of ``grain_size_nm`` (a polycrystal, as in the mosaic).
    Use the same ``microscope``, ``sampling`` (Å) and ``tile_nm`` as the image to be
    fitted. The spectra are averaged over ``realizations`` builds (seeds ``seed``,
    ``seed + 1``, ...): a polycrystal's spectrum is dominated by its few grains near a
    zone axis, so one small field varies several-fold in its lattice rings (measured:
    Li2O's 2.3 Å ring 0.05-0.34 over three 8 x 8 nm fields), and so will fractions
    fitted to a field of similar size. The uncertainties are the standard error of the
    mean over the fields; ``metadata["field_spread"]`` is the scatter of one field.
    """
    from interphase_sim.hrtem.model import HRTEMModel
    from interphase_sim.sample.phases import get as get_phase
    from interphase_sim.sample.stack import Layer, Stack

    names = [phase_names] if isinstance(phase_names, str) else list(phase_names)
    if not names:
        raise InterphaseInputError("phase_names", "give at least one phase")
    if not isinstance(realizations, (int, np.integer)) or realizations < 1:
        raise InterphaseInputError("realizations", f"a positive integer, got {realizations!r}")
    out: dict[str, Measurement] = {}
    for name in names:
        amorph = get_phase(name).amorphous
        layer = Layer(name, {name: 1.0}, thickness_nm=depth_nm, grain_size_nm=None if amorph else grain_size_nm)
        stack = Stack([layer], name=f"{name} basis")
        spectra = []
        for r in range(int(realizations)):
            model = HRTEMModel.from_stack(stack, microscope, lateral_nm=lateral_nm, thickness_nm=thickness_nm,
                                          depth_range_nm=(0.0, depth_nm), seed=int(seed) + r, sampling_A=sampling)
            img = model.image()
            rows = img.axis("depth") < depth_nm  # drop the vacuum below the lamella's cut
            spectra.append(welch_power_spectrum(np.asarray(img.values)[rows], sampling, tile_nm, k_range))
        vals = np.mean([s.values for s in spectra], axis=0)
        r = len(spectra)
        # standard error of the mean over fields: their scatter, or (one field) its tiles'
        within = np.sqrt(np.mean([s.uncertainties**2 for s in spectra], axis=0) / r)
        spread = np.std([s.values for s in spectra], axis=0, ddof=1) if r > 1 else within * math.sqrt(r)
        err = np.maximum(spread / math.sqrt(r), within)
        out[name] = Measurement(values=vals, axes=spectra[0].axes, uncertainties=err,
                                metadata={**spectra[0].metadata, "realizations": r,
                                          "field_spread": spread.tolist()},
                                quantity=spectra[0].quantity)
    return out


def _basis_matrix(basis: dict[str, Any], k: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names, basis spectra (n_k, n_phases) and their uncertainties, on the data's k."""
    if not isinstance(basis, dict) or not basis:
        raise InterphaseInputError("basis", "expected {phase name: power-spectrum Measurement}")
    cols, errs = [], []
    for name, b in basis.items():
        if not isinstance(b, Measurement):
            raise InterphaseInputError(f"basis[{name!r}]", "expected a Measurement from welch_power_spectrum")
        kb = b.axis("k")
        if k.min() < kb.min() - 1e-9 or k.max() > kb.max() + 1e-9:
            raise InterphaseInputError(f"basis[{name!r}]", f"covers k {kb.min():.3g}-{kb.max():.3g} 1/Å, "
                                       f"not the data's {k.min():.3g}-{k.max():.3g}")
        cols.append(np.interp(k, kb, np.asarray(b.values, dtype=float)))
        e = b.uncertainties if b.uncertainties is not None else np.zeros(kb.size)
        errs.append(np.interp(k, kb, np.asarray(e, dtype=float)))
    return list(basis), np.stack(cols, axis=1), np.stack(errs, axis=1)


def _fraction_errors(amp: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """1-sigma errors of ``f = a / sum(a)`` from the amplitudes' covariance."""
    total = amp.sum()
    jac = np.eye(amp.size) / total - amp[:, None] / total**2  # d f_i / d a_j = delta_ij / S - a_i / S^2
    return np.sqrt(np.clip(np.diag(jac @ cov @ jac.T), 0.0, None))


def nnls_phase_fractions(spectrum: Measurement, basis: dict[str, Measurement]) -> dict[str, Any]:
    """Phase area fractions by non-negative least squares on a power spectrum.

    Solves ``spectrum ~ sum_i a_i basis_i`` with ``a_i >= 0``, weighted by the
    spectrum's uncertainties and the bases' (propagated at the solution, then solved
    again), and reports ``fractions = a / sum(a)`` with errors from the covariance of
    the amplitudes that are not at zero.

    Returns
    -------
    dict
        ``fractions``, ``fraction_errors`` and ``amplitudes`` ({phase: value}), ``chi2``
        and ``dof``.
    """
    k = spectrum.axis("k")
    y = np.asarray(spectrum.values, dtype=float)
    sig_y = spectrum.uncertainties if spectrum.uncertainties is not None else np.full_like(y, y.std() or 1.0)
    names, a, a_err = _basis_matrix(basis, k)
    sig = np.asarray(sig_y, dtype=float)
    for _ in range(2):
        amp, rnorm = optimize.nnls(a / sig[:, None], y / sig)
        sig = np.sqrt(sig_y**2 + (a_err**2) @ amp**2)
    total = amp.sum()
    if total <= 0:
        raise InterphaseInputError("spectrum", "no non-negative mixture of the basis explains it")
    active = amp > 0
    cov = np.zeros((amp.size, amp.size))
    aw = a[:, active] / sig[:, None]
    cov[np.ix_(active, active)] = np.linalg.pinv(aw.T @ aw)
    ferr = _fraction_errors(amp, cov)
    return {"fractions": dict(zip(names, amp / total)), "fraction_errors": dict(zip(names, ferr)),
            "amplitudes": dict(zip(names, amp)), "chi2": float(rnorm**2), "dof": int(y.size - active.sum())}


class PowerSpectrumMixture:
    """Model ``sum_i a_i basis_i(k)`` for an :class:`~interphase_sim.fit.Objective`.

    The amplitudes ``a_i`` (Parameters ``amplitude_<phase>``) are the fit variables;
    numbers given (or the default 1.0) become varying Parameters bounded to
    ``[0, 10 x value]``, Parameters given are used as they are (shared, fixed or
    bounded by their owner). :meth:`fractions` turns them into area fractions.
    ``from_nnls`` starts from :func:`nnls_phase_fractions`. The bases' own
    uncertainties are not part of the Objective: give the fitted spectrum's
    uncertainties with the bases' added in quadrature (``with_basis_errors``) for honest
    errors.
    """

    def __init__(self, basis: dict[str, Measurement], amplitudes: dict[str, Any] | None = None) -> None:
        self.basis = basis
        amplitudes = dict(amplitudes or {})
        self.amplitudes: dict[str, Parameter] = {}
        for name in basis:
            given = amplitudes.get(name, 1.0)
            if isinstance(given, Parameter):
                self.amplitudes[name] = given
            else:
                v = float(given)
                self.amplitudes[name] = Parameter(v, bounds=(0.0, max(10.0 * abs(v), 1.0)), vary=True,
                                                  name=f"amplitude_{name}", units="a.u.")

    @classmethod
    def from_nnls(cls, spectrum: Measurement, basis: dict[str, Measurement]) -> PowerSpectrumMixture:
        amp = nnls_phase_fractions(spectrum, basis)["amplitudes"]
        top = max(amp.values())
        return cls(basis, {n: Parameter(v, name=f"amplitude_{n}", bounds=(0.0, 5.0 * top), vary=True, units="a.u.")
                           for n, v in amp.items()})

    def parameters(self) -> Parameters:
        return Parameters((f"amplitude_{n}", p) for n, p in self.amplitudes.items())

    def expected(self, measurement: Measurement) -> np.ndarray:
        _, a, _ = _basis_matrix(self.basis, measurement.axis("k"))
        return a @ np.array([float(p.value) for p in self.amplitudes.values()])

    def with_basis_errors(self, spectrum: Measurement) -> Measurement:
        """``spectrum`` with the bases' uncertainties (at the current amplitudes) added."""
        _, _, a_err = _basis_matrix(self.basis, spectrum.axis("k"))
        amp = np.array([float(p.value) for p in self.amplitudes.values()])
        sig = spectrum.uncertainties if spectrum.uncertainties is not None else np.zeros(len(spectrum.values))
        return Measurement(values=spectrum.values, axes=spectrum.axes, metadata=spectrum.metadata,
                           uncertainties=np.sqrt(np.asarray(sig) ** 2 + (a_err**2) @ amp**2),
                           quantity=spectrum.quantity)

    def fractions(self, result: Any = None) -> dict[str, float] | tuple[dict[str, float], dict[str, float]]:
        """Area fractions ``a / sum(a)``; with a FitResult also their 1-sigma errors."""
        v = np.array([float(p.value) for p in self.amplitudes.values()])
        fr = dict(zip(self.amplitudes, v / v.sum()))
        if result is None:
            return fr
        cov = np.zeros((v.size, v.size))
        names = [f"amplitude_{n}" for n in self.amplitudes]
        idx = [names.index(n) if n in names else -1 for n in result.names]
        for i, a in enumerate(idx):
            for j, b in enumerate(idx):
                if a >= 0 and b >= 0:
                    cov[a, b] = result.covariance[i, j]
        return fr, dict(zip(self.amplitudes, _fraction_errors(v, cov)))


# --------------------------------------------------------------------------- Thon rings


class ThonRingModel:
    """Thon rings ``B(k) + A(k) <sin^2 chi(k)>_ring`` of an amorphous region's spectrum.

    The optics are Parameters (``defocus_A``, Å, positive = underfocus; ``Cs_mm``); the
    cubic background ``B`` and quadratic envelope ``A`` are linear and solved at every
    call by weighted least squares (variable projection), so a fitter sees only the
    optics. Fit it to :func:`welch_power_spectrum` of the region with ``loss="gaussian"``;
    start the defocus from :func:`~interphase_sim.hrtem.analysis.fit_defocus_thon`,
    which searches a grid and avoids the neighbouring ring-count minima.

    Parameters
    ----------
    energy_eV : float
        Beam energy (eV).
    defocus_A : float or Parameter
        Defocus (Å); a number is varied within +-10 % (at least +-100 Å).
    Cs_mm : float or Parameter
        Spherical aberration (mm); fixed unless given as a varying Parameter.
    """

    def __init__(self, energy_eV: float, defocus_A: Any, Cs_mm: Any = 1.2) -> None:
        self.energy_eV = float(energy_eV)
        self.defocus_A = as_parameter(defocus_A, "defocus_A", "Å")
        if not isinstance(defocus_A, Parameter):
            # +-10 % (at least 100 Å): rings shift by about half a period at high k over
            # that range, so a start from fit_defocus_thon stays in its basin
            half = max(0.1 * abs(self.defocus_A.value), 100.0)
            self.defocus_A.bounds = (self.defocus_A.value - half, self.defocus_A.value + half)
            self.defocus_A.vary = True
        self.Cs_mm = as_parameter(Cs_mm, "Cs_mm", "mm")

    def parameters(self) -> Parameters:
        return Parameters([("defocus_A", self.defocus_A), ("Cs_mm", self.Cs_mm)])

    def expected(self, measurement: Measurement) -> np.ndarray:
        k = measurement.axis("k")
        y = np.asarray(measurement.values, dtype=float)
        sig = measurement.uncertainties if measurement.uncertainties is not None else np.ones_like(y)
        dk = float(np.median(np.diff(k)))  # as fit_defocus_thon: the ring and the window's leakage
        lam = wavelength_A(self.energy_eV)
        s2 = _ring_average_sin2(k, dk, lam, np.array([float(self.defocus_A.value)]),
                                np.array([float(self.Cs_mm.value) * 1e7]))
        x = _design((k - k[0]) / (k[-1] - k[0]), s2)[0]
        coef, *_ = np.linalg.lstsq(x / sig[:, None], y / sig, rcond=None)
        return x @ coef


# --------------------------------------------------------------------------- phase map vs stack


def phase_map_depth_fractions(pm: PhaseMap, phase_names: Any | None = None,
                              bin_nm: float | None = None, correlation_nm: float | None = None,
                              counts: bool = False) -> Measurement:
    """Fractions of labelled windows per phase along depth, from :func:`phase_map`.

    For each depth (a row of windows, or all rows within a ``bin_nm`` bin), each phase's
    share of the *labelled* windows (unlabelled windows, amorphous or off-zone, do not
    count); depths without labels are dropped. The shares of one depth are one
    multinomial draw of an effective number of independent labels, ``n_eff = max(n
    (step / l)^2, 1)`` for ``n`` labelled windows (windows closer than the correlation
    length ``l`` share what they see), so their uncertainties are ``sqrt(f / n_eff)``
    (floored at ``0.5 / n_eff``): summed over all phases of a depth, the chi-square is then
    the multinomial's (Pearson's form). Binomial errors ``sqrt(f (1 - f) / n_eff)``, as
    before, count the information of the shares, which sum to one, up to twice (exactly
    twice for two phases): SEI thickness fits to synthetic grain maps had pulls of sd 1.55
    and 95 % intervals that held the truth in 84 % of the cases (``test_coverage_hrtem``).

    Parameters
    ----------
    pm : PhaseMap
        The map (its ``window_nm`` and ``step_nm`` set the overlap).
    phase_names : list of str, optional
        Phases to count, in this order; default the labels that occur, sorted.
    bin_nm : float, optional
        Depth bin (nm), > 0; default one bin per row of windows.
    correlation_nm : float, optional
        Size (nm) of the regions whose windows are labelled together: the grain size.
        A grain spans several windows and a bin holds a few grains, so labels scatter
        like one draw per grain, not per window: counted by windows, SEI thicknesses
        fitted to maps of 6 nm lamellas of the shipped sample have pulls of RMS 2-3 (up
        to 9). ``l`` is the larger of this and the window; default the window
        (overlapping windows only).
    counts : bool
        Give each depth's shares as effective labelled grains, ``f n_eff`` (quantity
        :data:`GRAIN_COUNTS`, no uncertainties), to fit with ``loss="poisson"``: the
        multinomial likelihood of the shares, whose variances are the *model's*
        ``f / n_eff`` (:class:`StackPhaseFractions` predicts counts for such data). The
        Gaussian form's errors come from the observed shares, so a depth whose share
        fell low by chance weighs more, and with ~7 grains a bin that is not a small
        effect: SEI thickness fits to grain maps covered 61 % / 87 % (68 % / 95 %
        intervals, pull sd 1.25) in the Gaussian form, against 69 % / 93-94 % (sd
        1.05-1.09) as counts with :class:`StackPhaseFractions`' mislabel scales.

    Returns
    -------
    Measurement
        Axes ``depth`` (nm: row centres, or the mean depth of each bin's rows) and
        ``phase``; ``metadata["labelled"]`` holds the labelled windows per depth and
        ``metadata["n_eff"]`` their effective number.
    """
    labels = np.asarray(pm.labels, dtype=object)
    y = np.asarray(pm.depth_nm, dtype=float)
    names = sorted({str(v) for v in labels.ravel() if v}) if phase_names is None else list(phase_names)
    if not names:
        raise InterphaseInputError("phase_map", "no window is labelled")
    corr = pm.window_nm if correlation_nm is None else float(correlation_nm)
    if not (math.isfinite(corr) and corr > 0):
        raise InterphaseInputError("correlation_nm", f"must be > 0 nm, got {correlation_nm!r}")
    per_phase = np.stack([(labels == n).sum(axis=1) for n in names], axis=1).astype(float)
    if bin_nm is not None:
        if not (math.isfinite(float(bin_nm)) and float(bin_nm) > 0):
            raise InterphaseInputError("bin_nm", f"must be > 0 nm, got {bin_nm!r}")
        idx = np.floor((y - y[0]) / float(bin_nm)).astype(int)
        per_phase = np.stack([np.bincount(idx, weights=per_phase[:, k]) for k in range(len(names))], axis=1)
        y = np.bincount(idx, weights=y) / np.bincount(idx)
    n = per_phase.sum(axis=1)
    keep = n > 0
    f = per_phase[keep] / n[keep, None]
    overlap = min(1.0, pm.step_nm / max(pm.window_nm, corr)) ** 2
    n_eff = np.maximum(n[keep] * overlap, 1.0)
    axes = [Axis("depth", "nm", y[keep]), Axis("phase", "", np.array(names, dtype=object))]
    meta = {"labelled": n[keep].tolist(), "n_eff": n_eff.tolist()}
    if counts:
        return Measurement(values=f * n_eff[:, None], axes=axes, metadata=meta, quantity=GRAIN_COUNTS)
    err = np.sqrt(np.maximum(f, 0.25 / n_eff[:, None]) / n_eff[:, None])
    return Measurement(values=f, axes=axes, uncertainties=err, metadata=meta, quantity="fraction of labelled windows")


@dataclass(frozen=True, eq=False)
class PhaseMapTruth:
    """The true phase make-up under each window of a phase map of a simulated image.

    Attributes
    ----------
    fractions : ndarray, (n_depth, n_lateral, n_phases)
        Fraction of the window's atoms (through the lamella) in each phase.
    phase_names : list of str
        The model's phases, in the order of ``fractions``' last axis.
    """

    fractions: np.ndarray
    phase_names: list[str]


@dataclass(frozen=True)
class PhaseMapScore:
    """How well a phase map's labels match the truth (:func:`score_phase_map`).

    Attributes
    ----------
    precision : float or None
        Share of labelled windows whose phase holds at least ``present`` of the window's
        atoms (None when nothing is labelled).
    chance : float or None
        The same with the labels shuffled among the labelled windows: what labelling
        without information scores.
    amorphous_rate : float or None
        Labelled share of windows >= 95 % amorphous (None: no such window).
    crystalline_rate : float or None
        Labelled share of windows < 50 % amorphous (None: no such window).
    labelled : int
        Labelled windows.
    """

    precision: float | None
    chance: float | None
    amorphous_rate: float | None
    crystalline_rate: float | None
    labelled: int

    def text(self) -> str:
        """The score in words (n/a where the image has no such windows)."""
        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.0%}"

        return (f"{pct(self.precision)} of labels name a phase present under the window (shuffled labels: "
                f"{pct(self.chance)}); labelled {pct(self.crystalline_rate)} of crystalline and "
                f"{pct(self.amorphous_rate)} of amorphous windows")


def phase_map_truth(pm: PhaseMap, atoms: Any, window_nm: float, depth_offset_nm: float = 0.0) -> PhaseMapTruth:
    """The true phase make-up under each phase-map window of a simulated image.

    ``atoms`` is the imaged model (a :func:`~interphase_sim.build.cross_section`, with
    ``phase`` per atom and ``info["phase_names"]``); a window's truth is the fraction of
    its column's atoms (through the lamella) in each phase. ``depth_offset_nm`` is the
    depth of image row 0 (``HRTEMModel.depth_offset_nm``).

    Returns
    -------
    PhaseMapTruth
    """
    from scipy.spatial import cKDTree

    names = [str(n) for n in atoms.info["phase_names"]]
    pos = atoms.positions[:, :2] / 10.0
    ph = np.asarray(atoms.arrays["phase"])
    tree = cKDTree(pos)
    half = 0.5 * float(window_nm)
    xs, ys = np.asarray(pm.lateral_nm), np.asarray(pm.depth_nm) - depth_offset_nm
    out = np.zeros((ys.size, xs.size, len(names)))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            idx = tree.query_ball_point([x, y], half * math.sqrt(2), p=2)
            idx = np.asarray(idx, dtype=int)
            idx = idx[(np.abs(pos[idx, 0] - x) <= half) & (np.abs(pos[idx, 1] - y) <= half)]
            if idx.size:
                out[i, j] = np.bincount(ph[idx], minlength=len(names)) / idx.size
    return PhaseMapTruth(fractions=out, phase_names=names)


def score_phase_map(pm: PhaseMap, truth: PhaseMapTruth, amorphous: Any = ("LiPON",),
                    present: float = 0.15, seed: int = 0) -> PhaseMapScore:
    """How well a phase map's labels match a simulated image's truth (a
    :class:`PhaseMapScore`; ``chance`` from 200 shuffles of the labels, seeded by ``seed``)."""
    labels = np.asarray(pm.labels, dtype=object)
    names = list(truth.phase_names)
    fr = truth.fractions
    amorph = sum(fr[..., names.index(a)] for a in amorphous if a in names) if any(
        a in names for a in amorphous) else np.zeros(labels.shape)
    lab = labels != ""
    rates = {"amorphous_rate": float(lab[amorph >= 0.95].mean()) if (amorph >= 0.95).any() else None,
             "crystalline_rate": float(lab[amorph < 0.5].mean()) if (amorph < 0.5).any() else None,
             "labelled": int(lab.sum())}
    if not lab.any():
        return PhaseMapScore(precision=None, chance=None, **rates)
    which = np.array([names.index(str(v)) for v in labels[lab]])
    f = fr[lab]
    rows = np.arange(which.size)
    rng = np.random.default_rng(seed)
    chance = np.mean([np.mean(f[rows, rng.permutation(which)] >= present) for _ in range(200)])
    return PhaseMapScore(precision=float(np.mean(f[rows, which] >= present)), chance=float(chance), **rates)


@dataclass(frozen=True, eq=False)
class LabelConfusion:
    """How a phase map labels windows of known make-up (:func:`label_confusion`).

    A window holding the phases in fractions ``t`` (of its atoms, through the lamella)
    is labelled ``labels[j]`` with probability ``sum_i rates[j, i] t_i``: linear in its
    make-up, so ``rates[:, i]`` is what a window of phase ``i`` alone gets, and what a
    column leaves of 1 is its chance to stay unlabelled (off zone axis, amorphous).

    Attributes
    ----------
    rates : ndarray, (n_labels, n_phases)
        Label probabilities per unit fraction of each phase, in [0, 1].
    labels : list of str
        The labels (a map's candidates), in the order of ``rates``' rows.
    phase_names : list of str
        The true phases, crystalline and amorphous, in the order of its columns.
    content : ndarray, (n_phases,)
        Each phase's content of the calibration in windows' worth (sum of its
        fractions over windows): a phase with little has poorly known rates.
    windows : int
        Windows of the calibration.
    """

    rates: np.ndarray
    labels: list[str]
    phase_names: list[str]
    content: np.ndarray
    windows: int

    def label_rates(self, fractions: Any) -> np.ndarray:
        """Each label's probability (no unit) for windows of make-up ``fractions``
        (array ``(..., n_phases)`` in the order of ``phase_names``): ``(..., n_labels)``."""
        return np.asarray(fractions, dtype=float) @ self.rates.T


def _as_list(x: Any, kind: type) -> list:
    return [x] if isinstance(x, kind) else list(x)


def label_confusion(maps: Any, truths: Any, labels: Any | None = None) -> LabelConfusion:
    """Calibrate a phase map's labels against the truth of simulated images.

    The map's own per-window probabilities are not used: they are a tempered
    pseudo-posterior with equal priors that takes coinciding spacings at face value.
    On 24 simulated 6 nm lamellas of the shipped Li | SEI | LiPON sample (seeds 1-24,
    depths 1490-1580 nm) labelled windows have a mean confidence of 0.80 while the
    labelled phase makes up 0.59 of their atoms (Li3P labels: 0.76 against 0.39; Li3PO4:
    0.70 against 0.38). Instead, each label's indicator over the windows is regressed on
    the windows' true make-up (:func:`phase_map_truth`) by non-negative least squares,
    which separates phases that share windows (a Li3P label in a Li3N + Li3P window is
    put on the phase that makes such labels elsewhere too) and gives amorphous matrix
    no labels of its own.

    Parameters
    ----------
    maps : PhaseMap or sequence of PhaseMap
        Maps of simulated images, e.g. of the sample being fitted at its starting
        values (other seeds than the image fitted, for honest errors).
    truths : PhaseMapTruth or sequence of PhaseMapTruth
        Their truths, one per map.
    labels : list of str, optional
        Labels to calibrate; default every map's candidates (``phase_names``).

    Returns
    -------
    LabelConfusion
    """
    maps, truths = _as_list(maps, PhaseMap), _as_list(truths, PhaseMapTruth)
    if not maps or len(maps) != len(truths):
        raise InterphaseInputError("truths", f"expected one truth per map, got {len(truths)} for {len(maps)}")
    names: list[str] = []
    for tr in truths:
        names += [n for n in tr.phase_names if n not in names]
    labs = sorted({n for pm in maps for n in pm.phase_names}) if labels is None else [str(n) for n in labels]
    t_rows, y_rows = [], []
    for pm, tr in zip(maps, truths):
        lab = np.asarray(pm.labels, dtype=object)
        fr = np.asarray(tr.fractions, dtype=float)
        if fr.shape[:2] != lab.shape:
            raise InterphaseInputError("truths", f"a truth of {fr.shape[:2]} windows for a map of {lab.shape}")
        t = np.zeros((lab.size, len(names)))
        t[:, [names.index(n) for n in tr.phase_names]] = fr.reshape(lab.size, -1)
        seen = t.sum(axis=1) > 0  # windows over atoms only
        t_rows.append(t[seen])
        y_rows.append(np.stack([(lab == n).ravel()[seen] for n in labs], axis=1).astype(float))
    t, y = np.concatenate(t_rows), np.concatenate(y_rows)
    if not labs or not y.any():
        raise InterphaseInputError("maps", "no window of the calibration is labelled")
    rates = np.stack([optimize.nnls(t, y[:, j])[0] for j in range(len(labs))])
    return LabelConfusion(rates=np.clip(rates, 0.0, 1.0), labels=labs, phase_names=names,
                          content=t.sum(axis=0), windows=int(t.shape[0]))


#: Prior standard deviation and bounds of a phase's label efficiency in an image.
LABEL_EFFICIENCY_SD, LABEL_EFFICIENCY_BOUNDS = 0.15, (0.5, 2.0)
#: Prior standard deviation and bounds of the scale on a calibrated mislabel rate in an image.
MISLABEL_SD, MISLABEL_BOUNDS = 0.5, (0.0, 4.0)
#: ``quantity`` of :func:`phase_map_depth_fractions`' counts (effective labelled grains).
GRAIN_COUNTS = "effective labelled grains"


class StackPhaseFractions:
    """A Stack's crystalline phase fractions along depth, to compare with a phase map.

    ``expected`` gives, at each depth of a :func:`phase_map_depth_fractions`
    Measurement, each listed phase's share of the labels, averaged over the analysis
    window. Without a ``confusion`` that is its volume fraction renormalised over the
    listed (crystalline, imaged) phases: labels taken for phases. With one, the
    stack's fractions of every phase (amorphous too) go through the calibrated label
    probabilities, ``sum_i rates[j, i] phi_i(z)``, renormalised over the listed labels,
    so a phase's fringes mistaken for another's are predicted rather than fitted as
    that phase. Its parameters are the Stack's, so an Objective (``loss="gaussian"``)
    can refine thicknesses and fractions from images, jointly with NDP or EELS.

    How readily a phase's fringes are recognised differs between the image and what the
    confusion was calibrated on (defocus, lamella thickness, noise): each crystalline
    phase's fractions are weighted by ``hrtem.label_efficiency.<phase>``, a free
    systematic with prior N(1, 15 %) within (0.5, 2), before the labels are shared out.
    A boundary between two crystalline layers moves with their efficiencies' ratio, so
    its error carries that uncertainty.

    With a confusion, how often the image gives one phase's windows another's label
    differs from the calibration's rate too, and more in proportion (a rare mislabel
    hangs on a few spacings that defocus and thickness move): each off-diagonal rate
    ``rates[j, i]`` (label ``j`` for phase ``i``, the amorphous phases' included) is
    scaled by ``hrtem.mislabel.<label>.<phase>``, a free systematic with prior
    N(1, 50 %) within (0, 4). Without these scales the fitted boundaries took every
    image's mislabels for the calibration's: errors 20-25 % too small.

    For data from :func:`phase_map_depth_fractions` with ``counts=True`` the prediction
    is in effective labelled grains (the shares times the data's ``n_eff``), to fit
    with ``loss="poisson"``; otherwise it is the shares themselves.

    Parameters
    ----------
    stack : Stack
    window_nm : float
        Averaging window (nm): the stack profile is averaged over it (the depth bin of
        the fractions, or the map's window).
    confusion : LabelConfusion, optional
        From :func:`label_confusion`; it must know every phase of the stack.
    """

    def __init__(self, stack: Any, window_nm: float = 3.0, confusion: LabelConfusion | None = None) -> None:
        self.stack = stack
        self.window_nm = float(window_nm)
        if confusion is not None:
            if not isinstance(confusion, LabelConfusion):
                raise InterphaseInputError("confusion", "expected a LabelConfusion from label_confusion")
            missing = [n for n in stack.phases if n not in confusion.phase_names]
            if missing:
                raise InterphaseInputError("confusion", f"calibrated without the stack's {', '.join(missing)}: "
                                           "calibrate on images of this sample")
        self.confusion = confusion
        self.label_efficiency = {
            name: Parameter(1.0, bounds=LABEL_EFFICIENCY_BOUNDS, vary=True, units="", role="systematic",
                            name=f"hrtem.label_efficiency.{name}",
                            prior=scipy.stats.norm(loc=1.0, scale=LABEL_EFFICIENCY_SD))
            for name, ph in stack.phases.items() if not ph.amorphous}
        self.mislabel: dict[tuple[int, int], Parameter] = {} if confusion is None else {
            (j, i): Parameter(1.0, bounds=MISLABEL_BOUNDS, vary=True, units="", role="systematic",
                              name=f"hrtem.mislabel.{label}.{phase}", prior=scipy.stats.norm(loc=1.0, scale=MISLABEL_SD))
            for j, label in enumerate(confusion.labels) for i, phase in enumerate(confusion.phase_names)
            if label != phase}

    def parameters(self) -> Parameters:
        """The stack's Parameters that volume fractions depend on (not 6Li, not densities),
        the label efficiencies ``hrtem.label_efficiency.<phase>`` and, with a confusion, the
        mislabel scales ``hrtem.mislabel.<label>.<phase>``."""
        items = list(self.stack.parameters(isotopes=False, densities=False).items())
        items += [(f"hrtem.label_efficiency.{n}", q) for n, q in self.label_efficiency.items()]
        items += [(q.name, q) for q in self.mislabel.values()]
        return Parameters(items)

    def _window_fractions(self, z: np.ndarray, names: list[str]) -> np.ndarray:
        """Volume fractions (n_z, n_names) of the stack, averaged over ``window_nm``."""
        offs = np.linspace(-0.5, 0.5, 9) * self.window_nm
        zz = (z[:, None] + offs[None, :]).ravel()
        prof = self.stack.profile(np.clip(zz, 0.0, None))
        eff = [self.label_efficiency[n].value if n in self.label_efficiency else 1.0 for n in names]
        return np.stack([e * prof.fraction(n).reshape(z.size, offs.size).mean(axis=1) for n, e in zip(names, eff)],
                        axis=1)

    def expected(self, measurement: Measurement) -> np.ndarray:
        z = measurement.axis("depth")
        names = [str(n) for n in measurement.axis("phase")]
        if self.confusion is None:
            f = self._window_fractions(z, names)
        else:
            c = self.confusion
            unknown = [n for n in names if n not in c.labels]
            if unknown:
                raise InterphaseInputError("measurement", f"labels {', '.join(unknown)} are not calibrated")
            rates = c.rates.copy()
            for (j, i), scale in self.mislabel.items():
                rates[j, i] *= scale.value
            f = (self._window_fractions(z, c.phase_names) @ rates.T)[:, [c.labels.index(n) for n in names]]
        total = f.sum(axis=1, keepdims=True)
        shares = np.divide(f, total, out=np.full_like(f, 1.0 / len(names)), where=total > 1e-12)
        if measurement.quantity == GRAIN_COUNTS:
            return shares * np.asarray(measurement.metadata["n_eff"], dtype=float)[:, None]
        return shares
