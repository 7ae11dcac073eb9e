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


def write_tiff(path: str | os.PathLike, image, pixel_nm: float, description: str = "") -> None:
    """Write a 2-D float image as a 32-bit float TIFF carrying its pixel size, atomically.

    The pixel size is stored as the TIFF resolution (pixels per nm, unit "none") and in
    an ImageJ-style description (``unit=nm``), which ImageJ/Fiji and HyperSpy read.
    """
    import numpy as np
    from PIL import Image

    arr = np.ascontiguousarray(np.asarray(image, dtype=np.float32))
    if arr.ndim != 2:
        raise ValueError(f"write_tiff needs a 2-D image, got shape {arr.shape}")
    per_nm = 1.0 / float(pixel_nm)
    desc = f"ImageJ=1.11a\nunit=nm\nspacing={pixel_nm}\n" + (description + "\n" if description else "")
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="TIFF", resolution_unit=1, x_resolution=per_nm,
                                    y_resolution=per_nm, description=desc)
