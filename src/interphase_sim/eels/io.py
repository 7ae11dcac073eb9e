"""Reading EELS data: single spectra, line scans and spectrum images.

Binary formats go through rosettasciio (``.msa``/``.ems``/``.emsa``, ``.dm3``/``.dm4``,
``.hspy``, ``.emd``); the package's own CSV (``linescan.csv``: ``position_nm,<energies>``,
one row per probe position, and ``energy_eV,counts`` for one spectrum) is read here too.

The energy-loss axis comes from the file's calibration (offset, scale; eV or keV, given in
eV; negative energies, i.e. low-loss spectra with the zero-loss peak, are kept). The beam
energy (HyperSpy: ``Acquisition_instrument.TEM.beam_energy`` in keV), the convergence
(``...TEM.convergence_angle``) and collection (``...TEM.Detector.EELS.collection_angle``)
semi-angles (mrad) become ``beam_energy_eV``, ``convergence_mrad`` and ``collection_mrad``;
what the file lacks is None unless given as an argument. Nothing here demands them: ask
:func:`interphase_sim.load_measurement` with ``require=`` (or let the fitter check).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.core.readers import (RSCIIO_PLUGINS, axes_in_order, axis_values, calibrated, energy_eV,
                                    get_item, length_nm, pick_signal, plain_metadata, positive, read_signals,
                                    read_text_lines)

__all__ = ["read_eels", "read_eels_csv", "eels_from_signal"]

_SCAN_AXES = ("depth", "lateral")


def read_eels(path: str | os.PathLike, *, signals: list[dict] | None = None, beam_energy_eV: float | None = None,
              convergence_mrad: float | None = None, collection_mrad: float | None = None,
              offset_eV: float | None = None, dispersion_eV: float | None = None,
              step_nm: float | None = None) -> Measurement:
    """Read an EELS spectrum, line scan or spectrum image.

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.msa``/``.ems``/``.emsa``, ``.dm3``/``.dm4``, ``.hspy`` or ``.emd``.
    signals : list of dict, optional
        The file as already read by :func:`interphase_sim.core.readers.read_signals`.
    beam_energy_eV : float, optional
        Beam energy (eV); replaces the file's.
    convergence_mrad, collection_mrad : float, optional
        Probe convergence and spectrometer collection semi-angles (mrad); replace the file's.
    offset_eV, dispersion_eV : float, optional
        Energy of the first channel (eV) and eV per channel; replace the file's energy
        calibration (both are needed when the file has none).
    step_nm : float, optional
        Probe step (nm) of a line scan or map; replaces the file's (needed when the file's
        scan axes have no length units).

    Returns
    -------
    Measurement
        Counts on ``energy`` (eV), on (``depth``, ``energy``) for a line scan, or on
        (``depth``, ``lateral``, ``energy``) for a spectrum image (rows, the first array
        axis, along depth). No uncertainties (the file's units may not be counts).
    """
    path = os.fspath(path)
    ext = Path(path).suffix.lower()
    if ext == ".csv":
        values, axes, md = read_eels_csv(path)
        quantity = "counts"
    else:
        if signals is None:
            if ext not in RSCIIO_PLUGINS:
                raise InterphaseInputError(path, f"EELS is read from .csv or {', '.join(RSCIIO_PLUGINS)}, not {ext}")
            signals = read_signals(path, RSCIIO_PLUGINS[ext])
        index, sig = pick_signal(signals, "eels", path)
        values, axes, md, quantity = eels_from_signal(sig, path)
        md.update(format=ext.lstrip("."), signal_index=index, signals_in_file=len(signals))
    axes = _recalibrate(path, axes, offset_eV, dispersion_eV, step_nm, md)
    if axes[-1].values.size < 2:
        raise InterphaseInputError(path, f"has {axes[-1].values.size} energy channel: an EELS spectrum needs at "
                                         "least 2")
    sources = md.setdefault("calibration_source", {})
    sources.update({a.name: "file" for a in axes if a.name not in sources})
    for key, arg in (("beam_energy_eV", beam_energy_eV), ("convergence_mrad", convergence_mrad),
                     ("collection_mrad", collection_mrad)):
        if arg is not None and not arg > 0:
            raise InterphaseInputError(key, f"must be > 0, got {arg} (for {path})")
        calibrated(md.pop(f"_file_{key}", None), arg, key, md, sources)
    md["source"] = path
    return Measurement(values=values, axes=axes, metadata=md, quantity=quantity)


def read_eels_csv(path: str | os.PathLike) -> tuple[np.ndarray, list[Axis], dict[str, Any]]:
    """The package's EELS CSV: ``position_nm,<energies eV>`` rows (a line scan) or ``energy_eV,counts``.

    Parameters
    ----------
    path : path-like
        The file (UTF-8, a BOM allowed, ``#`` comment lines allowed).

    Returns
    -------
    values : ndarray
        Counts, (positions, channels) or (channels,).
    axes : list of Axis
        ``depth`` (nm) and ``energy`` (eV), or ``energy`` alone.
    metadata : dict
        ``format`` and where the calibration came from.
    """
    path = os.fspath(path)
    _, lines = read_text_lines(path)
    rows = list(csv.reader(lines))
    head = [h.strip() for h in rows[0]]
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(head):
            raise InterphaseInputError(path, f"data row {i} has {len(r)} values, the header {len(head)}")
    try:
        table = np.array([[float(x) for x in r] for r in rows[1:]], dtype=float)
        if table.size == 0 or table.ndim != 2 or table.shape[1] != len(head):
            raise ValueError("rows of unequal length or no rows")
        if head[0].lower() in ("position_nm", "depth_nm"):
            energy = np.array([float(h) for h in head[1:]], dtype=float)
            values, axes = table[:, 1:], [Axis("depth", "nm", table[:, 0]), Axis("energy", "eV", energy)]
        elif [h.lower() for h in head[:2]] == ["energy_ev", "counts"]:
            values, axes = table[:, 1], [Axis("energy", "eV", table[:, 0])]
        else:
            raise InterphaseInputError(path, f"EELS CSV columns must be position_nm,<energies in eV> or "
                                             f"energy_eV,counts; found {head[:4]}")
    except ValueError as exc:
        if isinstance(exc, InterphaseInputError):
            raise
        raise InterphaseInputError(path, f"a row or the header is not numbers, or is short ({exc})") from None
    for ax in axes:
        _check_increasing(path, ax)
    return values, axes, {"format": "csv"}


def _check_increasing(path: str, ax: Axis) -> None:
    v = np.asarray(ax.values, dtype=float)
    if not np.all(np.isfinite(v)) or (v.size > 1 and not np.all(np.diff(v) > 0)):
        raise InterphaseInputError(path, f"the {ax.name} axis must be finite and increase strictly")


def _energy_index(axes: list[dict]) -> int:
    cands = [i for i, a in enumerate(axes) if energy_eV(a.get("units"))]
    if cands:
        sig = [i for i in cands if axes[i].get("navigate") is False]
        return (sig or cands)[-1]
    sig = [i for i, a in enumerate(axes) if a.get("navigate") is False]
    return sig[-1] if sig else len(axes) - 1


def eels_from_signal(signal: dict, path: str) -> tuple[np.ndarray, list[Axis], dict[str, Any], str]:
    """Values, axes and metadata of an EELS rosettasciio signal dictionary.

    Parameters
    ----------
    signal : dict
        One of :func:`interphase_sim.core.readers.read_signals`' dictionaries.
    path : str
        The file, for messages.

    Returns
    -------
    values : ndarray
        Energy last; scan axes before it in array order.
    axes : list of Axis
        Scan axes ``depth`` (and ``lateral``) in nm, or ``px`` when the file has no length
        calibration (:func:`read_eels` then needs ``step_nm``); ``energy`` in eV, or in
        ``channel`` when uncalibrated (then ``offset_eV`` and ``dispersion_eV`` are needed).
    metadata : dict
        File values of the microscope (under private ``_file_*`` keys for :func:`read_eels`),
        ``title``, and the file's metadata tree under ``file_metadata``.
    quantity : str
    """
    data = np.asarray(signal["data"])
    if data.dtype.kind not in "biuf":
        raise InterphaseInputError(path, f"EELS data must be real numbers, not {data.dtype}")
    axes = axes_in_order(signal)
    ie = _energy_index(axes)
    if len(axes) - 1 > len(_SCAN_AXES):
        raise InterphaseInputError(path, f"{data.ndim}-D EELS data (shape {data.shape}) is not read: a spectrum, "
                                         "a line scan or a spectrum image (up to 3-D) is")
    data = np.moveaxis(data, ie, -1)
    e_ax = axes.pop(ie)
    out = []
    for name, ax in zip(_SCAN_AXES, axes):
        f = length_nm(ax.get("units"))
        out.append(Axis(name, "nm" if f else "px", axis_values(ax, path) * (f or 1.0)))
    f = energy_eV(e_ax.get("units"))
    out.append(Axis("energy", "eV" if f else "channel", axis_values(e_ax, path) * (f or 1.0)))
    md_file = signal.get("metadata") or {}
    tem = get_item(md_file, "Acquisition_instrument.TEM", {})
    beam_keV = positive(get_item(tem, "beam_energy"))
    md = {"_file_beam_energy_eV": None if beam_keV is None else beam_keV * 1e3,
          "_file_convergence_mrad": positive(get_item(tem, "convergence_angle")),
          "_file_collection_mrad": positive(get_item(tem, "Detector.EELS.collection_angle")),
          "title": str(get_item(md_file, "General.title", "")),
          "file_metadata": plain_metadata(md_file)}
    quantity = str(get_item(md_file, "Signal.quantity", "") or "counts")
    return data.astype(float, copy=False), out, md, quantity


def _replace_axis(ax: Axis, offset: float | None, step: float | None, units: str) -> Axis:
    v = np.asarray(ax.values, dtype=float)
    have = ax.units == units
    o = offset if offset is not None else (v[0] if have else 0.0)
    s = step if step is not None else (float(np.mean(np.diff(v))) if have and v.size > 1 else 1.0)
    return Axis(ax.name, units, o + s * np.arange(v.size))


def _recalibrate(path: str, axes: list[Axis], offset_eV: float | None, dispersion_eV: float | None,
                 step_nm: float | None, md: dict) -> list[Axis]:
    """Apply the energy and probe-step arguments; refuse what stays uncalibrated."""
    sources = md.setdefault("calibration_source", {})
    if dispersion_eV is not None and not dispersion_eV > 0:
        raise InterphaseInputError("dispersion_eV", f"must be > 0 (eV per channel), got {dispersion_eV} for {path}")
    if step_nm is not None and not step_nm > 0:
        raise InterphaseInputError("step_nm", f"must be > 0 (nm), got {step_nm} for {path}")
    missing = {}
    for ax in axes:
        if ax.name == "energy" and ax.units != "eV" and (offset_eV is None or dispersion_eV is None):
            missing["dispersion_eV"] = "the energy axis (units not eV): give offset_eV= and dispersion_eV="
        elif ax.name != "energy" and ax.units != "nm" and step_nm is None:
            missing["step_nm"] = f"the scan axis {ax.name!r} (no length units): give step_nm= (probe step, nm)"
    if missing:
        raise InterphaseInputError(next(iter(missing)), f"{path} has no calibration for " + "; ".join(missing.values()))
    out = []
    for ax in axes:
        if ax.name == "energy" and (offset_eV is not None or dispersion_eV is not None):
            ax = _replace_axis(ax, offset_eV, dispersion_eV, "eV")
            sources["energy"] = "argument"
        elif ax.name != "energy" and step_nm is not None:
            ax = _replace_axis(ax, None, step_nm, "nm")
            sources[ax.name] = "argument"
        _check_increasing(path, ax)
        out.append(ax)
    return out
