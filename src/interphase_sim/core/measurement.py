"""Measurements: values on named axes with units, uncertainties and metadata.

Every forward model returns a :class:`Measurement`, and measured data is loaded into
one, so that an Objective can compare the two on the same axes. Spectra travel as CSV
(``energy_keV,counts``); converters to xarray are provided.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.fileio import atomic_write_text

__all__ = ["Axis", "Measurement", "bin_edges"]

#: the attrs key under which :meth:`Measurement.to_xarray` keeps the whole metadata as JSON
METADATA_ATTR = "interphase_sim_metadata"


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
        """An ``xarray.DataArray`` with the axes as coordinates (units in their attrs).

        Scalar metadata (str, int, float) become attrs; the whole metadata, nested settings
        included, is also kept as JSON in ``attrs["interphase_sim_metadata"]``, which
        :meth:`from_xarray` reads back. Uncertainties become the ``uncertainty`` coordinate.
        """
        import xarray as xr

        coords = {ax.name: (ax.name, np.asarray(ax.values), {"units": ax.units}) for ax in self.axes}
        da = xr.DataArray(self.values, dims=[ax.name for ax in self.axes], coords=coords, name=self.quantity)
        da.attrs.update({k: v for k, v in self.metadata.items() if isinstance(v, (str, int, float))})
        if self.metadata:
            da.attrs[METADATA_ATTR] = json.dumps(self.metadata, default=_json_default)
        if self.uncertainties is not None:
            da = da.assign_coords(uncertainty=([ax.name for ax in self.axes], self.uncertainties))
        return da

    @classmethod
    def from_xarray(cls, da: Any) -> "Measurement":
        """The inverse of :meth:`to_xarray`: a Measurement from an ``xarray.DataArray``.

        Parameters
        ----------
        da : xarray.DataArray
            One dimension per axis; a dimension's coordinate gives the axis values (plain
            indices without one) and its ``units`` attr the units. An ``uncertainty``
            coordinate on all dimensions becomes the uncertainties. The metadata come from
            ``attrs["interphase_sim_metadata"]`` (JSON) when present, else from the attrs.

        Returns
        -------
        Measurement
            ``quantity`` is the array's name (``"counts"`` when it has none).
        """
        dims = [str(d) for d in da.dims]
        axes = []
        for d in dims:
            if d in da.coords:
                coord = da.coords[d]
                axes.append(Axis(d, str(coord.attrs.get("units", "")), np.asarray(coord.values)))
            else:
                axes.append(Axis(d, "", np.arange(da.sizes[d], dtype=float)))
        unc = None
        if "uncertainty" in da.coords:
            u = da.coords["uncertainty"]
            unc = np.asarray(u.transpose(*dims).values) if set(u.dims) == set(dims) else None
        attrs = dict(da.attrs)
        if METADATA_ATTR in attrs:
            metadata = json.loads(attrs.pop(METADATA_ATTR))
        else:
            metadata = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in attrs.items()}
        return cls(values=np.asarray(da.values), axes=axes, uncertainties=unc, metadata=metadata,
                   quantity=str(da.name) if da.name is not None else "counts")

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


def _json_default(value: Any) -> Any:
    """JSON for numpy values (arrays as lists) and, failing that, the value's text."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def bin_edges(centers: np.ndarray) -> np.ndarray:
    """Bin edges from increasing bin centres (midpoints; the ends mirrored)."""
    c = np.asarray(centers, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate(([c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]))
