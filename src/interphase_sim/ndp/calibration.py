"""Energy calibration of NDP spectra: channels, the nominal calibration of an energy axis.

A detector records channels; the energy of channel ``c`` is ``E = gain_keV * c +
offset_keV``. A spectrum stored on an ``energy`` axis was converted with some nominal
calibration: the one its metadata record (``gain_keV``, ``offset_keV``; every simulated
spectrum carries them), or, if they are absent, the linear map of the axis' first and
last points onto channel indices ``0 .. n-1``. :func:`channels` undoes that nominal
calibration, so that a model's own ``gain_keV`` and ``offset_keV`` Parameters can
replace it (and a fit can move them). A ``channel`` axis is used as it is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.measurement import Measurement

__all__ = ["axis_calibration", "calibrated_energy", "channels", "describe", "nominal_calibration"]


def axis_calibration(energy_keV: np.ndarray) -> tuple[float, float]:
    """(gain keV/channel, offset keV) mapping channel indices ``0, ..., n-1`` onto the first and
    last energies of an increasing axis (keV)."""
    e = np.asarray(energy_keV, dtype=float)
    if e.size < 2:
        raise InterphaseInputError("energy", "an energy axis needs at least 2 channels to derive a calibration")
    return float((e[-1] - e[0]) / (e.size - 1)), float(e[0])


def _axis_names(measurement: Measurement) -> list[str]:
    return [a.name for a in measurement.axes]


def nominal_calibration(measurement: Measurement) -> tuple[float, float]:
    """The calibration (gain keV/channel, offset keV) an ``energy`` axis was made with.

    ``measurement.metadata["gain_keV"]`` and ``["offset_keV"]`` when both are present
    (a gain > 0), otherwise :func:`axis_calibration` of the axis.
    """
    meta = measurement.metadata or {}
    if meta.get("gain_keV") is not None and meta.get("offset_keV") is not None:
        try:
            gain, offset = float(meta["gain_keV"]), float(meta["offset_keV"])
        except (TypeError, ValueError):
            raise InterphaseInputError("measurement.metadata", "gain_keV and offset_keV must be numbers (keV)") from None
        if not (math.isfinite(gain) and gain > 0 and math.isfinite(offset)):
            raise InterphaseInputError("measurement.metadata.gain_keV", f"must be finite and > 0, got {gain}")
        return gain, offset
    return axis_calibration(measurement.axis("energy"))


def channels(measurement: Measurement) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Channel numbers of a 1-D spectrum, and the nominal calibration they came from.

    Returns
    -------
    channels : (C,) array
        The ``channel`` axis, or ``(E - offset) / gain`` of the ``energy`` axis under its
        :func:`nominal_calibration` (fractional where that axis is not exactly linear).
    nominal : (gain, offset) or None
        The nominal calibration of an energy axis (None for a channel axis).
    """
    names = _axis_names(measurement)
    if measurement.values.ndim != 1 or not ({"channel", "energy"} & set(names)):
        raise InterphaseInputError("measurement", f"an NDP spectrum needs a 1-D channel or energy axis; axes: {names}")
    if "channel" in names:
        c = np.asarray(measurement.axis("channel"), dtype=float)
        nominal = None
    else:
        gain, offset = nominal_calibration(measurement)
        c = (np.asarray(measurement.axis("energy"), dtype=float) - offset) / gain
        nominal = (gain, offset)
    if c.size < 2 or not np.all(np.isfinite(c)) or np.any(np.diff(c) <= 0):
        raise InterphaseInputError("measurement", "the channel (or energy) axis must be finite and increase strictly")
    return c, nominal


def calibrated_energy(chans: np.ndarray, gain_keV: float, offset_keV: float) -> np.ndarray:
    """Channel-centre energies (keV): ``gain_keV * chans + offset_keV``."""
    return gain_keV * np.asarray(chans, dtype=float) + offset_keV


def describe(gain_keV: float, offset_keV: float) -> dict[str, Any]:
    """The calibration as metadata entries."""
    return {"gain_keV": float(gain_keV), "offset_keV": float(offset_keV),
            "calibration": "energy_keV = gain_keV * channel + offset_keV"}
