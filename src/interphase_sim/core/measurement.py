"""Measurements: values on named axes with units, uncertainties and metadata.

Every forward model returns a :class:`Measurement`, and measured data is loaded into
one, so that an Objective can compare the two on the same axes. Spectra travel as CSV
(``energy_keV,counts``); converters to and from xarray and HyperSpy are provided, which
keep the nested metadata (as JSON) so that a round trip gives the Measurement back.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.fileio import atomic_write_text

__all__ = ["Axis", "Measurement", "bin_edges", "set_hyperspy_axes", "store_in_hyperspy"]

#: the attrs key under which :meth:`Measurement.to_xarray` keeps the whole metadata as JSON
METADATA_ATTR = "interphase_sim_metadata"

#: the HyperSpy metadata item under which :func:`store_in_hyperspy` keeps the Measurement
#: (quantity, axes, metadata) as JSON, read back by :meth:`Measurement.from_hyperspy`
HYPERSPY_ITEM = "interphase_sim.measurement"

#: axes longer than this (values) that no offset/step or linspace reproduces exactly are
#: not copied into the HyperSpy metadata (HyperSpy's own calibration is then used)
_MAX_LISTED_AXIS = 2048


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

    def to_hyperspy(self):
        """A HyperSpy signal of this Measurement (needs hyperspy; EELS needs exspy).

        EELS data (``metadata["instrument"] == "eels"``) become an exspy ``EELSSpectrum``
        (:func:`interphase_sim.eels.model.to_hyperspy`), images (``"hrtem"``, or two axes in
        nm) a ``Signal2D`` (:func:`interphase_sim.hrtem.model.to_hyperspy_signal`), anything
        else a ``Signal1D`` on the last axis. All keep the Measurement in the metadata
        (:func:`store_in_hyperspy`), so that :meth:`from_hyperspy` gives it back.
        """
        instrument = self.metadata.get("instrument")
        if instrument == "eels":
            from interphase_sim.eels.model import to_hyperspy

            return to_hyperspy(self)
        if instrument == "hrtem" or (self.values.ndim == 2 and all(a.units == "nm" for a in self.axes)):
            from interphase_sim.hrtem.model import to_hyperspy_signal

            return to_hyperspy_signal(self)
        try:
            import hyperspy.api as hs
        except ImportError:
            raise ImportError("to_hyperspy needs hyperspy: pip install hyperspy") from None
        if self.values.ndim == 0:
            raise InterphaseInputError("to_hyperspy", "a Measurement without axes has no HyperSpy signal")
        sig = hs.signals.Signal1D(np.array(self.values, dtype=float))
        set_hyperspy_axes(sig, self.axes)
        sig.metadata.General.title = f"interphase_sim {instrument or self.quantity}: {self.metadata.get('sample', '')}"
        return store_in_hyperspy(sig, self)

    @classmethod
    def from_hyperspy(cls, signal: Any, kind: str | None = None) -> "Measurement":
        """A Measurement from a HyperSpy signal: the inverse of :meth:`to_hyperspy`.

        Parameters
        ----------
        signal : hyperspy.signal.BaseSignal
            E.g. from :meth:`to_hyperspy`, :func:`interphase_sim.eels.model.to_hyperspy`,
            :func:`interphase_sim.hrtem.model.to_hyperspy_signal` or ``hyperspy.api.load``.
        kind : {"eels", "hrtem"}, optional
            How to read a signal that does not carry a Measurement (default: inferred as
            :func:`interphase_sim.load_measurement` infers a file's).

        Returns
        -------
        Measurement
            A signal made by :func:`store_in_hyperspy` gives its Measurement back: values,
            axes (names, units and values: the stored ones where they agree with the
            signal's calibration, which wins after a crop or recalibration in HyperSpy),
            metadata, quantity, and uncertainties (the square root of HyperSpy's
            ``Signal.Noise_properties.variance``). Any other signal is read as its file
            would be (:func:`interphase_sim.eels.io.read_eels`,
            :func:`interphase_sim.hrtem.io.read_image`: axes in nm and eV, microscope
            settings from HyperSpy's ``Acquisition_instrument.TEM``), with ``format``
            ``"hyperspy"``; a signal of neither kind keeps its axes' names and units.
        """
        from interphase_sim.core.readers import plain_metadata, signal_kind

        if kind not in (None, "eels", "hrtem"):
            raise InterphaseInputError("kind", f"unknown kind {kind!r} for a HyperSpy signal; accepted: eels, hrtem")
        d = _signal_dict(signal)
        stored = _stored_measurement(d["metadata"])
        unc = _hyperspy_uncertainties(signal, np.shape(d["data"]))
        if stored is None:
            kind = kind or signal_kind(d)
            name = "<HyperSpy signal>"
            if kind == "eels":
                from interphase_sim.eels.io import read_eels

                meas = read_eels(name, signals=[d])
            elif kind == "hrtem":
                from interphase_sim.hrtem.io import read_image

                meas = read_image(name, signals=[d])
            else:
                md = {"title": str(d["metadata"].get("General", {}).get("title", "")),
                      "file_metadata": plain_metadata(d["metadata"])}
                meas = cls(np.asarray(d["data"], dtype=float), _signal_axes(d, {}), metadata=md,
                           quantity=str(d["metadata"].get("Signal", {}).get("quantity") or "counts"))
            meas.metadata.update(instrument=kind, source=name, format="hyperspy")
            if unc is not None and unc.shape == meas.values.shape:
                meas.uncertainties = unc
            return meas
        codes = {c.get("name"): c for c in stored.get("axes", [])}
        return cls(np.asarray(d["data"], dtype=float), _signal_axes(d, codes), uncertainties=unc,
                   metadata=stored.get("metadata", {}), quantity=str(stored.get("quantity", "counts")))

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


def set_hyperspy_axes(signal: Any, axes: list[Axis]) -> None:
    """Name, units, offset and scale of a HyperSpy signal's axes from Measurement axes.

    Parameters
    ----------
    signal : hyperspy.signal.BaseSignal
        One HyperSpy axis per array dimension; ``axes[i]`` calibrates the axis whose
        ``index_in_array`` is ``i``.
    axes : list of Axis
        Uniform axes (the first value and the step; an offset and step that reproduce the
        values exactly are used where there are).
    """
    manager = signal.axes_manager
    by_index = {ax.index_in_array: ax for ax in (*manager.navigation_axes, *manager.signal_axes)}
    for i, src in enumerate(axes):
        target = by_index[i]
        offset, scale, _ = _uniform_calibration(np.asarray(src.values, dtype=float))
        target.name, target.units = src.name, src.units
        target.offset, target.scale = offset, scale


def store_in_hyperspy(signal: Any, measurement: "Measurement") -> Any:
    """Keep ``measurement`` in a HyperSpy signal made of it, for :meth:`Measurement.from_hyperspy`.

    Sets ``Signal.quantity``, the variance (``Signal.Noise_properties.variance``, the
    uncertainties squared) when there are uncertainties, and, as JSON under
    ``interphase_sim.measurement``, the quantity, the axes (names, units and values:
    an exact offset and step, or linspace ends, or the float64 values up to 2048 of them)
    and the whole metadata, nested settings included.

    Parameters
    ----------
    signal : hyperspy.signal.BaseSignal
        The signal, with ``measurement.values`` as data; changed in place.
    measurement : Measurement

    Returns
    -------
    hyperspy.signal.BaseSignal
        ``signal``.
    """
    signal.metadata.set_item("Signal.quantity", measurement.quantity)
    if measurement.uncertainties is not None:
        variance = signal.deepcopy()
        variance.data = np.asarray(measurement.uncertainties, dtype=float) ** 2
        signal.metadata.set_item("Signal.Noise_properties.variance", variance)
    doc = {"quantity": measurement.quantity,
           "axes": [{"name": a.name, "units": a.units, **_axis_code(np.asarray(a.values, dtype=float))}
                    for a in measurement.axes],
           "metadata": measurement.metadata}
    signal.metadata.set_item(HYPERSPY_ITEM, json.dumps(doc, default=_json_default))
    return signal


def _uniform_calibration(v: np.ndarray) -> tuple[float, float, bool]:
    """(offset, step, exact) of a uniform axis: ``offset + step * arange(n)`` equals ``v``
    exactly when ``exact`` (trying the first difference, the mean step and both rounded
    to 12 digits), else the mean step."""
    if v.size < 2:
        return (float(v[0]) if v.size else 0.0), 1.0, v.size == 1
    first, mean = float(v[1] - v[0]), float((v[-1] - v[0]) / (v.size - 1))
    ramp = np.arange(v.size)
    for step in (mean, first, float(f"{mean:.12g}"), float(f"{first:.12g}")):
        if np.array_equal(float(v[0]) + step * ramp, v):
            return float(v[0]), step, True
    return float(v[0]), mean, False


def _axis_code(v: np.ndarray) -> dict[str, Any]:
    """What regenerates axis values ``v`` bit for bit (an empty dict when too long to list)."""
    offset, step, exact = _uniform_calibration(v)
    if exact:
        return {"offset": offset, "step": step, "size": int(v.size)}
    if np.array_equal(np.linspace(v[0], v[-1], v.size), v):
        return {"linspace": [float(v[0]), float(v[-1])], "size": int(v.size)}
    if v.size <= _MAX_LISTED_AXIS:
        return {"float64": base64.b64encode(v.astype("<f8").tobytes()).decode("ascii"), "size": int(v.size)}
    return {"size": int(v.size)}


def _axis_from_code(code: dict[str, Any]) -> np.ndarray | None:
    n = int(code.get("size", -1))
    if "step" in code:
        return float(code["offset"]) + float(code["step"]) * np.arange(n)
    if "linspace" in code:
        return np.linspace(*map(float, code["linspace"]), n)
    if "float64" in code:
        return np.frombuffer(base64.b64decode(code["float64"]), dtype="<f8").astype(float)
    return None


def _signal_dict(signal: Any) -> dict[str, Any]:
    """A HyperSpy signal as a rosettasciio signal dictionary (axes in array order)."""
    axes = list(signal.axes_manager.as_dictionary().values())
    for i, ax in enumerate(axes):
        ax["index_in_array"] = i
        for key in ("name", "units"):
            value = ax.get(key)
            ax[key] = value if isinstance(value, str) and value != "<undefined>" else None
    return {"data": np.asarray(signal.data), "axes": axes, "metadata": signal.metadata.as_dictionary(),
            "original_metadata": signal.original_metadata.as_dictionary()}


def _stored_measurement(md: dict[str, Any]) -> dict[str, Any] | None:
    node: Any = md
    for part in HYPERSPY_ITEM.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    try:
        doc = json.loads(node) if isinstance(node, str) else None
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _signal_axes(d: dict[str, Any], codes: dict[str, dict[str, Any]]) -> list[Axis]:
    """Axes of a signal dictionary; the stored values of an axis of the same name where they
    agree with the signal's calibration (its names and units win)."""
    from interphase_sim.core.readers import axes_in_order, axis_values

    out = []
    for i, ax in enumerate(axes_in_order(d)):
        values = axis_values(ax, "<HyperSpy signal>")
        code = codes.get(ax.get("name"), {})
        exact = _axis_from_code(code) if code else None
        span = float(np.ptp(values)) if values.size > 1 else abs(float(ax.get("scale") or 1.0))
        if exact is not None and exact.shape == values.shape and np.allclose(exact, values, rtol=0.0,
                                                                            atol=1e-9 * max(span, 1e-300)):
            values = exact
        name = ax.get("name") or code.get("name") or f"axis{i}"
        units = ax.get("units") if ax.get("units") is not None else code.get("units", "")
        out.append(Axis(str(name), str(units), values))
    return out


def _hyperspy_uncertainties(signal: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """The square root of a signal's ``Signal.Noise_properties.variance`` (a signal or a number)."""
    key = "Signal.Noise_properties.variance"
    if not signal.metadata.has_item(key):
        return None
    var = signal.metadata.get_item(key)
    var = np.asarray(getattr(var, "data", var), dtype=float)
    try:
        return np.sqrt(np.broadcast_to(var, shape)).copy()
    except ValueError:
        return None


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
