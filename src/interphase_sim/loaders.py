"""One entry point for measured data: :func:`load_measurement` reads a file into a Measurement.

The kind of data (``"ndp"``, ``"eels"`` or ``"hrtem"``) is given or inferred from the file's
extension and, where an extension holds several kinds (``.csv``, ``.dm3``, ``.dm4``,
``.hspy``, ``.emd``), from its content. Binary formats are read by rosettasciio (and TIFF
by tifffile); the per-instrument readers live in :mod:`interphase_sim.ndp.io`,
:mod:`interphase_sim.eels.io` and :mod:`interphase_sim.hrtem.io`.

This module also holds the small helpers those readers share: reading a text table,
calling a rosettasciio plugin, converting its axis dictionaries and metadata.

Conventions of the Measurements returned: a depth axis is ``depth`` (nm), the lateral
image axis ``lateral`` (nm), an NDP energy axis ``energy`` (keV) or ``channel``, an EELS
energy-loss axis ``energy`` (eV). Metadata keys: ``beam_energy_eV``, ``convergence_mrad``,
``collection_mrad`` (EELS); ``energy_eV``, ``pixel_nm`` (HRTEM); ``gain_keV``,
``offset_keV`` (NDP channel calibration); plus ``instrument`` (the kind), ``source`` (the
path), ``format`` and ``calibration_source`` (for each calibration or axis: ``"file"``,
``"header"``, ``"argument"`` or, for an NDP offset, ``"default"``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.measurement import Measurement
from interphase_sim.core.readers import RSCIIO_PLUGINS, read_signals, read_text_lines, signal_kind

__all__ = ["CALIBRATIONS", "EXTENSIONS", "KINDS", "infer_kind", "load_measurement"]

KINDS = ("ndp", "eels", "hrtem")

#: extension -> the kinds a file with it may hold
EXTENSIONS: dict[str, tuple[str, ...]] = {
    ".csv": ("ndp", "eels"),
    ".msa": ("eels",), ".ems": ("eels",), ".emsa": ("eels",),
    ".dm3": ("eels", "hrtem"), ".dm4": ("eels", "hrtem"),
    ".hspy": ("eels", "hrtem"), ".emd": ("eels", "hrtem"),
    ".tif": ("hrtem",), ".tiff": ("hrtem",), ".mrc": ("hrtem",),
}

#: kind -> keyword calibrations accepted by :func:`load_measurement` (with their meaning)
CALIBRATIONS: dict[str, dict[str, str]] = {
    "ndp": {"gain_keV": "keV per channel", "offset_keV": "energy of channel 0 (keV)"},
    "eels": {"beam_energy_eV": "beam energy (eV)", "convergence_mrad": "convergence semi-angle (mrad)",
             "collection_mrad": "collection semi-angle (mrad)", "offset_eV": "energy of the first channel (eV)",
             "dispersion_eV": "eV per channel", "step_nm": "probe step of a line scan or map (nm)"},
    "hrtem": {"pixel_nm": "pixel size (nm)", "energy_eV": "beam energy (eV)"},
}

#: extension -> rosettasciio plugin


def _accepted() -> str:
    by_kind = {k: [e for e, kinds in EXTENSIONS.items() if k in kinds] for k in KINDS}
    return "; ".join(f"{k}: {' '.join(v)}" for k, v in by_kind.items())


def load_measurement(path: str | os.PathLike, kind: str | None = None, *, require: Iterable[str] = (),
                     **calibration: float) -> Measurement:
    """Read a measured NDP spectrum, EELS spectrum / line scan / map or HRTEM image.

    Parameters
    ----------
    path : path-like
        The file. Extensions: ``.csv`` (NDP ``energy_keV,counts`` or ``channel,counts``;
        EELS ``energy_eV,counts`` or the ``position_nm,<energies>`` line scan the package
        writes), ``.msa``/``.ems``/``.emsa`` (EELS), ``.dm3``/``.dm4``/``.hspy``/``.emd``
        (EELS, or HRTEM for a 2-D image), ``.tif``/``.tiff``/``.mrc`` (HRTEM).
    kind : {"ndp", "eels", "hrtem"}, optional
        The kind of data; inferred from the extension and content when None (a file
        holding several signals, e.g. a Velox ``.emd``, counts as the first one's kind;
        with ``kind`` given, the first signal of that kind is read).
    require : iterable of str
        Metadata keys that must be known after reading (from the file or a keyword), e.g.
        ``("beam_energy_eV",)`` before an EELS fit; a missing one is an error naming the
        keyword to give. Nothing is required by default: a missing beam energy or angle is
        recorded as absent (``None``), and the caller that needs it checks.
    **calibration : float
        Values the file may lack; a value given here replaces the file's.
        NDP: ``gain_keV`` (keV/channel), ``offset_keV`` (keV). EELS: ``beam_energy_eV`` (eV),
        ``convergence_mrad``, ``collection_mrad`` (mrad), ``offset_eV``, ``dispersion_eV``
        (eV, eV/channel), ``step_nm`` (nm, probe step). HRTEM: ``pixel_nm`` (nm),
        ``energy_eV`` (eV).

    Returns
    -------
    Measurement
        NDP: counts on ``energy`` (keV), or on ``channel`` when no calibration is known
        (``metadata["energy_calibration"] == "unknown"``), with Poisson uncertainties (or
        the file's ``uncertainty`` column). EELS: counts on ``energy`` (eV) for a single
        spectrum, (``depth`` nm, ``energy``) for a line scan, (``depth``, ``lateral``,
        ``energy``) for a spectrum image whose rows (the first array axis, HyperSpy's
        ``y``) run along depth. HRTEM: intensity on (``depth``, ``lateral``), nm; rows are
        depth.

    Raises
    ------
    InterphaseInputError
        One line naming the file: unknown extension or kind, unreadable or non-UTF-8 file,
        missing pixel size, energy or position calibration, or a missing ``require`` key.
    """
    path = os.fspath(path)
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        raise InterphaseInputError(path, f"unknown extension {ext or '(none)'!r}; accepted: {_accepted()}")
    if kind is not None and kind not in KINDS:
        raise InterphaseInputError("kind", f"unknown kind {kind!r} for {path}; accepted: {', '.join(KINDS)}")
    if kind is not None and kind not in EXTENSIONS[ext]:
        raise InterphaseInputError(path, f"a {ext} file does not hold {kind} data; {_accepted()}")
    if os.path.isdir(path):
        raise InterphaseInputError(path, "is a folder, not a data file")
    if not os.path.isfile(path):
        raise InterphaseInputError(path, "no such file")
    signals = read_signals(path, RSCIIO_PLUGINS[ext]) if ext in RSCIIO_PLUGINS else None
    if kind is None:
        kind = infer_kind(path, signals)
    cal = _check_calibration(path, kind, calibration)
    if kind == "ndp":
        from interphase_sim.ndp.io import read_spectrum_csv

        meas = read_spectrum_csv(path, **cal)
    elif kind == "eels":
        from interphase_sim.eels.io import read_eels

        meas = read_eels(path, signals=signals, **cal)
    else:
        from interphase_sim.hrtem.io import read_image

        meas = read_image(path, signals=signals, **cal)
    meas.metadata["instrument"] = kind
    meas.metadata["source"] = path
    _check_required(path, meas, require)
    return meas


def infer_kind(path: str | os.PathLike, signals: list[dict] | None = None) -> str:
    """The kind of data in ``path`` from its extension and, where needed, its content.

    Parameters
    ----------
    path : path-like
        The file.
    signals : list of dict, optional
        What :func:`read_signals` returned for it (read here when needed and not given).

    Returns
    -------
    str
        ``"ndp"``, ``"eels"`` or ``"hrtem"``.
    """
    path = os.fspath(path)
    ext = Path(path).suffix.lower()
    kinds = EXTENSIONS.get(ext)
    if kinds is None:
        raise InterphaseInputError(path, f"unknown extension {ext or '(none)'!r}; accepted: {_accepted()}")
    if len(kinds) == 1:
        return kinds[0]
    if ext == ".csv":
        return _csv_kind(path)
    if signals is None:
        signals = read_signals(path, RSCIIO_PLUGINS[ext])
    found = [k for k in (signal_kind(s) for s in signals) if k is not None]
    if not found:
        raise InterphaseInputError(path, "cannot tell EELS from HRTEM data (no energy axis, not a 2-D image): "
                                         "give kind='eels' or kind='hrtem'")
    return found[0]


def _csv_kind(path: str) -> str:
    _, lines = read_text_lines(path)
    head = [h.strip().lower() for h in lines[0].split(",")]
    if {"energy_kev", "channel"} & set(head):
        return "ndp"
    if head[0] in ("position_nm", "depth_nm") or "energy_ev" in head:
        return "eels"
    raise InterphaseInputError(path, f"cannot tell the kind of this CSV from its columns {head[:4]}: NDP has "
                                     "energy_keV,counts or channel,counts; EELS has energy_eV,counts or "
                                     "position_nm,<energies in eV>")


def _check_calibration(path: str, kind: str, calibration: Mapping[str, Any]) -> dict[str, float]:
    accepted = CALIBRATIONS[kind]
    out = {}
    for key, value in calibration.items():
        if key not in accepted:
            raise InterphaseInputError(key, f"does not apply to {kind} data ({path}); accepted: "
                                            f"{', '.join(accepted) or 'none'}")
        if value is None:
            continue
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            raise InterphaseInputError(key, f"must be a number ({accepted[key]}), got {value!r}") from None
        if not math.isfinite(out[key]):
            raise InterphaseInputError(key, f"must be finite ({accepted[key]}), got {value!r}")
    return out


def _check_required(path: str, meas: Measurement, require: Iterable[str]) -> None:
    if isinstance(require, str):
        require = (require,)
    for key in require:
        if meas.metadata.get(key) is None:
            hint = f"give {key}=... to load_measurement" if any(key in c for c in CALIBRATIONS.values()) else \
                "it cannot be given as a keyword"
            raise InterphaseInputError(key, f"{path} does not record {key}: {hint}")


# --------------------------------------------------------------------------- shared helpers
