"""Reading HRTEM images: TIFF (tifffile), and ``.dm3``/``.dm4``, ``.mrc``, ``.hspy``, ``.emd`` (rosettasciio).

Rows are ``depth`` and columns ``lateral``, both in nm, as in
:meth:`~interphase_sim.hrtem.model.HRTEMModel.image`. The pixel size comes from the file:

- TIFF: the package's own ``image.tiff`` (written by
  :func:`~interphase_sim.core.fileio.write_tiff`) by its ImageJ ``spacing`` and
  description (which also gives the depth of row 0, the beam energy and the defocus);
  otherwise the X/YResolution tags in the ImageJ ``unit`` (nm, micron, Å, ...) or in a
  ResolutionUnit of centimetre (or tifffile's millimetre and micrometre); otherwise the
  FEI/Thermo ``PixelWidth`` tag. A resolution in pixels per inch is a print resolution,
  not a calibration, and is ignored.
- rosettasciio formats: the axes' scale and units (MRC: the header's cell size, when set).

A pixel size the file lacks is given with ``pixel_nm``; without one, reading fails.
Without tifffile installed, TIFFs are read with Pillow (resolution tags and description;
no FEI tags).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.core.readers import (RSCIIO_PLUGINS, axes_in_order, axis_values, get_item, length_nm, one_line,
                                    parse_header, pick_signal, plain_metadata, positive, read_signals)

__all__ = ["read_image", "read_tiff", "image_from_signal"]

#: TIFF ResolutionUnit -> nm per unit (1 none, 2 inch: not a calibration; 4, 5: tifffile's mm, µm)
_RESUNIT_NM = {3: 1e7, 4: 1e6, 5: 1e3}
_OWN = "interphase_sim HRTEM"
_FLOAT = r"(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"


def read_image(path: str | os.PathLike, *, signals: list[dict] | None = None, pixel_nm: float | None = None,
               energy_eV: float | None = None) -> Measurement:
    """Read an HRTEM image with its pixel size.

    Parameters
    ----------
    path : path-like
        ``.tif``/``.tiff``, ``.dm3``/``.dm4``, ``.mrc``, ``.hspy`` or ``.emd``.
    signals : list of dict, optional
        The file as already read by :func:`interphase_sim.core.readers.read_signals`.
    pixel_nm : float, optional
        Pixel size (nm), both directions; replaces the file's.
    energy_eV : float, optional
        Beam energy (eV); replaces the file's.

    Returns
    -------
    Measurement
        Intensity on (``depth``, ``lateral``) in nm. Metadata: ``pixel_nm`` (the lateral
        step), ``pixel_A`` ([lateral, depth] in Å, as the model's), ``energy_eV`` (None if
        unknown), ``calibration_source``, and what the file says under ``file_metadata``.

    Raises
    ------
    InterphaseInputError
        Naming the file: not a single 2-D grayscale image, or no pixel size.
    """
    path = os.fspath(path)
    ext = Path(path).suffix.lower()
    if ext in (".tif", ".tiff"):
        arr, grid, md = read_tiff(path)
    else:
        if signals is None:
            if ext not in RSCIIO_PLUGINS:
                raise InterphaseInputError(path, f"HRTEM images are read from .tif, .tiff, .dm3, .dm4, .mrc, .hspy "
                                                 f"or .emd, not {ext}")
            signals = read_signals(path, RSCIIO_PLUGINS[ext])
        index, sig = pick_signal(signals, "hrtem", path)
        arr, grid, md = image_from_signal(sig, path)
        md.update(signal_index=index, signals_in_file=len(signals))
    md["format"] = ext.lstrip(".")
    return _measurement(path, arr, grid, md, pixel_nm, energy_eV)


def _measurement(path: str, arr: np.ndarray, grid: dict[str, tuple[float, float | None]], md: dict,
                 pixel_nm: float | None, energy_eV: float | None) -> Measurement:
    sources = md.setdefault("calibration_source", {})
    if pixel_nm is not None:
        if not pixel_nm > 0:
            raise InterphaseInputError("pixel_nm", f"must be > 0 (nm), got {pixel_nm} for {path}")
        grid = {k: (o, float(pixel_nm)) for k, (o, _) in grid.items()}
        sources["pixel_nm"] = "argument"
    elif any(step is None for _, step in grid.values()):
        raise InterphaseInputError("pixel_nm", f"{path} does not record its pixel size: give pixel_nm= "
                                               "(nm per pixel)")
    else:
        sources["pixel_nm"] = "file"
    axes = [Axis(name, "nm", origin + step * np.arange(n))
            for (name, (origin, step)), n in zip(grid.items(), arr.shape)]
    file_energy = md.pop("_file_energy_eV", None)
    if energy_eV is not None:
        if not energy_eV > 0:
            raise InterphaseInputError("energy_eV", f"must be > 0 (eV), got {energy_eV} for {path}")
        md["energy_eV"], sources["energy_eV"] = float(energy_eV), "argument"
    else:
        md["energy_eV"] = file_energy
        if file_energy is not None:
            sources["energy_eV"] = "file"
    (_, dz), (_, dx) = grid["depth"], grid["lateral"]
    md.update(pixel_nm=float(dx), pixel_A=[10.0 * float(dx), 10.0 * float(dz)], source=path)
    return Measurement(values=arr, axes=axes, metadata=md, quantity="intensity")


def _gray(path: str, arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        what = "a colour image" if arr.ndim == 3 and arr.shape[-1] in (3, 4) else f"shape {arr.shape}"
        raise InterphaseInputError(path, f"holds {what}; an HRTEM image is one 2-D grayscale image")
    if arr.dtype.kind not in "biuf":
        raise InterphaseInputError(path, f"image values must be real numbers, not {arr.dtype}")
    return arr.astype(float)


def _ratio(value: Any) -> float | None:
    if value is None:
        return None
    try:
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return float(value[0]) / float(value[1]) if float(value[1]) else None
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _tiff_tags(path: str) -> dict[str, Any]:
    """Pages, the first page's array, description, resolution tags (and FEI tags) of a TIFF."""
    try:
        import tifffile
    except ImportError:
        tifffile = None
    try:
        if tifffile is not None:
            with tifffile.TiffFile(path) as tf:
                page = tf.pages[0]
                tags = page.tags
                get = lambda name: tags[name].value if name in tags else None  # noqa: E731
                unit = get("ResolutionUnit")
                return {"pages": len(tf.pages), "array": page.asarray(), "description": page.description or "",
                        "xres": _ratio(get("XResolution")), "yres": _ratio(get("YResolution")),
                        "resunit": None if unit is None else int(unit), "fei": tf.fei_metadata or {}}
        from PIL import Image

        with Image.open(path) as im:
            tags = im.tag_v2
            return {"pages": getattr(im, "n_frames", 1), "array": np.asarray(im), "description": tags.get(270, ""),
                    "xres": _ratio(tags.get(282)), "yres": _ratio(tags.get(283)),
                    "resunit": None if tags.get(296) is None else int(tags.get(296)), "fei": {}}
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InterphaseInputError(path, f"cannot be read as TIFF ({type(exc).__name__}: {one_line(exc)})") from None


def _own_description(desc: str) -> dict[str, float]:
    """Depth of row 0 (nm), beam energy (eV) and defocus (Å) from the package's TIFF description."""
    out = {}
    for key, pattern, scale in (("depth_origin_nm", rf"depth from {_FLOAT} nm", 1.0),
                                ("energy_eV", rf"{_FLOAT} kV", 1e3), ("defocus_A", rf"defocus {_FLOAT} A", 1.0)):
        m = re.search(pattern, desc)
        if m:
            out[key] = float(m.group(1)) * scale
    return out


def _tiff_pixels(t: dict, ij: dict, own: bool) -> tuple[float | None, float | None, str | None]:
    """(depth, lateral) pixel size in nm from a TIFF's tags, and which tags gave it."""
    unit_nm = length_nm(ij.get("unit")) if ij else None
    if own and unit_nm and positive(ij.get("spacing")):
        p = float(ij["spacing"]) * unit_nm
        return p, p, "description"
    xres, yres = t["xres"], t["yres"] or t["xres"]
    per = unit_nm if unit_nm else _RESUNIT_NM.get(t["resunit"] or 0)
    if per and positive(xres) and positive(yres):
        return per / yres, per / xres, "ImageJ unit" if unit_nm else "resolution tags"
    scan = t["fei"].get("Scan", {}) if isinstance(t["fei"], dict) else {}
    px, py = positive(scan.get("PixelWidth")), positive(scan.get("PixelHeight") or scan.get("PixelWidth"))
    if px and py:
        return py * 1e9, px * 1e9, "FEI PixelWidth"
    return None, None, None


def read_tiff(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, tuple[float, float | None]], dict[str, Any]]:
    """A single-image TIFF: its array, grid and what its tags say.

    Parameters
    ----------
    path : path-like
        The TIFF.

    Returns
    -------
    image : ndarray
        2-D, float; rows are depth.
    grid : dict
        ``{"depth": (origin_nm, step_nm or None), "lateral": (...)}``.
    metadata : dict
        ``description``, ``pixel_source``, the ImageJ keys (``imagej``), and from the
        package's own description ``defocus_A`` (and the beam energy, privately).
    """
    path = os.fspath(path)
    t = _tiff_tags(path)
    if t["pages"] != 1:
        raise InterphaseInputError(path, f"holds {t['pages']} images; an HRTEM image file holds one")
    arr = _gray(path, t["array"])
    desc = t["description"] if isinstance(t["description"], str) else ""
    ij = parse_header(desc.splitlines()) if desc.startswith("ImageJ=") else {}
    own = _OWN in desc
    dz, dx, source = _tiff_pixels(t, ij, own)
    info = _own_description(desc) if own else {}
    md: dict[str, Any] = {"description": desc, "pixel_source": source, "imagej": ij}
    if "defocus_A" in info:
        md["defocus_A"] = info["defocus_A"]
    md["_file_energy_eV"] = info.get("energy_eV") or _fei_energy(t["fei"])
    if t["fei"]:
        md["file_metadata"] = plain_metadata(t["fei"])
    grid = {"depth": (info.get("depth_origin_nm", 0.0), dz), "lateral": (0.0, dx)}
    return arr, grid, md


def _fei_energy(fei: Any) -> float | None:
    beam = fei.get("Beam", {}) if isinstance(fei, dict) else {}
    return positive(beam.get("HV"))


def _mrc_calibrated(signal: dict) -> tuple[bool, bool] | None:
    """For an MRC file, whether the header sets the (y, x) cell size; None for other formats."""
    hdr = get_item(signal.get("original_metadata"), "std_header")
    if not isinstance(hdr, dict):
        return None

    def val(key: str) -> float:
        try:
            return float(np.ravel(hdr.get(key, 0))[0])
        except (TypeError, ValueError, IndexError):
            return 0.0

    return (val("Ylen") > 0 and val("MY") > 0), (val("Xlen") > 0 and val("MX") > 0)


def image_from_signal(signal: dict, path: str) -> tuple[np.ndarray, dict[str, tuple[float, float | None]],
                                                        dict[str, Any]]:
    """Image, grid and metadata of a 2-D rosettasciio signal dictionary.

    Parameters
    ----------
    signal : dict
        One of :func:`interphase_sim.core.readers.read_signals`' dictionaries.
    path : str
        The file, for messages.

    Returns
    -------
    image, grid, metadata
        As :func:`read_tiff`; the first array axis (HyperSpy's ``y``) is depth.
    """
    arr = _gray(path, signal["data"])
    axes = axes_in_order(signal)
    while len(axes) > 2 and int(axes[0].get("size", 1)) == 1:
        axes.pop(0)
    mrc = _mrc_calibrated(signal) if Path(path).suffix.lower() == ".mrc" else None
    grid = {}
    for i, (name, ax) in enumerate(zip(("depth", "lateral"), axes)):
        f = length_nm(ax.get("units"))
        if mrc is not None and not mrc[i]:
            f = None
        if f:
            v = axis_values(ax, path) * f
            grid[name] = (float(v[0]), float(np.mean(np.diff(v))) if v.size > 1 else float(ax.get("scale", 1)) * f)
        else:
            grid[name] = (0.0, None)
    md_file = signal.get("metadata") or {}
    beam_keV = positive(get_item(md_file, "Acquisition_instrument.TEM.beam_energy"))
    md = {"title": str(get_item(md_file, "General.title", "")), "file_metadata": plain_metadata(md_file),
          "_file_energy_eV": None if beam_keV is None else beam_keV * 1e3}
    return arr, grid, md
