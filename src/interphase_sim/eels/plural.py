"""Plural scattering of a line scan: the expected counts of :class:`~.model.EELSModel`.

The single-scattering spectrum at position ``p`` is linear in the amounts of its
phases, ``S_p = sum_m A_pm Phi_m`` with ``Phi_m = sum_s W_ms sigma_s`` the spectrum of
phase ``m`` (its species ``s``, an edge in that phase, weighted by number density,
thickness, dose and the edge's scale; :meth:`~.model.EELSModel._amounts`). Its transform
is then ``sum_m A_pm FT(Phi_m)`` from the species' transforms cached once per
cross-section basis: no forward FFT per call, and a sum over the one or two phases
present rather than over every species. The counts are ``irfft(FT(S_p) K_p)`` with
``K_p`` the low-loss transform of :func:`~.lowloss.lowloss_kernels_ft`
(``Z exp(tau (P - 1))``, the plasmon transform ``P`` interpolated on
:data:`~.lowloss.PLASMON_GRID_EV`), cropped to the axis: what convolving the
single-scattering spectra, zero-padded to the FFT length, with the low-loss kernels
gives (:func:`~.lowloss.plural_scatter`), to rounding (~1e-15 relative).

The FFT length stays the power of two ``>= 2 C`` (``C`` channels): the kernel is
defined on that circular axis (its plasmon tail is cut and normalised at half of it),
so another length would change the model, and the counts at ``C`` channels need every
lag in ``(-C, C)`` of it.

Positions that share a kernel (inside a homogeneous layer their rounded ``(t / lambda,
plasmon energy)`` keys coincide, :meth:`~.model.EELSModel._kernel_keys`) share the
convolved species spectra ``irfft(FT(sigma_s) K)[:C]``: a key held by at least as many
positions as there are species gets them, cached with the basis, and its positions cost
an (amounts x phases) product. The others (interfaces, one kernel each) are summed in
Fourier space (:func:`~._kernels.series_spectra_ft`) and transformed back in chunks
that stay in the cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.fft as sfft

from interphase_sim.eels import _kernels as K
from interphase_sim.eels import lowloss as LL

__all__ = ["mix", "plural_counts", "species_ft"]

_CONVOLVED_MAX = 64  # convolved species spectra kept per basis (S x C floats each)
_CHUNK = 32  # positions transformed together: 1 MB of transforms, in the L2 cache


def mix(weights: np.ndarray, rows: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """``weights @ rows (+ offset)`` without BLAS (:func:`~._kernels.combine_rows`).

    Parameters
    ----------
    weights : ndarray
        (R, S) float.
    rows : ndarray
        (S, C) float.
    offset : ndarray, optional
        (C,) added to every row of the product.

    Returns
    -------
    ndarray
        (R, C) float.
    """
    out = np.empty((weights.shape[0], rows.shape[1]))
    offset = np.zeros(rows.shape[1]) if offset is None else offset
    K.combine_rows(out, np.arange(out.shape[0]), np.ascontiguousarray(weights, dtype=float),
                   np.ascontiguousarray(rows, dtype=float), np.ascontiguousarray(offset, dtype=float))
    return out


def species_ft(basis: dict[str, Any], n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary parts (S, n_fft // 2 + 1) of the rfft of the basis' species
    spectra (barn per channel), zero-padded to ``n_fft``; cached in ``basis``."""
    cache = basis.setdefault("ft", {})
    hit = cache.get(n_fft)
    if hit is None:
        ft = sfft.rfft(basis["matrix"], n=n_fft, axis=1)
        hit = cache[n_fft] = (np.ascontiguousarray(ft.real), np.ascontiguousarray(ft.imag))
    return hit


def plural_counts(amounts: np.ndarray, weights: np.ndarray, keys: list[tuple[float, float]], basis: dict[str, Any],
                  n_fft: int, step_eV: float, plasmon_width_eV: float, resolution_fwhm_eV: float,
                  background: np.ndarray) -> np.ndarray:
    """Expected counts (P, C) of single scattering convolved with low-loss kernels.

    Parameters
    ----------
    amounts : ndarray
        (P, M) amount of each phase at each position (dimensionless fractions).
    weights : ndarray
        (M, S) counts per unit of each species' cross-section (barn per channel) per
        unit amount of the phase (:meth:`~.model.EELSModel._amounts`).
    keys : list of (float, float)
        Per position the kernel's ``(t / lambda, plasmon energy eV)``; ``t / lambda = 0``
        for none (zero-loss peak only).
    basis : dict
        The model's cross-section basis (``"matrix"`` (S, C), barn per channel); the
        transforms and convolved spectra are cached in it.
    n_fft : int
        FFT length (channels), at least ``2 C``.
    step_eV, plasmon_width_eV, resolution_fwhm_eV : float
        Channel width, plasmon FWHM and zero-loss FWHM (eV).
    background : ndarray
        (C,) counts per channel added to every position.

    Returns
    -------
    ndarray
        (P, C) counts per channel.
    """
    n_species = weights.shape[1]
    out = np.empty((amounts.shape[0], basis["matrix"].shape[1]))
    groups: dict[tuple[float, float], list[int]] = {}
    for row, key in enumerate(keys):
        groups.setdefault(key, []).append(row)
    optics = (n_fft, float(step_eV), float(resolution_fwhm_eV), float(plasmon_width_eV))
    convolved = basis.setdefault("convolved", {})
    single: list[int] = []
    for key, rows in groups.items():
        spectra = convolved.get(key + optics)
        if spectra is None and len(rows) >= n_species:
            if len(convolved) >= _CONVOLVED_MAX:
                convolved.clear()
            spectra = convolved[key + optics] = _convolved_species(basis, key, optics)
        if spectra is None:
            single.extend(rows)
        else:
            idx = np.array(rows)
            K.combine_rows(out, idx, np.ascontiguousarray(amounts[idx]), mix(weights, spectra), background)
    if single:
        re, im = species_ft(basis, n_fft)
        _place_series(out, np.array(single), amounts, mix(weights, re), mix(weights, im), keys, optics, background)
    return out


def _kernel_ft(key: tuple[float, float], optics: tuple) -> np.ndarray:
    """The low-loss transform of one ``(t / lambda, plasmon eV)`` key (n_fft // 2 + 1,)."""
    n_fft, step, res, width = optics
    if key[0] == 0.0:  # exp(0 (P - 1)) = 1: the zero loss alone, no plasmon grid needed
        return LL._zero_loss_ft(n_fft, step, res)
    return LL.lowloss_kernels_ft(n_fft, step, np.array([key[0]]), np.array([key[1]]), width, res,
                                 LL.PLASMON_GRID_EV)[0]


def _convolved_species(basis: dict[str, Any], key: tuple[float, float], optics: tuple) -> np.ndarray:
    """Species spectra convolved with one kernel and cropped to the axis (S, C)."""
    n_fft = optics[0]
    re, im = species_ft(basis, n_fft)
    ft = (re + 1j * im) * _kernel_ft(key, optics)[None, :]
    spectra = sfft.irfft(ft, n=n_fft, axis=1, overwrite_x=True)[:, :basis["matrix"].shape[1]]
    return np.ascontiguousarray(spectra)


def _place_series(out: np.ndarray, idx: np.ndarray, amounts: np.ndarray, re: np.ndarray, im: np.ndarray,
                  keys: list[tuple[float, float]], optics: tuple, background: np.ndarray) -> None:
    """``out[idx]``: positions with kernels of their own, each the inverse transform of
    ``(amounts @ (re + i im)) K`` (components' transforms ``re + i im`` (M, F)), in chunks
    of :data:`_CHUNK` rows that stay in the cache between the product and the FFT."""
    n_fft, step, res, width = optics
    tau = np.array([keys[r][0] for r in idx])
    ep = np.array([keys[r][1] for r in idx])
    plural = tau > 0
    if plural.any():
        u = ep / LL.PLASMON_GRID_EV
        i = np.floor(u).astype(np.int64)
        base, grid = LL._plasmon_grid(n_fft, step, width, LL.PLASMON_GRID_EV, int(i[plural].min()),
                                      int(i[plural].max()) + 1)
        w = np.where(plural, u - i, 0.0)
        i = np.where(plural, i - base, 0)  # rows without plural scattering: any node, times tau = 0
    else:
        grid, i, w = np.zeros((2, re.shape[1]), dtype=complex), np.zeros(tau.size, dtype=np.int64), tau
    zlp = LL._zero_loss_ft(n_fft, step, res)
    amounts = np.ascontiguousarray(amounts[idx])
    ft = np.empty((min(_CHUNK, idx.size), re.shape[1]), dtype=complex)
    spectra = np.empty((ft.shape[0], n_fft))
    for c0 in range(0, idx.size, _CHUNK):
        rows = slice(c0, c0 + _CHUNK)
        m = idx[rows].size
        K.series_spectra_ft(amounts[rows], re, im, grid, i[rows], w[rows], tau[rows], zlp, ft[:m])
        np.fft.irfft(ft[:m], n=n_fft, axis=1, out=spectra[:m])  # numpy's pocketfft, as scipy's
        K.place_rows(out, idx[rows], spectra[:m], background)
