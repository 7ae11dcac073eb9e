"""EELS quantification: edge integration, MLLS phase fractions, layer boundaries.

Classic elemental quantification (Egerton 2011, section 4.5): fit a power law
``A E^-r`` to a pre-edge window, extrapolate it under the edge, integrate the
background-subtracted counts over ``[onset, onset + window]`` and divide by the
electrons per spectrum and the partial cross-section of that window:
``N = I_k(window) / (I0 sigma(window))`` (atoms/nm2 along the beam). With plural
scattering, pass the fraction of the low-loss intensity below ``window``
(``lowloss_fraction``) for the ratio method, ``N = I_k / (I0 f_l sigma)``.

Phase fractions come from multiple linear least squares (non-negative) of a spectrum
against reference spectra of the pure phases (MLLS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.optimize

from interphase_sim.eels import xsec as XS
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.measurement import Axis, Measurement

__all__ = ["power_law_fit", "edge_areal_density", "quantify_line_scan", "mlls_fractions", "layer_boundaries",
           "quantifiable_edges", "quantification_warnings"]


def power_law_fit(energy: np.ndarray, counts: np.ndarray, window: tuple[float, float],
                  iterations: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit ``A E^-r`` to ``counts`` (rows = spectra) over ``window`` (eV).

    Poisson maximum likelihood (a log-link GLM solved by iteratively reweighted least
    squares, started from the log-log fit): unbiased at the few counts per channel of
    low-dose spectra, where a least-squares fit of log counts is not. Returns ln A, r and
    the (n, 2, 2) covariance of (ln A, r) from the Fisher information.
    """
    sel = (energy >= window[0]) & (energy <= window[1])
    if sel.sum() < 3:
        raise InterphaseInputError("pre_edge_eV", f"the pre-edge window {window} eV holds fewer than 3 channels")
    x = np.stack([np.ones(sel.sum()), -np.log(energy[sel])], axis=1)  # (m, 2): ln mu = ln A - r ln E
    # deconvolved spectra can dip below zero: the fit sees the non-negative part
    y = np.maximum(np.atleast_2d(counts)[:, sel].astype(float), 0.0)
    y_pos = np.maximum(y, 0.5)
    info0 = np.einsum("mi,nm,mj->nij", x, y_pos, x)
    beta = np.linalg.solve(info0, np.einsum("mi,nm->ni", x, y_pos * np.log(y_pos))[..., None])[..., 0]
    start = beta.copy()
    for _ in range(iterations):
        mu = np.exp(np.clip(beta @ x.T, -700, 700))  # (n, m)
        info = np.einsum("mi,nm,mj->nij", x, mu, x)
        score = np.einsum("mi,nm->ni", x, y - mu)
        step = np.linalg.solve(info, score[..., None])[..., 0]
        # damped: the exponent moves at most 0.5 per iteration
        damp = np.minimum(1.0, 0.5 / np.maximum(np.abs(step[:, 1]), 1e-300))
        beta = beta + step * damp[:, None]
    bad = ~np.all(np.isfinite(beta), axis=1)
    beta[bad] = start[bad]  # fall back to the log-log fit
    mu = np.exp(np.clip(beta @ x.T, -700, 700))
    cov = np.linalg.inv(np.einsum("mi,nm,mj->nij", x, np.maximum(mu, 1e-12), x))
    return beta[:, 0], beta[:, 1], cov


def _setting(value: Any, meta: Mapping[str, Any], key: str) -> float:
    if value is None:
        value = meta.get(key)
    if value is None:
        raise InterphaseInputError(key, f"not in the measurement's metadata: give {key}")
    return float(value)


def edge_areal_density(
    measurement: Measurement,
    edge: str,
    window_eV: float = 50.0,
    pre_edge_eV: tuple[float, float] = (-30.0, -3.0),
    *,
    electrons: float | None = None,
    beam_energy_eV: float | None = None,
    collection_mrad: float | None = None,
    convergence_mrad: float | None = None,
    lowloss_fraction: float | np.ndarray = 1.0,
    subtract_background: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Areal density (atoms/nm2) of ``edge``'s element from one spectrum or a line scan.

    Parameters
    ----------
    measurement : Measurement
        Counts with the energy (eV) as the last axis.
    edge : str
        E.g. ``"O K"``.
    window_eV : float
        Integration window above the onset (eV).
    pre_edge_eV : (float, float)
        Background-fit window relative to the onset (eV), clipped to the axis start.
    electrons, beam_energy_eV, collection_mrad, convergence_mrad : float, optional
        Default: the measurement's metadata (simulated data carry them).
    lowloss_fraction : float or array
        Fraction of the low-loss intensity below ``window_eV`` (ratio method); 1 for
        single scattering.
    subtract_background : bool
        Fit and subtract the power law (off for background-free spectra).

    Returns
    -------
    density, uncertainty : arrays (one per spectrum)
        atoms/nm2 and its 1-sigma uncertainty: Poisson counts in the window plus the
        propagated uncertainty of the extrapolated background.
    """
    if window_eV <= 0:
        raise InterphaseInputError("window_eV", f"must be > 0 eV, got {window_eV}")
    rec = XS.edge(edge)
    energy = np.asarray(measurement.axes[-1].values, dtype=float)
    counts = np.atleast_2d(measurement.values)
    meta = measurement.metadata
    i0 = _setting(electrons, meta, "electrons")
    e0 = _setting(beam_energy_eV, meta, "beam_energy_eV")
    beta = _setting(collection_mrad, meta, "collection_mrad")
    alpha = _setting(convergence_mrad, meta, "convergence_mrad")
    lo, hi = rec.onset_eV, rec.onset_eV + window_eV
    if lo < energy[0] or hi > energy[-1]:
        raise InterphaseInputError(
            "window_eV", f"{rec.name} window [{lo:g}, {hi:g}] eV is not inside the energy axis [{energy[0]:g}, {energy[-1]:g}] eV"
        )
    sel = (energy >= lo) & (energy < hi)
    signal = counts[:, sel]
    # Poisson variance of the window counts, scaled by a deconvolution's noise gain
    gain = np.asarray(meta.get("noise_gain", 1.0), dtype=float)
    var = np.maximum(signal.sum(axis=1), 1.0) * gain**2
    if subtract_background:
        pre = (max(lo + pre_edge_eV[0], energy[0]), lo + pre_edge_eV[1])
        ln_a, r, cov = power_law_fit(energy, counts, pre)
        e = energy[sel]
        bkg = np.exp(ln_a[:, None] - r[:, None] * np.log(e)[None, :])  # (n, window)
        signal = signal - bkg
        # variance of the extrapolated background sum: J C J^T, J = d sum / d(ln A, r)
        jac = np.stack([bkg.sum(axis=1), -(bkg * np.log(e)[None, :]).sum(axis=1)], axis=1)
        var = var + np.einsum("ni,nij,nj->n", jac, cov, jac) * gain**2
    total = signal.sum(axis=1)
    sigma_b = XS.ionization_cross_section(rec.name, e0, beta, window_eV, alpha)
    scale = i0 * np.asarray(lowloss_fraction, dtype=float) * sigma_b * 1e-10  # atoms/nm2 x barn = 1e-10
    return total / scale, np.sqrt(var) / scale


def quantify_line_scan(measurement: Measurement, edges: Sequence[str], **kw: Any) -> Measurement:
    """Areal density of each edge's element along a line scan (position x element).

    Keyword arguments go to :func:`edge_areal_density`; ``pre_edge_eV`` may also map each
    edge to its own window (see :func:`quantifiable_edges`).
    """
    if measurement.values.ndim != 2:
        raise InterphaseInputError("measurement", "a line scan (position x energy) is required")
    pre = kw.pop("pre_edge_eV", None)
    cols, errs, names = [], [], []
    for e in edges:
        window = pre.get(e) if isinstance(pre, Mapping) else pre
        d, s = edge_areal_density(measurement, e, **kw, **({} if window is None else {"pre_edge_eV": window}))
        cols.append(d)
        errs.append(s)
        names.append(XS.edge(e).element)
    return Measurement(
        values=np.array(cols).T,
        axes=[measurement.axes[0], Axis("element", "", np.array(names, dtype=object))],
        uncertainties=np.array(errs).T,
        metadata={"analysis": "edge integration", "edges": list(edges), **{k: v for k, v in kw.items()
                                                                          if isinstance(v, (int, float, str))}},
        quantity="atoms_per_nm2",
    )


#: Pre-edge windows (eV from the onset) tried in turn: the usual 27 eV, then the 12 eV that
#: fits Li K on an axis starting 15 eV below it (checked in tests/test_eels_quant.py).
PRE_EDGE_WINDOWS = ((-30.0, -3.0), (-14.0, -2.0))


def quantifiable_edges(energy_eV: Any, edges: Sequence[str],
                       window_eV: float = 40.0) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """Which ``edges`` an energy axis (eV) can quantify, with the pre-edge window of each
    (the widest of :data:`PRE_EDGE_WINDOWS` that fits), and why the others cannot."""
    energy = np.asarray(energy_eV, dtype=float)
    ok, why = {}, {}
    for e in edges:
        onset = XS.edge(e).onset_eV
        fits = [w for w in PRE_EDGE_WINDOWS if onset + w[0] >= energy[0]]
        if energy[-1] - onset < window_eV:
            why[e] = f"the axis ends {energy[-1] - onset:.0f} eV above its onset, {window_eV:g} eV are needed"
        elif not fits:
            why[e] = (f"the axis starts {onset - energy[0]:.0f} eV below its onset, "
                      f"{-PRE_EDGE_WINDOWS[-1][0]:g} eV of pre-edge are needed")
        else:
            ok[e] = fits[0]
    return ok, why


def quantification_warnings(quant: Measurement) -> list[str]:
    """Plain-language warnings for a :func:`quantify_line_scan` result dominated by noise.

    An element is flagged when it is nowhere above three times its median standard error
    (not detected at this dose), or when more than 2 % of the positions read below zero by
    over three standard errors (0.13 % would for Gaussian noise: the errors are understated
    or the background model fails).
    """
    out = []
    values, errors = np.asarray(quant.values, float), np.asarray(quant.uncertainties, float)
    for j, element in enumerate(quant.axis("element")):
        v, s = values[:, j], errors[:, j]
        typical = float(np.median(s))
        negative = int(np.sum(v < -3 * s))
        if float(v.max()) < 3 * typical:
            out.append(f"EELS quantification of {element}: nowhere above 3 standard errors ({typical:.3g} "
                       "atoms/nm2): raise [eels] dose_e_per_A2 or pixel_nm, or widen the integration window")
        elif negative > 0.02 * v.size:
            out.append(f"EELS quantification of {element}: {negative} of {v.size} positions below zero by more "
                       "than 3 standard errors: the background fit fails there (check the pre-edge window)")
    return out


def mlls_fractions(spectrum: Any, references: Mapping[str, Any], mask: Any = None) -> dict[str, float]:
    """Non-negative MLLS of a spectrum against reference spectra; returns normalised weights.

    ``references`` maps a phase name to its spectrum on the same axis (e.g. simulated
    pure-phase spectra of equal thickness, whose weights are then volume fractions).
    """
    y = np.asarray(spectrum, dtype=float).ravel()
    names = list(references)
    if not names:
        raise InterphaseInputError("references", "give at least one reference spectrum")
    a = np.array([np.asarray(references[n], dtype=float).ravel() for n in names]).T
    if a.shape[0] != y.size:
        raise InterphaseInputError("references", "references and spectrum must share the energy axis")
    sel = np.ones(y.size, bool) if mask is None else np.asarray(mask, bool)
    coef, _ = scipy.optimize.nnls(a[sel], y[sel])
    total = coef.sum()
    if total <= 0:
        raise InterphaseInputError("spectrum", "no positive combination of the references fits the spectrum")
    return {n: float(c / total) for n, c in zip(names, coef)}


def layer_boundaries(position_nm: Any, profile: Any, smooth_nm: float = 0.0) -> np.ndarray:
    """Positions (nm) where ``profile`` crosses half-way between its low and high plateaus.

    Suited to one element's profile across a layer (two crossings) or the edge of a
    semi-infinite layer (one crossing); linear interpolation between probe positions.
    ``smooth_nm`` (Gaussian FWHM) smooths a noisy profile first: it leaves the half-way
    crossing of a symmetric step where it is and removes spurious crossings.
    """
    z = np.asarray(position_nm, dtype=float)
    y = np.asarray(profile, dtype=float)
    if smooth_nm > 0 and z.size > 2:
        step = float(np.median(np.diff(z)))
        sig = smooth_nm / 2.3548 / step
        half_width = int(np.ceil(3 * sig))
        k = np.exp(-0.5 * (np.arange(-half_width, half_width + 1) / max(sig, 1e-9)) ** 2)
        k /= k.sum()
        padded = np.pad(y, half_width, mode="edge")
        y = np.convolve(padded, k, mode="valid")
    lo, hi = np.percentile(y, 5), np.percentile(y, 95)
    half = 0.5 * (lo + hi)
    s = np.sign(y - half)
    idx = np.flatnonzero(s[1:] * s[:-1] < 0)
    return np.array([z[i] + (half - y[i]) * (z[i + 1] - z[i]) / (y[i + 1] - y[i]) for i in idx])
