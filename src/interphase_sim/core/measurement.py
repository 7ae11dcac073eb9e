"""Measurements: values on named axes with units, uncertainties and metadata.

Every forward model returns a :class:`Measurement`, and measured data is loaded into
one, so that an Objective can compare the two on the same axes. Spectra travel as CSV
(``energy_keV,counts``); converters to xarray are provided.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.fileio import atomic_write_text

__all__ = ["Axis", "Measurement", "load_spectrum_csv", "bin_edges"]


@dataclass(frozen=True)
class Axis:
    """One axis of a Measurement: ``name`` (e.g. ``"energy"``), ``units`` and values."""

    name: str
    units: str
    values: np.ndarray

    @property
    def label(self) -> str:
        """``name_units``, the CSV column name (e.g. ``energy_keV``)."""
        return f"{self.name}_{self.units}" if self.units else self.name


@dataclass(eq=False)
class Measurement:
    """Values on axes, with optional uncertainties (1 sigma) and metadata.

    Parameters
    ----------
    values : ndarray
        The data, one dimension per axis (e.g. counts per channel).
    axes : list of Axis
        Axes in the order of ``values``' dimensions.
    uncertainties : ndarray, optional
        One standard deviation per value, same shape.
    metadata : dict
        Instrument settings and provenance (JSON-serializable).
    quantity : str
        What ``values`` are (e.g. ``"counts"``), with units in the name if any.
    """

    values: np.ndarray
    axes: list[Axis]
    uncertainties: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    quantity: str = "counts"

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=float)
        if self.values.ndim != len(self.axes):
            raise InterphaseInputError(
                "axes", f"{len(self.axes)} axes given for {self.values.ndim}-D values"
            )
        for i, ax in enumerate(self.axes):
            if len(ax.values) != self.values.shape[i]:
                raise InterphaseInputError(
                    f"axes.{ax.name}", f"{len(ax.values)} values for a dimension of {self.values.shape[i]}"
                )
        if self.uncertainties is not None:
            self.uncertainties = np.asarray(self.uncertainties, dtype=float)
            if self.uncertainties.shape != self.values.shape:
                raise InterphaseInputError("uncertainties", "must have the shape of values")

    def axis(self, name: str) -> np.ndarray:
        """Values of the axis called ``name``."""
        for ax in self.axes:
            if ax.name == name:
                return ax.values
        raise KeyError(f"no axis {name!r}; axes: {[a.name for a in self.axes]}")

    def to_xarray(self):
        """An ``xarray.DataArray`` with the axes as coordinates (units in attrs)."""
        import xarray as xr

        coords = {ax.name: (ax.name, np.asarray(ax.values), {"units": ax.units}) for ax in self.axes}
        da = xr.DataArray(self.values, dims=[ax.name for ax in self.axes], coords=coords, name=self.quantity)
        da.attrs.update({k: v for k, v in self.metadata.items() if isinstance(v, (str, int, float))})
        if self.uncertainties is not None:
            da = da.assign_coords(uncertainty=([ax.name for ax in self.axes], self.uncertainties))
        return da

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write a 1-D measurement as CSV (``<axis>_<units>,<quantity>[,uncertainty]``), atomically."""
        if self.values.ndim != 1:
            raise InterphaseInputError("to_csv", "only 1-D measurements are written as CSV")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        head = [self.axes[0].label, self.quantity]
        if self.uncertainties is not None:
            head.append("uncertainty")
        w.writerow(head)
        for i, x in enumerate(self.axes[0].values):
            row = [repr(float(x)), repr(float(self.values[i]))]
            if self.uncertainties is not None:
                row.append(repr(float(self.uncertainties[i])))
            w.writerow(row)
        atomic_write_text(path, buf.getvalue())

    def metadata_json(self) -> str:
        """The metadata as indented JSON."""
        return json.dumps(self.metadata, indent=2, sort_keys=True, default=float)


def bin_edges(centers: np.ndarray) -> np.ndarray:
    """Bin edges from increasing bin centres (midpoints; the ends mirrored)."""
    c = np.asarray(centers, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate(([c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]))


def _check_axis(x: np.ndarray, field: str) -> None:
    if x.size == 0:
        raise InterphaseInputError(field, "the file has no data rows")
    if not np.all(np.isfinite(x)):
        raise InterphaseInputError(field, "contains NaN or inf")
    if x.size > 1 and not np.all(np.diff(x) > 0):
        i = int(np.argmax(np.diff(x) <= 0))
        raise InterphaseInputError(field, f"must increase strictly; it does not at row {i + 2}")


def load_spectrum_csv(
    path: str | os.PathLike, gain_keV: float | None = None, offset_keV: float = 0.0
) -> Measurement:
    """Read an NDP spectrum: CSV with columns ``energy_keV,counts`` or ``channel,counts``.

    Parameters
    ----------
    path : path-like
        The CSV file (a header row naming the columns; ``#`` comment lines allowed).
    gain_keV, offset_keV : float
        Calibration ``E = gain * channel + offset`` (keV) for a ``channel`` column.

    Returns
    -------
    Measurement
        Counts on an ``energy`` axis in keV, Poisson uncertainties ``sqrt(max(counts, 1))``.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
    except OSError as exc:
        raise InterphaseInputError("spectrum", f"cannot read {path}: {exc.strerror}") from None
    if not lines:
        raise InterphaseInputError("spectrum", f"{path} is empty")
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader)]
    if "counts" not in header or not ({"energy_keV", "channel"} & set(header)):
        raise InterphaseInputError(
            "spectrum", f"{path}: columns must include counts and energy_keV (or channel); found {header}"
        )
    rows = list(reader)
    try:
        table = np.array([[float(r[header.index(c)]) for c in header] for r in rows], dtype=float).reshape(-1, len(header))
    except (ValueError, IndexError) as exc:
        raise InterphaseInputError("spectrum", f"{path}: a row is not numbers or is short ({exc})") from None
    counts = table[:, header.index("counts")]
    if "energy_keV" in header:
        energy = table[:, header.index("energy_keV")]
        source = "energy_keV"
    else:
        if gain_keV is None:
            raise InterphaseInputError(
                "gain_keV", f"{path} has a channel column: give the calibration gain (keV/channel)"
            )
        if not (math.isfinite(gain_keV) and gain_keV > 0):
            raise InterphaseInputError("gain_keV", f"must be > 0, got {gain_keV}")
        energy = gain_keV * table[:, header.index("channel")] + offset_keV
        source = "channel"
    _check_axis(energy, f"{path}: {source}")
    if not np.all(np.isfinite(counts)):
        raise InterphaseInputError("counts", f"{path}: counts contain NaN or inf")
    if np.any(counts < 0):
        i = int(np.argmax(counts < 0))
        raise InterphaseInputError("counts", f"{path}: negative counts ({counts[i]}) at row {i + 2}")
    return Measurement(
        values=counts,
        axes=[Axis("energy", "keV", energy)],
        uncertainties=np.sqrt(np.maximum(counts, 1.0)),
        metadata={"source": path},
    )
