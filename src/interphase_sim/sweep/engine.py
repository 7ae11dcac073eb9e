"""Running a sweep: batches of design points computed and written into the store.

:func:`run_sweep` lays out the store (or finds the same sweep's store to resume), then
computes every batch that is not done and writes it in place. A batch is a pure function
of the sample file's text, the sweep description and its sample range
(:func:`compute_batch`), so any process can compute any batch and the result is the same
whatever the batch size, the order or the resume history. This module runs the batches
in this process; a dask engine maps the same function over workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.sweep.design import SweepDesign, check_design
from interphase_sim.sweep.simulate import SampleSimulator
from interphase_sim.sweep.store import check_store, create_store, done_mask, store_batch_size, write_batch

__all__ = ["SweepRun", "compute_batch", "run_sweep", "batches", "local_cluster", "prepare_workers"]

#: Most samples per batch when neither the table nor the caller says.
DEFAULT_BATCH = 1024
#: Most bytes of output per batch when neither the table nor the caller says.
BATCH_BYTES = 32 * 2**20

@dataclass(frozen=True)
class _Prepared:
    """What a process keeps for one sweep: its simulator, design and points (each batch
    spawns its own samples' seeds: a worker makes no seed it does not use)."""

    simulator: SampleSimulator
    design: SweepDesign
    points: dict[str, np.ndarray]


_PREPARED: dict[str, _Prepared] = {}


def _prepared(sample_text: str, sweep: dict[str, Any]) -> _Prepared:
    """The simulator, points and seeds of this sample and sweep, made once per process
    (every batch a worker is given reuses them)."""
    from interphase_sim.sample.stack import Stack

    key = json.dumps({"sample": sample_text, "sweep": sweep}, sort_keys=True)
    if key not in _PREPARED:
        _PREPARED.clear()
        design = SweepDesign.from_table(sweep)
        _PREPARED[key] = _Prepared(SampleSimulator(Stack.from_toml_string(sample_text), design), design,
                                   design.points())
    return _PREPARED[key]


def compute_batch(sample_text: str, sweep: dict[str, Any], start: int, stop: int) -> dict[str, np.ndarray]:
    """``{variable: (stop - start, ...) float32 array}``: samples ``start`` to ``stop - 1``."""
    prep = _prepared(sample_text, sweep)
    seeds = np.zeros(prep.design.samples, dtype=np.uint64)  # read at start .. stop - 1 only
    seeds[start:stop] = prep.design.sample_seeds(start, stop)
    with one_blas_thread():
        return prep.simulator.simulate_batch(prep.points, seeds, start, stop)


def auto_batch_size(simulator: SampleSimulator, samples: int) -> int:
    """Samples per batch when nobody says: at most :data:`DEFAULT_BATCH`, and no more than
    :data:`BATCH_BYTES` of float32 output per batch (a 200 x 2048 EELS line scan is 1.6 MB a
    sample), so a worker holds little and every batch is a chunk of sensible size."""
    per_sample = 0
    for kind, axes in simulator.axes().items():
        size = int(np.prod([len(v) for _, v in axes]))
        per_sample += 4 * size * len(simulator.design.outputs)
    return int(max(1, min(DEFAULT_BATCH, BATCH_BYTES // max(per_sample, 1), samples)))


def one_blas_thread() -> Any:
    """A context in which BLAS and OpenMP use one thread: a worker computes one batch per
    core, and a threaded BLAS on the models' small matrices only fights the other workers
    (threadpoolctl; its controller is made once per process)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)


_CONTROLLER: Any = None


def batches(n: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) of each batch of ``size`` samples (the last may be shorter)."""
    return [(a, min(a + size, n)) for a in range(0, n, size)]


@dataclass(frozen=True)
class SweepRun:
    """What :func:`run_sweep` did: the store, how many samples it computed now, how many
    were there already, and the time it took."""

    path: str
    samples: int
    computed: int
    resumed: int
    wall_time_s: float

    def summary(self) -> str:
        if self.computed == 0:
            return f"{self.path}: {self.samples} samples, all already there (nothing computed)"
        rate = self.computed / self.wall_time_s if self.wall_time_s > 0 else float("inf")
        return (f"{self.path}: {self.samples} samples, {self.computed} computed now ({rate:.3g} samples/s), "
                f"{self.resumed} already there")


def run_sweep(stack: Any, design: SweepDesign, path: str | os.PathLike, *, batch_size: int | None = None,
              overwrite: bool = False, client: Any = None, workers: int | str | None = None,
              progress: bool = False) -> SweepRun:
    """Compute ``design`` on ``stack`` into the Zarr store ``path`` (resuming the same sweep).

    Parameters
    ----------
    stack : Stack
    design : SweepDesign
    path : path
        The store (a folder); an existing store of the same sweep is resumed, one of
        another sweep refused unless ``overwrite``.
    batch_size : int, optional
        Samples per task and per chunk (default the table's, else 256).
    client : distributed.Client, optional
        Run the batches on its cluster (each worker computes a batch and writes it
        itself: nothing is gathered). Default: ``workers`` processes of a LocalCluster,
        or this process when ``workers`` is None or 1.
    workers : int or "auto", optional
        Worker processes of a :func:`local_cluster` made (and closed) here; ``"auto"``:
        one per core this process may use (the command line's default). None or 1:
        the batches run in this process.
    progress : bool
        A progress bar (samples, samples/s, time left; tqdm, shown only on a terminal).
    """
    check_design(design, stack)  # names and draws, before any work
    sample_text = stack.to_toml_string()
    resuming = check_store(path, design, sample_text, overwrite)  # a file or another sweep's store: refused
    whole = isinstance(workers, (int, np.integer)) and not isinstance(workers, bool)
    if not (workers is None or (isinstance(workers, str) and workers == "auto") or (whole and workers >= 1)):
        raise InterphaseInputError("workers", f"must be a whole number >= 1 or 'auto', got {workers!r}")
    if resuming and done_mask(path).all():  # nothing to do: no cluster started for it
        return SweepRun(path=str(path), samples=design.samples, computed=0, resumed=design.samples, wall_time_s=0.0)
    sweep = design.to_dict()
    with _cluster_client(client, usable_cores() if isinstance(workers, str) else workers) as dask_client:
        if dask_client is not None:  # the workers build their models while this process lays out the store
            warming = prepare_workers(dask_client, sample_text, sweep)
        simulator = _prepared(sample_text, sweep).simulator
        size = int(batch_size or design.batch_size or auto_batch_size(simulator, design.samples))
        create_store(path, design, simulator, sample_text, size, overwrite=overwrite)
        size = store_batch_size(path)  # a resumed store keeps its own batches (one writer per chunk)
        done = done_mask(path)
        todo = [(a, b) for a, b in batches(design.samples, size) if not done[a:b].all()]
        t0 = time.perf_counter()
        bar = _progress_bar(progress, design.samples, int(done.sum()))
        try:
            if dask_client is None:
                for start, stop in todo:
                    bar.update(batch_task(str(path), sample_text, sweep, start, stop))
            else:
                _run_distributed(dask_client, str(path), sample_text, sweep, todo, bar, warming)
        finally:
            bar.close()
    return SweepRun(path=str(path), samples=design.samples, computed=sum(b - a for a, b in todo),
                    resumed=int(done.sum()), wall_time_s=time.perf_counter() - t0)


def batch_task(path: str, sample_text: str, sweep: dict[str, Any], start: int, stop: int) -> int:
    """A worker's task: compute one batch and write it into the store; returns its size."""
    write_batch(path, start, compute_batch(sample_text, sweep, start, stop))
    return stop - start


#: Times a batch is retried when its worker dies.
RETRIES = 3


def _progress_bar(show: bool, total: int, initial: int) -> Any:
    """A tqdm bar over samples (silent unless ``show`` and a terminal)."""
    import sys

    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="sample", desc="sweep", dynamic_ncols=True,
                disable=not (show and sys.stderr.isatty()))


def _run_distributed(client: Any, path: str, sample_text: str, sweep: dict[str, Any],
                     todo: list[tuple[int, int]], bar: Any, warming: list[Any]) -> None:
    """Map :func:`batch_task` over ``todo`` on ``client``'s workers."""
    from distributed import as_completed

    futures: list[Any] = []
    try:
        futures = [client.submit(batch_task, path, sample_text, sweep, a, b, pure=False, retries=RETRIES)
                   for a, b in todo]
        for fut in as_completed(futures):
            bar.update(fut.result())  # a batch that failed RETRIES times raises here
    except BaseException:  # Ctrl-C included: what is done stays done, the rest is cancelled
        client.cancel(futures)
        raise
    finally:
        client.cancel(warming)  # (done long before, unless the sweep was stopped)


def prepare_workers(client: Any, sample_text: str, sweep: dict[str, Any]) -> list[Any]:
    """Have each of ``client``'s workers build this sweep's models now (one task pinned to
    each), so that their start-up overlaps the client's own and the batches find them made.
    Returns the tasks' futures (nothing waits for them: a worker that joins later, or one
    that missed it, builds its models at its first batch)."""
    return [client.submit(_warm, sample_text, sweep, workers=[address], allow_other_workers=False, pure=False)
            for address in client.scheduler_info(n_workers=-1)["workers"]]


def _warm(sample_text: str, sweep: dict[str, Any]) -> None:
    """Build the models, run each cheap one once (loading its compiled kernels) and load
    the store's library, so that the first batch runs at the speed of the others."""
    import importlib

    importlib.import_module("zarr.codecs")  # what write_batch needs
    with one_blas_thread():
        _prepared(sample_text, sweep).simulator.warm()


@contextlib.contextmanager
def _cluster_client(client: Any, workers: int | None) -> Iterator[Any]:
    """``client``; else a Client of a :func:`local_cluster` of ``workers`` (closed on exit)
    when ``workers`` is more than 1; else None (the batches run in this process)."""
    if client is not None or workers is None or int(workers) <= 1:
        yield client
        return
    from distributed import Client

    with local_cluster(int(workers)) as cluster, Client(cluster) as own:
        yield own


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # (macOS, Windows)
        return os.cpu_count() or 1


def local_cluster(workers: int, **kwargs: Any) -> Any:
    """A ``distributed.LocalCluster`` suited to sweeps: ``workers`` worker processes of one
    thread each, no dashboard, and glibc's own heap management in the workers.

    dask starts its worker processes with ``MALLOC_TRIM_THRESHOLD_=65536`` (config key
    ``distributed.nanny.pre-spawn-environ``) so that freed memory goes back to the system
    at once; it also fixes glibc's threshold for serving a block by ``mmap`` at 128 KiB, so
    every megabyte-sized array of a line scan is mapped, faulted in page by page and
    unmapped again. On the sweep benchmark that cost each worker 2.5 s of system time in
    25 s; the workers made here leave the variable unset. For a cluster of your own, set
    that config key's ``MALLOC_TRIM_THRESHOLD_`` to ``null`` before its workers start.
    ``kwargs`` go to ``LocalCluster`` (overriding the settings above).
    """
    import dask.config
    from distributed import LocalCluster

    settings = {"n_workers": int(workers), "threads_per_worker": 1, "processes": True,
                "dashboard_address": None, **kwargs}
    inherited = os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)  # (a cluster made before set it here too)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            return LocalCluster(**settings)
    finally:
        if inherited is not None:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = inherited
