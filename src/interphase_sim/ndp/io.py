"""Reading NDP spectra: CSV in energy (``energy_keV,counts``) or in channels (``channel,counts``).

The package writes spectra with :meth:`~interphase_sim.core.measurement.Measurement.to_csv`
(``energy_keV,counts[,uncertainty]``); :func:`read_spectrum_csv` reads those back and
measured spectra exported from a multichannel analyser. A channel spectrum is calibrated
``E = gain_keV * channel + offset_keV`` from arguments or from ``#`` comment lines in the
file (``# gain_keV = 0.98``, ``# offset_keV: 12.0``).
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.core.readers import parse_header, read_text_lines

__all__ = ["load_spectrum_csv", "read_spectrum_csv"]


def _check_axis(x: np.ndarray, path: str, column: str) -> None:
    if x.size < 2:
        raise InterphaseInputError(path, f"the file has {x.size} data rows: a spectrum needs at least 2 channels")
    if not np.all(np.isfinite(x)):
        raise InterphaseInputError(path, f"{column} contains NaN or inf")
    if x.size > 1 and not np.all(np.diff(x) > 0):
        i = int(np.argmax(np.diff(x) <= 0))
        raise InterphaseInputError(path, f"{column} must increase strictly; it does not at row {i + 2}")


def _table(path: str, lines: list[str]) -> tuple[list[str], np.ndarray]:
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader)]
    if "counts" not in header or not ({"energy_keV", "channel"} & set(header)):
        raise InterphaseInputError(
            path, f"columns must include counts and energy_keV (or channel); found {header}")
    try:
        rows = [[float(r[header.index(c)]) for c in header] for r in reader]
    except (ValueError, IndexError) as exc:
        raise InterphaseInputError(path, f"a row is not numbers or is short ({exc})") from None
    return header, np.array(rows, dtype=float).reshape(-1, len(header))


def _calibration(path: str, gain_keV: float | None, offset_keV: float | None, header: dict,
                 default_offset_keV: float | None) -> tuple[float | None, float | None, dict[str, str]]:
    """Gain and offset from the arguments, else the file's header; where each came from."""
    sources: dict[str, str] = {}
    values = []
    for key, arg in (("gain_keV", gain_keV), ("offset_keV", offset_keV)):
        if arg is not None:
            values.append(float(arg))
            sources[key] = "argument"
        elif isinstance(header.get(key), float):
            values.append(header[key])
            sources[key] = "header"
        else:
            values.append(None)
    gain, offset = values
    if gain is not None and offset is None and default_offset_keV is not None:
        offset, sources["offset_keV"] = float(default_offset_keV), "default"
    bad = {}
    if gain is not None and not (math.isfinite(gain) and gain > 0):
        bad["gain_keV"] = (gain, "> 0 (keV per channel)")
    if offset is not None and not math.isfinite(offset):
        bad["offset_keV"] = (offset, "finite (keV)")
    for key, (v, what) in bad.items():
        if sources.get(key) == "header":  # the file's own line: the error is the file's
            raise InterphaseInputError(path, f"its '# {key} = {v}' line: {key} must be {what}")
        raise InterphaseInputError(key, f"must be {what}, got {v} for {path}")
    return gain, offset, sources


def read_spectrum_csv(path: str | os.PathLike, gain_keV: float | None = None, offset_keV: float | None = None,
                      *, require_energy: bool = False, default_offset_keV: float | None = None) -> Measurement:
    """Read an NDP spectrum from CSV (UTF-8, a BOM allowed; ``#`` comment lines allowed).

    Parameters
    ----------
    path : path-like
        The file: a header row naming the columns ``energy_keV,counts`` or ``channel,counts``
        (an ``uncertainty`` column, 1 sigma, is used when present).
    gain_keV : float, optional
        keV per channel for a ``channel`` column; default the file's ``# gain_keV = ...`` line.
    offset_keV : float, optional
        Energy of channel 0 (keV); default the file's ``# offset_keV = ...`` line.
    require_energy : bool
        Raise when a ``channel`` spectrum has no complete calibration, instead of keeping
        the ``channel`` axis.
    default_offset_keV : float, optional
        The offset (keV) when a gain is known but neither argument nor header gives one
        (default None: then the offset is missing, an error).

    Returns
    -------
    Measurement
        Counts on ``energy`` (keV); for an uncalibrated channel spectrum on ``channel``
        (``metadata["energy_calibration"] = "unknown"``). Uncertainties: the file's column,
        else Poisson ``sqrt(max(counts, 1))``. Metadata: ``gain_keV``, ``offset_keV``,
        ``calibration_source`` and the header's other ``key = value`` lines under ``header``.

    Raises
    ------
    InterphaseInputError
        Naming the file: not UTF-8, empty, missing columns, a non-number, an axis that does
        not increase, negative or non-finite counts, half a calibration.
    """
    path = os.fspath(path)
    comments, lines = read_text_lines(path)
    header_md = parse_header(comments)
    header, table = _table(path, lines)
    counts = table[:, header.index("counts")]
    md: dict = {"source": path, "format": "csv"}
    if "energy_keV" in header:
        axis = Axis("energy", "keV", table[:, header.index("energy_keV")])
        _check_axis(axis.values, path, "energy_keV")
    else:
        channel = table[:, header.index("channel")]
        _check_axis(channel, path, "channel")
        gain, offset, sources = _calibration(path, gain_keV, offset_keV, header_md, default_offset_keV)
        if gain is not None and offset is not None:
            axis = Axis("energy", "keV", gain * channel + offset)
            md.update(gain_keV=gain, offset_keV=offset, calibration_source=sources)
        elif require_energy or gain is not None or offset is not None:
            missing = " and ".join(k for k, v in (("gain_keV", gain), ("offset_keV", offset)) if v is None)
            raise InterphaseInputError(
                missing.split(" ")[0], f"{path} has a channel column: give the calibration {missing} "
                "(E = gain_keV * channel + offset_keV), as an argument or a '# gain_keV = ...' header line")
        else:
            axis = Axis("channel", "", channel)
            md.update(gain_keV=None, offset_keV=None, energy_calibration="unknown")
    if axis.name == "energy" and axis.values[-1] > MAX_PLAUSIBLE_KEV:
        raise InterphaseInputError(path, f"the energy axis reaches {axis.values[-1]:.4g} keV, beyond any NDP "
                                   f"particle (the 6Li triton is born at 2727 keV): is it in eV? Divide by 1000")
    if not np.all(np.isfinite(counts)):
        raise InterphaseInputError(path, "counts contain NaN or inf")
    if np.any(counts < 0):
        i = int(np.argmax(counts < 0))
        raise InterphaseInputError(path, f"negative counts ({counts[i]}) at row {i + 2}")
    if "uncertainty" in header:
        sigma = table[:, header.index("uncertainty")]
        if not np.all(np.isfinite(sigma) & (sigma >= 0)):
            i = int(np.argmax(~(np.isfinite(sigma) & (sigma >= 0))))
            raise InterphaseInputError(path, f"uncertainty {sigma[i]} at row {i + 2}: uncertainties (1 sigma) "
                                             "must be finite and >= 0")
    else:
        sigma = np.sqrt(np.maximum(counts, 1.0))
    if header_md:
        md["header"] = header_md
    return Measurement(values=counts, axes=[axis], uncertainties=sigma, metadata=md)


#: Highest energy an NDP spectrum's axis may reach (keV): several times the 6Li triton's 2727 keV.
MAX_PLAUSIBLE_KEV = 20_000.0


def load_spectrum_csv(
    path: str | os.PathLike, gain_keV: float | None = None, offset_keV: float | None = None
) -> Measurement:
    """Read an NDP spectrum: CSV with columns ``energy_keV,counts`` or ``channel,counts``.

    A thin wrapper of :func:`interphase_sim.ndp.io.read_spectrum_csv` (also reached through
    :func:`interphase_sim.load_measurement`) that insists on an energy axis.

    Parameters
    ----------
    path : path-like
        The CSV file (a header row naming the columns; ``#`` comment lines allowed; UTF-8,
        a BOM allowed).
    gain_keV, offset_keV : float
        Calibration ``E = gain * channel + offset`` (keV) for a ``channel`` column. Without
        ``gain_keV`` the calibration comes whole from the file's ``# gain_keV = ...`` and
        ``# offset_keV = ...`` lines (``offset_keV`` is then ignored); with it, ``offset_keV``
        defaults to the file's line, else 0.

    Returns
    -------
    Measurement
        Counts on an ``energy`` axis in keV, uncertainties from the file's ``uncertainty``
        column or Poisson ``sqrt(max(counts, 1))``.
    """
    if gain_keV is None:
        return read_spectrum_csv(path, require_energy=True)
    return read_spectrum_csv(path, gain_keV, offset_keV, require_energy=True, default_offset_keV=0.0)
