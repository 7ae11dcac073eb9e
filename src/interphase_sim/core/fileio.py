"""Atomic file output: write to a temporary name in the target folder, then rename.

A reader (or a crash) never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text", "atomic_savefig", "write_tiff"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_savefig(fig, path: str | os.PathLike, **kw) -> None:
    """Save a matplotlib figure atomically; the format comes from ``path``'s suffix."""
    fmt = kw.pop("format", None) or Path(path).suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, **kw)


def write_tiff(path: str | os.PathLike, image, pixel_nm: float, description: str = "",
               origin_nm: tuple[float, float] = (0.0, 0.0)) -> None:
    """Write a 2-D image as a 32-bit float TIFF carrying its pixel size in nm, atomically.

    Parameters
    ----------
    path : path-like
        The file (written under a temporary name in its folder, then renamed).
    image : array_like
        2-D; rows are the first axis (HyperSpy's ``y``, the depth of an HRTEM image).
    pixel_nm : float
        Pixel size (nm), both directions; > 0.
    description : str
        Free text appended to the ImageDescription after the ImageJ lines.
    origin_nm : (float, float)
        Coordinates (nm) of the first row and the first column, for HyperSpy's axis offsets.

    Notes
    -----
    The calibration is written three ways, each for its readers:

    - an ImageJ description (``ImageJ=1.11a``, ``unit=nm``, ``spacing=<pixel_nm>``, then
      ``description``) with X/YResolution = 1/``pixel_nm`` pixels per unit (ResolutionUnit
      "none", a rational as close to 1/``pixel_nm`` as 32 bits allow): ImageJ/Fiji and
      tifffile read ``unit=nm`` and the resolution;
    - the DigitalMicrograph tags 65003/65004 (units), 65006/65007 (offsets) and
      65009/65010 (scales), which rosettasciio (and so ``hyperspy.api.load``) reads for
      the units: the axes come back with scale ``pixel_nm`` and units ``"nm"`` (its scale
      from the resolution, its offsets from the DM tags).
    """
    import numpy as np
    import tifffile

    arr = np.ascontiguousarray(np.asarray(image, dtype=np.float32))
    if arr.ndim != 2:
        raise ValueError(f"write_tiff needs a 2-D image, got shape {arr.shape}")
    pixel = float(pixel_nm)
    if not (np.isfinite(pixel) and pixel > 0):
        raise ValueError(f"write_tiff needs a pixel size > 0 nm, got {pixel_nm}")
    row0, col0 = (float(v) for v in origin_nm)
    desc = f"ImageJ=1.11a\nunit=nm\nspacing={pixel!r}\n" + (description + "\n" if description else "")
    res = _per_unit_rational(pixel)
    # as rosettasciio writes them: 6500x "x" tags hold the last axis (columns), which its
    # reader maps back; scales and offsets as doubles
    dm_tags = [(65003, "s", 3, "nm", False), (65004, "s", 3, "nm", False),
               (65006, "d", 1, col0, False), (65007, "d", 1, row0, False),
               (65009, "d", 1, pixel, False), (65010, "d", 1, pixel, False)]
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, arr, photometric="minisblack", resolution=(res, res), resolutionunit=1,
                         description=desc, metadata=None, software="interphase_sim", extratags=dm_tags)


def _per_unit_rational(pixel: float) -> tuple[int, int]:
    """1/``pixel`` as a TIFF RATIONAL (numerator, denominator), both below 2**32."""
    from fractions import Fraction

    limit = 2**32 - 1
    f = Fraction(pixel).limit_denominator(limit)  # pixel = p / q
    if f.numerator > limit or f.numerator == 0:  # pixels above ~1 nm: bound the other side
        f = 1 / (1 / Fraction(pixel)).limit_denominator(limit)
    return f.denominator, f.numerator
