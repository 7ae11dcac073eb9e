"""Shared pieces of the measured-data readers (:func:`interphase_sim.load_measurement`):
text tables, rosettasciio plugins, their axis dictionaries and metadata, unit factors.

Each instrument's reader (``ndp/io.py``, ``eels/io.py``, ``hrtem/io.py``) builds on these;
this module imports nothing of the package beyond ``core``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError

RSCIIO_PLUGINS = {".msa": "msa", ".ems": "msa", ".emsa": "msa", ".dm3": "digitalmicrograph",
                  ".dm4": "digitalmicrograph", ".hspy": "hspy", ".emd": "emd", ".mrc": "mrc"}

_FORMAT_NAMES = {"msa": "EMSA/MSA", "digitalmicrograph": "DigitalMicrograph", "hspy": "HyperSpy HDF5",
                 "emd": "EMD", "mrc": "MRC"}

#: length units -> nm
_LENGTH_NM = {"nm": 1.0, "nanometer": 1.0, "nanometers": 1.0, "µm": 1e3, "μm": 1e3, "um": 1e3,
              "micron": 1e3, "microns": 1e3, "\\u00b5m": 1e3, "mm": 1e6, "cm": 1e7, "m": 1e9,
              "å": 0.1, "a": 0.1, "angstrom": 0.1, "angstroms": 0.1, "ang": 0.1, "pm": 1e-3}
_ENERGY_EV = {"ev": 1.0, "kev": 1e3}


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, at most ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_text_lines(path: str | os.PathLike, field: str | None = None) -> tuple[list[str], list[str]]:
    """The ``#`` comment lines and the other non-blank lines of a UTF-8 text file (a BOM allowed).

    Parameters
    ----------
    path : path-like
        The file.
    field : str, optional
        The error's field (default the path).

    Returns
    -------
    comments, lines : list of str
        Comment lines without the ``#``, and the data lines (header first), stripped of
        line ends.
    """
    path = os.fspath(path)
    field = field or path
    about = "" if field == path else f"{path} "
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except OSError as exc:
        raise InterphaseInputError(field, f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InterphaseInputError(field, f"{about}is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                                          f"offset {exc.start})") from None
    comments, lines = [], []
    for ln in text.splitlines():
        s = ln.strip()
        if s.startswith("#"):
            comments.append(s[1:].strip())
        elif s:
            lines.append(s)
    if not lines:
        raise InterphaseInputError(field, f"{about}is empty")
    return comments, lines


def parse_header(comments: Iterable[str]) -> dict[str, Any]:
    """``key = value`` (or ``key: value``) comment lines as a dict; numbers as floats."""
    out: dict[str, Any] = {}
    for c in comments:
        sep = "=" if "=" in c else (":" if ":" in c else None)
        if sep is None:
            continue
        key, _, value = c.partition(sep)
        key, value = key.strip(), value.strip()
        if not key or " " in key:
            continue
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.WARNING)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _rsciio_log() -> Iterator[list[logging.LogRecord]]:
    """rosettasciio's log records (warnings and errors) while it reads, collected instead
    of printed (its handler prints coloured lines and tracebacks to stdout)."""
    logger = logging.getLogger("rsciio")
    records: list[logging.LogRecord] = []
    old, propagate = list(logger.handlers), logger.propagate
    for h in old:
        logger.removeHandler(h)
    logger.addHandler(_Collect(records))
    logger.propagate = False
    try:
        yield records
    finally:
        for h in list(logger.handlers):
            logger.removeHandler(h)
        for h in old:
            logger.addHandler(h)
        logger.propagate = propagate


def read_signals(path: str | os.PathLike, plugin: str) -> list[dict]:
    """Read a file with a rosettasciio plugin (``rsciio.<plugin>.file_reader``).

    Parameters
    ----------
    path : path-like
        The file.
    plugin : str
        The plugin's module name (``"msa"``, ``"digitalmicrograph"``, ``"hspy"``, ``"emd"``, ``"mrc"``).

    Returns
    -------
    list of dict
        rosettasciio's signal dictionaries (``data``, ``axes``, ``metadata``,
        ``original_metadata``), with the plugin's metadata ``mapping`` applied as HyperSpy
        would (e.g. the DigitalMicrograph voltage into ``Acquisition_instrument.TEM.beam_energy``).
    """
    path = os.fspath(path)
    name = _FORMAT_NAMES.get(plugin, plugin)
    try:
        reader = importlib.import_module(f"rsciio.{plugin}").file_reader
    except ImportError as exc:
        raise InterphaseInputError(path, f"reading {name} files needs rosettasciio with its {plugin} plugin "
                                         f"({one_line(exc)})") from None
    with _rsciio_log() as logged:
        try:
            signals = reader(path)
        except Exception as exc:  # any failure of a third-party binary reader is bad input here
            raise InterphaseInputError(path, f"cannot be read as {name} ({type(exc).__name__}: "
                                             f"{one_line(exc)})") from None
    errors = [r for r in logged if r.levelno >= logging.ERROR]
    if errors:  # the reader went on past what it could not parse: the data cannot be trusted
        raise InterphaseInputError(path, f"cannot be read as {name} ({one_line(errors[0].getMessage())})")
    for r in logged:
        warnings.warn(f"{path}: {one_line(r.getMessage())}", UserWarning, stacklevel=2)
    if not signals:
        raise InterphaseInputError(path, f"holds no data that the {name} reader found")
    for sig in signals:
        sig["data"] = np.asarray(sig["data"])
        sig["metadata"] = apply_mapping(sig)
    return signals


def _get_path(tree: Any, dotted: str) -> Any:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        if part in node:
            node = node[part]
            continue
        norm = part.replace(" ", "_")
        match = [k for k in node if str(k).replace(" ", "_") == norm]
        if not match:
            return None
        node = node[match[0]]
    return node


def get_item(tree: Any, dotted: str, default: Any = None) -> Any:
    """``tree["a"]["b"]`` for ``dotted == "a.b"`` (spaces and underscores alike), else ``default``."""
    value = _get_path(tree, dotted)
    return default if value is None else value


def _set_path(tree: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for p in parents:
        tree = tree.setdefault(p, {})
        if not isinstance(tree, dict):
            return
    tree[last] = value


def apply_mapping(signal: Mapping[str, Any]) -> dict:
    """A signal's ``metadata`` with its plugin's ``mapping`` (original -> metadata paths) applied."""
    md = dict(signal.get("metadata") or {})
    for source, (target, function) in (signal.get("mapping") or {}).items():
        value = _get_path(signal.get("original_metadata") or {}, source)
        if value is None:
            continue
        try:
            value = function(value) if function is not None else value
        except Exception:  # a vendor tag the plugin's converter does not understand: skip it
            continue
        if value is not None:
            _set_path(md, target, value)
    return md


def length_nm(units: Any) -> float | None:
    """nm per unit of a length unit (``"nm"``, ``"µm"``, ``"Å"``, ...); None if not a length."""
    if not isinstance(units, str):
        return None
    return _LENGTH_NM.get(units.strip().lower())


def energy_eV(units: Any) -> float | None:
    """eV per unit of an energy unit (``"eV"`` or ``"keV"``); None if not one."""
    if not isinstance(units, str):
        return None
    return _ENERGY_EV.get(units.strip().lower())


def axes_in_order(signal: Mapping[str, Any]) -> list[dict]:
    """A signal's axis dictionaries in the order of its array's dimensions."""
    axes = [dict(a) for a in signal.get("axes") or []]
    if axes and all("index_in_array" in a for a in axes):
        axes.sort(key=lambda a: int(a["index_in_array"]))
    ndim = np.ndim(signal["data"])
    if len(axes) != ndim:  # no axis information: plain indices
        axes = [{"size": n, "offset": 0.0, "scale": 1.0, "units": None, "name": None, "navigate": None}
                for n in np.shape(signal["data"])]
    return axes


def axis_values(axis: Mapping[str, Any], path: str) -> np.ndarray:
    """The coordinates of one rosettasciio axis dictionary (uniform or listed), in its units."""
    if axis.get("axis") is not None:
        return np.asarray(axis["axis"], dtype=float)
    if "expression" in axis:
        raise InterphaseInputError(path, f"axis {axis.get('name')!r} is a functional axis, which is not read; "
                                         "convert it to a uniform or listed axis")
    n = int(axis["size"])
    return float(axis.get("offset") or 0.0) + float(axis.get("scale") or 1.0) * np.arange(n)


def signal_kind(signal: Mapping[str, Any]) -> str | None:
    """``"eels"`` for data with an energy axis (or tagged EELS), ``"hrtem"`` for a 2-D image, else None.

    An X-ray spectrum (tagged EDS/EDX, keV axis) is neither, nor is a 2-D signal with a
    navigation axis whose spectra run over a length (a cathodoluminescence line scan, in
    nm of wavelength): a line of spectra, not an image. Both need ``kind`` given.
    """
    axes = axes_in_order(signal)
    signal_type = str(get_item(signal.get("metadata"), "Signal.signal_type", "")).upper()
    if signal_type.startswith(("EDS", "EDX")):
        return None
    if any(energy_eV(a.get("units")) for a in axes):
        return "eels"
    if "EELS" in signal_type:
        return "eels"
    if len(axes) == 2 and not any(a.get("navigate") for a in axes):
        return "hrtem"
    signal_axes = [a for a in axes if a.get("navigate") is False]
    if len(signal_axes) == 1 and not length_nm(signal_axes[0].get("units")):  # not a wavelength (CL)
        return "eels"
    return None


def pick_signal(signals: list[dict], kind: str, path: str) -> tuple[int, dict]:
    """The first of a file's signals that holds ``kind`` data, and its index."""
    for i, s in enumerate(signals):
        if signal_kind(s) == kind:
            return i, s
    if len(signals) == 1 and signal_kind(signals[0]) is None:
        return 0, signals[0]
    shapes = ", ".join(str(np.shape(s["data"])) for s in signals)
    raise InterphaseInputError(path, f"holds no {kind} data (signals of shape {shapes})")


def plain_metadata(value: Any, max_items: int = 64) -> Any:
    """A JSON-able copy of a file's metadata tree: numpy values as Python ones, long arrays
    summarized, private (``_``) keys dropped."""
    if isinstance(value, Mapping):
        return {str(k): plain_metadata(v, max_items) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, np.ndarray):
        if value.size > max_items or value.dtype.kind not in "biufcUS":
            return f"<array {value.dtype} {value.shape}>"
        return plain_metadata(value.tolist(), max_items)
    if isinstance(value, (list, tuple)):
        if len(value) > max_items:
            return f"<list of {len(value)}>"
        return [plain_metadata(v, max_items) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("latin-1")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def positive(value: Any) -> float | None:
    """``float(value)`` when it is a finite number > 0, else None (a file's 0 means "not recorded")."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def calibrated(file_value: Any, argument: float | None, key: str, md: dict, sources: dict) -> None:
    """Store ``key`` in ``md``: the argument if given, else the file's value (None if neither),
    and where it came from in ``sources``."""
    if argument is not None:
        md[key], sources[key] = float(argument), "argument"
    elif file_value is not None:
        md[key], sources[key] = float(file_value), "file"
    else:
        md[key] = None
