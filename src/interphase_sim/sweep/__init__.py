"""Synthetic datasets: sweeps over the sample's and the instruments' Parameters.

:class:`~interphase_sim.sweep.design.SweepDesign` reads and checks a ``[sweep]`` table
and makes its points and per-sample seeds; :class:`~interphase_sim.sweep.simulate.SampleSimulator`
builds the instruments' models once and simulates one design point from its values and
seed; :func:`~interphase_sim.sweep.engine.run_sweep` writes the batches into a Zarr store
laid out first (:mod:`interphase_sim.sweep.store`), resuming the same sweep;
:func:`open_dataset` and :func:`simulate_one` read it back. Batches run in the calling
process or on a dask.distributed cluster (a LocalCluster of worker processes, or any
cluster by its ``Client``), each worker writing its own batches.
"""

from interphase_sim.sweep.design import SweepDesign, SweepParameter, check_design, parameter_ranges
from interphase_sim.sweep.engine import SweepRun, local_cluster, prepare_workers, run_sweep
from interphase_sim.sweep.simulate import SampleSimulator
from interphase_sim.sweep.store import open_dataset, simulate_one

__all__ = ["SampleSimulator", "SweepDesign", "SweepParameter", "SweepRun", "check_design", "local_cluster",
           "open_dataset", "parameter_ranges", "prepare_workers", "run_sweep", "simulate_one"]
