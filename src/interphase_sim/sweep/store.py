"""A sweep's Zarr store: written in place, batch by batch, resumable.

The store is laid out before any sample is computed (:func:`create_store`): dimension
``sample`` plus each instrument's axes (``ndp_energy``; ``eels_depth`` and
``eels_energy``; ...), one data variable per instrument and output (``ndp_counts``,
``ndp_expected``, ...) chunked by batch along ``sample``, every swept parameter and the
per-sample seed as coordinates along ``sample``, a ``done`` mask, and attributes that
record the sample file's text, the resolved sweep description, the instruments'
settings and the package and library versions. Each batch then writes its own region
(:func:`write_batch`) and marks itself done last, so a batch is either wholly there or
recomputed. Nothing is ever gathered: a batch's arrays go from the worker to the store.

:func:`open_dataset` returns the store as a lazy ``xarray.Dataset`` (plain
``xarray.open_zarr`` works too); :func:`simulate_one` recomputes sample i from what the
store records, bit for bit.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.sweep.design import SweepDesign

__all__ = ["check_store", "create_store", "write_batch", "open_dataset", "simulate_one", "done_mask", "store_description",
           "store_batch_size"]

#: Libraries whose versions a store records.
VERSIONS = ("interphase_sim", "numpy", "scipy", "numba", "xarray", "zarr", "dask", "abtem")


def _versions() -> dict[str, str]:
    out = {}
    for name in VERSIONS:
        try:
            out[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                out[name] = "absent"
    return out


def _description(design: SweepDesign, sample_text: str) -> str:
    """What identifies a sweep: its resolved description and the sample it runs on."""
    sweep = {k: v for k, v in design.to_dict().items() if k != "batch_size"}  # batches change nothing
    return json.dumps({"sweep": sweep, "sample": sample_text}, sort_keys=True)


def check_store(path: str | os.PathLike, design: SweepDesign, sample_text: str, overwrite: bool = False) -> bool:
    """Whether ``path`` holds a store of this very sweep, to resume; False when there is none
    (or ``overwrite`` replaces it). Refuses a file, a folder that is not a sweep store and
    a store of another sweep (unless ``overwrite``): cheap, before anything is computed."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InterphaseInputError("--out", f"{path} is a file: a sweep store is a folder; give another --out")
    if not path.exists() or overwrite:
        return False
    try:
        old = store_description(path)
    except Exception:
        raise InterphaseInputError(str(path), "exists and is not a sweep store: choose another --out") from None
    if old != _description(design, sample_text):
        raise InterphaseInputError(str(path), "holds another sweep (a different description or sample): "
                                   "give --overwrite to replace it, or another --out")
    return True


def create_store(path: str | os.PathLike, design: SweepDesign, simulator: Any, sample_text: str,
                 batch_size: int, overwrite: bool = False) -> bool:
    """Lay out the store at ``path`` for ``design`` (``simulator``: a SampleSimulator of it).

    Returns True if a new store was written, False if an existing store of the very same
    sweep is there to be resumed. A store of another sweep is refused unless ``overwrite``.
    """
    import dask.array as da
    import xarray as xr

    path = Path(path)
    if check_store(path, design, sample_text, overwrite):
        return False
    n, chunk = design.samples, max(1, min(int(batch_size), design.samples))
    points, seeds = design.points(), design.sample_seeds()
    coords: dict[str, Any] = {"sample": np.arange(n), "seed": ("sample", seeds)}
    coords.update({name: ("sample", values) for name, values in points.items()})
    data_vars = {}
    for kind, axes in simulator.axes().items():
        dims = ["sample"] + [f"{kind}_{name}" for name, _ in axes]
        for name, values in axes:
            coords[f"{kind}_{name}"] = values
        shape = (n, *[len(v) for _, v in axes])
        for out, var in (("noisy", "counts"), ("expected", "expected")):
            if out in design.outputs:
                data_vars[f"{kind}_{var}"] = (dims, da.zeros(shape, dtype="f4", chunks=(chunk, *shape[1:])))
    data_vars["done"] = (["sample"], da.zeros(n, dtype=bool, chunks=chunk))
    attrs = {"interphase_sim_sweep": _description(design, sample_text), "sample_file": sample_text, "sweep": json.dumps(design.to_dict()),
             "versions": json.dumps(_versions()), "batch_size": chunk,
             "settings": json.dumps({k: m.settings() for k, m in simulator.models.items()}, default=str)}
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    encoding = {name: {"compressors": [_codec()]} for name in data_vars if name != "done"}
    ds.to_zarr(path, mode="w", compute=False, consolidated=False, encoding=encoding)  # unwritten chunks read 0
    return True


def _codec() -> Any:
    """The data variables' compressor: Blosc LZ4 with byte shuffle, which writes noisy
    float32 counts at disk speed (zstd takes twice as long) and any Zarr reader opens."""
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")


def store_description(path: str | os.PathLike) -> str:
    """The identity (sweep description and sample text) a store was made for."""
    import zarr

    return str(zarr.open_group(str(path), mode="r").attrs["interphase_sim_sweep"])


def store_batch_size(path: str | os.PathLike) -> int:
    """The batch (chunk) size a store was laid out with: a resume writes the same batches."""
    import zarr

    return int(zarr.open_group(str(path), mode="r").attrs["batch_size"])


def done_mask(path: str | os.PathLike) -> np.ndarray:
    """Which samples the store holds (bool per sample)."""
    import zarr

    return np.asarray(zarr.open_group(str(path), mode="r")["done"][:], dtype=bool)


def write_batch(path: str | os.PathLike, start: int, arrays: dict[str, np.ndarray]) -> None:
    """Write one batch's arrays (``{variable: (batch, ...) array}``) into their region,
    then mark the batch done (last, so that an interrupted batch is recomputed)."""
    import zarr

    group = zarr.open_group(str(path), mode="r+")
    stop = None
    for name, values in arrays.items():
        stop = start + values.shape[0]
        group[name][start:stop] = np.asarray(values, dtype="f4")  # (no copy of float32 batches)
    if stop is not None:
        group["done"][start:stop] = True


def open_dataset(path: str | os.PathLike) -> Any:
    """The store as a lazy ``xarray.Dataset`` (its arrays read on demand)."""
    import xarray as xr

    if not Path(path).exists():
        raise InterphaseInputError(str(path), "no such sweep store")
    if not any((Path(path) / name).exists() for name in ("zarr.json", ".zgroup")):
        raise InterphaseInputError(str(path), "not a sweep store (no Zarr group there)")
    return xr.open_zarr(str(path), consolidated=False)


def simulate_one(path: str | os.PathLike, i: int) -> dict[str, np.ndarray]:
    """Recompute sample ``i`` of a store from what it records (sample file, sweep), bit for
    bit what the sweep wrote (float32)."""
    from interphase_sim.sample.stack import Stack
    from interphase_sim.sweep.simulate import SampleSimulator

    import zarr

    attrs = zarr.open_group(str(path), mode="r").attrs
    design = SweepDesign.from_table(json.loads(attrs["sweep"]))
    if not 0 <= int(i) < design.samples:
        raise InterphaseInputError("i", f"must be in [0, {design.samples}), got {i}")
    stack = Stack.from_toml_string(str(attrs["sample_file"]))
    sim = SampleSimulator(stack, design)
    points = design.points()
    out = sim.simulate({n: v[int(i)] for n, v in points.items()}, design.sample_seed(int(i)))
    return {k: v.astype("f4") for k, v in out.items()}
